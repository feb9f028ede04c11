import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { ListSnapshotsQuery, Snapshot, SnapshotList } from "@odyssey/api";
import type { Caller, RestEnv } from "./context";
import { compressedBodyRefused, errorResponses, validationHook } from "./errors";
import { json, SlugParam } from "./route-parts";
import { bearerWithScopeOf } from "./security";
import { wire } from "./wire";

const SnapshotJson = wire(Snapshot);
const SnapshotListJson = wire(SnapshotList);

const create = createRoute({
  method: "post",
  path: "/api/journeys/{slug}/snapshots",
  operationId: "createSnapshot",
  tags: ["Snapshots"],
  summary: "Freeze the journey's configuration and analytics",
  description:
    "Takes no body (one sent must be JSON, and is ignored). Retrieve's `hasSnapshot` and `lastArtifactCreated` follow the newest snapshot.",
  security: bearerWithScopeOf("journeys.snapshots.create"),
  request: { params: SlugParam },
  responses: {
    201: json(SnapshotJson, "The snapshot."),
    ...errorResponses([400, 401, 403, 404, 415, 500, 503]),
  },
});

const list = createRoute({
  method: "get",
  path: "/api/journeys/{slug}/snapshots",
  operationId: "listSnapshots",
  tags: ["Snapshots"],
  summary: "List the journey's snapshots, newest first",
  description:
    "A page holds at most `limit` snapshots, and fewer when they are large (about 8 MiB of JSON, or a single snapshot that weighs more): only a null `nextCursor` means there are no more.",
  security: bearerWithScopeOf("journeys.snapshots.list"),
  request: { params: SlugParam, query: ListSnapshotsQuery },
  responses: {
    200: json(SnapshotListJson, "A page of snapshots and the cursor of the next page (null on the last)."),
    ...errorResponses([400, 401, 403, 404, 500, 503], { 415: compressedBodyRefused }),
  },
});

export function snapshotRoutes() {
  const caller = (c: { get(key: "caller"): Caller }) => c.get("caller");
  return new OpenAPIHono<RestEnv>({ defaultHook: validationHook("journey") })
    .openapi(create, async (c) =>
      c.json(await caller(c).journeys.snapshots.create(c.req.valid("param")), 201),
    )
    .openapi(list, async (c) =>
      c.json(
        await caller(c).journeys.snapshots.list({ ...c.req.valid("query"), ...c.req.valid("param") }),
        200,
      ),
    );
}
