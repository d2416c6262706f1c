/** A duration as people read it: 400 → "0.4s", 12_400 → "12s", 65_000 → "1m 5s", 300_000 → "5m", 3_720_000 → "1h 2m". */
export function formatDuration(ms: number): string {
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
