import { isMap, isScalar } from "yaml";
import { sourceOf } from "./describe-value.js";
import { keyString, locate } from "./locate-path.js";
import type { ParseContext, PathSegment } from "./parse-context.js";

/** YAML turns `VERSION: 1.0` into the number 1; env values keep the text the user wrote. */
export function keepNumberSourceInEnv(ctx: ParseContext, value: unknown): void {
  if (!isRecord(value)) return;
  const envPaths: PathSegment[][] = [["env"]];
  if (isRecord(value.jobs)) for (const name of Object.keys(value.jobs)) envPaths.push(["jobs", name, "env"]);
  for (const path of envPaths) {
    let target: unknown = value;
    for (const seg of path) target = isRecord(target) ? target[seg] : undefined;
    const loc = locate(ctx.doc, path);
    if (!isRecord(target) || !loc.found || !loc.node || !isMap(loc.node)) continue;
    for (const pair of loc.node.items) {
      const v = pair.value;
      if (isScalar(v) && typeof v.value === "number" && v.type === "PLAIN") {
        const src = sourceOf(ctx, v)?.trim();
        const name = keyString(pair.key);
        if (src !== undefined && typeof target[name] === "number") target[name] = src;
      }
    }
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
