/** A message on one line, cut to `max` characters (`undefined` when there is nothing to say). */
export function shortText(text: string | undefined, max = 300): string | undefined {
  if (!text) return undefined;
  const t = text.trim().replace(/\s+/g, " ");
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}
