import { readFileSync } from "node:fs";
import type { ApplicationFunction } from "probot";
import { loadDeps, type Deps, type DepsOverrides, type Env } from "./deps.js";
import { registerHandlers } from "./github/handlers.js";
import { createHttpHandler } from "./http/router.js";
import { createIntakeHandler } from "./github/intake.js";
import { startLogRetention } from "./logs/retention.js";
import { catchUpOptionsFromEnv, startCatchUp } from "./github/catch-up.js";

/** YACI's version, from package.json (read once at start), for the start-up log (never served over HTTP). */
const VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
})();

/**
 * The Probot app: webhooks → inbox → scheduler; the HTTP surface (API, run pages, health, metrics) on the
 * same server; log retention; and recovery of what a previous process left running.
 */
export function createApp(env: Env = process.env, overrides?: DepsOverrides, onReady?: (deps: Deps) => void): ApplicationFunction {
  return async (app, { addHandler }) => {
    const deps = await loadDeps(env, app, overrides);
    onReady?.(deps);
    registerHandlers(app, {
      scheduler: deps.scheduler,
      deliveries: deps.deliveries,
      forkConfig: deps.forkConfig,
      onDelivery: (event, outcome) => deps.metrics.webhook(event, outcome),
    });
    // Webhooks: verified, stored in the inbox, answered 202; the inbox worker runs the handlers.
    if (overrides?.intake) {
      addHandler(
        createIntakeHandler({
          ...overrides.intake,
          inbox: deps.inbox,
          deliveries: deps.deliveries,
          log: app.log,
          onDelivery: (event, outcome) => deps.metrics.webhook(event, outcome),
        }),
      );
    }
    // What the inbox holds from before a restart first, then each new delivery.
    deps.inboxWorker.start();
    addHandler(
      createHttpHandler({
        runs: deps.store,
        logs: deps.logs,
        submit: async ({ command, image }) => ({ id: deps.scheduler.submitCommand(command, image).spec.id }),
        ready: () => deps.executor.ready(),
        about: { executor: deps.executor.kind },
        followLog: deps.executor.followLog?.bind(deps.executor),
        metrics: deps.metrics,
        now: () => new Date(),
        env: deps.http,
        log: app.log,
      }),
    );
    // Old logs are deleted, and with them the records of finished runs (the run store stays small).
    startLogRetention({
      logs: deps.logs,
      retentionMs: deps.http.logRetentionMs,
      log: app.log,
      onPruned: (ids) => {
        for (const id of ids) if (deps.store.get(id)?.reported?.phase === "completed") deps.store.remove(id);
      },
    });
    app.log.info({ executor: deps.executor.kind, dataDir: deps.dataDir, version: VERSION }, "YACI ready");
    deps.scheduler.recover().catch((err) => app.log.error({ err }, "recovery after restart failed"));
    // Webhooks GitHub could not deliver while the app was down are asked for again.
    const catchUp = catchUpOptionsFromEnv(env);
    if (catchUp) startCatchUp({ appOctokit: () => app.auth(), dataDir: deps.dataDir, log: app.log, ...catchUp });
  };
}
