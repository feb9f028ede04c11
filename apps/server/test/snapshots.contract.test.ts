import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJourney, postEvents, uuid } from "./support/events";
import { startTestServer, type TestServer } from "./support/server";

// POST and GET /api/journeys/{slug}/snapshots (a page at a time); Retrieve's hasSnapshot and
// lastArtifactCreated.

let server: TestServer;
let key: string;
const t0 = new Date("2026-11-20T09:00:00.000Z");

beforeAll(async () => {
  server = await startTestServer();
  key = await server.key("snapshots");
  server.setNow(t0);
  await createJourney(server, key, "grant", { steps: 2 });
});
afterAll(() => server.close());

async function retrieve() {
  const res = await server.call(key, "GET", "/api/journeys/grant");
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown> & { healthMetrics: { hasSnapshot: boolean } };
}

describe("snapshots", () => {
  it("start absent: hasSnapshot false, lastArtifactCreated null, an empty list", async () => {
    const body = await retrieve();
    expect(body.healthMetrics.hasSnapshot).toBe(false);
    expect(body.lastArtifactCreated).toBeNull();
    const list = await server.call(key, "GET", "/api/journeys/grant/snapshots");
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({ data: [], nextCursor: null });
  });

  it("freeze the configuration and analytics, and Retrieve follows the newest", async () => {
    await postEvents(
      server,
      {
        journey: "grant",
        events: [
          {
            id: uuid(),
            type: "session_start",
            sessionId: "a",
            timestamp: t0.toISOString(),
            device: "mobile",
          },
        ],
      },
      { key },
    );
    const first = await server.call(key, "POST", "/api/journeys/grant/snapshots");
    expect(first.status).toBe(201);
    const snap1 = (await first.json()) as {
      id: string;
      createdAt: string;
      configuration: { displayName: string; steps: unknown[] };
      analytics: { healthMetrics: { sessionCount: number }; behaviorMetrics: { mobileRate: number } };
    };
    expect(snap1.id).toMatch(/^snap_[A-Za-z0-9]+$/);
    expect(snap1.createdAt).toBe(t0.toISOString());
    expect(snap1.configuration.displayName).toBe("grant");
    expect(snap1.configuration.steps).toHaveLength(2);
    expect(snap1.analytics.healthMetrics.sessionCount).toBe(1);
    expect(snap1.analytics.behaviorMetrics.mobileRate).toBe(1);

    let body = await retrieve();
    expect(body.healthMetrics.hasSnapshot).toBe(true);
    expect(body.lastArtifactCreated).toEqual({ id: snap1.id, createdAt: t0.toISOString() });

    // Later changes do not touch the frozen copy.
    expect((await server.call(key, "PUT", "/api/journeys/grant", { displayName: "Renamed" })).status).toBe(
      200,
    );
    const t1 = new Date(t0.getTime() + 60_000);
    server.setNow(t1);
    const second = await server.call(key, "POST", "/api/journeys/grant/snapshots");
    expect(second.status).toBe(201);
    const snap2 = (await second.json()) as { id: string; configuration: { displayName: string } };
    expect(snap2.configuration.displayName).toBe("Renamed");

    body = await retrieve();
    expect(body.lastArtifactCreated).toEqual({ id: snap2.id, createdAt: t1.toISOString() });
    const list = (await (await server.call(key, "GET", "/api/journeys/grant/snapshots")).json()) as {
      data: { id: string; configuration: { displayName: string } }[];
    };
    expect(list.data.map((s) => [s.id, s.configuration.displayName])).toEqual([
      [snap2.id, "Renamed"],
      [snap1.id, "grant"],
    ]);
    expect(list.data[1]).toEqual(snap1);
  });

  it("need journeys:write to create and journeys:read to list", async () => {
    const reader = await server.key("snapshots", ["journeys:read"]);
    const writer = await server.key("snapshots", ["journeys:write"]);
    const denied = await server.call(reader, "POST", "/api/journeys/grant/snapshots");
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({ error: "API key does not have required scope: journeys:write" });
    expect((await server.call(reader, "GET", "/api/journeys/grant/snapshots")).status).toBe(200);
    const cannotList = await server.call(writer, "GET", "/api/journeys/grant/snapshots");
    expect(cannotList.status).toBe(403);
    expect(await cannotList.json()).toEqual({ error: "API key does not have required scope: journeys:read" });
  });

  it("answer 404 for another organization's journey, and create nothing", async () => {
    const other = await server.key("someone-else");
    for (const method of ["POST", "GET"]) {
      const res = await server.call(other, method, "/api/journeys/grant/snapshots");
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: 'Journey with slug "grant" not found' });
    }
    const list = (await (await server.call(key, "GET", "/api/journeys/grant/snapshots")).json()) as {
      data: unknown[];
    };
    expect(list.data).toHaveLength(2);
  });

  it("are the tRPC procedures journeys.snapshots.create and list", async () => {
    const res = await fetch(`${server.url}/trpc/journeys.snapshots.create`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ json: { slug: "grant" } }),
    });
    expect(res.status).toBe(200);
    const input = encodeURIComponent(JSON.stringify({ json: { slug: "grant" } }));
    const list = await fetch(`${server.url}/trpc/journeys.snapshots.list?input=${input}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const body = (await list.json()) as {
      result: { data: { json: { data: unknown[]; nextCursor: string | null } } };
    };
    expect(body.result.data.json.data).toHaveLength(3);
    expect(body.result.data.json.nextCursor).toBeNull();
  });

  it("refuse a body that is sent but not JSON, and create nothing", async () => {
    const count = async () =>
      ((await (await server.call(key, "GET", "/api/journeys/grant/snapshots")).json()) as { data: unknown[] })
        .data.length;
    const before = await count();
    const malformed = await server.call(key, "POST", "/api/journeys/grant/snapshots", "{bad");
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ error: "Malformed JSON in request body" });
    const xml = await fetch(`${server.url}/api/journeys/grant/snapshots`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "text/xml" },
      body: "<x/>",
    });
    expect(xml.status).toBe(415);
    expect(await count()).toBe(before);
    // Without the route's scope, the key's answer comes first.
    const reader = await server.key("snapshots", ["journeys:read"]);
    const forbidden = await server.call(reader, "POST", "/api/journeys/grant/snapshots", "{bad");
    expect(forbidden.status).toBe(403);
    // A JSON body is accepted and ignored.
    const withBody = await server.call(key, "POST", "/api/journeys/grant/snapshots", { note: "ignored" });
    expect(withBody.status).toBe(201);
    expect(await count()).toBe(before + 1);
  });

  it("are documented with every status", async () => {
    const doc = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    const path = doc.paths["/api/journeys/{slug}/snapshots"];
    expect(Object.keys(path?.post?.responses ?? {}).sort()).toEqual(
      ["201", "400", "401", "403", "404", "413", "415", "429", "500", "503"].sort(),
    );
    // A GET reads no body, but one sent compressed is refused (415).
    expect(Object.keys(path?.get?.responses ?? {}).sort()).toEqual(
      ["200", "400", "401", "403", "404", "413", "415", "429", "500", "503"].sort(),
    );
    // A page at a time, as the journeys list.
    const list = path?.get as unknown as {
      parameters: { name: string; in: string; schema: object }[];
      responses: Record<string, unknown>;
    };
    const journeysList = doc.paths["/api/journeys"]?.get as unknown as typeof list;
    const query = (op: typeof list) => op.parameters.filter((p) => p.in === "query");
    expect(query(list)).toEqual(query(journeysList));
    expect(query(list).map((p) => p.name)).toEqual(["limit", "cursor"]);
    expect(JSON.stringify(list.responses["200"])).toContain("SnapshotList");
    const detail = JSON.stringify(doc.paths["/api/journeys/{slug}"]?.get?.responses["200"]);
    expect(detail).toContain("JourneyDetail");
    const schemas = (doc as unknown as { components: { schemas: Record<string, { properties: object }> } })
      .components.schemas;
    expect(Object.keys(schemas.JourneyDetail?.properties ?? {})).toEqual(
      expect.arrayContaining(["funnel", "timeToComplete", "unknownStepKeys", "sessionsInProgress"]),
    );
    expect(schemas.SnapshotList).toMatchObject({
      properties: { data: { type: "array" }, nextCursor: { type: ["string", "null"] } },
      required: ["data", "nextCursor"],
    });
  });
});

interface Page {
  data: { id: string; journeyId: string; createdAt: string | Date }[];
  nextCursor: string | null;
}

/** A tRPC query's `input` parameter (superjson). */
const trpcInput = (input: unknown) => encodeURIComponent(JSON.stringify({ json: input }));

async function restPage(caller: string, slug: string, query = ""): Promise<Page> {
  const res = await server.call(caller, "GET", `/api/journeys/${slug}/snapshots${query}`);
  expect(res.status, query).toBe(200);
  return (await res.json()) as Page;
}

async function trpcList(caller: string, input: unknown): Promise<Response> {
  return fetch(`${server.url}/trpc/journeys.snapshots.list?input=${trpcInput(input)}`, {
    headers: { authorization: `Bearer ${caller}` },
  });
}

async function trpcPage(caller: string, input: unknown): Promise<Page> {
  const res = await trpcList(caller, input);
  expect(res.status).toBe(200);
  return ((await res.json()) as { result: { data: { json: Page } } }).result.data.json;
}

/** Every page from the first, following nextCursor; each page's ids, in order. */
async function pageThrough(next: (cursor: string | undefined) => Promise<Page>): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await next(cursor);
    pages.push(page.data.map((s) => s.id));
    cursor = page.nextCursor ?? undefined;
    expect(pages.length).toBeLessThan(100);
  } while (cursor);
  return pages;
}

async function takeSnapshot(caller: string, slug: string, at: Date): Promise<string> {
  server.setNow(at);
  const res = await server.call(caller, "POST", `/api/journeys/${slug}/snapshots`);
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

const trpcMessage = async (res: Response) =>
  ((await res.json()) as { error: { json: { message: string } } }).error.json.message;

describe("the list of snapshots", () => {
  const tPaged = new Date("2026-11-21T09:00:00.000Z");
  const taken: string[] = [];

  beforeAll(async () => {
    await createJourney(server, key, "paged", { steps: 2 });
    // 23 snapshots, three to a millisecond: the later of two taken at the same instant is newer.
    for (let i = 0; i < 23; i++)
      taken.push(await takeSnapshot(key, "paged", new Date(tPaged.getTime() + Math.floor(i / 3) * 60_000)));
  });

  it("pages through more snapshots than one page, newest first, over REST and tRPC", async () => {
    const all = await restPage(key, "paged", "?limit=100");
    expect(all.nextCursor).toBeNull();
    const ids = all.data.map((s) => s.id);
    expect(ids).toEqual([...taken].reverse());
    const retrieved = await server.call(key, "GET", "/api/journeys/paged");
    const { lastArtifactCreated } = (await retrieved.json()) as { lastArtifactCreated: { id: string } };
    expect(lastArtifactCreated.id).toBe(taken.at(-1));

    // 20 by default.
    const first = await restPage(key, "paged");
    expect(first.data.map((s) => s.id)).toEqual(ids.slice(0, 20));
    expect(first.nextCursor).toEqual(expect.any(String));
    const rest = await restPage(key, "paged", `?cursor=${first.nextCursor}`);
    expect(rest).toEqual({ data: all.data.slice(20), nextCursor: null });
    const trpcFirst = await trpcPage(key, { slug: "paged" });
    expect(trpcFirst.data.map((s) => s.id)).toEqual(ids.slice(0, 20));

    const restPages = await pageThrough((cursor) =>
      restPage(key, "paged", cursor ? `?limit=2&cursor=${cursor}` : "?limit=2"),
    );
    expect(restPages).toHaveLength(12);
    expect(restPages.slice(0, -1).every((page) => page.length === 2)).toBe(true);
    expect(restPages.flat()).toEqual(ids);

    const trpcPages = await pageThrough((cursor) => trpcPage(key, { slug: "paged", limit: 2, cursor }));
    expect(trpcPages).toEqual(restPages);

    // The REST and tRPC cursors are the same: either carries on the other's pages.
    const restCursor = (await restPage(key, "paged", "?limit=5")).nextCursor;
    const trpcNext = await trpcPage(key, { slug: "paged", limit: 5, cursor: restCursor });
    expect(trpcNext.data.map((s) => s.id)).toEqual(ids.slice(5, 10));
  });

  it("keeps its pages stable while snapshots are taken", async () => {
    const before = (await restPage(key, "paged", "?limit=100")).data.map((s) => s.id);
    const first = await restPage(key, "paged", "?limit=4");
    const newest = await takeSnapshot(key, "paged", new Date(tPaged.getTime() + 3_600_000));
    const seen = [...first.data.map((s) => s.id)];
    let cursor = first.nextCursor;
    while (cursor) {
      const page = await restPage(key, "paged", `?limit=4&cursor=${cursor}`);
      seen.push(...page.data.map((s) => s.id));
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(before);
    expect((await restPage(key, "paged", "?limit=1")).data.map((s) => s.id)).toEqual([newest]);
  });

  it("answers 400 for a cursor it did not issue and a limit out of range, over REST and tRPC", async () => {
    const badCursor = "Invalid journey data: cursor is not a cursor this API returned";
    const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const journeysCursor = (
      (await (await server.call(key, "GET", "/api/journeys?limit=1")).json()) as { nextCursor: string }
    ).nextCursor;
    expect(journeysCursor).toEqual(expect.any(String));
    const cursors = [
      "garbage",
      // Empty, as an empty limit is refused: not read as "no cursor", the first page.
      "",
      // A cursor of the journeys list: its position names a journey, not a snapshot.
      journeysCursor,
      cursorOf({ createdAt: "2026-02-31T00:00:00.000Z", id: "snap_abc" }),
      cursorOf({ createdAt: "0000-01-01T00:00:00.000Z", id: "snap_abc" }),
      cursorOf({ createdAt: "2026-01-01T00:00:00.000Z", id: "snap_a\u0000" }),
      cursorOf({ createdAt: "2026-01-01T00:00:00.000Z" }),
      cursorOf(null),
    ];
    for (const cursor of cursors) {
      const rest = await server.call(key, "GET", `/api/journeys/paged/snapshots?cursor=${cursor}`);
      expect(rest.status, cursor).toBe(400);
      expect(await rest.json()).toEqual({ error: badCursor });
      const trpc = await trpcList(key, { slug: "paged", cursor });
      expect(trpc.status, cursor).toBe(400);
      expect(await trpcMessage(trpc)).toBe(badCursor);
    }
    for (const [limit, error] of [
      ["101", "Invalid journey data: limit must be at most 100"],
      ["99999999999999999999", "Invalid journey data: limit must be at most 100"],
      ["0", "Invalid journey data: limit must be at least 1"],
      ["-1", "Invalid journey data: limit must be at least 1"],
    ] as const) {
      const res = await server.call(key, "GET", `/api/journeys/paged/snapshots?limit=${limit}`);
      expect(res.status, limit).toBe(400);
      expect(await res.json()).toEqual({ error });
      const trpc = await trpcList(key, { slug: "paged", limit: Number(limit) });
      expect(trpc.status, limit).toBe(400);
      expect(await trpcMessage(trpc)).toBe(error);
    }
    for (const limit of ["abc", "1.5"])
      expect((await server.call(key, "GET", `/api/journeys/paged/snapshots?limit=${limit}`)).status).toBe(
        400,
      );
    for (const [query, name] of [
      ["limit=1&limit=2", "limit"],
      ["cursor=a&cursor=b", "cursor"],
    ]) {
      const res = await server.call(key, "GET", `/api/journeys/paged/snapshots?${query}`);
      expect(res.status, query).toBe(400);
      expect(await res.json(), query).toEqual({ error: `Invalid journey data: ${name} must be given once` });
    }
    // The bounds themselves are answered.
    expect((await restPage(key, "paged", "?limit=1")).data).toHaveLength(1);
    expect((await restPage(key, "paged", "?limit=100")).data).toHaveLength(24);
  });

  it("pages only the caller's journey, whatever journey or organization a cursor came from", async () => {
    const other = await server.key("snapshots-elsewhere");
    await createJourney(server, other, "grant", { steps: 1 });
    // Between the first organization's snapshots of "grant" (t0, t1, ...) and those of "paged".
    const theirs: string[] = [];
    for (const minutes of [30, 90, 24 * 60 + 30])
      theirs.push(await takeSnapshot(other, "grant", new Date(t0.getTime() + minutes * 60_000)));

    const ours = (await restPage(key, "grant", "?limit=100")).data;
    const paged = (await restPage(key, "paged", "?limit=100")).data;
    const olderThan = (list: Page["data"], at: string | Date) =>
      list.filter((s) => Date.parse(s.createdAt as string) < new Date(at).getTime()).map((s) => s.id);

    const foreign = [
      // Another organization's journey of the same slug, at each of its positions.
      ...(await pageThrough((cursor) => trpcPage(other, { slug: "grant", limit: 1, cursor }))).map((ids) => ({
        id: ids[0],
        list: "theirs",
      })),
      // Another journey of the caller's own organization.
      { id: paged[3]?.id, list: "paged" },
    ];
    const theirList = (await restPage(other, "grant", "?limit=100")).data;
    expect(theirList.map((s) => s.id).sort()).toEqual([...theirs].sort());
    for (const { id, list } of foreign) {
      const from = (list === "theirs" ? theirList : paged).find((s) => s.id === id);
      expect(from).toBeDefined();
      if (!from) continue;
      const cursor = Buffer.from(JSON.stringify({ createdAt: from.createdAt, id: from.id })).toString(
        "base64url",
      );
      for (const page of [
        await restPage(key, "grant", `?limit=100&cursor=${cursor}`),
        await trpcPage(key, { slug: "grant", limit: 100, cursor }),
      ]) {
        // Only the caller's own snapshots of "grant", those older than the cursor's position.
        const ids = page.data.map((s) => s.id);
        expect(ids).toEqual(olderThan(ours, from.createdAt));
        expect(page.data.every((s) => s.journeyId === ours[0]?.journeyId)).toBe(true);
        expect(ids.some((i) => theirs.includes(i) || paged.some((s) => s.id === i))).toBe(false);
        expect(page.nextCursor).toBeNull();
      }
    }
    // The other way round: the first organization's cursors give the other nothing but its own.
    const ourCursor = (await restPage(key, "grant", "?limit=1")).nextCursor;
    const theirPage = await restPage(other, "grant", `?limit=100&cursor=${ourCursor}`);
    expect(theirPage.data.every((s) => theirs.includes(s.id))).toBe(true);
    const pagedCursor = (await restPage(key, "paged", "?limit=1")).nextCursor;
    const fromPaged = await restPage(other, "grant", `?limit=100&cursor=${pagedCursor}`);
    expect(fromPaged.data.map((s) => s.id).sort()).toEqual([...theirs].sort());
  });
});

describe("the list of large snapshots", () => {
  const pageBytes = 8 * 1024 * 1024;
  let large: TestServer;
  let largeKey: string;

  /** A journey of 200 steps, each listing `artifacts` required artifacts of 250 `char`s. */
  const largeJourney = (slug: string, artifacts: number, char: string) => ({
    slug,
    displayName: slug,
    steps: Array.from({ length: 200 }, (_, i) => ({
      stepKey: `step-${i}`,
      index: i,
      name: `Step ${i}`,
      requiredArtifacts: Array.from({ length: artifacts }, (_, j) => `${j}`.padEnd(250, char)),
    })),
  });

  async function take(slug: string, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const res = await large.call(largeKey, "POST", `/api/journeys/${slug}/snapshots`);
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as { id: string }).id);
    }
    return ids.reverse();
  }

  /** Every page over REST, with the size of each answer in bytes. */
  async function restPages(slug: string, limit: number) {
    const pages: { ids: string[]; bytes: number }[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=${limit}&cursor=${cursor}` : `?limit=${limit}`;
      const res = await large.call(largeKey, "GET", `/api/journeys/${slug}/snapshots${query}`);
      expect(res.status).toBe(200);
      const text = await res.text();
      const page = JSON.parse(text) as Page;
      pages.push({ ids: page.data.map((s) => s.id), bytes: Buffer.byteLength(text) });
      cursor = page.nextCursor;
    } while (cursor);
    return pages;
  }

  async function trpcPages(slug: string, limit: number): Promise<string[][]> {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const input = trpcInput({ slug, limit, cursor });
      const res = await fetch(`${large.url}/trpc/journeys.snapshots.list?input=${input}`, {
        headers: { authorization: `Bearer ${largeKey}` },
      });
      expect(res.status).toBe(200);
      const page = ((await res.json()) as { result: { data: { json: Page } } }).result.data.json;
      pages.push(page.data.map((s) => s.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return pages;
  }

  beforeAll(async () => {
    // Room for a journey of about 10 MB, more than a page may weigh.
    large = await startTestServer({ MAX_BODY_BYTES: "10485760" });
    largeKey = await large.key("large-snapshots");
  });
  afterAll(() => large.close());

  it("end a page early when its snapshots would weigh more than 8 MiB, and carry on from there", async () => {
    const body = largeJourney("about-a-megabyte", 19, "a");
    expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(950_000);
    expect((await large.call(largeKey, "POST", "/api/journeys/create", body)).status).toBe(201);
    const ids = await take("about-a-megabyte", 10);

    const pages = await restPages("about-a-megabyte", 100);
    expect(pages.flatMap((p) => p.ids)).toEqual(ids);
    expect(pages.length).toBeGreaterThan(1);
    for (const page of pages) {
      expect(page.ids.length).toBeGreaterThan(1);
      expect(page.bytes).toBeLessThanOrEqual(pageBytes);
    }
    // Full but for the next snapshot.
    expect(pages[0]?.bytes).toBeGreaterThan(pageBytes - 1_200_000);
    expect(await trpcPages("about-a-megabyte", 100)).toEqual(pages.map((p) => p.ids));
    // limit still bounds a page of light snapshots.
    expect((await restPages("about-a-megabyte", 3)).map((p) => p.ids)).toEqual([
      ids.slice(0, 3),
      ids.slice(3, 6),
      ids.slice(6, 9),
      ids.slice(9),
    ]);
  });

  it("answer a snapshot heavier than a page alone", async () => {
    // Two bytes a character in UTF-8: about 10 MB of JSON.
    const body = largeJourney("about-ten-megabytes", 100, "é");
    expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(pageBytes + 1_000_000);
    expect((await large.call(largeKey, "POST", "/api/journeys/create", body)).status).toBe(201);
    const ids = await take("about-ten-megabytes", 2);
    const pages = await restPages("about-ten-megabytes", 20);
    expect(pages.map((p) => p.ids)).toEqual([[ids[0]], [ids[1]]]);
    expect(pages[0]?.bytes).toBeGreaterThan(pageBytes);
  });
});
