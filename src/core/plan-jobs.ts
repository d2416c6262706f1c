import type { JobConfig, YaciConfig } from "../config/yaci-config.js";
import { eventAllowsBranch } from "../config/branch-filter.js";
import type { Trigger } from "./trigger.js";

/** The jobs a trigger runs under the config's `on:` filters (all of them, or none). */
export function planJobs(trigger: Trigger, config: YaciConfig): JobConfig[] {
  const filter = config.on[trigger.event];
  if (!filter) return [];
  return eventAllowsBranch(filter, trigger.branch) ? config.jobs : [];
}
