import { run } from "probot";
import { createApp } from "./app.js";
import { createGitHubClient, type Deps } from "./deps.js";

/** How long a stopping app waits for check-run writes in flight. */
const DRAIN_MS = 5_000;

let deps: Deps | undefined;

/** `npm start`: Probot's server (or its setup page, when the app is not registered yet). */
const github = createGitHubClient();
await run(createApp(process.env, { github }, (d) => (deps = d)), { Octokit: github.Octokit });

// On SIGTERM (docker stop, Kubernetes, systemd) finish the check-run writes in flight, so a restart
// does not write them again. Jobs keep running; the next start adopts or reports them.
process.once("SIGTERM", () => {
  const drained = deps ? Promise.all([deps.reporter.idle(), deps.executor.close()]) : Promise.resolve();
  const timeout = new Promise((r) => setTimeout(r, DRAIN_MS).unref());
  void Promise.race([drained, timeout]).finally(() => process.exit(0));
});
