import { isMap } from "yaml";
import { kindOf } from "./config-path.js";
import { didYouMean } from "./did-you-mean.js";
import { inlineCode } from "./format-config-errors.js";
import { keyString, locate } from "./locate-path.js";
import type { ParseContext, PathSegment } from "./parse-context.js";

const TOP_ONLY = new Set(["version", "on", "cancel_superseded", "jobs"]);

/** How to fix an unknown key `key` in the mapping at `path`, whose allowed keys are `known`. */
export function unknownKeyHint(ctx: ParseContext, path: readonly PathSegment[], key: string, known: readonly string[]): string {
  const level = path.length === 0 ? "top" : kindOf(path);
  if (level === "job" && TOP_ONLY.has(key)) return `${inlineCode(key)} is only allowed at the top level of the file, not in a job.`;
  const close = didYouMean(key, known);
  if (close) return `Did you mean ${inlineCode(close)}?`;
  const list = `Allowed here: ${known.map((k) => inlineCode(k)).join(", ")}.`;
  if (level === "top") {
    if (key === "resources") return "`resources` is set per job: use the `jobs:` form and put `resources:` under the job.";
    const loc = locate(ctx.doc, [key]);
    if (loc.found && loc.node && isMap(loc.node) && loc.node.items.some((p) => keyString(p.key) === "run")) {
      return `To define a job named ${inlineCode(key)}, indent it under \`jobs:\`.`;
    }
  }
  if (level === "job" && ["steps", "script", "scripts", "command", "commands", "cmd"].includes(key)) {
    return `Write the commands under \`run:\`. ${list}`;
  }
  if (level === "on") {
    if (key === "branches") return "`branches` goes under an event, e.g. `on: { push: { branches: [main] } }`.";
    return `YACI runs on \`push\` and \`pull_request\` only. ${list}`;
  }
  if (level === "eventFilter") return `Only \`branches\` is supported in an event filter. ${list}`;
  return known.length > 0 ? `Remove it or use a known key. ${list}` : "Remove it.";
}
