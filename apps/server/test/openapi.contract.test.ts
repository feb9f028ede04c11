import { EventType } from "@odyssey/api";
import { validate } from "@readme/openapi-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server";

// The published OpenAPI document: valid 3.1, every route, every status each route can answer.

interface Operation {
  security?: Record<string, string[]>[];
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
interface Schema {
  properties?: Record<string, Schema>;
  required?: string[];
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown> };
}

let server: TestServer;
let doc: Document;

beforeAll(async () => {
  server = await startTestServer();
  const res = await fetch(`${server.url}/api/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as Document;
});
afterAll(() => server.close());

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, path, op })),
  );

describe("/api/openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    expect(doc.openapi).toBe("3.1.0");
    // validate() dereferences in place: give it a copy.
    const result = await validate(structuredClone(doc) as never);
    expect(result).toMatchObject({ valid: true, specification: "OpenAPI", warnings: [] });
  });

  it("lists the documented journeys routes and list/delete", () => {
    expect(operations().map((o) => o.name)).toEqual(
      expect.arrayContaining([
        "POST /api/journeys/create",
        "GET /api/journeys/{slug}",
        "PUT /api/journeys/{slug}",
        "GET /api/journeys",
        "DELETE /api/journeys/{slug}",
      ]),
    );
  });

  it("gives every route every status it can answer, errors in the { error } shape", () => {
    for (const { name, path, op } of operations()) {
      const creates = ["POST /api/journeys/create", "POST /api/journeys/{slug}/snapshots"];
      // Any request can carry a body too large to read, GET included; one on a route that may take
      // a body (or ignores it: snapshots, DELETE) must be JSON.
      const expected = [
        creates.includes(name) ? "201" : "200",
        "400",
        "401",
        "403",
        "413",
        "429",
        "500",
        "503",
      ];
      if (!name.startsWith("GET ")) expected.push("415");
      // Events name their journey in the body.
      if (path.includes("{slug}") || path === "/api/events") expected.push("404");
      if (name === "POST /api/journeys/create") expected.push("409", "422");
      expect(Object.keys(op.responses).sort(), name).toEqual(expected.sort());
      for (const [status, response] of Object.entries(op.responses))
        if (Number(status) >= 400)
          expect(response.content?.["application/json"]?.schema, `${name} ${status}`).toEqual({
            $ref: "#/components/schemas/Error",
          });
    }
  });

  it("requires every event type in eventCountsLast24h, as the answer always has them all", () => {
    const schemas = (doc as unknown as { components: { schemas: Record<string, Schema> } }).components
      .schemas;
    const counts = schemas.JourneyDetail?.properties?.eventCountsLast24h;
    const types = Object.keys(counts?.properties ?? {});
    expect(types).toEqual(EventType.options);
    expect(counts?.required?.sort()).toEqual([...types].sort());
  });

  it("names the bearer scheme and each route's scope", () => {
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    const scopes = Object.fromEntries(operations().map(({ name, op }) => [name, op.security]));
    expect(scopes).toMatchObject({
      "POST /api/journeys/create": [{ bearerAuth: ["journeys:write"] }],
      "GET /api/journeys/{slug}": [{ bearerAuth: ["journeys:read"] }],
      "PUT /api/journeys/{slug}": [{ bearerAuth: ["journeys:write"] }],
      "GET /api/journeys": [{ bearerAuth: ["journeys:read"] }],
      "DELETE /api/journeys/{slug}": [{ bearerAuth: ["journeys:write"] }],
    });
  });
});

describe("/docs", () => {
  it("serves an HTML reference page over the document", async () => {
    const res = await fetch(`${server.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain("/api/openapi.json");
    expect(html).toContain("<title>Odyssey API reference</title>");
  });
});
