/** The comment commands YACI knows, with what each takes. */
export const COMMANDS = ["retest", "cancel", "ok-to-test"] as const;
export type CommandName = (typeof COMMANDS)[number];

export type Command = { name: CommandName; arg?: string } | { unknown: string };

/** At most this many command lines of one comment are read; the rest are ignored. */
export const MAX_COMMAND_LINES = 10;
/** Longer command names and arguments are cut (they are quoted in replies). */
const MAX_NAME = 32;
const MAX_ARG = 100;

const LINE = /^\/([a-z][a-z0-9-]*)(?:[ \t]+(\S.*?))?[ \t]*$/i;

/**
 * The commands in a pull-request comment: each line that starts with `/word` (Prow's style), the
 * first {@link MAX_COMMAND_LINES} of them. Quoted lines (`> /retest`) and code blocks are not
 * commands. An unknown name is cut to 32 characters and an argument to 100.
 */
export function parseCommands(body: string): Command[] {
  const out: Command[] = [];
  let inFence = false;
  for (const raw of body.split(/\r?\n/, 10_000)) {
    const line = raw.trim();
    if (line.startsWith("```")) inFence = !inFence;
    if (inFence || !line.startsWith("/") || line.length > 1000) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const name = m[1]!.toLowerCase();
    if ((COMMANDS as readonly string[]).includes(name)) {
      const arg = m[2]?.slice(0, MAX_ARG);
      out.push(arg ? { name: name as CommandName, arg } : { name: name as CommandName });
    } else {
      out.push({ unknown: name.length > MAX_NAME ? `${name.slice(0, MAX_NAME)}…` : name });
    }
    if (out.length === MAX_COMMAND_LINES) break;
  }
  return out;
}
