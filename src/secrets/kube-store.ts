/**
 * The Kubernetes executor's secret store: Secrets in YACI's namespace labelled `yaci.dev/owner`
 * (lower case) and, for one repository, `yaci.dev/repo`; each key of such a Secret is a secret's
 * name. A repository name that is not a valid label value (longer than 63 characters, or starting
 * with `.` or `_`) is labelled with a hash and written out in the annotation `yaci.dev/repo`. Any
 * Secret with these labels counts (one made with kubectl too); `yaci secret set` writes
 * `yaci-secrets-<owner>` and `yaci-secrets-<owner>--<repo>-<hash>`.
 *
 * A job gets its secrets by reference (`secretKeyRef`), so their values never pass through its Job
 * object; the values read by the same LIST serve only to build the job's log masker, in memory.
 */
import { createHash } from "node:crypto";
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type V1EnvVarSource, type V1Secret } from "@kubernetes/client-node";
import type { RunSpec } from "../core/run.js";
import { httpStatusOf } from "../http-status.js";
import { apiMessage } from "../executors/kubernetes/api-error.js";
import { checkSecretName, scopeOf, type SecretScope } from "./scope.js";

export const OWNER_LABEL = "yaci.dev/owner";
export const REPO_LABEL = "yaci.dev/repo";
/** The full repository name, on a Secret whose repo label is a hash. */
export const REPO_ANNOTATION = "yaci.dev/repo";
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const hash = (text: string, n: number) => createHash("sha256").update(text).digest("hex").slice(0, n);

/** The `yaci.dev/repo` label of a repository: its name, or `sha256-` and a hash when the name is no label value. */
export function repoLabel(repo: string): string {
  const r = repo.toLowerCase();
  return r.length <= 63 && LABEL_VALUE.test(r) ? r : `sha256-${hash(r, 48)}`;
}

/** The label selector of a scope's Secrets. */
export function scopeSelector(scope: SecretScope): string {
  return `${OWNER_LABEL}=${scope.owner}${scope.repo === undefined ? `,!${REPO_LABEL}` : `,${REPO_LABEL}=${repoLabel(scope.repo)}`}`;
}

/** The name `yaci secret set` gives a scope's Secret (a DNS-1123 subdomain). */
export function secretObjectName(scope: SecretScope): string {
  if (scope.repo === undefined) return `yaci-secrets-${scope.owner}`;
  const slug = scope.repo.replace(/[^a-z0-9-]+/g, "-").slice(0, 100);
  return `yaci-secrets-${scope.owner}--${slug}-${hash(`${scope.owner}/${scope.repo}`, 8)}`;
}

/** The repository a Secret is for (lower case), or undefined for an owner's Secret. */
function repoOf(s: V1Secret): string | undefined {
  const label = s.metadata?.labels?.[REPO_LABEL];
  if (label === undefined) return undefined;
  return (s.metadata?.annotations?.[REPO_ANNOTATION] ?? label).toLowerCase();
}

/** Where a job's named secrets come from: an env source per name, and the values (for masking only). */
export interface JobSecrets {
  refs: Record<string, V1EnvVarSource>;
  values: string[];
}

/** Wraps an API call (the executor's retries on transient answers); the default calls it once. */
export type Retry = <T>(fn: () => Promise<T>) => Promise<T>;

const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

export class KubeSecretStore {
  constructor(
    private readonly core: CoreV1Api,
    readonly namespace: string,
  ) {}

  /** The Secrets of a scope (a repository's: only those whose annotation names it, when set). */
  private async secretsOf(scope: SecretScope, retry: Retry = (fn) => fn()): Promise<V1Secret[]> {
    const list = await retry(() => this.core.listNamespacedSecret({ namespace: this.namespace, labelSelector: scopeSelector(scope) }));
    return list.items
      .filter((s) => scope.repo === undefined || repoOf(s) === scope.repo)
      .sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
  }

  /** The names of a scope's secrets, sorted. */
  async list(scope: SecretScope): Promise<string[]> {
    const names = new Set<string>();
    for (const s of await this.secretsOf(scope)) for (const k of Object.keys(s.data ?? {})) names.add(k);
    return [...names].sort();
  }

