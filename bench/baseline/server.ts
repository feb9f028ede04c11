import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SESSION_SETTINGS } from "@odyssey/db";
import postgres from "postgres";
import { bareEventsTable } from "../lib/bare-insert";
import { analytics } from "./analytics";

// The baseline: what the same requests cost with no framework at all. node:http, postgres.js
// tagged queries, the same SQL the server sends, hand-written JSON. No validation beyond what
// the SQL needs, no logging, no error mapping: a floor, not a product.

const url = process.env.DATABASE_URL;
if (!url) throw new Error("DATABASE_URL is required");
// The server's session settings, so that the same SQL is planned alike.
const sql = postgres(url, {
  max: Number(process.env.DATABASE_POOL_SIZE ?? 10),
  onnotice: () => {},
  connection: SESSION_SETTINGS,
});

type Row = Record<string, unknown>;

const alphabet = "0123456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
function newId(prefix: string): string {
  let out = `${prefix}_`;
  for (const byte of randomBytes(16)) out += alphabet[byte % alphabet.length];
  return out;
}

async function orgOf(req: IncomingMessage, scope: string): Promise<string | undefined> {
  const key = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
  if (!key) return undefined;
  const hash = createHash("sha256").update(key).digest("hex");
  const [row] =
    await sql`select id, org_id, kind, scopes, revoked_at from api_keys where hash = ${hash} limit 1`;
  if (!row || row.revoked_at || !(row.scopes as string[]).includes(scope)) return undefined;
  return row.org_id as string;
}

