import { randomBytes, randomUUID } from "node:crypto";
import {
  allScopes,
  appRouter,
  createApiKey,
  type ProcedureMeta,
  revokeApiKey,
  type Scope,
} from "@odyssey/api";
import { createTRPCUntypedClient, httpLink, TRPCClientError } from "@trpc/client";
import superjson from "superjson";
import { afterAll, describe, expect, it } from "vitest";
import { scopeOfJourneyRequest } from "../src/guards/key-first";
import { startTestServer } from "./support/server";

// The authorization matrix, generated from the routes the app itself declares: every REST
// operation of its OpenAPI document and every tRPC procedure of its router. A route added
// without a sample below fails the first test, so no route escapes the matrix.

const server = await startTestServer();
afterAll(() => server.close());

interface OpenApiOperation {
  security?: Record<string, string[]>[];
}
const openapi = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as {
  paths: Record<string, Record<string, OpenApiOperation>>;
};

/** What a route does with a journey of another organization. */
type Target = "journey" | "collection";

interface RestSample {
  target: Target;
  /** The path with `{slug}` filled and the body, for a journey named `slug`. */
  request(slug: string): { path: string; body?: unknown };
}
interface TrpcSample {
  target: Target;
  input(slug: string): unknown;
}

const fresh = () => `sec-${randomBytes(5).toString("hex")}`;
const sampleEvent = () => ({
  id: randomUUID(),
  type: "session_start",
  sessionId: "matrix",
  timestamp: new Date().toISOString(),
});

const restSamples: Record<string, RestSample> = {
  "POST /api/journeys/create": {
    target: "collection",
    request: () => ({ path: "/api/journeys/create", body: { slug: fresh(), displayName: "Created" } }),
  },
  "GET /api/journeys/{slug}": { target: "journey", request: (slug) => ({ path: `/api/journeys/${slug}` }) },
  "PUT /api/journeys/{slug}": {
    target: "journey",
    request: (slug) => ({ path: `/api/journeys/${slug}`, body: { displayName: "Changed" } }),
  },
  "GET /api/journeys": { target: "collection", request: () => ({ path: "/api/journeys?limit=100" }) },
  "DELETE /api/journeys/{slug}": {
    target: "journey",
    request: (slug) => ({ path: `/api/journeys/${slug}` }),
  },
  "POST /api/journeys/{slug}/snapshots": {
    target: "journey",
    request: (slug) => ({ path: `/api/journeys/${slug}/snapshots` }),
  },
  "GET /api/journeys/{slug}/snapshots": {
    target: "journey",
    request: (slug) => ({ path: `/api/journeys/${slug}/snapshots` }),
  },
  "POST /api/events": {
    target: "journey",
    request: (slug) => ({ path: "/api/events", body: { journey: slug, events: [sampleEvent()] } }),
  },
};

const trpcSamples: Record<string, TrpcSample> = {
  "journeys.create": { target: "collection", input: () => ({ slug: fresh(), displayName: "Created" }) },
  "journeys.get": { target: "journey", input: (slug) => ({ slug }) },
  "journeys.update": { target: "journey", input: (slug) => ({ slug, displayName: "Changed" }) },
  "journeys.list": { target: "collection", input: () => ({ limit: 100 }) },
  "journeys.delete": { target: "journey", input: (slug) => ({ slug }) },
  "journeys.snapshots.create": { target: "journey", input: (slug) => ({ slug }) },
  "journeys.snapshots.list": { target: "journey", input: (slug) => ({ slug }) },
  "events.ingest": {
    target: "journey",
    input: (slug) => ({ journey: slug, events: [sampleEvent()] }),
  },
};

interface Route {
  name: string;
  scope: Scope;
  target: Target;
  /** Calls the route with `authorization` as the raw header (none when undefined). */
  call(
    authorization: string | undefined,
    slug: string,
  ): Promise<{ status: number; message?: string; body: unknown }>;
}

