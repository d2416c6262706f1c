/** Schemas of the leaf values of `.yaci.yml`: durations, images, `env` and `run`. */
import * as z from "zod";
import { DURATION_PATTERN, tryParseDuration } from "./duration.js";
import { EMPTY_RULES } from "./field-rules.js";
import { ENV_NAME_RE } from "./field-patterns.js";
import { addIssue, showValue } from "./issue-params.js";

export const durationSchema = z
  .string()
  .meta({ pattern: DURATION_PATTERN, description: "A duration: a number followed by s, m or h, combinable (`1h30m`). More than 0, at most 6h.", examples: ["15m", "90s", "1h30m"] })
  .transform((text, ctx): number => {
    const r = tryParseDuration(text);
    if (!r.ok) {
      addIssue(ctx, r.message, { hint: r.hint });
      return z.NEVER;
    }
    return r.ms;
  });

export const imageSchema = z
  .string()
  .meta({ description: "Container image (Kubernetes executor).", examples: ["node:22-alpine", "alpine:3.20"] })
  .transform((text, ctx): string => {
    const t = text.trim();
    if (t === "" || /\s/.test(t)) {
      addIssue(ctx, `must be a container image name like \`node:22-alpine\`, got ${showValue(text)}`, {
        hint: "An image reference has no spaces, e.g. `image: node:22-alpine` or `image: ghcr.io/org/tool:1.2`.",
      });
      return z.NEVER;
    }
    return t;
  });

const envNameSchema = z.string().meta({ pattern: ENV_NAME_RE.source }).superRefine((name, ctx) => {
  if (!ENV_NAME_RE.test(name) || name === "__proto__") {
    addIssue(ctx, `environment variable name ${showValue(name)} is not valid`, {
      full: true,
      at: "key",
      hint: "Use letters, digits and `_` only, not starting with a digit, e.g. `MY_VAR`.",
    });
  }
});

const envValueSchema = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));

export const envSchema = z
  .record(envNameSchema, envValueSchema)
  .meta({ description: "Environment variables; numbers and booleans become strings.", examples: [{ CI: "true" }] });

export const runSchema = z
  .union([z.string(), z.array(z.string())])
  .meta({ description: "Shell script, run with `sh -ec` in the checked-out repository. A list is joined with newlines." })
  .transform((v, ctx): string => {
    const script = Array.isArray(v) ? v.join("\n") : v;
    if (script.trim() === "") {
      addIssue(ctx, EMPTY_RULES.run.message, { hint: EMPTY_RULES.run.hint });
      return z.NEVER;
    }
    return script;
  });
