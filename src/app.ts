import type { ApplicationFunction } from "probot";
import { loadDeps, type Env } from "./deps.js";
import { registerHandlers } from "./github/handlers.js";

/** The Probot app: webhooks → scheduler, plus recovery of what a previous process left running. */
export function createApp(env: Env = process.env): ApplicationFunction {
  return async (app) => {
    const deps = await loadDeps(env, app);
    registerHandlers(app, { scheduler: deps.scheduler });
    app.log.info({ executor: deps.executor.kind, dataDir: deps.dataDir }, "YACI ready");
    deps.scheduler.recover().catch((err) => app.log.error({ err }, "recovery after restart failed"));
  };
}
