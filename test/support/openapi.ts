import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Ajv, type ValidateFunction } from "ajv";

/**
 * Validates request bodies against GitHub's published OpenAPI description
 * (`@octokit/openapi`, `generated/api.github.com.deref.json`, every `$ref` resolved).
 *
 * The 73 MB document is read lazily on first use, once per process; only the
 * request-body schemas are kept (the rest is left to the garbage collector), and each
 * operation's validator is compiled on first use and cached.
 */

interface Operation {
  method: string;
  template: string;
  regex: RegExp;
  /** Literal characters in the template: the most specific template wins. */
  specificity: number;
  schema: object | undefined;
  validate?: ValidateFunction;
}

const METHODS = new Set(["get", "put", "post", "patch", "delete", "head", "options"]);
let operations: Operation[] | undefined;
let ajv: Ajv | undefined;

export const OPENAPI_FILE = "@octokit/openapi/generated/api.github.com.deref.json";

function load(): Operation[] {
  if (operations) return operations;
  const file = createRequire(import.meta.url).resolve(OPENAPI_FILE);
  const doc = JSON.parse(readFileSync(file, "utf8")) as {
    paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: object }> } }>>;
  };
  const ops: Operation[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      ops.push({
        method: method.toUpperCase(),
        template,
        regex: templateRegex(template),
        specificity: template.replace(/\{[^}]+\}/g, "").length,
        schema,
      });
    }
  }
  ops.sort((a, b) => b.specificity - a.specificity);
  operations = ops;
  return ops;
}

/** `/repos/{owner}/{repo}/contents/{path}`: a parameter is one segment, except a trailing `{path}`. */
function templateRegex(template: string): RegExp {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part, i, parts) => {
      if (!part.startsWith("{")) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      const last = i === parts.length - 2 && parts[parts.length - 1] === "";
      return last && part === "{path}" ? "(.+)" : "([^/]+)";
    })
    .join("");
  return new RegExp(`^${source}/?$`);
}

function getAjv(): Ajv {
  if (ajv) return ajv;
  ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;
  ajv.addFormat("date-time", (s: string) => iso.test(s) && !Number.isNaN(Date.parse(s)));
  ajv.addFormat("date", /^\d{4}-\d{2}-\d{2}$/);
  ajv.addFormat("uri", (s: string) => {
    try {
      new URL(s);
      return true;
    } catch {
      return false;
    }
  });
  for (const name of ["repo.nwo", "int64", "binary", "email", "uuid", "hostname"]) ajv.addFormat(name, true);
  return ajv;
}

/** The OpenAPI operation for a request path (relative to the API root, e.g. `/repos/o/r/check-runs`). */
export function findOperation(method: string, path: string): { template: string; hasJsonBody: boolean } | undefined {
  const pathname = path.split("?")[0]!;
  const op = load().find((o) => o.method === method.toUpperCase() && o.regex.test(pathname));
  return op && { template: op.template, hasJsonBody: op.schema !== undefined };
}

/**
 * Validates a JSON request body against the operation's `requestBody` schema.
 * Returns GitHub-style error strings; `[]` when the body is valid, when the operation
 * takes no JSON body, or when no operation matches (the caller decides about unknown routes).
 */
export function validateRequest(method: string, path: string, body: unknown): string[] {
  const pathname = path.split("?")[0]!;
  const op = load().find((o) => o.method === method.toUpperCase() && o.regex.test(pathname));
  if (!op?.schema || body === undefined) return [];
  op.validate ??= getAjv().compile(op.schema);
  if (op.validate(body)) return [];
  return (op.validate.errors ?? []).map((e) => {
    const where = e.instancePath || "(body)";
    const params = e.keyword === "enum" ? ` (${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)})` : "";
    const extra = e.keyword === "additionalProperties" ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : "";
    return `${where} ${e.message ?? e.keyword}${params}${extra}`;
  });
}
