import { createHash, randomBytes } from "node:crypto";
import { DOCS, notFound, type Reply, type Route, type RouteContext, type StatusRecord } from "./github-stand-in-state.js";
import { buildTarball } from "./tarball.js";

/** Repository routes: contents, tarball (+ codeload), statuses, comments, reactions, permissions, pulls. */

const blobSha = (content: Buffer) => createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");

/** The contents API's JSON answer includes a file's content up to 1 MB. */
const CONTENTS_JSON_MAX_BYTES = 1024 * 1024;

function contents(ctx: RouteContext): Reply {
  const s = ctx.standIn;
  const { owner, repo } = ctx.params as { owner: string; repo: string };
  const path = (ctx.params.path ?? "").replace(/\/+$/, "");
  const ref = ctx.query.get("ref") ?? undefined;
  const sha = s.resolveRef(owner, repo, ref);
  const files = sha ? s.commitFiles(owner, repo, sha) : undefined;
  if (!sha || !files) return { status: 404, body: { message: `No commit found for the ref ${ref ?? "(default branch)"}`, documentation_url: DOCS, status: "404" } };
  const base = `${s.baseUrl}/repos/${owner}/${repo}`;
  const entry = (p: string, type: "file" | "dir", size: number, blob: string) => ({
    type,
    name: p.split("/").pop()!,
    path: p,
    sha: blob,
    size,
    url: `${base}/contents/${p}?ref=${ref ?? sha}`,
    git_url: `${base}/git/${type === "file" ? "blobs" : "trees"}/${blob}`,
    html_url: `https://github.com/${owner}/${repo}/${type === "file" ? "blob" : "tree"}/${ref ?? sha}/${p}`,
    download_url: type === "file" ? `${s.origin}/_raw/${owner}/${repo}/${sha}/${p}` : null,
  });
  const file = files.get(path);
  const accept = String(ctx.headers.accept ?? "");
  if (file) {
    if (/vnd\.github(\.v3)?\.raw/.test(accept)) {
      return { status: 200, raw: file.content, headers: { "content-type": "text/plain; charset=utf-8" } };
    }
    // Like GitHub: past 1 MB the JSON answer carries no content (`encoding: "none"`); the raw
    // media type (`application/vnd.github.raw+json`) still returns the bytes, up to 100 MB.
    if (file.content.length > CONTENTS_JSON_MAX_BYTES) {
      return { status: 200, body: { ...entry(path, "file", file.content.length, blobSha(file.content)), encoding: "none", content: "" } };
    }
    const b64 = file.content.toString("base64").replace(/.{60}/g, "$&\n");
    return { status: 200, body: { ...entry(path, "file", file.content.length, blobSha(file.content)), encoding: "base64", content: `${b64}\n` } };
  }
  const prefix = path === "" ? "" : `${path}/`;
  const children = new Map<string, ReturnType<typeof entry>>();
  for (const [p, f] of files) {
    if (!p.startsWith(prefix)) continue;
    const [head, ...rest] = p.slice(prefix.length).split("/");
    const childPath = `${prefix}${head}`;
    if (rest.length === 0) children.set(childPath, entry(childPath, "file", f.content.length, blobSha(f.content)));
    else if (!children.has(childPath)) children.set(childPath, entry(childPath, "dir", 0, blobSha(Buffer.from(childPath))));
  }
  if (children.size === 0) return notFound();
  return { status: 200, body: [...children.values()].sort((a, b) => a.name.localeCompare(b.name)) };
}

function tarball(ctx: RouteContext): Reply {
  const s = ctx.standIn;
  const { owner, repo } = ctx.params as { owner: string; repo: string };
  const ref = ctx.params.ref || undefined;
  const sha = s.resolveRef(owner, repo, ref);
  if (!sha || !s.commitFiles(owner, repo, sha)) return notFound();
  s.tarballDownloads.push({ owner, repo, ref: ref ?? "", sha, token: ctx.token! });
  const oneTime = randomBytes(12).toString("hex");
  s.codeloadTokens.set(oneTime, { owner, repo, sha });
  // Like GitHub: a redirect to codeload with a short-lived token in the query.
  return { status: 302, headers: { location: `${s.origin}/_codeload/${owner}/${repo}/legacy.tar.gz/${sha}?token=${oneTime}` }, body: undefined };
}

