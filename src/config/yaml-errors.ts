/** YAML problems (syntax errors, duplicate keys, `__proto__` keys, broken aliases) → {@link ConfigError}s. */
import { isNode, isScalar, visit, type Node, type YAMLError } from "yaml";
import { inlineCode } from "./format-config-errors.js";
import type { ParseContext, ParsedDoc } from "./parse-context.js";
import type { ConfigError } from "./yaci-config.js";

const YAML_HINTS: Record<string, string> = {
  TAB_AS_INDENT: "YAML does not allow tabs for indentation: indent with spaces.",
  BAD_INDENT:
    "Check the indentation: keys of one mapping start in the same column, and a nested value is indented further than its key.",
  BLOCK_AS_IMPLICIT_KEY:
    "A value that contains `: ` must be quoted (e.g. `run: \"echo a: b\"`) or written as a block (`run: |` and the command on the next, indented line).",
  MULTILINE_IMPLICIT_KEY:
    "Each line of a mapping needs `key: value`; for several commands write `run: |` followed by indented lines.",
  MULTIPLE_DOCS: "Keep a single YAML document: remove the extra `---` line.",
  MISSING_CHAR: "Add the missing closing character (a quote or bracket).",
  BAD_SCALAR_START: "Quote the value: it starts with a character YAML reserves (such as `@`, `` ` ``, `%`, `*` or `&`).",
  UNEXPECTED_TOKEN: "Check the YAML syntax here; quoting the value often helps.",
};

export function yamlError(ctx: ParseContext, e: YAMLError): ConfigError {
  let offset = e.pos[0];
  // An unclosed quote is reported at the end of the file: point at where the string starts.
  if (e.code === "MISSING_CHAR" && /quote/.test(e.message)) {
    const open = findUnclosedQuote(ctx.doc, offset);
    if (open !== undefined) offset = open;
  }
  // Indentation errors point at the start of the line: move to its first character.
  while (ctx.text[offset] === " ") offset++;
  const at = ctx.pos(offset);
  if (e.code === "DUPLICATE_KEY") {
    const key = findKeyAt(ctx.doc, e.pos[0]);
    const name = key !== undefined ? inlineCode(String(key)) : "this key";
    return {
      ...at,
      message: `duplicate key ${key !== undefined ? name : ""}`.trim(),
      hint: `Remove one of the ${name} entries or merge them: a key may appear only once in a mapping.`,
    };
  }
  let message = e.message.replace(/\s+at line \d+, column \d+:?[\s\S]*$/, "").trim();
  message = `YAML syntax error: ${message.charAt(0).toLowerCase()}${message.slice(1)}`;
  return { ...at, message, hint: YAML_HINTS[e.code] ?? "Check the YAML syntax at this position; quoting the value often helps." };
}

function findUnclosedQuote(doc: ParsedDoc, end: number): number | undefined {
  let found: number | undefined;
  visit(doc, {
    Scalar(_, node) {
      const r = node.range;
      if (r && (node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE") && r[0] < end && r[1] >= end) found = r[0];
    },
  });
  return found;
}

/** `__proto__` keys: JavaScript objects cannot hold them safely, and zod drops them silently. */
export function reservedKeys(ctx: ParseContext): ConfigError[] {
  const out: ConfigError[] = [];
  visit(ctx.doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === "__proto__") {
        out.push({
          ...ctx.pos(pair.key.range?.[0] ?? 0),
          message: "the key `__proto__` is not allowed",
          hint: "Rename or remove it.",
        });
      }
    },
  });
  return out;
}

function findKeyAt(doc: ParsedDoc, offset: number): unknown {
  let found: unknown;
  visit(doc, {
    Pair(_, pair) {
      if (isNode(pair.key) && pair.key.range?.[0] === offset) {
        found = isScalar(pair.key) ? pair.key.value : String(pair.key);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

export function findBrokenAlias(doc: ParsedDoc): Node | undefined {
  let found: Node | undefined;
  visit(doc, {
    Alias(_, alias) {
      if (!alias.resolve(doc)) {
        found = alias;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}
