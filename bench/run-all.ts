/** `npm run bench`: every benchmark, each in its own process, with its default sizes. */
import { spawnSync } from "node:child_process";

const benches = [
  ["--expose-gc", "--import", "tsx", "bench/log-excerpt.ts"],
  ["--import", "tsx", "bench/reporting-latency.ts"],
  ["--import", "tsx", "bench/kubernetes-requests.ts", "20", "200"],
  ["--import", "tsx", "bench/kubernetes-scale.ts", "100", "500", "1000"],
  ["--import", "tsx", "bench/config-parse.ts"],
  ["--import", "tsx", "bench/run-page.ts"],
  ["--import", "tsx", "bench/job-overhead.ts"],
  ["--import", "tsx", "bench/webhook-intake.ts", "200"],
];
let failed = 0;
for (const args of benches) {
  const r = spawnSync(process.execPath, args, { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
