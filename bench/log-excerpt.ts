/**
 * The cost of turning a huge job log into a check run's text and annotations: time, and how much
 * memory it takes (it reads only the log's end, so it should not grow with the log).
 * Usage: node --expose-gc --import tsx bench/log-excerpt.ts [MiB=200] [MiB …]
 */
import { mkdtempSync, openSync, writeSync, closeSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { LogStore } from "../src/logs/log-store.js";
import { EXCERPT_READ_BYTES, logExcerpt } from "../src/logs/excerpt.js";
import { parseAnnotations } from "../src/logs/annotations.js";

function writeLog(file: string, mib: number): void {
  const line = "\u001b[32m✓\u001b[0m src/some/file.ts(12,5): error TS2322: Type 'string' is not assignable to type 'number'.\n";
  const chunk = Buffer.from(line.repeat(Math.ceil((1 << 20) / Buffer.byteLength(line))));
  const fd = openSync(file, "w");
  for (let i = 0; i < mib; i++) writeSync(fd, chunk);
  closeSync(fd);
}

const gc = (globalThis as { gc?: () => void }).gc;
console.log(`log excerpt — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB${gc ? "" : " (run with --expose-gc for memory figures)"}`);
for (const mib of (process.argv.slice(2).map(Number).filter(Boolean).length ? process.argv.slice(2).map(Number) : [10, 200])) {
  const dir = mkdtempSync(join(tmpdir(), "yaci-bench-log-"));
  const logs = new LogStore(dir);
  writeLog(logs.path("run"), mib);
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const text = logExcerpt(await logs.tail("run", EXCERPT_READ_BYTES));
  const t1 = performance.now();
  const annotations = parseAnnotations((await logs.tail("run", 1 << 20)).text, { max: 200 });
  const t2 = performance.now();
  const grew = process.memoryUsage().heapUsed - before;
  console.log(
    `${mib} MiB log: excerpt ${(t1 - t0).toFixed(1)} ms (${text.length} chars), annotations ${(t2 - t1).toFixed(1)} ms (${annotations.length}), heap +${(grew / 2 ** 20).toFixed(1)} MiB`,
  );
  rmSync(dir, { recursive: true, force: true });
}
