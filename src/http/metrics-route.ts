import type { ServerResponse } from "node:http";
import type { Metrics } from "../observability/metrics.js";

/** GET /metrics: every metric in the Prometheus text format. */
export async function handleMetrics(metrics: Metrics, res: ServerResponse): Promise<void> {
  const text = await metrics.text();
  res.writeHead(200, {
    "content-type": metrics.contentType,
    "content-length": String(Buffer.byteLength(text)),
    "cache-control": "no-store",
  });
  res.end(text);
}
