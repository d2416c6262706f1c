import type { RunSpec } from "../../core/run.js";
import { apiCode, apiMessage } from "./api-error.js";
import { deleteJob } from "./delete-job.js";
import { evaluateRun } from "./evaluate-run.js";
import { runStateOf, type ExecutorContext } from "./executor-context.js";
import { buildJobManifest, buildSecretManifest } from "./job-manifest.js";

/**
 * Creates the run's Job, then (checkout only) its Secret, owned by the Job. `claiming`: a 409
 * means another replica created it first and owns it ("exists"); otherwise an existing Job is
 * adopted (its Secret is created if missing).
 */
export async function createJob(ctx: ExecutorContext, spec: RunSpec, claiming: boolean): Promise<"created" | "exists"> {
  const { d } = ctx;
  if (ctx.finishedIds.has(spec.id)) return "exists"; // already ran to the end in this process
  const state = runStateOf(ctx, spec.id);
  state.spec = spec;
  state.held = false;
  const body = buildJobManifest(spec, ctx.manifestOptions);
  let uid: string | undefined;
  let token: string | undefined;
  try {
    const created = await ctx.batch.createNamespacedJob({ namespace: d.namespace, body });
    uid = created.metadata?.uid;
    if (claiming) ctx.claimedIds.add(spec.id);
    d.log?.info(`kubernetes: created Job ${spec.id} in ${d.namespace}`);
  } catch (err) {
    if (apiCode(err) !== 409) throw new Error(`kubernetes: could not create Job ${spec.id}: ${apiMessage(err)}`);
    if (claiming) {
      // Another replica (or an earlier delivery) created it: that one owns it.
      d.log?.info(`kubernetes: Job ${spec.id} already exists: left to its creator`);
      return "exists";
    }
    d.log?.info(`kubernetes: Job ${spec.id} already exists: adopting it`);
    if (!spec.checkout) return "exists";
    try {
      uid = (await ctx.batch.readNamespacedJob({ name: spec.id, namespace: d.namespace })).metadata?.uid;
    } catch (e) {
      if (apiCode(e) === 404) return "exists"; // gone meanwhile: the watch reports it
      throw new Error(`kubernetes: could not read Job ${spec.id}: ${apiMessage(e)}`);
    }
  }
  if (spec.checkout && uid) {
    // The token is minted only for a Job that exists, and lives in a Secret that Job owns.
    token = await d.checkoutToken(spec);
    state.token = token;
    try {
      await ctx.core.createNamespacedSecret({ namespace: d.namespace, body: buildSecretManifest(spec, token, ctx.manifestOptions, { uid }) });
    } catch (err) {
      if (apiCode(err) !== 409) {
        // Without its Secret the pod would wait for it forever: remove the Job, report the error.
        await deleteJob(ctx, spec.id).catch(() => {});
        throw new Error(`kubernetes: could not create the checkout Secret of ${spec.id}: ${apiMessage(err)}`);
      }
    }
  }
  if (state.cancelRequested) await deleteJob(ctx, spec.id).catch(() => {});
  // An adopted Job may already be known (held for recover(), or seen before): report where it is.
  evaluateRun(ctx, state);
  return "created";
}
