/**
 * Where a process's heap goes: takes a V8 heap snapshot and sums the objects' own sizes by
 * constructor (or, for strings, arrays and code, by kind). For `bench/kubernetes-scale.ts --heap`.
 */
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeHeapSnapshot } from "node:v8";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** The heap's largest groups: `[name, bytes, count]`, largest first. */
export function heapSummary(top = 12): Array<[string, number, number]> {
  const file = writeHeapSnapshot(join(tmpdir(), `yaci-heap-${process.pid}-${Date.now()}.heapsnapshot`));
  try {
    const s = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
    const fields = s.snapshot.meta.node_fields;
    const types = s.snapshot.meta.node_types[0];
    const width = fields.length;
    const iType = fields.indexOf("type");
    const iName = fields.indexOf("name");
    const iSize = fields.indexOf("self_size");
    const groups = new Map<string, [number, number]>();
    for (let i = 0; i < s.nodes.length; i += width) {
      const type = types[s.nodes[i + iType]!]!;
      const name = type === "object" || type === "closure" ? `${type === "closure" ? "closure " : ""}${s.strings[s.nodes[i + iName]!]}` : `(${type})`;
      const g = groups.get(name) ?? [0, 0];
      g[0] += s.nodes[i + iSize]!;
      g[1]++;
      groups.set(name, g);
    }
    return [...groups.entries()]
      .map(([name, [bytes, count]]): [string, number, number] => [name, bytes, count])
      .sort((a, b) => b[1] - a[1])
      .slice(0, top);
  } finally {
    rmSync(file, { force: true });
  }
}

/** The difference of two summaries, by group: what `after` holds more than `before`. */
export function heapGrowth(before: Array<[string, number, number]>, after: Array<[string, number, number]>, top = 10): Array<[string, number, number]> {
  const b = new Map(before.map(([n, bytes, count]) => [n, [bytes, count] as const]));
  return after
    .map(([n, bytes, count]): [string, number, number] => [n, bytes - (b.get(n)?.[0] ?? 0), count - (b.get(n)?.[1] ?? 0)])
    .sort((x, y) => y[1] - x[1])
    .slice(0, top);
}
