import { QUANTITY_RE } from "../../config/schema.js";

/**
 * Kubernetes resource quantities (`500m`, `1.5`, `1Gi`, `512M`, `1e9`), parsed to a number of base
 * units (cores or bytes) so two quantities can be compared. The grammar is `.yaci.yml`'s
 * (`QUANTITY_RE`, from k8s.io/apimachinery/pkg/api/resource without a sign): a decimal number
 * followed by a binary SI suffix (Ki…Ei), a decimal SI suffix (n, u, m, k, M, G, T, P, E) or a
 * decimal exponent (e3, E-2).
 */
const SUFFIX: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** The quantity's value in base units, or `undefined` when `text` is not a valid quantity. */
export function tryParseQuantity(text: string | number): number | undefined {
  if (typeof text === "number") return Number.isFinite(text) && text >= 0 ? text : undefined;
  const m = QUANTITY_RE.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const suffix = m[2] ?? "";
  const factor = /^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : SUFFIX[suffix];
  if (factor === undefined || !Number.isFinite(n)) return undefined;
  return n * factor;
}

export function parseQuantity(text: string, what = "quantity"): number {
  const v = tryParseQuantity(text);
  if (v === undefined) {
    throw new Error(`${what}: ${JSON.stringify(text)} is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 4Gi)`);
  }
  return v;
}

/** The smaller of a requested quantity and an operator's cap, as the original text. */
export function capQuantity(requested: string | undefined, cap: string | undefined): string | undefined {
  if (requested === undefined) return undefined;
  if (cap === undefined) return requested;
  const r = tryParseQuantity(requested);
  const c = tryParseQuantity(cap);
  if (r === undefined || c === undefined) return cap;
  return r > c ? cap : requested;
}

/** A size in bytes given as a quantity (`10Mi`, `2Gi`, `1048576`), at least `min`: YACI_LOG_MAX_BYTES, YACI_CHECKOUT_MAX_BYTES. */
export function byteSize(name: string, text: string, min: number, minText: string): number {
  const v = parseQuantity(text, name);
  if (v < min) throw new Error(`${name}: ${JSON.stringify(text)} must be at least ${minText}`);
  return Math.floor(v);
}
