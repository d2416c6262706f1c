import { logRetentionFromEnv, parseDuration } from "../logs/retention.js";

/** The HTTP surface's settings, read from the environment once at start-up. */
export interface HttpEnv {
  /** YACI_API_TOKEN: bearer token of `POST /run` and `GET /get`. Unset: the API is off (404). */
  apiToken?: string;
  /** YACI_LINK_SECRET: HMAC key of run-page links. Unset: the run page is off (404). */
  linkSecret?: string;
  /** YACI_PUBLIC_URL: where users reach this server, for check runs' `details_url`. */
  publicUrl?: string;
  /** YACI_LOG_RETENTION: how long logs are kept (default 14 days). */
  logRetentionMs: number;
  /** YACI_LINK_TTL: how long a run-page link stays valid (default: the log retention). */
  linkTtlMs: number;
}

export const MIN_LINK_SECRET_LENGTH = 16;

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

/** Reads and validates the HTTP variables; throws an Error naming the variable on a bad value. */
export function httpEnvFromProcess(env: NodeJS.ProcessEnv = process.env): HttpEnv {
  const apiToken = nonEmpty(env.YACI_API_TOKEN);
  const linkSecret = nonEmpty(env.YACI_LINK_SECRET);
  if (linkSecret !== undefined && linkSecret.length < MIN_LINK_SECRET_LENGTH) {
    throw new Error(
      `YACI_LINK_SECRET must be at least ${MIN_LINK_SECRET_LENGTH} characters (e.g. the output of \`openssl rand -hex 32\`)`,
    );
  }
  const publicUrl = nonEmpty(env.YACI_PUBLIC_URL);
  if (publicUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(publicUrl);
    } catch {
      throw new Error(`YACI_PUBLIC_URL: "${publicUrl}" is not a URL; write e.g. https://yaci.example.com`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new Error(`YACI_PUBLIC_URL must start with https:// (or http://), got "${publicUrl}"`);
    }
  }
  const logRetentionMs = logRetentionFromEnv(env);
  const ttl = nonEmpty(env.YACI_LINK_TTL);
  const linkTtlMs = ttl === undefined ? logRetentionMs : parseDuration(ttl, "YACI_LINK_TTL");
  return {
    ...(apiToken !== undefined && { apiToken }),
    ...(linkSecret !== undefined && { linkSecret }),
    ...(publicUrl !== undefined && { publicUrl: publicUrl.replace(/\/+$/, "") }),
    logRetentionMs,
    linkTtlMs,
  };
}
