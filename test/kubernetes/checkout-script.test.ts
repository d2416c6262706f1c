/**
 * Runs the init container's checkout script for real (sh + wget + tar, as in alpine) against a
 * GitHub-like tarball endpoint on loopback: the script must send the token, follow the redirect
 * to the download host, strip the top directory, and never print the token.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHECKOUT_SCRIPT, WORKSPACE } from "../../src/executors/kubernetes/job-manifest.js";
import { buildTarball } from "../support/tarball.js";

const TOKEN = "ghs_checkoutTOKENcheckoutTOKEN0123456789";
const SHA = "0123456789abcdef0123456789abcdef01234567";

let server: Server;
let base = "";
const seen: Array<{ path: string; auth?: string }> = [];

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const p = join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

beforeAll(async () => {
  const tarball = buildTarball(`octo-org-hello-world-${SHA.slice(0, 7)}`, SHA, [
    { path: "README.md", content: Buffer.from("# hello\n") },
    { path: "src/index.js", content: Buffer.from("console.log('hi')\n") },
    { path: "bin/run.sh", content: Buffer.from("#!/bin/sh\necho run\n"), mode: 0o755 },
  ]);
  server = createServer((req, res) => {
    seen.push({ path: req.url ?? "", ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
    if (req.url === `/api/v3/repos/octo-org/hello-world/tarball/${SHA}`) {
      if (req.headers.authorization !== `token ${TOKEN}`) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end('{"message":"Not Found"}');
        return;
      }
      // Like GitHub: a redirect to the download host, with its own short-lived token in the URL.
      res.writeHead(302, { location: `${base}/codeload/octo-org/hello-world/legacy.tar.gz/${SHA}?token=CODELOAD` });
      res.end();
      return;
    }
    if (req.url?.startsWith(`/codeload/octo-org/hello-world/legacy.tar.gz/${SHA}`)) {
      res.writeHead(200, { "content-type": "application/x-gzip", "content-length": tarball.length });
      res.end(tarball);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

interface Variant {
  name: string;
  sh: string;
  path: string;
  /** Tools this variant needs that the machine lacks: its tests fail (never skip) saying so. */
  missing: string[];
}

function variants(): Variant[] {
  const host = ["sh", "wget", "tar", "gzip", "rm"].filter((t) => !which(t));
  const out: Variant[] = [{ name: "sh, wget and tar of this machine", sh: "sh", path: process.env.PATH ?? "", missing: host }];
  // The production image's userland (alpine): busybox applets only. Required: .ci/run installs
  // Debian's `busybox`; without it this variant fails rather than quietly testing less.
  const busybox = which("busybox");
  const bin = mkdtempSync(join(tmpdir(), "yaci-busybox-"));
  if (busybox) for (const applet of ["sh", "wget", "tar", "rm", "echo", "gzip"]) symlinkSync(busybox, join(bin, applet));
  out.push({ name: "busybox (as in alpine)", sh: join(bin, "sh"), path: bin, missing: busybox ? [] : ["busybox"] });
  return out;
}

function requireTools(v: Variant): void {
  if (v.missing.length > 0) throw new Error(`${v.name}: ${v.missing.join(", ")} not found on PATH; install it (apt-get install ${v.missing.join(" ")}, as .ci/run does)`);
}

function runScript(v: Variant, workspace: string, token: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = CHECKOUT_SCRIPT.split(WORKSPACE).join(workspace);
  return new Promise((resolve) => {
    execFile(
      v.sh,
      ["-ec", script],
      {
        cwd: workspace,
        env: {
          PATH: v.path,
          YACI_CHECKOUT_TOKEN: token,
          YACI_TARBALL_URL: `${base}/api/v3/repos/octo-org/hello-world/tarball/${SHA}`,
          YACI_REPOSITORY: "octo-org/hello-world",
          YACI_SHA: SHA,
        },
        timeout: 20_000,
      },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe.each(variants())("the checkout script with $name", (v) => {
  it("downloads with the token, follows the redirect, strips the top directory, prints no token", async () => {
    requireTools(v);
    const ws = mkdtempSync(join(tmpdir(), "yaci-ws-"));
    try {
      seen.length = 0;
      const r = await runScript(v, ws, TOKEN);
      expect(r.stderr.replace(/^tar: .*(pax|header).*\n/gm, ""), r.stderr).not.toMatch(/error/i);
      expect(r.code).toBe(0);
      expect(readFileSync(join(ws, "README.md"), "utf8")).toBe("# hello\n");
      expect(readFileSync(join(ws, "src", "index.js"), "utf8")).toBe("console.log('hi')\n");
      expect(existsSync(join(ws, ".yaci-checkout.tar.gz"))).toBe(false);
      expect(r.stdout).toContain(`yaci: checked out octo-org/hello-world at ${SHA}`);
      expect(r.stdout + r.stderr).not.toContain(TOKEN);
      expect(seen[0]).toEqual({ path: `/api/v3/repos/octo-org/hello-world/tarball/${SHA}`, auth: `token ${TOKEN}` });
      expect(seen.some((s) => s.path.startsWith("/codeload/"))).toBe(true);
    } finally {
      rmSync(ws, { recursive: true, force: true });
    }
  });

  it("a refused download fails with a message naming the repository, not the token", async () => {
    requireTools(v);
    const ws = mkdtempSync(join(tmpdir(), "yaci-ws-"));
    mkdirSync(ws, { recursive: true });
    try {
      const wrong = "ghs_WRONGwrongWRONGwrong0123456789abcdef";
      const r = await runScript(v, ws, wrong);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("yaci: could not download octo-org/hello-world at");
      expect(r.stdout + r.stderr).not.toContain(wrong);
    } finally {
      rmSync(ws, { recursive: true, force: true });
    }
  });
});
