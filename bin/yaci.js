#!/usr/bin/env node
// The `yaci` command (package.json "bin"). Runs the compiled CLI (lib/cli/main.js, made by
// `npm run build`); in a clone where lib/ was never built, runs the TypeScript sources through tsx
// (a devDependency) instead. `npm ci && npm run build && npx yaci --help` is the supported path.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const built = new URL("../lib/cli/main.js", import.meta.url);
let entry = built;
if (!existsSync(fileURLToPath(built))) {
  try {
    const { register } = await import("tsx/esm/api");
    register();
  } catch {
    process.stderr.write("yaci: lib/ is not built and tsx is not installed: run `npm ci && npm run build` first\n");
    process.exit(2);
  }
  entry = new URL("../src/cli/main.ts", import.meta.url);
}
const { main } = await import(entry.href);
await main(process.argv.slice(2));