function codeload(ctx: RouteContext): Reply {
  const s = ctx.standIn;
  const grant = s.codeloadTokens.get(ctx.query.get("token") ?? "");
  const { owner, repo, sha } = ctx.params as { owner: string; repo: string; sha: string };
  if (!grant || grant.sha !== sha || grant.repo !== repo || grant.owner !== owner) return notFound();
  const files = s.commitFiles(owner, repo, sha)!;
  const top = `${owner}-${repo}-${sha.slice(0, 7)}`;
  const data = buildTarball(top, sha, [...files].map(([path, f]) => ({ path, content: f.content, mode: f.mode })));
  return {
    status: 200,
    raw: data,
    headers: { "content-type": "application/x-gzip", "content-disposition": `attachment; filename=${top}.tar.gz` },
  };
}

function createStatus(ctx: RouteContext): Reply {
  const body = ctx.body as { state: string; target_url?: string | null; description?: string | null; context?: string };
  if (body.description && body.description.length > 140) return ctx.invalid(["description is too long (maximum is 140 characters)"]);
  const now = new Date().toISOString();
  const record: StatusRecord = {
    id: ctx.standIn.nextId(),
    owner: ctx.params.owner!,
    repo: ctx.params.repo!,
    sha: ctx.params.sha!,
    state: body.state,
    target_url: body.target_url ?? null,
    description: body.description ?? null,
    context: body.context ?? "default",
    created_at: now,
  };
  ctx.standIn.statuses.push(record);
  return { status: 201, body: { ...record, url: `${ctx.standIn.baseUrl}/repos/${record.owner}/${record.repo}/statuses/${record.sha}`, updated_at: now, creator: bot } };
}

const bot = { login: "yaci[bot]", id: 1, type: "Bot" };

function commentJson(ctx: RouteContext, c: { id: number; owner: string; repo: string; issue_number: number; body: string; created_at: string; updated_at: string }) {
  return {
    id: c.id,
    node_id: `IC_${c.id}`,
    body: c.body,
    user: bot,
    html_url: `https://github.com/${c.owner}/${c.repo}/issues/${c.issue_number}#issuecomment-${c.id}`,
    issue_url: `${ctx.standIn.baseUrl}/repos/${c.owner}/${c.repo}/issues/${c.issue_number}`,
    url: `${ctx.standIn.baseUrl}/repos/${c.owner}/${c.repo}/issues/comments/${c.id}`,
    created_at: c.created_at,
    updated_at: c.updated_at,
    author_association: "NONE",
  };
}

const tooLong = (body: unknown) => typeof (body as { body?: unknown }).body === "string" && (body as { body: string }).body.length > 65536;
const sameRepo = (ctx: RouteContext) => (c: { owner: string; repo: string }) =>
  c.owner.toLowerCase() === ctx.params.owner!.toLowerCase() && c.repo.toLowerCase() === ctx.params.repo!.toLowerCase();

const ISSUES_WRITE = { issues: "write", pull_requests: "write" } as const;
const ROLE_TO_PERMISSION: Record<string, string> = { admin: "admin", maintain: "write", write: "write", triage: "read", read: "read", none: "none" };

