import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { Snapshot, SnapshotList } from "@odyssey/api";
import type { Caller, RestEnv } from "./context";
import { errorResponses, validationHook } from "./errors";
import { wire } from "./wire";

const SnapshotJson = wire(Snapshot).openapi("Snapshot");
const SnapshotListJson = wire(SnapshotList).openapi("SnapshotList");

const SlugParam = z.object({
  slug: z.string().openapi({ param: { name: "slug", in: "path" }, example: "small-business-grant" }),
});
const security = [{ bearerAuth: [] }];
const json = <T>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

const create = createRoute({
  method: "post",
  path: "/api/journeys/{slug}/snapshots",
  tags: ["Snapshots"],
  summary: "Freeze the journey's configuration and analytics",
  description:
    "Takes no body. Retrieve's `hasSnapshot` and `lastArtifactCreated` follow the newest snapshot.",
  security,
  request: { params: SlugParam },
  responses: {
    201: json(SnapshotJson, "The snapshot."),
    ...errorResponses([400, 401, 403, 404, 413, 415, 500, 503]),
  },
});

const list = createRoute({
  method: "get",
  path: "/api/journeys/{slug}/snapshots",
  tags: ["Snapshots"],
  summary: "List the journey's snapshots, newest first",
  security,
  request: { params: SlugParam },
  responses: {
    200: json(SnapshotListJson, "Every snapshot of the journey, newest first."),
    ...errorResponses([400, 401, 403, 404, 500, 503]),
  },
});

export function snapshotRoutes() {
  const caller = (c: { get(key: "caller"): Caller }) => c.get("caller");
  return new OpenAPIHono<RestEnv>({ defaultHook: validationHook("journey") })
    .openapi(create, async (c) =>
      c.json(await caller(c).journeys.snapshots.create(c.req.valid("param")), 201),
    )
    .openapi(list, async (c) => c.json(await caller(c).journeys.snapshots.list(c.req.valid("param")), 200));
}
