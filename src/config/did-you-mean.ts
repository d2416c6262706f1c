import { distance } from "fastest-levenshtein";

/** The closest candidate within edit distance 2 (case and `-`/`_` are ignored). */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/-/g, "_");
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(norm(word), norm(c));
    if (d < bestD && d <= Math.min(2, Math.max(1, c.length - 1))) {
      best = c;
      bestD = d;
    }
  }
  return best;
}
