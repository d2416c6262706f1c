// `npm start` builds first, unless lib/ is newer than every source file (e.g. after `npm run build`).
import { execSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const stamp = "lib/.build-stamp"; // written by `npm run build`
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}
const sources = Math.max(newest("src"), statSync("tsconfig.json").mtimeMs, statSync("tsconfig.build.json").mtimeMs, statSync("package-lock.json").mtimeMs);
if (!existsSync("lib/main.js") || !existsSync(stamp) || statSync(stamp).mtimeMs < sources) {
  execSync("npm run build", { stdio: "inherit" });
}
