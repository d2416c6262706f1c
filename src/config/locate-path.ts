/** Finding the YAML node at a config path, and the offset an error about it should point at. */
import { isAlias, isMap, isNode, isScalar, isSeq, type Node } from "yaml";
import type { ParsedDoc, PathSegment } from "./parse-context.js";

export interface Location {
  /** The node at the path, or the deepest existing ancestor when `found` is false. */
  node: Node | null;
  /** The key node of the pair holding `node`, when it is a mapping value. */
  key: Node | null;
  found: boolean;
}

export function keyString(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

export function locate(doc: ParsedDoc, path: readonly PathSegment[]): Location {
  let node: Node | null = (doc.contents as Node | null) ?? null;
  let key: Node | null = null;
  for (const seg of path) {
    if (node && isAlias(node)) node = (node.resolve(doc) as Node | undefined) ?? node;
    if (node && isMap(node)) {
      const pair = node.items.find((p) => keyString(p.key) === String(seg));
      if (!pair) return { node, key, found: false };
      key = isNode(pair.key) ? pair.key : null;
      node = isNode(pair.value) ? pair.value : null;
      if (node === null) return { node: key, key, found: true };
    } else if (node && isSeq(node) && typeof seg === "number" && isNode(node.items[seg])) {
      node = node.items[seg] as Node;
      key = null;
    } else {
      return { node, key, found: false };
    }
  }
  return { node, key, found: true };
}

export function offsetOf(loc: Location, at: "key" | "value" | undefined): number {
  const { node, key } = loc;
  let target = node;
  if (loc.found && key && (at === "key" || isImplicitNull(node))) target = key;
  return target?.range?.[0] ?? 0;
}

/** `job:` with nothing after it: the null node has no text, so point at the key instead. */
export function isImplicitNull(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.value === null && (!node.range || node.range[0] === node.range[1]));
}