  /** Sets a secret: into the scope's Secret that has the name already, else its first, else a new one. */
  async set(scope: SecretScope, name: string, value: string): Promise<void> {
    checkSecretName(name);
    const data = { [name]: Buffer.from(value, "utf8").toString("base64") };
    const found = await this.secretsOf(scope);
    const target = found.find((s) => s.data?.[name] !== undefined) ?? found.find((s) => s.metadata?.name === secretObjectName(scope)) ?? found[0];
    if (target?.metadata?.name) {
      await this.core.patchNamespacedSecret({ name: target.metadata.name, namespace: this.namespace, body: { data } }, merge);
      return;
    }
    const labels: Record<string, string> = { [OWNER_LABEL]: scope.owner, "app.kubernetes.io/part-of": "yaci" };
    if (scope.repo !== undefined) labels[REPO_LABEL] = repoLabel(scope.repo);
    const body: V1Secret = {
      apiVersion: "v1",
      kind: "Secret",
      type: "Opaque",
      metadata: { name: secretObjectName(scope), labels, ...(scope.repo !== undefined ? { annotations: { [REPO_ANNOTATION]: scope.repo } } : {}) },
      data,
    };
    try {
      await this.core.createNamespacedSecret({ namespace: this.namespace, body });
    } catch (err) {
      if (httpStatusOf(err) !== 409) throw err;
      // Made meanwhile by another `yaci secret set`: add to it.
      await this.core.patchNamespacedSecret({ name: body.metadata!.name!, namespace: this.namespace, body: { data } }, merge);
    }
  }

  /** Deletes a secret from every Secret of the scope that has it (a Secret left empty goes too); false when none had it. */
  async delete(scope: SecretScope, name: string): Promise<boolean> {
    checkSecretName(name);
    let found = false;
    for (const s of await this.secretsOf(scope)) {
      if (s.data?.[name] === undefined) continue;
      found = true;
      const objectName = s.metadata!.name!;
      if (Object.keys(s.data).length === 1) await this.core.deleteNamespacedSecret({ name: objectName, namespace: this.namespace });
      else await this.core.patchNamespacedSecret({ name: objectName, namespace: this.namespace, body: { data: { [name]: null } } }, merge);
    }
    return found;
  }

  /**
   * The job's secrets (none when it names none or they are withheld): one LIST by owner label; a
   * repository's Secret wins over the owner's. Throws an Error naming each missing secret, the
   * namespace and the label selector it looked in.
   */
  async forRun(spec: RunSpec, retry?: Retry): Promise<JobSecrets> {
    const out: JobSecrets = { refs: {}, values: [] };
    if (!spec.secrets?.length || spec.secretsWithheld) return out;
    const scope = scopeOf(spec.key.owner, spec.key.repo);
    let secrets: V1Secret[];
    try {
      secrets = await this.listOwner(scope.owner, retry);
    } catch (err) {
      throw new Error(`could not list the Secrets labelled ${OWNER_LABEL}=${scope.owner} in namespace "${this.namespace}": ${apiMessage(err)}`);
    }
    const repoSecrets = secrets.filter((s) => repoOf(s) === scope.repo);
    const ownerSecrets = secrets.filter((s) => repoOf(s) === undefined);
    const missing: string[] = [];
    for (const name of spec.secrets) {
      const s = repoSecrets.find((x) => x.data?.[name] !== undefined) ?? ownerSecrets.find((x) => x.data?.[name] !== undefined);
      if (!s) {
        missing.push(name);
        continue;
      }
      out.refs[name] = { secretKeyRef: { name: s.metadata!.name!, key: name } };
      out.values.push(Buffer.from(s.data![name]!, "base64").toString("utf8"));
    }
    if (missing.length) {
      const what = missing.length === 1 ? `secret ${missing[0]} does not exist` : `secrets ${missing.join(", ")} do not exist`;
      throw new Error(
        `${what}: looked for in the Secrets labelled ${OWNER_LABEL}=${scope.owner} (with ${REPO_LABEL}=${repoLabel(scope.repo!)} for the repository, without ${REPO_LABEL} for the owner) in namespace "${this.namespace}"`,
      );
    }
    return out;
  }

  /** Every Secret of an owner, its repositories' included: one LIST. */
  private async listOwner(owner: string, retry: Retry = (fn) => fn()): Promise<V1Secret[]> {
    const list = await retry(() => this.core.listNamespacedSecret({ namespace: this.namespace, labelSelector: `${OWNER_LABEL}=${owner}` }));
    return list.items.sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
  }
}
