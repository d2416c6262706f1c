/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: it throws
 * on any line that is not a comment, a HELP/TYPE line or a well-formed sample.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
  samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+(-?\\d+))?$`);
const LABEL_RE = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;

function parseValue(text: string, line: string): number {
  // Prometheus reads values with Go's strconv.ParseFloat: "NaN", "Inf" and "+Inf" in any case.
  const lower = text.toLowerCase();
  if (lower === "+inf" || lower === "inf") return Infinity;
  if (lower === "-inf") return -Infinity;
  if (lower === "nan") return NaN;
  const v = Number(text);
  if (text.trim() === "" || Number.isNaN(v)) throw new Error(`bad sample value in: ${line}`);
  return v;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let pos = 0;
  while (pos < text.length) {
    LABEL_RE.lastIndex = pos;
    const m = LABEL_RE.exec(text);
    if (!m) throw new Error(`bad labels in: ${line}`);
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    pos = LABEL_RE.lastIndex;
    if (m[3] === "") break;
  }
  if (pos !== text.length) throw new Error(`bad labels in: ${line}`);
  return labels;
}

/** The family a sample belongs to: histogram/summary samples carry a suffix. */
function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  if (families.has(sampleName)) return families.get(sampleName);
  for (const suffix of ["_bucket", "_sum", "_count", "_total", "_created"]) {
    if (sampleName.endsWith(suffix)) {
      const f = families.get(sampleName.slice(0, -suffix.length));
      if (f) return f;
    }
  }
  return undefined;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const get = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: "untyped", help: "", samples: [] }));
    return f;
  };
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line))) {
      get(m[1]!).help = m[2]!;
    } else if ((m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line))) {
      const f = get(m[1]!);
      if (f.samples.length > 0) throw new Error(`TYPE after samples: ${line}`);
      f.type = m[2] as Family["type"];
    } else if (line.startsWith("#")) {
      continue;
    } else if ((m = SAMPLE_RE.exec(line))) {
      const f = familyOf(m[1]!, families);
      if (!f) throw new Error(`sample without a declared family: ${line}`);
      f.samples.push({ name: m[1]!, labels: m[2] ? parseLabels(m[2], line) : {}, value: parseValue(m[3]!, line) });
    } else {
      throw new Error(`not Prometheus text: ${line}`);
    }
  }
  return families;
}

/** The value of the one sample named `name` whose labels include `labels`; undefined if none. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const f = familyOf(name, families);
  const hits = (f?.samples ?? []).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (hits.length > 1) throw new Error(`${hits.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return hits[0]?.value;
}
