/** The `jobs:` mapping: job names and the fields of one job. */
import * as z from "zod";
import { EMPTY_RULES } from "./field-rules.js";
import { JOB_NAME_RE } from "./field-patterns.js";
import { addIssue, showValue } from "./issue-params.js";
import { resourcesSchema } from "./resources-schema.js";
import { durationSchema, envSchema, imageSchema, runSchema } from "./value-schemas.js";

export const jobShape = {
  run: runSchema,
  image: imageSchema.optional(),
  timeout: durationSchema.optional(),
  env: envSchema.optional(),
  resources: resourcesSchema.optional(),
};
const jobSchema = z.strictObject(jobShape);

const jobNameSchema = z.string().meta({ pattern: JOB_NAME_RE.source }).superRefine((name, ctx) => {
  if (!JOB_NAME_RE.test(name)) {
    addIssue(ctx, `job name ${showValue(name)} is not allowed: job names become check-run names`, {
      full: true,
      at: "key",
      hint: "Use 1 to 63 letters, digits, `_`, `.` or `-`, starting with a letter or digit, e.g. `unit-tests`.",
    });
  }
});

export const jobsSchema = z
  .record(jobNameSchema, jobSchema)
  .meta({ description: "Jobs by name; each name becomes a check run." })
  .superRefine((jobs, ctx) => {
    if (Object.keys(jobs).length === 0) addIssue(ctx, EMPTY_RULES.jobs.message, { hint: EMPTY_RULES.jobs.hint });
  });
