import type { V1Job, V1Pod } from "@kubernetes/client-node";
import type { ExecutorContext } from "./executor-context.js";
import { onJobEvent, onJobList } from "./job-events.js";
import { ListWatch } from "./job-informer.js";
import { LABEL_SELECTOR } from "./job-manifest.js";
import { onPodEvent, onPodList } from "./pod-events.js";

export interface ClusterWatches {
  jobs: ListWatch<V1Job>;
  pods: ListWatch<V1Pod>;
}

/** One list+watch over YACI's Jobs and one over their Pods, feeding the run states (not started). */
export function createClusterWatches(ctx: ExecutorContext): ClusterWatches {
  const { d } = ctx;
  const ns = encodeURIComponent(d.namespace);
  const common = { kc: d.kc, labelSelector: LABEL_SELECTOR, relistIntervalMs: d.options.relistIntervalMs, log: d.log, timers: ctx.timers, backoff: d.backoff };
  const jobs = new ListWatch<V1Job>({
    ...common,
    name: "jobs",
    path: `/apis/batch/v1/namespaces/${ns}/jobs`,
    list: async () => {
      const l = await ctx.batch.listNamespacedJob({ namespace: d.namespace, labelSelector: LABEL_SELECTOR });
      return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? "" };
    },
    onList: (items) => onJobList(ctx, items),
    onEvent: (type, job) => onJobEvent(ctx, type, job),
  });
  const pods = new ListWatch<V1Pod>({
    ...common,
    name: "pods",
    path: `/api/v1/namespaces/${ns}/pods`,
    list: async () => {
      const l = await ctx.core.listNamespacedPod({ namespace: d.namespace, labelSelector: LABEL_SELECTOR });
      return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? "" };
    },
    onList: (items) => onPodList(ctx, items),
    onEvent: (type, pod) => onPodEvent(ctx, type, pod),
  });
  return { jobs, pods };
}

