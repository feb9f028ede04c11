import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

// Checks an answer against the OpenAPI document the server publishes: the status must be one
// the operation documents, and the body must match that status's schema.

type Operation = {
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
};
type OpenApiDocument = { paths: Record<string, Record<string, Operation>>; components?: object };

export interface OpenApiCheck {
  /** The operation answering `method path`, or undefined when the document has none. */
  operation(method: string, path: string): string | undefined;
  /** Why the answer does not match the document, or undefined when it does. */
  problem(method: string, path: string, status: number, body: unknown): string | undefined;
}

export function openApiCheck(document: unknown): OpenApiCheck {
  const ajv = new Ajv2020({ strict: false, allErrors: false });
  addFormats(ajv);
  const { paths, components } = document as OpenApiDocument;
  // Literal paths first, so /api/journeys/create is not taken for /api/journeys/{slug}.
  const routes = Object.entries(paths)
    .sort(([a], [b]) => Number(a.includes("{")) - Number(b.includes("{")))
    .flatMap(([template, operations]) =>
      Object.entries(operations).map(([method, op]) => ({
        template,
        method: method.toUpperCase(),
        pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`),
        op,
      })),
    );
  const validators = new Map<string, ReturnType<typeof ajv.compile>>();
  const validator = (key: string, schema: object) => {
    let validate = validators.get(key);
    if (!validate) {
      validate = ajv.compile({ ...schema, components });
      validators.set(key, validate);
    }
    return validate;
  };
  const find = (method: string, path: string) =>
    routes.find((r) => r.method === method && r.pattern.test(path));

  return {
    operation: (method, path) => {
      const route = find(method, path);
      return route && `${route.method} ${route.template}`;
    },
    problem(method, path, status, body) {
      const route = find(method, path);
      if (!route) return undefined;
      const response = route.op.responses[String(status)];
      if (!response) return `${method} ${route.template} does not document status ${status}`;
      const schema = response.content?.["application/json"]?.schema;
      if (!schema) return undefined;
      const validate = validator(`${method} ${route.template} ${status}`, schema);
      return validate(body)
        ? undefined
        : `${method} ${route.template} ${status}: ${ajv.errorsText(validate.errors)}`;
    },
  };
}
