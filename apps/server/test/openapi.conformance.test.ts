import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { testEngine } from "@odyssey/db/testing";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import openapiTS, { astToString } from "openapi-typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server";

// The REST side for callers that are not TypeScript: the documented paths called through
// types generated from the live OpenAPI document, and every answer, errors included,
// validated against that document, so the document cannot drift from what the server sends.

const exec = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const serverDir = resolve(here, "..");
const tsc = resolve(here, "../../../node_modules/typescript/bin/tsc");

type Json = Record<string, unknown>;

/** What a documented call gives back through openapi-fetch. */
type Exchange = { response: Response; data?: unknown; error?: unknown };
type RestClient = unknown;
/**
 * The REST consumer, typed by the types generated from the live document; it is typechecked
 * against them in a project of its own (below), so here it is loaded by a path tsc does not follow.
 */
interface RestConsumer {
  restClient(baseUrl: string, apiKey?: string): RestClient;
  createJourney(client: RestClient, body: unknown): Promise<Exchange>;
  retrieveJourney(client: RestClient, slug: string): Promise<Exchange>;
  updateJourney(client: RestClient, slug: string, body: unknown): Promise<Exchange>;
}
const restConsumerModule = "./fixtures/rest-consumer/rest-consumer.ts";
interface OpenApiDocument {
  openapi: string;
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: Json }> }> }>
  >;
  components: Json;
}

let createJourney: RestConsumer["createJourney"];
let retrieveJourney: RestConsumer["retrieveJourney"];
let updateJourney: RestConsumer["updateJourney"];
let server: TestServer;
let document: OpenApiDocument;
let writer: RestClient;
let reader: RestClient;
let anonymous: RestClient;

beforeAll(async () => {
  const rest = (await import(/* @vite-ignore */ restConsumerModule)) as RestConsumer;
  ({ createJourney, retrieveJourney, updateJourney } = rest);
  const restClient = rest.restClient;
  server = await startTestServer();
  document = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as OpenApiDocument;
  writer = restClient(server.url, await server.key("conformance"));
  reader = restClient(server.url, await server.key("conformance", ["journeys:read"]));
  anonymous = restClient(server.url);
});
afterAll(() => server.close());

/** A field the document does not declare is drift too: objects with properties are closed. */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== "object") return schema;
  const copy = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, closed(value)]));
  if ("properties" in copy && !("additionalProperties" in copy)) copy.additionalProperties = false;
  return copy;
}

const validators = new Map<string, ValidateFunction>();

/** The document's schema for this answer: undocumented statuses and content types fail. */
function validatorFor(path: string, method: string, status: number): ValidateFunction {
  const id = `${method} ${path} ${status}`;
  const cached = validators.get(id);
  if (cached) return cached;
  const response = document.paths[path]?.[method]?.responses[String(status)];
  const schema = response?.content?.["application/json"]?.schema;
  if (!schema) throw new Error(`The document has no application/json answer for ${id}`);
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  ajv.addVocabulary(["components", "example"]);
  // `#/components/...` references resolve against the root: carry the components along.
  const validate = ajv.compile({ ...(closed(schema) as Json), components: closed(document.components) });
  validators.set(id, validate);
  return validate;
}

/** Checks one openapi-fetch result against the document; returns its parsed body. */
function conforms(path: string, method: string, result: Exchange, expectedStatus: number) {
  expect(result.response.status).toBe(expectedStatus);
  expect(result.response.headers.get("content-type")).toMatch(/^application\/json/);
  const body = result.response.ok ? result.data : result.error;
  const validate = validatorFor(path, method, result.response.status);
  expect(validate(body) ? [] : validate.errors).toEqual([]);
  return body;
}

const create = "/api/journeys/create";
const bySlug = "/api/journeys/{slug}";
const journey = {
  slug: "small-business-grant",
  displayName: "Small Business Grant Application",
  sourceSystem: "custom" as const,
  allowedOrigins: ["https://grants.example.com"],
  steps: [
    { stepKey: "eligibility", name: "Eligibility Check", stepType: "eligibility", index: 0, fieldCount: 5 },
    { stepKey: "business-info", name: "Business Information", stepType: "input", index: 1, fieldCount: 12 },
  ],
};

describe("the documented paths, called through the generated types", () => {
  it("generates types from the live document that fit the documented calls", async () => {
    expect(document.openapi).toMatch(/^3\.1\./);
    const source = astToString(await openapiTS(new URL(`${server.url}/api/openapi.json`), { silent: true }));
    for (const path of [create, bySlug]) expect(source).toContain(`"${path}": {`);
    if (testEngine() !== "postgres") return; // the typecheck does not depend on the engine
    // Beside this package's node_modules, so the copy resolves openapi-fetch as the fixture does.
    await mkdir(join(serverDir, "node_modules/.cache"), { recursive: true });
    const project = await mkdtemp(join(serverDir, "node_modules/.cache/openapi-conformance-"));
    try {
      await cp(join(here, "fixtures/rest-consumer"), project, { recursive: true });
      await writeFile(join(project, "openapi.ts"), source);
      await exec("node", [tsc, "-p", join(project, "tsconfig.json")]).catch((error: { stdout?: string }) => {
        throw new Error(`the REST consumer does not typecheck against the generated types:\n${error.stdout}`);
      });
    } finally {
      await rm(project, { recursive: true, force: true });
    }
  }, 60_000);

  it("create answers 201 with a documented journey", async () => {
    const created = conforms(create, "post", await createJourney(writer, journey), 201);
    expect(created).toMatchObject({ slug: journey.slug, displayName: journey.displayName });
  });

  it("retrieve answers 200 with a documented journey and its analytics", async () => {
    const found = conforms(bySlug, "get", await retrieveJourney(reader, journey.slug), 200);
    expect(found).toMatchObject({ slug: journey.slug, healthMetrics: { hasSteps: true } });
  });

  it("update answers 200 with the documented, updated journey", async () => {
    const changes = { displayName: "Renamed", environment: "staging" as const, allowedOrigins: [] };
    const updated = conforms(bySlug, "put", await updateJourney(writer, journey.slug, changes), 200);
    expect(updated).toMatchObject(changes);
  });
});

describe("documented errors", () => {
  it("404 for a missing journey, on retrieve and update", async () => {
    expect(conforms(bySlug, "get", await retrieveJourney(reader, "nonexistent-journey"), 404)).toEqual({
      error: 'Journey with slug "nonexistent-journey" not found',
    });
    conforms(bySlug, "put", await updateJourney(writer, "nonexistent-journey", { displayName: "X" }), 404);
  });

  it("409 for a slug the organization already has", async () => {
    expect(conforms(create, "post", await createJourney(writer, journey), 409)).toEqual({
      error: `Journey with slug "${journey.slug}" already exists in this organization`,
    });
  });

  it("400 for invalid input, on create and update", async () => {
    expect(
      conforms(create, "post", await createJourney(writer, { ...journey, slug: "Not A Slug" }), 400),
    ).toEqual({
      error: "Invalid journey data: slug must contain only lowercase letters, numbers, and hyphens",
    });
    conforms(bySlug, "put", await updateJourney(writer, journey.slug, { displayName: "" }), 400);
  });

  it("403 for a key without the scope, 401 for no key", async () => {
    expect(conforms(create, "post", await createJourney(reader, { ...journey, slug: "other" }), 403)).toEqual(
      {
        error: "API key does not have required scope: journeys:write",
      },
    );
    conforms(bySlug, "put", await updateJourney(reader, journey.slug, { displayName: "X" }), 403);
    conforms(bySlug, "get", await retrieveJourney(anonymous, journey.slug), 401);
  });
});
