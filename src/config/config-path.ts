/** Config paths (`["jobs", "test", "timeout"]`) as shown in messages, and the kind of field they name. */
import { FIELD_RULES, type FieldKind } from "./field-rules.js";
import { inlineCode } from "./format-config-errors.js";
import { KNOWN_KEYS } from "./known-keys.js";
import type { PathSegment } from "./parse-context.js";

export function displayPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const seg of path) out += typeof seg === "number" ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

export function subjectOf(path: readonly PathSegment[]): string {
  if (path.length === 0) return "the file";
  if (path.length === 2 && path[0] === "jobs") return `job ${inlineCode(String(path[1]))}`;
  return inlineCode(displayPath(path));
}

/** Which kind of field a path names, for messages and hints. */
export function kindOf(path: readonly PathSegment[]): FieldKind | undefined {
  let p = [...path];
  if (p.length === 0) return "top";
  if (p[0] === "jobs" && p.length >= 2) {
    if (p.length === 2) return "job";
    p = p.slice(2);
  }
  const [a, b, c, d] = p;
  switch (a) {
    case "env":
      return p.length === 1 ? "env" : "envValue";
    case "run":
      return p.length === 1 ? "run" : "runLine";
    case "resources":
      return p.length === 1 ? "resources" : b === "cpu" ? "cpu" : b === "memory" ? "memory" : undefined;
    case "on":
      if (p.length === 1) return "on";
      if (typeof b === "number") return "event";
      if (p.length === 2) return "eventFilter";
      if (c === "branches") return d === undefined ? "branches" : "branch";
      return undefined;
    default:
      return typeof a === "string" && a in FIELD_RULES ? (a as FieldKind) : undefined;
  }
}

/** Where the keys of the mapping at `path` are checked, with the keys allowed there. */
export function levelOf(path: readonly PathSegment[]): { where: string; known: readonly string[] } {
  if (path.length === 0) return { where: "at the top level", known: KNOWN_KEYS.top };
  if (path[0] === "jobs" && path.length === 2) return { where: `in job ${inlineCode(String(path[1]))}`, known: KNOWN_KEYS.job };
  const kind = kindOf(path);
  const where = `in ${inlineCode(displayPath(path))}`;
  if (kind === "resources") return { where, known: KNOWN_KEYS.resources };
  if (kind === "on") return { where, known: KNOWN_KEYS.on };
  if (kind === "eventFilter") return { where, known: KNOWN_KEYS.eventFilter };
  return { where, known: [] };
}
