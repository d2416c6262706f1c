import { getTransformStream } from "@probot/pino";
import pino from "pino";

/**
 * The one logger type of YACI: pino's shape, `(fields, message)`. Probot's `app.log` fits it, and
 * so does a test's capturing fake. Fields carry what a line is about (`runId`, `installationId`,
 * `status`); the message is a sentence for people.
 */
export interface Logger {
  debug?(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** A logger that drops everything: the default where a caller gave none. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

// ---- the app process's log ------------------------------------------------------------------

/** Header values that are credentials (in pino-http's `req.headers`, or anywhere in a line). */
const SECRET_FIELDS = /("(?:authorization|proxy-authorization|cookie|set-cookie|x-hub-signature(?:-256)?)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;
/** Query parameters that are credentials: run-page links (`token`), OAuth (`code`, `access_token`). */
const SECRET_QUERY = /([?&](?:token|access_token|code|client_secret)=)[^&#\s"\\]+/gi;
/** A bearer credential written out anywhere (a message, an error). */
const BEARER = /\b(Bearer|Basic)\s+(?!\[redacted\])[A-Za-z0-9._~+/=-]+/g;

/** One log line with every credential it may carry replaced by `[redacted]`. */
export function redactLine(line: string): string {
  return line.replace(SECRET_FIELDS, '$1"[redacted]"').replace(SECRET_QUERY, "$1[redacted]").replace(BEARER, "$1 [redacted]");
}

/**
 * The app's logger, given to Probot instead of its own: the same pino logger and format
 * (`LOG_LEVEL`, `LOG_FORMAT`, `LOG_LEVEL_IN_STRING`, `LOG_MESSAGE_KEY`, `SENTRY_DSN`, read as Probot
 * reads them), except that every line passes `redactLine` (Probot's request log writes the
 * `authorization` header and full URLs), and a failed event's payload is left out (Probot logs a
 * handler's error with the whole event).
 */
export async function createAppLog(env: Record<string, string | undefined>): Promise<pino.Logger> {
  const logFormat = env.LOG_FORMAT ? (env.LOG_FORMAT === "pretty" ? "pretty" : "json") : env.NODE_ENV === "production" ? "json" : "pretty";
  const transform = await getTransformStream({ logFormat, logLevelInString: env.LOG_LEVEL_IN_STRING === "true", sentryDsn: env.SENTRY_DSN });
  transform.pipe(pino.destination(1) as unknown as NodeJS.WritableStream);
  return pino(
    {
      level: env.LOG_LEVEL || "info",
      name: "probot",
      messageKey: env.LOG_MESSAGE_KEY || "msg",
      redact: { paths: ["event.payload", "err.event.payload", "err.aggregateErrors[*].event.payload"], censor: "[payload omitted]" },
      hooks: { streamWrite: redactLine },
    },
    transform,
  );
}

/**
 * A last line of defence for the process: an unhandled rejection or an uncaught exception is
 * logged and the app keeps serving (one failed request or job must not take every other one down).
 * More than `maxPerMinute` of them in a minute means the process is not sound any more: it exits
 * (status 1) so that its supervisor starts a fresh one.
 */
export function guardProcess(proc: NodeJS.EventEmitter, log: Logger, opts: { maxPerMinute?: number; now?: () => number; exit?: (code: number) => void } = {}): void {
  const max = opts.maxPerMinute ?? 10;
  const now = opts.now ?? Date.now;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const recent: number[] = [];
  const onError = (what: string) => (err: unknown) => {
    const t = now();
    recent.push(t);
    while (recent[0]! <= t - 60_000) recent.shift();
    if (recent.length > max) {
      log.error({ err }, `${what}: ${recent.length} unexpected errors within a minute; exiting so that a fresh process takes over`);
      exit(1);
      return;
    }
    log.error({ err }, `${what} (logged; the app keeps serving)`);
  };
  proc.on("unhandledRejection", onError("unhandled promise rejection"));
  proc.on("uncaughtException", onError("uncaught exception"));
}