const step = (r: Row) => ({
  id: r.id,
  journeyId: r.journey_id,
  stepKey: r.step_key,
  name: r.name,
  stepType: r.step_type,
  index: r.index,
  readingLevel: r.reading_level,
  fieldCount: r.field_count,
  requiredArtifacts: r.required_artifacts,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const journey = (r: Row, steps: Row[]) => ({
  id: r.id,
  orgId: r.org_id,
  slug: r.slug,
  displayName: r.display_name,
  sourceSystem: r.source_system,
  environment: r.environment,
  allowedOrigins: r.allowed_origins,
  steps: steps.map(step),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

async function retrieve(req: IncomingMessage, slug: string) {
  // The server's single query: the key, and the journey of its organization with one row per
  // step and its analytics version (the journey's columns prefixed: j_…).
  const presented = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
  if (!presented) return "unauthorized";
  const hash = createHash("sha256").update(presented).digest("hex");
  const rows = await sql`select k.org_id as k_org_id, k.scopes as k_scopes, k.revoked_at as k_revoked_at,
      j.org_id as j_org_id, j.id as j_id, j.slug as j_slug, j.display_name as j_display_name,
      j.source_system as j_source_system, j.environment as j_environment, j.allowed_origins as j_allowed_origins,
      j.created_at as j_created_at, j.updated_at as j_updated_at,
      (select coalesce(sum(version), 0)::text from analytics_versions v
        where v.org_id = j.org_id and v.journey_id = j.id) as j_analytics_version, s.*
    from api_keys k
    left join journeys j on j.org_id = k.org_id and j.slug = ${slug}
    left join journey_steps s on s.org_id = j.org_id and s.journey_id = j.id
    where k.hash = ${hash} order by s.index`;
  const key = rows[0];
  if (!key || key.k_revoked_at || !(key.k_scopes as string[]).includes("journeys:read"))
    return "unauthorized";
  const orgId = key.k_org_id as string;
  if (key.j_id === null) return undefined;
  const row = Object.fromEntries(
    Object.entries(key)
      .filter(([k]) => k.startsWith("j_"))
      .map(([k, v]) => [k.slice(2), v]),
  );
  const found = journey(
    row,
    rows.filter((r) => r.id !== null),
  );
  // Analytics are computed again only when the journey's analytics version moved, as the
  // server's cache does (the server also expires them at window edges; a floor need not).
  const cacheKey = `${orgId}:${row.id}`;
  const cached = analyticsCache.get(cacheKey);
  if (cached && cached.version === row.analytics_version) return { ...found, ...cached.analytics };
  const computed = await analytics(sql, orgId, row.id as string, found.steps);
  analyticsCache.set(cacheKey, { version: row.analytics_version, analytics: computed });
  return { ...found, ...computed };
}

const analyticsCache = new Map<string, { version: unknown; analytics: Row }>();

async function create(orgId: string, input: Row) {
  const id = newId("journey");
  const now = new Date();
  const row: Row = {
    org_id: orgId,
    id,
    slug: input.slug,
    display_name: input.displayName,
    source_system: input.sourceSystem ?? "unknown",
    environment: input.environment ?? "production",
    allowed_origins: input.allowedOrigins ?? [],
    created_at: now,
    updated_at: now,
  };
  const steps = ((input.steps as Row[]) ?? [])
    .map((s) => ({
      id: newId("step"),
      journey_id: id,
      step_key: s.stepKey,
      index: s.index,
      name: s.name ?? null,
      step_type: s.stepType ?? null,
      reading_level: s.readingLevel ?? null,
      field_count: s.fieldCount ?? null,
      required_artifacts: s.requiredArtifacts ?? [],
      created_at: now,
      updated_at: now,
    }))
    .sort((a, b) => (a.index as number) - (b.index as number));
  // The server's statement: both inserts in one, the steps as one JSON parameter, nothing returned.
  await sql`with journey as (
      insert into journeys (org_id, id, slug, display_name, source_system, environment, allowed_origins, created_at, updated_at)
      values (${orgId}, ${id}, ${row.slug as string}, ${row.display_name as string}, ${row.source_system as string},
        ${row.environment as string}, ${row.allowed_origins as string[]}, ${now}, ${now})
    ), steps as (
      insert into journey_steps (org_id, id, journey_id, step_key, index, name, step_type, reading_level,
        field_count, required_artifacts, created_at, updated_at)
      select ${orgId}, s.id, ${id}, s.step_key, s.index, s.name, s.step_type, s.reading_level, s.field_count,
        s.required_artifacts, ${now}, ${now}
      from jsonb_to_recordset(${sql.json(steps as never)}) as s(id text, step_key text, index integer, name text,
        step_type text, reading_level double precision, field_count integer, required_artifacts text[])
    )
    select 1`;
  return journey(row, steps);
}

async function update(orgId: string, slug: string, changes: Row) {
  // The server's single statement: the update, and the updated journey's steps (one row per step;
  // the journey's columns prefixed: j_…).
  const rows = await sql`with updated as (
      update journeys set display_name = coalesce(${(changes.displayName as string) ?? null}, display_name),
        environment = coalesce(${(changes.environment as string) ?? null}, environment), updated_at = now()
      where org_id = ${orgId} and slug = ${slug} returning *
    )
    select u.org_id as j_org_id, u.id as j_id, u.slug as j_slug, u.display_name as j_display_name,
      u.source_system as j_source_system, u.environment as j_environment, u.allowed_origins as j_allowed_origins,
      u.created_at as j_created_at, u.updated_at as j_updated_at, s.*
    from updated u left join journey_steps s on s.org_id = u.org_id and s.journey_id = u.id order by s.index`;
  const first = rows[0];
  if (!first) return undefined;
  const row = Object.fromEntries(
    Object.entries(first)
      .filter(([k]) => k.startsWith("j_"))
      .map(([k, v]) => [k.slice(2), v]),
  );
  return journey(
    row,
    rows.filter((r) => r.id !== null),
  );
}

// The ingestion baseline: the same rows, one UNNEST insert into a bare table (no summaries,
// no de-duplication, no validation), in the table bench/ingest.ts inserts into (lib/bare-insert.ts).
await sql.unsafe(`create table if not exists ${bareEventsTable}`);

async function insertEvents(input: Row) {
  const list = input.events as Row[];
  const received = new Date();
  const column = (pick: (e: Row) => unknown) => sql.array(list.map((e) => (pick(e) ?? null) as string));
  await sql`insert into bare_events select * from unnest(
    ${column(() => "bench")}::text[], ${column(() => input.journey)}::text[], ${column((e) => e.timestamp)}::timestamptz[],
    ${column((e) => e.id)}::text[], ${column(() => received.toISOString())}::timestamptz[],
    ${column((e) => e.timestamp)}::timestamptz[], ${column((e) => e.type)}::text[], ${column((e) => e.sessionId)}::text[],
    ${column((e) => e.stepKey)}::text[], ${column((e) => e.field)}::text[], ${column((e) => e.device)}::text[])`;
  return { accepted: list.length, duplicates: 0, rejected: [] };
}

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Row> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as Row;
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  const path = req.url ?? "/";
  if (path === "/healthz") return send(res, 200, { status: "ok" });
  const slug = /^\/api\/journeys\/([a-z0-9-]+)$/.exec(path)?.[1];
  if (req.method === "POST" && path === "/api/events")
    return send(res, 200, await insertEvents(await readJson(req)));
  if (req.method === "POST" && path === "/api/journeys/create") {
    const orgId = await orgOf(req, "journeys:write");
    if (!orgId) return send(res, 401, { error: "unauthorized" });
    return send(res, 201, await create(orgId, await readJson(req)));
  }
  if (slug && req.method === "GET") {
    const found = await retrieve(req, slug);
    if (found === "unauthorized") return send(res, 401, { error: "unauthorized" });
    return found ? send(res, 200, found) : send(res, 404, { error: "not found" });
  }
  if (slug && req.method === "PUT") {
    const orgId = await orgOf(req, "journeys:write");
    if (!orgId) return send(res, 401, { error: "unauthorized" });
    const found = await update(orgId, slug, await readJson(req));
    return found ? send(res, 200, found) : send(res, 404, { error: "not found" });
  }
  send(res, 404, { error: "not found" });
}

const server = createServer((req, res) => {
  handle(req, res).catch((error) => send(res, 500, { error: String(error) }));
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on("SIGTERM", () => {
  server.close();
  void sql.end({ timeout: 1 }).then(() => process.exit(0));
});