const restRoutes: Route[] = Object.entries(openapi.paths).flatMap(([path, operations]) =>
  Object.entries(operations).map(([method, operation]) => {
    const name = `${method.toUpperCase()} ${path}`;
    const scope = operation.security?.[0]?.bearerAuth?.[0] as Scope;
    return {
      name,
      scope,
      target: restSamples[name]?.target ?? "journey",
      async call(authorization, slug) {
        const sample = restSamples[name];
        if (!sample) throw new Error(`no sample for ${name}`);
        const { path: url, body } = sample.request(slug);
        const headers: Record<string, string> = {};
        if (authorization !== undefined) headers.authorization = authorization;
        if (body !== undefined) headers["content-type"] = "application/json";
        const res = await fetch(`${server.url}${url}`, {
          method: method.toUpperCase(),
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const json = (await res.json()) as { error?: string };
        return { status: res.status, message: json.error, body: json };
      },
    } satisfies Route;
  }),
);

type Procedure = { _def: { type: "query" | "mutation" | "subscription"; meta?: ProcedureMeta } };
const procedures = appRouter._def.procedures as unknown as Record<string, Procedure>;

function trpcClient(authorization: string | undefined) {
  return createTRPCUntypedClient({
    links: [
      httpLink({
        url: `${server.url}/trpc`,
        transformer: superjson,
        headers: () => (authorization === undefined ? {} : { authorization }),
      }),
    ],
  });
}

const trpcRoutes: Route[] = Object.entries(procedures).map(([path, procedure]) => ({
  name: `trpc ${path}`,
  scope: procedure._def.meta?.scope as Scope,
  target: trpcSamples[path]?.target ?? "journey",
  async call(authorization, slug) {
    const sample = trpcSamples[path];
    if (!sample) throw new Error(`no sample for ${path}`);
    const client = trpcClient(authorization);
    const input = sample.input(slug);
    try {
      const body =
        procedure._def.type === "query"
          ? await client.query(path, input)
          : await client.mutation(path, input);
      return { status: 200, body };
    } catch (error) {
      if (!(error instanceof TRPCClientError)) throw error;
      const data = error.data as { httpStatus: number; code: string };
      return { status: data.httpStatus, message: error.message, body: { code: data.code } };
    }
  },
}));

const routes = [...restRoutes, ...trpcRoutes];

// Two organizations, each with a journey; the attacker tries to reach the victim's.
const victim = await createApiKey(server.database.db, { orgSlug: "sec-victim", kind: "secret" });
const attacker = await createApiKey(server.database.db, { orgSlug: "sec-attacker", kind: "secret" });
const bearer = (key: string) => `Bearer ${key}`;

async function createJourney(key: string, slug: string) {
  const res = await server.call(key, "POST", "/api/journeys/create", { slug, displayName: "Original" });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; orgId: string; displayName: string };
}
const victimJourney = await createJourney(victim.key, "victim-journey");

async function victimJourneyIsIntact() {
  const res = await server.call(victim.key, "GET", "/api/journeys/victim-journey");
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ id: victimJourney.id, displayName: "Original" });
}

const unknownKey = `ody_sk_${"x".repeat(32)}`;
const revoked = await createApiKey(server.database.db, { orgSlug: "sec-victim", kind: "secret" });
await revokeApiKey(server.database.db, revoked.id);

const unauthorized: [string, string | undefined, string][] = [
  ["no key", undefined, "Missing API key: send it as Authorization: Bearer <key>"],
  ["an empty header", "", "Missing API key: send it as Authorization: Bearer <key>"],
  ["a Basic header", "Basic dXNlcjpwYXNz", "Malformed Authorization header: expected Bearer <key>"],
  ["a bare key", victim.key, "Malformed Authorization header: expected Bearer <key>"],
  ["Bearer and no key", "Bearer", "Malformed Authorization header: expected Bearer <key>"],
  ["two tokens", `Bearer ${victim.key} extra`, "Malformed Authorization header: expected Bearer <key>"],
  ["an unknown key", bearer(unknownKey), "Invalid API key"],
  ["a revoked key", bearer(revoked.key), "API key has been revoked"],
];

describe("the matrix covers every route", () => {
  it("has a sample for every REST operation and tRPC procedure, and no sample for a route that is gone", () => {
    expect(Object.keys(restSamples).sort()).toEqual(restRoutes.map((r) => r.name).sort());
    expect(Object.keys(trpcSamples).sort()).toEqual(Object.keys(procedures).sort());
  });

  it("documents every REST route the app serves under /api", () => {
    const served = server.app.routes
      .filter((r) => r.method !== "ALL" && r.path.startsWith("/api/") && r.path !== "/api/openapi.json")
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
    expect([...new Set(served)].sort()).toEqual(restRoutes.map((r) => r.name).sort());
  });

  it("checks keys first with the scope each journeys route declares", () => {
    for (const route of restRoutes.filter((r) => r.name.includes(" /api/journeys")))
      expect(scopeOfJourneyRequest(route.name.split(" ")[0] ?? ""), route.name).toBe(route.scope);
  });

  it("gives every route a required scope", () => {
    for (const route of routes) expect(allScopes, route.name).toContain(route.scope);
  });
});

/** Event writers may send a publishable key in the body instead: a missing key is told so. */
const missingEventKey =
  'Missing API key: send it as Authorization: Bearer <key>, or a publishable key (ody_pk_…) as "key" in the body';

