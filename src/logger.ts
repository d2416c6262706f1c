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
