import { readdirSync, readFileSync } from "node:fs";

/**
 * Kills every process that belongs to a run, found by the `YACI_RUN_ID=<id>` variable every job
 * carries (so a reused pid of some other program is never hit). Returns how many were signalled.
 * Works on Linux (/proc); elsewhere it kills nothing.
 */
export function killRunProcesses(runId: string, signal: NodeJS.Signals = "SIGKILL"): number {
  const marker = Buffer.from(`YACI_RUN_ID=${runId}\0`);
  let killed = 0;
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((p) => /^\d+$/.test(p));
  } catch {
    return 0;
  }
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`);
      if (environ.includes(marker)) {
        process.kill(Number(pid), signal);
        killed++;
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return killed;
}
