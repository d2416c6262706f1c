import { apiCode, apiMessage } from "./api-error.js";
import type { ExecutorContext } from "./executor-context.js";

/** Deletes the Job (its pods and Secret go with it); one already gone is fine. */
export async function deleteJob(ctx: ExecutorContext, name: string): Promise<void> {
  try {
    await ctx.batch.deleteNamespacedJob({ name, namespace: ctx.d.namespace, propagationPolicy: "Background" });
    ctx.d.log?.info(`kubernetes: deleted Job ${name}`);
  } catch (err) {
    if (apiCode(err) !== 404) throw new Error(`kubernetes: could not delete Job ${name}: ${apiMessage(err)}`);
  }
}
