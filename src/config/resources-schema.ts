/** The `resources:` of a job: Kubernetes CPU and memory quantities. */
import * as z from "zod";
import { FIELD_RULES } from "./field-rules.js";
import { QUANTITY_RE } from "./field-patterns.js";
import { addIssue, showValue } from "./issue-params.js";

function quantitySchema(kind: "cpu" | "memory") {
  const description =
    kind === "cpu" ? "CPU request/limit in cores (`2`, `0.5`) or millicores (`500m`)." : "Memory as a Kubernetes quantity (`512Mi`, `1Gi`).";
  return z
    .union([z.string(), z.number()])
    .meta({ description, examples: kind === "cpu" ? ["500m", "1", 2] : ["512Mi", "1Gi"] })
    .transform((v, ctx): string => {
      const q = String(v).trim();
      const rule = FIELD_RULES[kind];
      if (!QUANTITY_RE.test(q)) {
        let hint: string = rule.hint;
        const bytes = /^(\d+(?:\.\d+)?)\s*([kKmMgGtTpP])i?[bB]$/.exec(q);
        if (kind === "memory" && bytes) hint = `Kubernetes writes bytes without \`B\`: use \`${bytes[1]}${bytes[2]!.toUpperCase()}i\`.`;
        else if (/^-/.test(q)) hint = "Quantities cannot be negative.";
        addIssue(ctx, `must be ${rule.expect}, got ${showValue(v)}`, { hint });
        return z.NEVER;
      }
      if (!/[1-9]/.test(q.replace(/[eE][+-]?\d+$/, ""))) {
        addIssue(ctx, `must be more than 0, got ${showValue(v)}`, { hint: `${rule.hint} Remove \`${kind}\` to use the cluster's default.` });
        return z.NEVER;
      }
      if (kind === "memory" && /^[\d.]+m$/.test(q)) {
        addIssue(ctx, `is ${showValue(q)}, which means millibytes`, { hint: `Did you mean \`${q.slice(0, -1)}Mi\` (mebibytes)?` });
        return z.NEVER;
      }
      if (kind === "cpu" && /i$/.test(q)) {
        addIssue(ctx, `uses a memory unit: ${showValue(q)}`, { hint: "CPU is counted in cores (`1`, `0.5`) or millicores (`500m`)." });
        return z.NEVER;
      }
      return q;
    });
}

export const resourcesShape = {
  cpu: quantitySchema("cpu").optional(),
  memory: quantitySchema("memory").optional(),
};
export const resourcesSchema = z.strictObject(resourcesShape).meta({ description: "Kubernetes resources of the job's container." });
