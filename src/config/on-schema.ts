/** The `on:` field: which events (and branches) run the jobs. */
import * as z from "zod";
import { EMPTY_RULES } from "./field-rules.js";
import { addIssue, showValue } from "./issue-params.js";
import type { EventFilter, YaciConfig } from "./yaci-config.js";

export const EVENT_NAMES = ["push", "pull_request"] as const;
export type EventName = (typeof EVENT_NAMES)[number];

const branchPatternSchema = z.string().superRefine((p, ctx) => {
  if (p.trim() === "" || /\s/.test(p)) {
    addIssue(ctx, `must be a branch name or glob pattern, got ${showValue(p)}`, { hint: "Branch patterns have no spaces, e.g. `main` or `\"release/*\"`." });
  } else if (p.startsWith("!")) {
    addIssue(ctx, `is a negated pattern (${showValue(p)}), which is not supported`, { hint: "List the branches that should run instead." });
  }
});

const branchesSchema = z
  .union([branchPatternSchema, z.array(branchPatternSchema)])
  .meta({ description: "Branch globs: `*` matches within a path segment, `**` matches anything." })
  .transform((v, ctx): string[] => {
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0) {
      addIssue(ctx, EMPTY_RULES.branches.message, { hint: EMPTY_RULES.branches.hint });
      return z.NEVER;
    }
    return list;
  });

export const eventFilterShape = { branches: branchesSchema.optional() };
const eventFilterSchema = z
  .strictObject(eventFilterShape)
  .nullable()
  .transform((f): EventFilter => (f?.branches ? { branches: f.branches } : {}));

const eventNameSchema = z.enum(EVENT_NAMES);

export const onShape = {
  push: eventFilterSchema.optional(),
  pull_request: eventFilterSchema.optional(),
};

type On = YaciConfig["on"];

export const onSchema = z
  .union([eventNameSchema, z.array(eventNameSchema), z.strictObject(onShape)])
  .meta({ description: "Events that run the jobs (default: every push and every pull request)." })
  .transform((v, ctx): On => {
    const out: On = {};
    if (typeof v === "string") out[v] = {};
    else if (Array.isArray(v)) for (const e of v) out[e] = {};
    else {
      if (v.push !== undefined) out.push = v.push;
      if (v.pull_request !== undefined) out.pull_request = v.pull_request;
    }
    // Unknown keys (reported on their own) would otherwise make a mapping look empty.
    if (!out.push && !out.pull_request && ctx.issues.length === 0) {
      addIssue(ctx, EMPTY_RULES.on.message, { hint: EMPTY_RULES.on.hint });
      return z.NEVER;
    }
    return out;
  });
