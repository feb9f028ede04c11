import { randomUUID } from "node:crypto";
import { appRouter } from "@odyssey/api";
import { queryRows } from "@odyssey/db";
import { testEngine } from "@odyssey/db/testing";
import { sql } from "drizzle-orm";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { StatusTally, writeFigures } from "./support/figures";
import { type OpenApiCheck, openApiCheck } from "./support/openapi-validator";
import { arbitraryFor, encode, encodings, hostileString, mutated } from "./support/schema-arbitrary";
import { startTestServer, type TestServer } from "./support/server";

// Hostile input, generated: requests for every REST route (from the OpenAPI document the server
// publishes) and every tRPC procedure (from its zod input), then bent (wrong types, missing and
// extra fields, huge and NUL-laden strings, deep nesting, invalid UTF-8, wrong content types,
// truncated JSON). Every answer is < 500, errors are {"error"}, REST answers match the
// document, the server stays up, and another organization's data does not change.
// The bulk runs on Postgres; PGlite, slower per request, runs a smaller share of the 10 000.

const runs = testEngine() === "postgres" ? { rest: 5000, trpc: 2500 } : { rest: 1700, trpc: 800 };

let server: TestServer;
let check: OpenApiCheck;
const keys: Record<string, string> = {};
const victimSlugs = ["victim-grant", "victim-permit", "shared-name"];
let victimOrgId = "";
const tally = { rest: new StatusTally(), trpc: new StatusTally() };
const mutations = new StatusTally();

/** Every row of the victim organization, in every table that has an org_id, in a stable order. */
async function victimData(): Promise<string> {
  const tables = await queryRows<{ table_name: string }>(
    server.database.db,
    sql`select table_name from information_schema.columns
        where table_schema = 'public' and column_name = 'org_id' order by table_name`,
  );
  expect(tables.map((t) => t.table_name)).toContain("events");
  const parts: Record<string, string[]> = {};
  for (const { table_name } of tables) {
    const rows = await queryRows(
      server.database.db,
      sql`select * from ${sql.identifier(table_name)} where org_id = ${victimOrgId}`,
    );
    parts[table_name] = rows.map((row) => JSON.stringify(row)).sort();
  }
  return JSON.stringify(parts);
}

beforeAll(async () => {
  server = await startTestServer();
  keys.victim = await server.key("victim");
  keys.attacker = await server.key("attacker");
  keys.reader = await server.key("attacker", ["journeys:read"]);
  for (const slug of victimSlugs) {
    const res = await server.call(keys.victim, "POST", "/api/journeys/create", {
      slug,
      displayName: `Victim ${slug}`,
      steps: [{ stepKey: "a", index: 0 }],
    });
    expect(res.status).toBe(201);
    victimOrgId = ((await res.json()) as { orgId: string }).orgId;
  }
  const sent = await server.call(keys.victim, "POST", "/api/events", {
    journey: "victim-grant",
    events: [
      { id: randomUUID(), type: "session_start", sessionId: "v1", timestamp: new Date().toISOString() },
    ],
  });
  expect(sent.status).toBe(200);
  // The attacker has a journey of the same name, so both organizations' rows sit side by side.
  expect(
    (
      await server.call(keys.attacker, "POST", "/api/journeys/create", {
        slug: "shared-name",
        displayName: "A",
      })
    ).status,
  ).toBe(201);
  check = openApiCheck(await (await fetch(`${server.url}/api/openapi.json`)).json());
});
afterAll(() => server.close());