describe.each(routes)("$name", (route) => {
  it.each(unauthorized)("answers 401 to %s", async (_, authorization, expected) => {
    const res = await route.call(authorization, "victim-journey");
    const message =
      route.scope === "events:write" && expected.startsWith("Missing API key") ? missingEventKey : expected;
    expect(res.status).toBe(401);
    expect(res.message).toBe(message);
    if (route.name.startsWith("trpc ")) expect(res.body).toEqual({ code: "UNAUTHORIZED" });
    else expect(res.body).toEqual({ error: message });
  });

  it("answers 403 naming the scope to a key without it", async () => {
    const others = allScopes.filter((s) => s !== route.scope);
    const key = await createApiKey(server.database.db, {
      orgSlug: "sec-victim",
      kind: "secret",
      scopes: others,
    });
    const res = await route.call(bearer(key.key), "victim-journey");
    expect(res.status).toBe(403);
    expect(res.message).toBe(`API key does not have required scope: ${route.scope}`);
  });

  it("succeeds for a key of the journey's organization holding only that scope", async () => {
    const key = await createApiKey(server.database.db, {
      orgSlug: "sec-victim",
      kind: "secret",
      scopes: [route.scope],
    });
    const slug = fresh();
    await createJourney(victim.key, slug);
    const res = await route.call(bearer(key.key), slug);
    expect(res.status).toBeLessThan(300);
  });

  it("never reaches another organization's journey", async () => {
    const res = await route.call(bearer(attacker.key), "victim-journey");
    if (route.target === "journey") {
      expect(res.status).toBe(404);
      expect(res.message).toBe('Journey with slug "victim-journey" not found');
    } else {
      expect(res.status).toBeLessThan(300);
      const text = JSON.stringify(res.body);
      expect(text).not.toContain(victimJourney.id);
      expect(text).not.toContain(victimJourney.orgId);
    }
    await victimJourneyIsIntact();
  });
});

describe("the Authorization header", () => {
  it("accepts the Bearer scheme in any case and followed by several spaces, as HTTP defines it", async () => {
    for (const scheme of ["bearer ", "BEARER ", "Bearer   "])
      expect(
        (await fetch(`${server.url}/api/journeys`, { headers: { authorization: `${scheme}${victim.key}` } }))
          .status,
      ).toBe(200);
  });
});

describe("the key comes before the content", () => {
  // Requests the journeys routes refuse for what they carry; each names the scope its route needs.
  const deep = `${"[".repeat(100)}${"]".repeat(100)}`;
  const refused: {
    name: string;
    method: string;
    path: string;
    type?: string;
    body?: string;
    scope: Scope;
  }[] = [
    {
      name: "an invalid slug",
      method: "POST",
      path: "/api/journeys/create",
      body: '{"slug":"BAD"}',
      scope: "journeys:write",
    },
    {
      name: "malformed JSON",
      method: "POST",
      path: "/api/journeys/create",
      body: "{",
      scope: "journeys:write",
    },
    {
      name: "JSON nested too deep",
      method: "POST",
      path: "/api/journeys/create",
      body: deep,
      scope: "journeys:write",
    },
    {
      name: "a text body",
      method: "POST",
      path: "/api/journeys/create",
      type: "text/plain",
      body: "{}",
      scope: "journeys:write",
    },
    {
      name: "an invalid field",
      method: "PUT",
      path: "/api/journeys/victim-journey",
      body: '{"environment":5}',
      scope: "journeys:write",
    },
    { name: "an invalid limit", method: "GET", path: "/api/journeys?limit=0", scope: "journeys:read" },
  ];
  const send = (request: (typeof refused)[number], authorization?: string) =>
    fetch(`${server.url}${request.path}`, {
      method: request.method,
      headers: {
        ...(authorization === undefined ? {} : { authorization }),
        ...(request.body === undefined ? {} : { "content-type": request.type ?? "application/json" }),
      },
      body: request.body,
    });

  it.each(refused)("answers $name with 401 without a key, 403 without the scope", async (request) => {
    const missing = await send(request);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({
      error: "Missing API key: send it as Authorization: Bearer <key>",
    });
    expect((await send(request, bearer(unknownKey))).status).toBe(401);
    expect((await send(request, bearer(revoked.key))).status).toBe(401);

    const others = allScopes.filter((s) => s !== request.scope);
    const without = await createApiKey(server.database.db, {
      orgSlug: "sec-victim",
      kind: "secret",
      scopes: others,
    });
    const publishable = await createApiKey(server.database.db, {
      orgSlug: "sec-victim",
      kind: "publishable",
    });
    for (const key of [without.key, publishable.key]) {
      const forbidden = await send(request, bearer(key));
      expect(forbidden.status).toBe(403);
      expect(await forbidden.json()).toEqual({
        error: `API key does not have required scope: ${request.scope}`,
      });
    }

    const allowed = await send(request, bearer(victim.key));
    expect(allowed.status).toBe(request.type ? 415 : 400);
    expect(await allowed.json()).toHaveProperty("error");
  });
});

