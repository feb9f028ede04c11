import { z } from "@hono/zod-openapi";

// Pieces every REST route declaration shares.

export const SlugParam = z.object({
  slug: z.string().openapi({ param: { name: "slug", in: "path" }, example: "small-business-grant" }),
});

export const json = <T>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

export const jsonBody = <T>(schema: T) => ({ required: true, content: { "application/json": { schema } } });