const authorization = fc.constantFrom(
  "attacker",
  "attacker",
  "attacker",
  "reader",
  "none",
  "malformed",
  "unknown",
);
const headerFor = (auth: string): Record<string, string> => {
  if (auth === "none") return {};
  if (auth === "malformed") return { authorization: "Bearer" };
  if (auth === "unknown") return { authorization: `Bearer ody_sk_${"A".repeat(43)}` };
  return { authorization: `Bearer ${keys[auth]}` };
};
/** A path segment: percent-encoded, lone surrogates included (as the bytes Node would send). */
const segment = (text: string) => {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...Buffer.from(text)].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
  }
};
const slugs = fc.oneof(
  fc.constantFrom(...victimSlugs, "missing-one").map(segment),
  fc.stringMatching(/^[a-z0-9-]{1,20}$/).map(segment),
  hostileString.map((s) => segment(s.slice(0, 3000))),
  // Sent as they are: broken percent-encoding, encoded NUL, dot segments.
  fc.constantFrom("%ff", "%c3%28", "%00", "%2e%2e", "%", "%zz", "a%2Fb", ".."),
);
const otherMethod = fc.option(fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH"), { freq: 8 });
const asciiHeader = fc.option(fc.stringMatching(/^[\x20-\x7e]{0,300}$/), { freq: 3 });

async function send(
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Uint8Array | string | undefined,
) {
  const hasBody = body !== undefined && method !== "GET" && method !== "HEAD";
  const res = await fetch(`${server.url}${path}`, { method, headers, body: hasBody ? body : undefined });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(
      `${method} ${path} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`,
    );
  }
  return { status: res.status, json };
}

const isErrorBody = (body: unknown) =>
  !!body &&
  typeof body === "object" &&
  Object.keys(body).join() === "error" &&
  typeof (body as { error: unknown }).error === "string";

