import type { Document } from "yaml";

/** One step of a path into the config: a mapping key or a list index. */
export type PathSegment = string | number;
export type ParsedDoc = Document.Parsed;

/** What the parser's helpers share: the YAML document, its text, and offset → 1-based position. */
export interface ParseContext {
  doc: ParsedDoc;
  text: string;
  pos: (offset: number) => { line: number; column: number };
}
