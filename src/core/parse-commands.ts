/** The comment commands YACI knows, with what each takes. */
export const COMMANDS = ["retest", "cancel", "ok-to-test"] as const;
export type CommandName = (typeof COMMANDS)[number];

export type Command = { name: CommandName; arg?: string } | { unknown: string };

const LINE = /^\/([a-z][a-z0-9-]*)(?:[ \t]+(\S.*?))?[ \t]*$/i;

/**
 * The commands in a pull-request comment: each line that starts with `/word` (Prow's style).
 * Quoted lines (`> /retest`) and code blocks are not commands.
 */
export function parseCommands(body: string): Command[] {
  const out: Command[] = [];
  let inFence = false;
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith("```")) inFence = !inFence;
    if (inFence) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const name = m[1]!.toLowerCase();
    if ((COMMANDS as readonly string[]).includes(name)) {
      out.push(m[2] ? { name: name as CommandName, arg: m[2] } : { name: name as CommandName });
    } else {
      out.push({ unknown: name });
    }
  }
  return out;
}
