/**
 * A duration as people read it: 400 → "0.4s", 12_400 → "12s", 65_000 → "1m 5s", 300_000 → "5m", 3_720_000 → "1h 2m".
 * `compact` keeps every unit, without spaces, to a tenth of a second, the way an operator writes
 * a setting: 90_000 → "1m30s", 3_723_500 → "1h2m3.5s", 0 → "0s" (the Kubernetes executor's messages).
 */
export function formatDuration(ms: number, style: "short" | "compact" = "short"): string {
  if (style === "compact") {
    const seconds = ms / 1000;
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = Math.round((seconds % 60) * 10) / 10;
    return `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s ? `${s}s` : ""}` || "0s";
  }
  // Short jobs get a tenth of a second: "0.4s" says more than "0s".
  if (ms < 9_950) return `${Math.max(0, Math.round(ms / 100) / 10)}s`;
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return s > 0 ? `${m}m ${s}s` : `${m}m`;
  return `${s}s`;
}