export function repoRoutes(): Route[] {
  return [
    {
      method: "GET",
      pattern: "/repos/:owner/:repo",
      auth: "token",
      permission: { metadata: "read" },
      handler: (ctx) => {
        const { owner, repo } = ctx.params as { owner: string; repo: string };
        const id = ctx.standIn.repoId(owner, repo);
        return { status: 200, body: { id, name: repo, full_name: `${owner}/${repo}`, owner: { login: owner }, private: true, default_branch: "main" } };
      },
    },
    { method: "GET", pattern: "/repos/:owner/:repo/contents/*path", auth: "token", permission: { contents: "read" }, handler: contents },
    { method: "GET", pattern: "/repos/:owner/:repo/tarball/*ref", auth: "token", permission: { contents: "read" }, handler: tarball },
    { method: "GET", pattern: "/repos/:owner/:repo/tarball", auth: "token", permission: { contents: "read" }, handler: tarball },
    { method: "GET", pattern: "/_codeload/:owner/:repo/legacy.tar.gz/:sha", auth: "none", outsideApi: true, handler: codeload },
    {
      method: "GET",
      pattern: "/_raw/:owner/:repo/:sha/*path",
      auth: "none",
      outsideApi: true,
      handler: (ctx) => {
        const file = ctx.standIn.commitFiles(ctx.params.owner!, ctx.params.repo!, ctx.params.sha!)?.get(ctx.params.path!);
        return file ? { status: 200, raw: file.content, headers: { "content-type": "text/plain; charset=utf-8" } } : notFound();
      },
    },
    { method: "POST", pattern: "/repos/:owner/:repo/statuses/:sha", auth: "token", permission: { statuses: "write" }, handler: createStatus },
    {
      method: "GET",
      pattern: "/repos/:owner/:repo/commits/:ref/statuses",
      auth: "token",
      permission: { statuses: "read" },
      handler: (ctx) => {
        const sha = ctx.standIn.resolveRef(ctx.params.owner!, ctx.params.repo!, ctx.params.ref) ?? ctx.params.ref;
        return { status: 200, body: ctx.standIn.statuses.filter(sameRepo(ctx)).filter((x) => x.sha === sha).reverse() };
      },
    },
    {
      method: "POST",
      pattern: "/repos/:owner/:repo/issues/:issue_number/comments",
      auth: "token",
      permission: ISSUES_WRITE,
      handler: (ctx) => {
        if (tooLong(ctx.body)) return ctx.invalid(["body is too long (maximum is 65536 characters)"]);
        const now = new Date().toISOString();
        const text = (ctx.body as { body: string }).body;
        const c = { id: ctx.standIn.nextId(), owner: ctx.params.owner!, repo: ctx.params.repo!, issue_number: Number(ctx.params.issue_number), body: text, history: [text], created_at: now, updated_at: now };
        ctx.standIn.comments.push(c);
        return { status: 201, body: commentJson(ctx, c) };
      },
    },
    {
      method: "GET",
      pattern: "/repos/:owner/:repo/issues/:issue_number/comments",
      auth: "token",
      permission: { issues: "read", pull_requests: "read" },
      handler: (ctx) => ({
        status: 200,
        body: ctx.standIn.comments.filter(sameRepo(ctx)).filter((c) => c.issue_number === Number(ctx.params.issue_number)).map((c) => commentJson(ctx, c)),
      }),
    },
    {
      method: "PATCH",
      pattern: "/repos/:owner/:repo/issues/comments/:comment_id",
      auth: "token",
      permission: ISSUES_WRITE,
      handler: (ctx) => {
        const c = ctx.standIn.comments.filter(sameRepo(ctx)).find((x) => x.id === Number(ctx.params.comment_id));
        if (!c) return notFound();
        if (tooLong(ctx.body)) return ctx.invalid(["body is too long (maximum is 65536 characters)"]);
        c.body = (ctx.body as { body: string }).body;
        c.history.push(c.body);
        c.updated_at = new Date().toISOString();
        return { status: 200, body: commentJson(ctx, c) };
      },
    },
    {
      method: "POST",
      pattern: "/repos/:owner/:repo/issues/comments/:comment_id/reactions",
      auth: "token",
      permission: ISSUES_WRITE,
      handler: (ctx) => {
        const content = (ctx.body as { content: string }).content;
        const r = { id: ctx.standIn.nextId(), owner: ctx.params.owner!, repo: ctx.params.repo!, comment_id: Number(ctx.params.comment_id), content };
        ctx.standIn.reactions.push(r);
        return { status: 201, body: { id: r.id, node_id: `REA_${r.id}`, user: bot, content, created_at: new Date().toISOString() } };
      },
    },
    {
      method: "GET",
      pattern: "/repos/:owner/:repo/collaborators/:username/permission",
      auth: "token",
      permission: { metadata: "read" },
      handler: (ctx) => {
        const role = ctx.standIn.permissionOf(ctx.params.owner!, ctx.params.repo!, ctx.params.username!);
        return { status: 200, body: { permission: ROLE_TO_PERMISSION[role] ?? "none", role_name: role, user: { login: ctx.params.username, type: "User" } } };
      },
    },
    {
      method: "GET",
      pattern: "/repos/:owner/:repo/pulls/:pull_number",
      auth: "token",
      permission: { pull_requests: "read" },
      handler: (ctx) => {
        const pr = ctx.standIn.pull(ctx.params.owner!, ctx.params.repo!, Number(ctx.params.pull_number));
        return pr ? { status: 200, body: pr } : notFound();
      },
    },
  ];
}
