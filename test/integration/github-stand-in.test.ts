import { createServer, type Server } from "node:http";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Octokit } from "@octokit/rest";
import { createAppAuth } from "@octokit/auth-app";
import { verify } from "@octokit/webhooks-methods";
import { x as untar } from "tar";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { TEST_APP_ID, TEST_PRIVATE_KEY } from "../support/test-app-keys.js";
import { loadExample, sendWebhook, withInstallation } from "../support/webhooks.js";

const OWNER = "octo-org";
const REPO = "hello";
const SHA = "0123456789abcdef0123456789abcdef01234567";
const INSTALLATION = 4242;

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let gh: GitHubStandIn;
let app: Octokit;

/** An Octokit authenticated as installation INSTALLATION with a token limited as asked. */
async function installationOctokit(permissions: Record<string, "read" | "write">, repositoryNames = [REPO]): Promise<Octokit> {
  const auth = (await app.auth({ type: "installation", installationId: INSTALLATION, repositoryNames, permissions, refresh: true })) as { token: string };
  return new Octokit({ baseUrl: gh.baseUrl, log: quiet, auth: auth.token });
}

async function status(p: Promise<unknown>): Promise<number> {
  return p.then(
    () => 200,
    (e: { status?: number }) => e.status ?? -1,
  );
}

beforeAll(async () => {
  gh = await startGitHubStandIn();
  gh.addInstallation(INSTALLATION, { account: OWNER });
  gh.setFiles(OWNER, REPO, SHA, {
    ".yaci.yml": "jobs:\n  test:\n    run: npm test\n",
    "src/index.js": "console.log('hi');\n",
  });
  gh.setFile(OWNER, REPO, SHA, "scripts/build.sh", "#!/bin/sh\necho build\n", { mode: 0o755 });
  gh.setRef(OWNER, REPO, "main", SHA);
  app = new Octokit({ baseUrl: gh.baseUrl, log: quiet, authStrategy: createAppAuth, auth: { appId: TEST_APP_ID, privateKey: TEST_PRIVATE_KEY } });
});

afterAll(async () => {
  await gh.close();
});

