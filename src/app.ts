import type { ApplicationFunction } from "probot";
import { loadDeps, type Deps, type DepsOverrides, type Env } from "./deps.js";
import { registerHandlers } from "./github/handlers.js";

/** The Probot app: webhooks → scheduler, plus recovery of what a previous process left running. */
export function createApp(env: Env = process.env, overrides?: DepsOverrides, onReady?: (deps: Deps) => void): ApplicationFunction {
  return async (app) => {
    const deps = await loadDeps(env, app, overrides);
    onReady?.(deps);
    registerHandlers(app, { scheduler: deps.scheduler });
    app.log.info({ executor: deps.executor.kind, dataDir: deps.dataDir }, "YACI ready");
    deps.scheduler.recover().catch((err) => app.log.error({ err }, "recovery after restart failed"));
  };
}
