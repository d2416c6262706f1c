import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export interface GitHttpServer {
  /** `http://127.0.0.1:PORT` — repositories are served as `/{owner}/{repo}.git`. */
  url: string;
  /** The Authorization headers git sent. */
  auths: string[];
  close(): Promise<void>;
}

/** A commit of `files` in a bare repository `root/owner/repo.git`; returns its SHA. */
export function makeRepo(root: string, owner: string, repo: string, files: Record<string, string>): string {
  const work = mkdtempSync(join(tmpdir(), "yaci-git-work-"));
  const env = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" };
  const git = (...args: string[]) => execFileSync("git", args, { cwd: work, env }).toString().trim();
  git("init", "-q");
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(work, path)), { recursive: true });
    writeFileSync(join(work, path), content);
  }
  git("add", "-A");
  git("commit", "-qm", "test");
  const bare = join(root, owner, `${repo}.git`);
  mkdirSync(dirname(bare), { recursive: true });
  execFileSync("git", ["clone", "-q", "--bare", work, bare]);
  execFileSync("git", ["config", "uploadpack.allowAnySHA1InWant", "true"], { cwd: bare });
  return git("rev-parse", "HEAD");
}

/** Git's smart HTTP protocol on loopback (`git http-backend` as CGI), requiring `token` as basic auth. */
export async function startGitHttpServer(root: string, token: string): Promise<GitHttpServer> {
  const auths: string[] = [];
  const expected = `Basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`;
  const server: Server = createServer((req, res) => {
    const auth = req.headers.authorization ?? "";
    auths.push(auth);
    if (auth !== expected) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="git"' }).end();
      return;
    }
    const url = new URL(req.url!, "http://x");
    const cgi = spawn("git", ["http-backend"], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method!,
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        HTTP_GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
        REMOTE_ADDR: "127.0.0.1",
      },
    });
    req.pipe(cgi.stdin);
    const chunks: Buffer[] = [];
    cgi.stdout.on("data", (c: Buffer) => chunks.push(c));
    cgi.on("close", () => {
      const out = Buffer.concat(chunks);
      const split = out.indexOf("\r\n\r\n");
      const head = out.subarray(0, split).toString();
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.split("\r\n")) {
        const [k, ...v] = line.split(":");
        if (k!.toLowerCase() === "status") status = Number(v.join(":").trim().split(" ")[0]);
        else headers[k!] = v.join(":").trim();
      }
      res.writeHead(status, headers).end(out.subarray(split + 4));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    auths,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
