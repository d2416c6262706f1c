import { randomBytes } from "node:crypto";
import { DOCS, notFound, type GitHubState, type InstallationRecord, type Route, type RouteContext, type TokenRecord } from "./github-stand-in-state.js";

/** App-level routes (JWT): installations, installation tokens, webhook deliveries; and /rate_limit. */

function installationJson(s: GitHubState, inst: InstallationRecord) {
  return {
    id: inst.id,
    app_id: Number(s.appId),
    app_slug: "yaci",
    target_type: "Organization",
    account: inst.account ? { login: inst.account, type: "Organization" } : null,
    repository_selection: inst.repositories ? "selected" : "all",
    permissions: inst.permissions,
    events: ["push", "pull_request", "check_run", "check_suite", "issue_comment"],
    created_at: "2024-01-01T00:00:00Z",
    updated_at: "2024-01-01T00:00:00Z",
    suspended_at: null,
  };
}

const unprocessable = (message: string) => ({ status: 422, body: { message, documentation_url: DOCS, status: "422" } });

function mintToken(ctx: RouteContext) {
  const s = ctx.standIn;
  const inst = s.installation(Number(ctx.params.installation_id));
  if (!inst) return notFound();
  const body = (ctx.body ?? {}) as { permissions?: Record<string, string>; repositories?: string[]; repository_ids?: number[] };
  const LEVEL: Record<string, number> = { read: 1, write: 2 };
  for (const [perm, level] of Object.entries(body.permissions ?? {})) {
    if ((LEVEL[inst.permissions[perm] ?? ""] ?? 0) < (LEVEL[level] ?? 0)) {
      return unprocessable("The permissions requested are not granted to this installation.");
    }
  }
  const owner = inst.account ?? "";
  const names = body.repositories;
  if (names && inst.repositories && names.some((n) => !inst.repositories!.some((r) => r.toLowerCase() === n.toLowerCase()))) {
    return unprocessable("There is at least one repository that does not exist or is not accessible to the parent installation.");
  }
  const now = Date.now();
  const token: TokenRecord = {
    token: `ghs_${randomBytes(18).toString("hex")}`,
    installationId: inst.id,
    // Like GitHub, every token may read metadata.
    permissions: body.permissions ? { metadata: "read", ...body.permissions } : { ...inst.permissions },
    repositories: names,
    repositoryIds: body.repository_ids,
    requested: ctx.body,
    createdAt: new Date(now),
    expiresAt: new Date(now + s.tokenTtlSeconds * 1000),
  };
  s.tokens.push(token);
  const scoped = Boolean(names || body.repository_ids);
  const repositories = scoped
    ? [
        ...(names ?? []).map((name) => ({ id: s.repoId(owner, name), name, full_name: `${owner}/${name}` })),
        ...(body.repository_ids ?? []).map((id) => ({ id, name: nameOfId(s, id), full_name: `${owner}/${nameOfId(s, id)}` })),
      ]
    : undefined;
  return {
    status: 201,
    body: {
      token: token.token,
      expires_at: token.expiresAt.toISOString().replace(/\.\d{3}Z$/, "Z"),
      permissions: token.permissions,
      repository_selection: scoped || inst.repositories ? "selected" : "all",
      ...(repositories ? { repositories } : {}),
    },
  };
}

function nameOfId(s: GitHubState, id: number): string {
  for (const [k, v] of s.repoIds) if (v === id) return k.split("/")[1]!;
  return `repo-${id}`;
}

function listDeliveries(ctx: RouteContext) {
  const s = ctx.standIn;
  const perPage = Math.min(100, Number(ctx.query.get("per_page") ?? 30));
  const newestFirst = [...s.deliveries].reverse();
  const cursor = ctx.query.get("cursor");
  const start = cursor ? Math.max(0, newestFirst.findIndex((d) => String(d.id) === cursor.replace(/^v1_/, ""))) : 0;
  const page = newestFirst.slice(start, start + perPage);
  const next = newestFirst[start + perPage];
  const headers: Record<string, string> = {};
  if (next) headers.link = `<${ctx.standIn.baseUrl}/app/hook/deliveries?per_page=${perPage}&cursor=v1_${next.id}>; rel="next"`;
  return { status: 200, headers, body: page.map(({ payload: _payload, ...d }) => d) };
}

function redeliver(ctx: RouteContext) {
  const s = ctx.standIn;
  const original = s.deliveries.find((d) => d.id === Number(ctx.params.delivery_id));
  if (!original) return notFound();
  const attempt: { deliveryId: number; guid: string; time: Date; status?: number } = { deliveryId: original.id, guid: original.guid, time: new Date() };
  s.redeliveryAttempts.push(attempt);
  if (s.webhookTarget && original.payload !== undefined) {
    void s.deliver(original.event, original.payload, { deliveryId: original.guid, redelivery: true }).then((d) => {
      attempt.status = d.status_code;
    });
  }
  return { status: 202, body: {} };
}

export function appRoutes(): Route[] {
  return [
    { method: "POST", pattern: "/app/installations/:installation_id/access_tokens", auth: "jwt", handler: mintToken },
    {
      method: "GET",
      pattern: "/app",
      auth: "jwt",
      handler: (ctx) => ({ status: 200, body: { id: Number(ctx.standIn.appId), slug: "yaci", name: "YACI", owner: { login: "yaci" } } }),
    },
    {
      method: "GET",
      pattern: "/app/installations/:installation_id",
      auth: "jwt",
      handler: (ctx) => {
        const inst = ctx.standIn.installation(Number(ctx.params.installation_id));
        return inst ? { status: 200, body: installationJson(ctx.standIn, inst) } : notFound();
      },
    },
    {
      method: "GET",
      pattern: "/repos/:owner/:repo/installation",
      auth: "jwt",
      handler: (ctx) => {
        const owner = ctx.params.owner!.toLowerCase();
        const live = [...ctx.standIn.installations.values()].filter((i) => !i.removed);
        const inst = live.find((i) => i.account?.toLowerCase() === owner) ?? live.find((i) => !i.account);
        return inst ? { status: 200, body: installationJson(ctx.standIn, inst) } : notFound();
      },
    },
    { method: "GET", pattern: "/app/hook/deliveries", auth: "jwt", handler: listDeliveries },
    {
      method: "GET",
      pattern: "/app/hook/deliveries/:delivery_id",
      auth: "jwt",
      handler: (ctx) => {
        const d = ctx.standIn.deliveries.find((x) => x.id === Number(ctx.params.delivery_id));
        if (!d) return notFound();
        const { payload, ...rest } = d;
        return {
          status: 200,
          body: { ...rest, url: "", request: { headers: { "X-GitHub-Event": d.event, "X-GitHub-Delivery": d.guid }, payload: payload ?? null }, response: { headers: {}, payload: "" } },
        };
      },
    },
    { method: "POST", pattern: "/app/hook/deliveries/:delivery_id/attempts", auth: "jwt", handler: redeliver },
    {
      method: "GET",
      pattern: "/rate_limit",
      auth: "none",
      handler: (ctx) => {
        const auth = ctx.token?.token ?? "anonymous";
        const limit = ctx.token ? ctx.standIn.rateLimit : 60;
        const used = ctx.standIn.rateUsedBy(auth);
        const core = { limit, used, remaining: Math.max(0, limit - used), reset: Math.floor(Date.now() / 1000) + 3600 };
        return { status: 200, body: { resources: { core }, rate: core } };
      },
    },
  ];
}
