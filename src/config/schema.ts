/**
 * The `.yaci.yml` (version 1) schema: the single source of truth for what a config may contain.
 *
 * `yaciConfigSchema` validates the plain value of a parsed YAML document and transforms it into
 * the normalized {@link YaciConfig} (defaults applied, `run:` shortcut expanded, env merged).
 * `parseConfig` adds YAML parsing and turns zod issues into positioned {@link ConfigError}s;
 * `z.toJSONSchema(yaciConfigSchema, { io: "input" })` (see `yaciConfigJsonSchema`) gives a JSON
 * schema of the file for editors.
 *
 * The parts live next to this file: leaf values (`value-schemas.ts`), `resources-schema.ts`,
 * `jobs-schema.ts`, `on-schema.ts`, `top-level-shape.ts`, and `normalize-config.ts`. How issues
 * raised there are written is described in `issue-params.ts`; `field-rules.ts` explains type
 * mismatches.
 */
import * as z from "zod";
import type { IssueParams } from "./issue-params.js";
import { normalizeConfig } from "./normalize-config.js";
import { topLevelShape } from "./top-level-shape.js";
import type { YaciConfig } from "./yaci-config.js";

export { ENV_NAME_RE, JOB_NAME_RE, QUANTITY_RE } from "./field-patterns.js";
export { FIELD_RULES, type FieldKind } from "./field-rules.js";
export type { IssueParams } from "./issue-params.js";
export { jobShape } from "./jobs-schema.js";
export { KNOWN_KEYS } from "./known-keys.js";
export { SHORT_FORM_JOB_NAME } from "./normalize-config.js";
export { EVENT_NAMES, eventFilterShape, onShape, type EventName } from "./on-schema.js";
export { resourcesShape } from "./resources-schema.js";
export { topLevelShape } from "./top-level-shape.js";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Validates the plain value of a `.yaci.yml` and produces the normalized {@link YaciConfig}. */
export const yaciConfigSchema = z
  .strictObject(topLevelShape)
  .meta({
    title: "YACI configuration (.yaci.yml)",
    description: "Either `run:` (one job named `build`) or `jobs:` (named jobs).",
    oneOf: [{ required: ["run"] }, { required: ["jobs"] }],
  })
  .refine((v) => !(v.run !== undefined && v.jobs !== undefined), {
    when: (payload) => isObject(payload.value),
    path: ["run"],
    error: "`run` and `jobs` cannot be used together",
    params: {
      full: true,
      at: "key",
      hint: "Use `run:` alone for a single job, or move the command into a job under `jobs:` (e.g. `jobs: { build: { run: ... } }`).",
    } satisfies IssueParams,
  })
  .refine((v) => !(v.run === undefined && v.jobs === undefined), {
    when: (payload) => isObject(payload.value) && !("run" in payload.value) && !("jobs" in payload.value),
    error: "nothing to run: the file has neither `run:` nor `jobs:`",
    params: {
      full: true,
      hint: "Add `run: <command>` for a single job, or `jobs:` with one or more named jobs.",
    } satisfies IssueParams,
  })
  .transform(normalizeConfig);

/** The JSON schema of `.yaci.yml` (the input side: what a user writes). */
export function yaciConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(yaciConfigSchema, { io: "input" }) as Record<string, unknown>;
}