describe("GitHub stand-in", () => {
  it("mints installation tokens scoped as requested, for a JWT signed with the app key only", async () => {
    const octokit = await installationOctokit({ contents: "read" });
    const token = gh.tokens.at(-1)!;
    expect(token).toMatchObject({ installationId: INSTALLATION, permissions: { contents: "read", metadata: "read" }, repositories: [REPO] });
    expect(gh.requests.at(-1)!.headers.authorization).toMatch(/^bearer ey/i);
    expect((await octokit.rest.repos.get({ owner: OWNER, repo: REPO })).status).toBe(200);

    const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
    const impostor = new Octokit({ baseUrl: gh.baseUrl, log: quiet, authStrategy: createAppAuth, auth: { appId: TEST_APP_ID, privateKey: otherKey } });
    expect(await status(impostor.auth({ type: "installation", installationId: INSTALLATION }))).toBe(401);
    expect(await status(app.auth({ type: "installation", installationId: INSTALLATION, permissions: { administration: "write" } }))).toBe(422);
  });

  it("serves files at a SHA as base64 JSON or raw, 404 when absent", async () => {
    const octokit = await installationOctokit({ contents: "read" });
    const { data } = await octokit.rest.repos.getContent({ owner: OWNER, repo: REPO, path: ".yaci.yml", ref: SHA });
    expect(data).toMatchObject({ type: "file", encoding: "base64", path: ".yaci.yml" });
    const content = Buffer.from((data as { content: string }).content, "base64").toString("utf8");
    expect(content).toBe("jobs:\n  test:\n    run: npm test\n");

    const raw = await octokit.rest.repos.getContent({ owner: OWNER, repo: REPO, path: "src/index.js", ref: SHA, mediaType: { format: "raw" } });
    expect(raw.data as unknown).toBe("console.log('hi');\n");

    const dir = await octokit.rest.repos.getContent({ owner: OWNER, repo: REPO, path: "src", ref: SHA });
    expect((dir.data as Array<{ name: string }>).map((e) => e.name)).toEqual(["index.js"]);

    expect(await status(octokit.rest.repos.getContent({ owner: OWNER, repo: REPO, path: "missing.yml", ref: SHA }))).toBe(404);
    const res = await fetch(`${gh.baseUrl}/repos/${OWNER}/${REPO}/contents/missing.yml?ref=${SHA}`, { headers: { authorization: `token ${gh.tokens.at(-1)!.token}` } });
    expect(await res.json()).toMatchObject({ message: "Not Found" });
  });

  it("enforces token scope: other repositories 404, missing permissions 403", async () => {
    const octokit = await installationOctokit({ contents: "read" }, ["elsewhere"]);
    expect(await status(octokit.rest.repos.getContent({ owner: OWNER, repo: REPO, path: ".yaci.yml", ref: SHA }))).toBe(404);
    const readOnly = await installationOctokit({ contents: "read" });
    expect(await status(readOnly.rest.checks.create({ owner: OWNER, repo: REPO, name: "x", head_sha: SHA }))).toBe(403);
    expect(await status(new Octokit({ baseUrl: gh.baseUrl, log: quiet, auth: "ghs_bogus" }).rest.repos.get({ owner: OWNER, repo: REPO }))).toBe(401);
  });

  it("serves a gzipped tarball with GitHub's layout and records the token that fetched it", async () => {
    const octokit = await installationOctokit({ contents: "read" });
    const { data } = await octokit.rest.repos.downloadTarballArchive({ owner: OWNER, repo: REPO, ref: SHA });
    const dir = mkdtempSync(join(tmpdir(), "stand-in-tar-"));
    try {
      writeFileSync(join(dir, "repo.tar.gz"), Buffer.from(data as ArrayBuffer));
      await untar({ file: join(dir, "repo.tar.gz"), cwd: dir });
      const top = `${OWNER}-${REPO}-${SHA.slice(0, 7)}`;
      expect(readdirSync(dir).sort()).toEqual([top, "repo.tar.gz"]);
      expect(readFileSync(join(dir, top, ".yaci.yml"), "utf8")).toContain("npm test");
      expect(readFileSync(join(dir, top, "src/index.js"), "utf8")).toBe("console.log('hi');\n");
      expect(statSync(join(dir, top, "scripts/build.sh")).mode & 0o111).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const download = gh.tarballDownloads.at(-1)!;
    expect(download).toMatchObject({ owner: OWNER, repo: REPO, sha: SHA });
    expect(download.token.permissions).toEqual({ contents: "read", metadata: "read" });
    expect(download.token.repositories).toEqual([REPO]);
  });

  it("creates, updates and reads back check runs, keeping the history", async () => {
    const octokit = await installationOctokit({ checks: "write" });
    const created = await octokit.rest.checks.create({ owner: OWNER, repo: REPO, name: "yaci / test", head_sha: SHA, status: "in_progress", external_id: "run-1" });
    expect(created.status).toBe(201);
    await octokit.rest.checks.update({
      owner: OWNER,
      repo: REPO,
      check_run_id: created.data.id,
      conclusion: "failure",
      output: { title: "1 failed", summary: "see log", annotations: [{ path: "src/index.js", start_line: 1, end_line: 1, annotation_level: "failure", message: "boom" }] },
    });
    const { data } = await octokit.rest.checks.get({ owner: OWNER, repo: REPO, check_run_id: created.data.id });
    expect(data).toMatchObject({ status: "completed", conclusion: "failure", name: "yaci / test", output: { title: "1 failed", annotations_count: 1 } });
    const run = gh.checkRun(created.data.id)!;
    expect(run.history.map((h) => h.status ?? h.conclusion)).toEqual(["in_progress", "failure"]);
    expect(gh.checkRunsFor(OWNER, REPO, SHA).map((r) => r.id)).toContain(created.data.id);

    const listed = await octokit.rest.checks.listForRef({ owner: OWNER, repo: REPO, ref: SHA, check_name: "yaci / test" });
    expect(listed.data.check_runs.map((r) => r.id)).toEqual([created.data.id]);
    const suite = await octokit.rest.checks.listForSuite({ owner: OWNER, repo: REPO, check_suite_id: run.check_suite_id });
    expect(suite.data.total_count).toBeGreaterThanOrEqual(1);
  });

  it("rejects what GitHub rejects with 422 and records the violations", async () => {
    const octokit = await installationOctokit({ checks: "write" });
    const before = gh.violations.length;
    const base = { owner: OWNER, repo: REPO, name: "bad", head_sha: SHA };
    expect(await status(octokit.rest.checks.create({ ...base, output: { title: "t", summary: "x".repeat(65536) } }))).toBe(422);
    expect(await status(octokit.rest.checks.create({ ...base, status: "completed" }))).toBe(422);
    expect(await status(octokit.request("POST /repos/{owner}/{repo}/check-runs", { ...base, status: "bogus" } as never))).toBe(422);
    expect(await status(octokit.rest.checks.create({ ...base, conclusion: "action_required" }))).toBe(422);
    const tooMany = { label: "a", identifier: "b", description: "c" };
    expect(await status(octokit.rest.checks.create({ ...base, actions: [tooMany, tooMany, tooMany, tooMany] }))).toBe(422);
    expect(await status(octokit.rest.checks.create({ ...base, actions: [{ ...tooMany, label: "l".repeat(21) }] }))).toBe(422);
    const violations = gh.violations.slice(before);
    expect(violations).toHaveLength(6);
    expect(violations[2]!.errors.join()).toContain("/status must be equal to one of the allowed values");
    expect(gh.checkRuns.filter((r) => r.name === "bad")).toEqual([]);
  });

  it("injects faults: a secondary rate limit once, then success", async () => {
    const octokit = await installationOctokit({ checks: "write" });
    gh.secondaryRateLimit({ method: "POST", pathPattern: "/check-runs", retryAfter: 1 });
    const first = await octokit.rest.checks.create({ owner: OWNER, repo: REPO, name: "retry", head_sha: SHA }).catch((e: unknown) => e);
    expect(first).toMatchObject({ status: 403, response: { headers: { "retry-after": "1" } } });
    expect((first as { message: string }).message).toContain("secondary rate limit");
    const second = await octokit.rest.checks.create({ owner: OWNER, repo: REPO, name: "retry", head_sha: SHA });
    expect(second.status).toBe(201);
    expect(second.headers["x-ratelimit-remaining"]).toBeDefined();
    expect(gh.requestsTo("POST", "/check-runs").filter((r) => r.faulted)).toHaveLength(1);

    gh.failNext({ pathPattern: /\/statuses\//, status: 500, times: 2 });
    const post = () => octokit.request("POST /repos/{owner}/{repo}/statuses/{sha}", { owner: OWNER, repo: REPO, sha: SHA, state: "pending" });
    expect(await status(post())).toBe(500);
    expect(await status(post())).toBe(500);
    expect(await status(post())).toBe(403); // token lacks statuses: write
  });

  it("records unknown routes", async () => {
    const res = await fetch(`${gh.baseUrl}/nope/nothing`);
    expect(res.status).toBe(404);
    expect(gh.unhandled.map((r) => r.path)).toContain("/nope/nothing");
  });

  describe("webhooks", () => {
    let server: Server;
    let received: Array<{ headers: Record<string, string | string[] | undefined>; valid: boolean; body: string }>;
    let url: string;

    beforeAll(async () => {
      received = [];
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          void verify("s3cret", body, String(req.headers["x-hub-signature-256"])).then((valid) => {
            received.push({ headers: req.headers, valid, body });
            res.writeHead(valid ? 200 : 400).end();
          });
        });
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
    });

    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it("signs deliveries so that @octokit/webhooks-methods verifies them", async () => {
      const example = loadExample("pull_request", (p) => p.action === "opened");
      const payload = withInstallation(example, INSTALLATION);
      expect(await sendWebhook(url, { event: "pull_request", payload, secret: "s3cret", deliveryId: "d-1" })).toBe(200);
      expect(await sendWebhook(url, { event: "pull_request", payload, secret: "s3cret", badSignature: true })).toBe(400);
      expect(received.map((r) => [r.headers["x-github-event"], r.valid])).toEqual([
        ["pull_request", true],
        ["pull_request", false],
      ]);
      expect(received[0]!.headers["x-github-delivery"]).toBe("d-1");
      // What arrived is the real example, with the installation an app is sent (as GitHub does).
      const delivered = JSON.parse(received[0]!.body);
      expect(delivered.installation).toEqual({ id: 4242, node_id: Buffer.from("Installation4242").toString("base64") });
      expect({ ...delivered, installation: undefined }).toEqual({ ...example, installation: undefined });
      expect(received[0]!.headers["x-github-hook-installation-target-id"]).toBe(String(TEST_APP_ID));
    });

    it("lists deliveries to the app JWT and redelivers with the same delivery id", async () => {
      gh.setWebhookTarget(url, "s3cret");
      const push = loadExample("push", (p) => p.installation !== undefined);
      const failed = gh.addDelivery({ event: "push", payload: push, status_code: 502 });
      const listed = await app.request("GET /app/hook/deliveries", { per_page: 10 });
      expect(listed.data.map((d) => d.guid)).toContain(failed.guid);
      expect(listed.data[0]).not.toHaveProperty("payload");
      const count = received.length;
      await app.request("POST /app/hook/deliveries/{delivery_id}/attempts", { delivery_id: failed.id });
      await waitFor(() => received.length > count, { timeoutMs: 5000 });
      expect(received.at(-1)!.headers["x-github-delivery"]).toBe(failed.guid);
      await waitFor(() => gh.redeliveryAttempts.at(-1)?.status === 200);
      expect(gh.deliveries.at(-1)).toMatchObject({ guid: failed.guid, redelivery: true, status_code: 200 });
    });
  });
});
