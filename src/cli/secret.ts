/**
 * `yaci secret set|list|delete`: manages the secrets jobs name in `secrets:`, in the store of the
 * executor the app is configured with (YACI_EXECUTOR, read from the environment and `./.env` as
 * the app reads them): dotenv files under YACI_SECRETS_DIR (local), or labelled Secrets in
 * YACI's namespace (kubernetes, with the operator's own kubeconfig). A value is read from standard
 * input, never from an argument (which every user of the machine can see in the process list).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";
import { EXIT, parseCommandLine, type Io } from "./validate.js";
import { checkSecretName, parseScope, scopeText, type SecretScope } from "../secrets/scope.js";

const USAGE = `Usage: yaci secret set OWNER[/REPO] NAME     (the value is read from standard input)
       yaci secret list OWNER[/REPO]
       yaci secret delete OWNER[/REPO] NAME

Manages the secrets that jobs name in \`secrets:\` of .yaci.yml. OWNER's secrets go to every
repository of OWNER; OWNER/REPO's to that repository only, and win over OWNER's.
The store is the configured executor's (YACI_EXECUTOR, from the environment or ./.env):
  local        one dotenv file per owner and repository under YACI_SECRETS_DIR
               (default $YACI_DATA_DIR/secrets), mode 0600
  kubernetes   Secrets labelled yaci.dev/owner (and yaci.dev/repo) in YACI's namespace
               (YACI_NAMESPACE, else the kubeconfig context's), with your kubeconfig

  printf %s "$TOKEN" | yaci secret set octo-org/hello NPM_TOKEN
  yaci secret set octo-org DEPLOY_KEY < deploy_key
One trailing newline of the value is dropped. \`list\` prints names only, never values.

Exit codes: 0 ok, 1 no such secret (delete) or the store failed, 2 usage error.
`;

/** The operations every store offers (local-store.ts, kube-store.ts). */
interface Store {
  where(scope: SecretScope): string;
  set(scope: SecretScope, name: string, value: string): Promise<void>;
  list(scope: SecretScope): Promise<string[]>;
  delete(scope: SecretScope, name: string): Promise<boolean>;
}

/** The environment as the app sees it: `./.env` over the process's (Probot's rule, see deps.ts applyDotEnv). */
function appEnv(io: Io): Record<string, string | undefined> {
  let text: string;
  try {
    text = readFileSync(join(io.cwd, ".env"), "utf8");
  } catch {
    return io.env;
  }
  return { ...io.env, ...parseEnv(text) };
}

async function openStore(env: Record<string, string | undefined>): Promise<Store> {
  const kind = env.YACI_EXECUTOR || "local";
  if (kind === "kubernetes") {
    const [{ CoreV1Api }, { loadKubeConfig }, { KubeSecretStore, scopeSelector }] = await Promise.all([
      import("@kubernetes/client-node"),
      import("../executors/kubernetes/options.js"),
      import("../secrets/kube-store.js"),
    ]);
    const loaded = loadKubeConfig(env);
    const store = new KubeSecretStore(loaded.kc.makeApiClient(CoreV1Api), loaded.namespace);
    return {
      where: (scope) => `Secrets labelled ${scopeSelector(scope)} in namespace "${loaded.namespace}" on ${loaded.server}`,
      set: (scope, name, value) => store.set(scope, name, value),
      list: (scope) => store.list(scope),
      delete: (scope, name) => store.delete(scope, name),
    };
  }
  if (kind !== "local") throw new Error(`YACI_EXECUTOR must be local or kubernetes; got "${kind}"`);
  const { LocalSecretStore, localSecretsDir } = await import("../secrets/local-store.js");
  const store = new LocalSecretStore(localSecretsDir(env));
  return {
    where: (scope) => store.fileOf(scope),
    set: async (scope, name, value) => store.set(scope, name, value),
    list: async (scope) => store.list(scope),
    delete: async (scope, name) => store.delete(scope, name),
  };
}

/** A failed API call or file operation in a sentence (the Kubernetes client's errors carry the server's message). */
async function failure(err: unknown): Promise<string> {
  if (err && typeof err === "object" && "code" in err && "body" in err) return (await import("../executors/kubernetes/api-error.js")).apiMessage(err);
  return err instanceof Error ? err.message : String(err);
}

/** Runs `yaci secret …`; resolves with the exit code. */
export async function secretCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {}, 3);
  const [action, target, name] = positionals;
  if (values.help || action === undefined) {
    (action === undefined && !values.help ? io.err : io.out)(USAGE);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const wanted = { set: 3, list: 2, delete: 3 }[action];
  if (wanted === undefined) return usage(io, `unknown secret command '${action}' (set, list or delete)`);
  if (positionals.length !== wanted) return usage(io, `yaci secret ${action} takes ${wanted === 2 ? "OWNER[/REPO]" : "OWNER[/REPO] NAME"}`);
  let scope: SecretScope;
  try {
    scope = parseScope(target!);
    if (name !== undefined) checkSecretName(name);
  } catch (err) {
    return usage(io, (err as Error).message);
  }
  let store: Store;
  try {
    store = await openStore(appEnv(io));
  } catch (err) {
    io.err(`${io.style("red", "yaci:")} ${(err as Error).message}\n`);
    return EXIT.usage;
  }
  try {
    switch (action) {
      case "set": {
        if (!io.readInput) return usage(io, "no standard input to read the value from");
        const value = (await io.readInput()).replace(/\r?\n$/, "");
        if (value === "") return usage(io, "the value read from standard input is empty (pipe it in: echo -n \"$VALUE\" | yaci secret set …)");
        await store.set(scope, name!, value);
        io.out(`set ${name} for ${scopeText(scope)} (${store.where(scope)})\n`);
        return EXIT.ok;
      }
      case "list":
        for (const n of await store.list(scope)) io.out(`${n}\n`);
        return EXIT.ok;
      default:
        if (await store.delete(scope, name!)) {
          io.out(`deleted ${name} of ${scopeText(scope)} (${store.where(scope)})\n`);
          return EXIT.ok;
        }
        io.err(`${io.style("red", "yaci:")} ${scopeText(scope)} has no secret ${name} (${store.where(scope)})\n`);
        return EXIT.failed;
    }
  } catch (err) {
    io.err(`${io.style("red", "yaci:")} could not ${action} the secret: ${await failure(err)}\n`);
    return EXIT.failed;
  }
}

function usage(io: Io, message: string): number {
  io.err(`${io.style("red", "yaci:")} ${message}\nRun 'yaci secret --help' for usage.\n`);
  return EXIT.usage;
}