describe("a key revoked while in use", () => {
  it("is refused on its next request, over REST and tRPC", async () => {
    const key = await createApiKey(server.database.db, { orgSlug: "sec-victim", kind: "secret" });
    expect((await server.call(key.key, "GET", "/api/journeys/victim-journey")).status).toBe(200);
    await trpcClient(bearer(key.key)).query("journeys.get", { slug: "victim-journey" });

    await revokeApiKey(server.database.db, key.id);

    const rest = await server.call(key.key, "GET", "/api/journeys/victim-journey");
    expect(rest.status).toBe(401);
    expect(await rest.json()).toEqual({ error: "API key has been revoked" });
    await expect(
      trpcClient(bearer(key.key)).query("journeys.get", { slug: "victim-journey" }),
    ).rejects.toMatchObject({
      message: "API key has been revoked",
      data: { code: "UNAUTHORIZED", httpStatus: 401 },
    });
  });
});

describe("mass assignment", () => {
  const forged = {
    id: "journey_forged",
    orgId: attacker.orgId,
    createdAt: "2000-01-01T00:00:00.000Z",
    updatedAt: "2000-01-01T00:00:00.000Z",
  };
  const recent = (iso: string) => Date.parse(iso) > Date.now() - 60_000;

  it("ignores id, orgId, createdAt and updatedAt in a REST create body", async () => {
    const res = await server.call(victim.key, "POST", "/api/journeys/create", {
      ...forged,
      slug: "forged-create",
      displayName: "Forged",
      steps: [{ ...forged, id: "step_forged", journeyId: "journey_forged", stepKey: "only", index: 0 }],
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as {
      id: string;
      orgId: string;
      createdAt: string;
      updatedAt: string;
      steps: { id: string; journeyId: string; createdAt: string }[];
    };
    expect(body.id).not.toBe(forged.id);
    expect(body.steps[0]?.id).not.toBe("step_forged");
    expect(body.steps[0]?.journeyId).toBe(body.id);
    expect(body.steps[0]?.createdAt).toBe(body.createdAt);
    expect(body.orgId).toBe(victim.orgId);
    expect(recent(body.createdAt) && recent(body.updatedAt)).toBe(true);
    expect((await server.call(attacker.key, "GET", "/api/journeys/forged-create")).status).toBe(404);
    expect((await server.call(victim.key, "GET", "/api/journeys/forged-create")).status).toBe(200);
  });

  it("ignores them, and the slug, in a REST update body", async () => {
    const before = (await (await server.call(victim.key, "GET", "/api/journeys/forged-create")).json()) as {
      id: string;
      createdAt: string;
    };
    const res = await server.call(victim.key, "PUT", "/api/journeys/forged-create", {
      ...forged,
      slug: "renamed",
      displayName: "Updated",
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, string>;
    expect(body).toMatchObject({
      id: before.id,
      orgId: victim.orgId,
      slug: "forged-create",
      displayName: "Updated",
    });
    expect(body.createdAt).toBe(before.createdAt);
    expect(recent(body.updatedAt as string)).toBe(true);
    expect((await server.call(attacker.key, "GET", "/api/journeys/forged-create")).status).toBe(404);
  });

  it("ignores them in tRPC create and update inputs", async () => {
    const client = trpcClient(bearer(victim.key));
    const dates = { createdAt: new Date(forged.createdAt), updatedAt: new Date(forged.updatedAt) };
    const created = (await client.mutation("journeys.create", {
      ...forged,
      ...dates,
      slug: "forged-trpc",
      displayName: "Forged",
    })) as { id: string; orgId: string; createdAt: Date };
    expect(created.id).not.toBe(forged.id);
    expect(created.orgId).toBe(victim.orgId);
    expect(created.createdAt.getTime()).toBeGreaterThan(Date.now() - 60_000);

    const updated = (await client.mutation("journeys.update", {
      ...forged,
      ...dates,
      slug: "forged-trpc",
      displayName: "Updated",
    })) as { id: string; orgId: string; createdAt: Date; updatedAt: Date };
    expect(updated).toMatchObject({ id: created.id, orgId: victim.orgId, createdAt: created.createdAt });
    expect(updated.updatedAt.getTime()).toBeGreaterThan(Date.now() - 60_000);
  });
});
