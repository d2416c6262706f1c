/**
 * The `yaci` command: `validate`, `run`, `schema` and `secret`. Parses the command line, prints help, and
 * turns every outcome into an exit code scripts can rely on: 0 ok, 1 the checked thing failed (a
 * broken `.yaci.yml`, a failed job), 2 a usage error (unknown command or flag, a file that cannot
 * be read), 130 interrupted (Ctrl-C). Colours only on a terminal, never with `NO_COLOR`.
 * The shared pieces (streams, styling, argument parsing) live in validate.ts. `bin/yaci.js` starts it (lib/cli/main.js when built, else this file through tsx).
 */
import { EXIT, parseCommandLine, styleFor, UsageError, type Io } from "./validate.js";

const USAGE = `Usage: yaci <command> [options]

Check and run .yaci.yml jobs on this machine, without GitHub.

Commands:
  validate [FILE]   check a .yaci.yml (default ./.yaci.yml) with YACI's own parser
  run [JOB...]      run the jobs of a working copy with YACI's local executor
  schema            print the JSON schema of .yaci.yml (for editors)
  secret            set, list or delete the secrets jobs name (yaci secret --help)

Options:
  -h, --help        show help (also after a command: yaci run --help)
  -v, --version     print YACI's version

Exit codes: 0 ok, 1 the file is invalid or a job failed, 2 usage error, 130 interrupted.
Colours are used on a terminal only, never with NO_COLOR set.
`;

const SCHEMA_USAGE = `Usage: yaci schema

Prints the JSON schema of .yaci.yml (the same as schema/yaci.schema.json), generated from the
schema YACI validates with. Point your editor at it, e.g. with a first line
  # yaml-language-server: $schema=<path or URL of yaci.schema.json>
`;

async function version(): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  const pkg = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

/** Runs one `yaci` command line; resolves with the exit code. */
export async function cli(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  const usage = (message: string, help?: string): number => {
    const more = help ?? `Run 'yaci ${command} --help' for usage.\n`;
    io.err(`${io.style("red", "yaci:")} ${message}\n${help ? "\n" : ""}${more}`);
    return EXIT.usage;
  };
  switch (command) {
    case undefined:
      return usage("no command given", USAGE);
    case "-h":
    case "--help":
    case "help":
      io.out(USAGE);
      return EXIT.ok;
    case "-v":
    case "--version":
      io.out(`${await version()}\n`);
      return EXIT.ok;
    case "validate":
    case "run": {
      // Each command loads only what it needs: `validate` never loads the executor.
      const run = command === "validate" ? (await import("./validate.js")).validateCommand : (await import("./run.js")).runCommand;
      try {
        return await run(rest, io);
      } catch (err) {
        if (err instanceof UsageError) return usage(err.message);
        throw err;
      }
    }
    case "secret":
      try {
        return await (await import("./secret.js")).secretCommand(rest, io);
      } catch (err) {
        if (err instanceof UsageError) return usage(err.message);
        throw err;
      }
    case "schema":
      try {
        if (parseCommandLine(rest, {}, 0).values.help) {
          io.out(SCHEMA_USAGE);
          return EXIT.ok;
        }
      } catch (err) {
        if (err instanceof UsageError) return usage(err.message);
        throw err;
      }
      io.out(`${JSON.stringify((await import("../config/schema.js")).yaciConfigJsonSchema(), null, 2)}\n`);
      return EXIT.ok;
    default:
      return usage(`unknown command '${command}'`, USAGE);
  }
}

/** The process: real streams, and the exit code once everything is written. */
export async function main(argv = process.argv.slice(2)): Promise<void> {
  const io: Io = {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    style: styleFor(process.stdout, process.env),
    env: process.env,
    cwd: process.cwd(),
    readInput: async () => {
      if (process.stdin.isTTY) process.stderr.write("yaci: type the value, then Ctrl-D\n");
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
  };
  // `yaci schema | head` closes the pipe early: that is not an error.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
  try {
    process.exitCode = await cli(argv, io);
  } catch (err) {
    process.stderr.write(`yaci: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = EXIT.usage;
  }
}
