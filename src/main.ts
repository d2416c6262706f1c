import { run } from "probot";
import { createApp } from "./app.js";
import { applyDotEnv, createGitHubClient, type Deps } from "./deps.js";
import { intakeSettingsFromEnv, type IntakeSettings } from "./github/intake.js";
import { httpEnvFromProcess } from "./http/env.js";
import { createAppLog, guardProcess } from "./logger.js";

/** How long a stopping app waits for check-run writes and webhook handling in flight. */
const DRAIN_MS = 5_000;

let deps: Deps | undefined;

/** `npm start`: Probot's server (or its setup page, when the app is not registered yet). */
applyDotEnv(process.env);
// Probot's log, with credentials redacted from every line.
const log = await createAppLog(process.env);
// An unexpected error is logged and the app keeps serving.
guardProcess(process, log);
let intake: IntakeSettings | undefined;
try {
  intake = intakeSettingsFromEnv(process.env);
  // The HTTP surface's secrets (YACI_API_TOKEN, YACI_LINK_SECRET, YACI_METRICS_TOKEN) are checked
  // before anything listens: a weak one stops the start with a message naming it.
  httpEnvFromProcess(process.env);
} catch (err) {
  console.error(`yaci: cannot start: ${(err as Error).message}`);
  process.exit(1);
}
const github = createGitHubClient();
// Webhooks arrive at YACI's intake (WEBHOOK_PATH); Probot's own middleware gets a path nobody knows.
const probotEnv = intake ? { ...process.env, WEBHOOK_PATH: intake.internalPath } : process.env;
await run(createApp(process.env, { github, intake }, (d) => (deps = d)), { Octokit: github.Octokit, log, env: probotEnv });

// On SIGTERM (docker stop, Kubernetes, systemd) finish the check-run writes and webhook handling in
// flight, so a restart does not do them again. Jobs keep running; the next start adopts or reports
// them; deliveries not handled yet stay in the inbox for the next start.
process.once("SIGTERM", () => {
  const drained = deps ? Promise.all([deps.inboxWorker.close(), deps.reporter.idle(), deps.executor.close()]) : Promise.resolve();
  const timeout = new Promise((r) => setTimeout(r, DRAIN_MS).unref());
  void Promise.race([drained, timeout]).finally(() => process.exit(0));
});
