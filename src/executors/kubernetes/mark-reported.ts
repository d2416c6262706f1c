import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { apiCode, apiMessage } from "./api-error.js";
import type { ExecutorContext } from "./executor-context.js";
import { ANNOTATIONS } from "./job-manifest.js";

/** Annotates the Job as reported, so a restarted app does not report its end again. */
export async function markReported(ctx: ExecutorContext, runId: string): Promise<void> {
  try {
    await ctx.batch.patchNamespacedJob(
      { name: runId, namespace: ctx.d.namespace, body: { metadata: { annotations: { [ANNOTATIONS.reported]: "true" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  } catch (err) {
    if (apiCode(err) === 404) return;
    throw new Error(`kubernetes: could not mark Job ${runId} as reported: ${apiMessage(err)}`);
  }
}
