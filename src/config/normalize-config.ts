/** A validated `.yaci.yml` → {@link YaciConfig}: defaults applied, `run:` shortcut expanded, env merged. */
import type * as z from "zod";
import type { topLevelShape } from "./top-level-shape.js";
import { DEFAULT_IMAGE, DEFAULT_TIMEOUT_MS, type JobConfig, type JobResources, type YaciConfig } from "./yaci-config.js";

/** The name of the job that the shortest form (`run:` at the top level) produces. */
export const SHORT_FORM_JOB_NAME = "build";

/** The output of the top-level shape, before normalization. */
export type RawConfig = z.output<z.ZodObject<typeof topLevelShape, z.core.$strict>>;

export function normalizeConfig(raw: RawConfig): YaciConfig {
  const image = raw.image ?? DEFAULT_IMAGE;
  const timeoutMs = raw.timeout ?? DEFAULT_TIMEOUT_MS;
  const env = raw.env ?? {};
  let jobs: JobConfig[];
  if (raw.run !== undefined) {
    jobs = [{ name: SHORT_FORM_JOB_NAME, image, run: raw.run, timeoutMs, env: { ...env } }];
  } else {
    jobs = Object.entries(raw.jobs ?? {}).map(([name, job]) => {
      const out: JobConfig = {
        name,
        image: job.image ?? image,
        run: job.run,
        timeoutMs: job.timeout ?? timeoutMs,
        env: { ...env, ...job.env },
      };
      const resources: JobResources = {};
      if (job.resources?.cpu !== undefined) resources.cpu = job.resources.cpu;
      if (job.resources?.memory !== undefined) resources.memory = job.resources.memory;
      if (Object.keys(resources).length > 0) out.resources = resources;
      return out;
    });
  }
  return {
    version: 1,
    on: raw.on ?? { push: {}, pull_request: {} },
    jobs,
    cancelSuperseded: raw.cancel_superseded ?? true,
  };
}