describe("hostile input", () => {
  it(`REST: every route, ${runs.rest} generated and bent requests, all answered by the document`, async () => {
    const document = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as {
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody?: { content: Record<string, { schema: object }> };
            parameters?: { name: string; in: string; schema: object }[];
          }
        >
      >;
    };
    const operations = Object.entries(document.paths).flatMap(([template, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ template, method: method.toUpperCase(), op })),
    );
    const requests = fc.oneof(
      ...operations.map(({ template, method, op }) => {
        const bodySchema = op.requestBody?.content["application/json"]?.schema;
        const query = (op.parameters ?? []).filter((p) => p.in === "query");
        return fc.record({
          method: otherMethod.map((m) => m ?? method),
          template: fc.constant(template),
          slug: slugs,
          query: fc.record(
            Object.fromEntries(
              query.map((p) => [
                p.name,
                fc.oneof(
                  arbitraryFor(p.schema as object).map(String),
                  hostileString.map((s) => s.slice(0, 600)),
                ),
              ]),
            ),
            { requiredKeys: [] },
          ),
          body: bodySchema
            ? mutated(arbitraryFor(bodySchema))
            : fc.constant({ mutation: "valid" as const, value: undefined }),
          encoding: encodings,
          auth: authorization,
          idempotencyKey: template.endsWith("/create") ? asciiHeader : fc.constant(null),
          aimAtVictim: fc.nat({ max: victimSlugs.length }),
        });
      }),
    );

    await fc.assert(
      fc.asyncProperty(requests, async (request) => {
        const path =
          request.template.replace("{slug}", request.slug) +
          (Object.keys(request.query).length
            ? `?${new URLSearchParams(request.query as Record<string, string>)}`
            : "");
        // Event batches aim at the victim's journeys as often as not.
        const value = request.body.value;
        if (request.template === "/api/events" && value && typeof value === "object" && request.aimAtVictim)
          Object.assign(value, { journey: victimSlugs[request.aimAtVictim - 1] });
        const { body, contentType } = encode(value, request.encoding);
        const headers: Record<string, string> = { ...headerFor(request.auth) };
        if (contentType) headers["content-type"] = contentType;
        if (request.idempotencyKey !== null) headers["idempotency-key"] = request.idempotencyKey;
        const answer = await send(request.method, path, headers, body);
        tally.rest.add(answer.status);
        mutations.add(`${request.body.mutation} / ${request.encoding.encoding}`);

        expect(answer.status).toBeLessThan(500);
        if (answer.status >= 400) expect(isErrorBody(answer.json), JSON.stringify(answer.json)).toBe(true);
        const pathname = new URL(`${server.url}${path}`).pathname;
        if (check.operation(request.method, pathname))
          expect(check.problem(request.method, pathname, answer.status, answer.json)).toBeUndefined();
        // No such route: refused by the transport's checks (400, 413, 415), under /api/journeys
        // by the key check that comes before them (401, 403), a documented path asked with
        // another method (405), or not found.
        else expect([400, 401, 403, 404, 405, 413, 415]).toContain(answer.status);
      }),
      { numRuns: runs.rest },
    );
  });

  it(`tRPC: every procedure, ${runs.trpc} generated and bent calls`, async () => {
    const procedures = Object.entries(
      (
        appRouter as unknown as {
          _def: { procedures: Record<string, { _def: { type: string; inputs: z.ZodType[] } }> };
        }
      )._def.procedures,
    );
    const calls = fc.oneof(
      ...procedures.map(([name, procedure]) => {
        const input = procedure._def.inputs[0];
        const schema = input
          ? (z.toJSONSchema(input, { io: "input", unrepresentable: "any" }) as object)
          : {};
        return fc.record({
          name: fc.constant(name),
          type: fc.constant(procedure._def.type),
          input: mutated(arbitraryFor(schema)),
          envelope: fc.constantFrom("superjson", "superjson", "superjson", "bare", "batch", "bad meta"),
          wrongMethod: fc.nat({ max: 4 }).map((n) => n === 0),
          encoding: encodings,
          auth: authorization,
        });
      }),
    );

    await fc.assert(
      fc.asyncProperty(calls, async (call) => {
        const wrapped =
          call.envelope === "bare"
            ? call.input.value
            : call.envelope === "bad meta"
              ? { json: call.input.value, meta: { values: { "": ["Date"], slug: ["bigint"] } } }
              : { json: call.input.value };
        const payload = call.envelope === "batch" ? { 0: wrapped } : wrapped;
        const batch = call.envelope === "batch" ? "?batch=1" : "";
        const asQuery = (call.type === "query") !== call.wrongMethod;
        const headers = headerFor(call.auth);
        let answer: { status: number; json: unknown };
        if (asQuery) {
          const input = encodeURIComponent(JSON.stringify(payload) ?? "");
          answer = await send(
            "GET",
            `/trpc/${call.name}${batch}${batch ? "&" : "?"}input=${input}`,
            headers,
            undefined,
          );
        } else {
          const { body, contentType } = encode(payload, call.encoding);
          answer = await send(
            "POST",
            `/trpc/${call.name}${batch}`,
            contentType ? { ...headers, "content-type": contentType } : headers,
            body,
          );
        }
        tally.trpc.add(answer.status);
        mutations.add(`${call.input.mutation} / trpc ${call.envelope}`);

        expect(answer.status).toBeLessThan(500);
        if (answer.status >= 400) {
          // tRPC's envelope, or the transport guards' {"error"}: an error either way, no stack.
          const items = Array.isArray(answer.json) ? answer.json : [answer.json];
          expect(items.some((item) => item && typeof item === "object" && "error" in item)).toBe(true);
          expect(JSON.stringify(answer.json)).not.toMatch(/"stack"/);
        }
      }),
      { numRuns: runs.trpc },
    );
  });

  it("left the server up and the other organization's data as it was", async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const before = victimBefore;
    expect(await victimData()).toBe(before);
    writeFigures("hostile-input", {
      requestsSent: tally.rest.total + tally.trpc.total,
      rest: { requests: tally.rest.total, answersByStatus: tally.rest.counts },
      trpc: { requests: tally.trpc.total, answersByStatus: tally.trpc.counts },
      mutations: mutations.counts,
    });
  });
});

let victimBefore = "";
beforeAll(async () => {
  victimBefore = await victimData();
});
