import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

/**
 * vitest globalSetup: compiles the app (`tsc -p tsconfig.build.json` → lib/) once per test run,
 * so that e2e tests can start `node lib/main.js`. Fails the run with tsc's output on errors.
 * `YACI_SKIP_BUILD=1` skips it (tests that do not start the app).
 */
export default function setup(): void {
  if (process.env.YACI_SKIP_BUILD) return;
  const root = fileURLToPath(new URL("../../", import.meta.url));
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  try {
    execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: root, encoding: "utf8", stdio: "pipe" });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const output = `${e.stdout ?? ""}${e.stderr ?? ""}`.trim() || e.message;
    throw new Error(`global-setup: \`tsc -p tsconfig.build.json\` failed (set YACI_SKIP_BUILD=1 to skip the build):\n${output}`);
  }
}
