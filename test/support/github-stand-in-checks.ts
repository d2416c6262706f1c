import { notFound, type CheckRunRecord, type GitHubState, type Reply, type Route, type RouteContext } from "./github-stand-in-state.js";

/**
 * Check runs, with the limits GitHub enforces beyond the OpenAPI schema. Every write is kept
 * in the run's `history`; annotations accumulate across writes like on GitHub.
 */

interface CheckRunBody {
  name?: string;
  head_sha?: string;
  details_url?: string;
  external_id?: string;
  status?: string;
  conclusion?: string;
  started_at?: string;
  completed_at?: string;
  output?: { title?: string; summary?: string; text?: string; annotations?: Array<Record<string, unknown>> };
  actions?: Array<{ label?: string; identifier?: string; description?: string }>;
}

/** GitHub's extra rules (422 on GitHub), checked on top of the OpenAPI schema. */
export function checkRunLimits(body: CheckRunBody, existing?: CheckRunRecord): string[] {
  const errors: string[] = [];
  for (const field of ["summary", "text"] as const) {
    const value = body.output?.[field];
    if (typeof value === "string" && value.length > 65535) {
      errors.push(`output.${field}: Only 65535 characters are allowed; ${value.length} were supplied.`);
    }
  }
  const annotations = body.output?.annotations ?? [];
  if (annotations.length > 50) errors.push(`output.annotations: at most 50 annotations per request; ${annotations.length} were supplied.`);
  annotations.forEach((a, i) => {
    if ((a.start_column !== undefined || a.end_column !== undefined) && a.start_line !== a.end_line) {
      errors.push(`output.annotations[${i}]: start_column and end_column are only allowed when start_line equals end_line.`);
    }
  });
  const actions = body.actions ?? [];
  if (actions.length > 3) errors.push(`actions: at most 3 actions; ${actions.length} were supplied.`);
  actions.forEach((a, i) => {
    if ((a.label?.length ?? 0) > 20) errors.push(`actions[${i}].label is too long (maximum is 20 characters)`);
    if ((a.identifier?.length ?? 0) > 20) errors.push(`actions[${i}].identifier is too long (maximum is 20 characters)`);
    if ((a.description?.length ?? 0) > 40) errors.push(`actions[${i}].description is too long (maximum is 40 characters)`);
  });
  const conclusion = body.conclusion ?? (body.status === undefined || body.status === "completed" ? existing?.conclusion : undefined);
  if ((body.status === "completed" || body.completed_at !== undefined) && !conclusion) {
    errors.push("conclusion is required when status is completed (or completed_at is given).");
  }
  if (body.conclusion === "stale") errors.push("conclusion: stale can only be set by GitHub.");
  if (conclusion === "action_required" && !(body.details_url ?? existing?.details_url)) {
    errors.push("details_url is required when conclusion is action_required.");
  }
  return errors;
}

export function checkRunJson(s: GitHubState, run: CheckRunRecord) {
  const url = `${s.baseUrl}/repos/${run.owner}/${run.repo}/check-runs/${run.id}`;
  return {
    id: run.id,
    node_id: `CR_${run.id}`,
    head_sha: run.head_sha,
    external_id: run.external_id,
    url,
    html_url: `https://github.com/${run.owner}/${run.repo}/runs/${run.id}`,
    details_url: run.details_url,
    status: run.status,
    conclusion: run.conclusion,
    started_at: run.started_at,
    completed_at: run.completed_at,
    output: { ...run.output, annotations_count: run.annotations.length, annotations_url: `${url}/annotations` },
    name: run.name,
    check_suite: { id: run.check_suite_id },
    app: { id: Number(s.appId), slug: "yaci", name: "YACI" },
    pull_requests: [],
  };
}

const sameRepo = (ctx: RouteContext) => (r: CheckRunRecord) =>
  r.owner.toLowerCase() === ctx.params.owner!.toLowerCase() && r.repo.toLowerCase() === ctx.params.repo!.toLowerCase();

function create(ctx: RouteContext): Reply {
  const s = ctx.standIn;
  const body = ctx.body as CheckRunBody & { name: string; head_sha: string };
  const errors = checkRunLimits(body);
  if (errors.length > 0) return ctx.invalid(errors);
  const { owner, repo } = ctx.params as { owner: string; repo: string };
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  const status = body.conclusion ? "completed" : (body.status ?? "queued");
  const suite = s.checkRuns.find((r) => sameRepo(ctx)(r) && r.head_sha === body.head_sha)?.check_suite_id ?? s.nextId();
  const run: CheckRunRecord = {
    id: s.nextId(),
    owner,
    repo,
    head_sha: body.head_sha,
    name: body.name,
    status,
    conclusion: body.conclusion ?? null,
    details_url: body.details_url ?? null,
    external_id: body.external_id ?? null,
    started_at: body.started_at ?? now,
    completed_at: status === "completed" ? (body.completed_at ?? now) : null,
    output: { title: body.output?.title ?? null, summary: body.output?.summary ?? null, text: body.output?.text ?? null },
    annotations: [...(body.output?.annotations ?? [])],
    actions: body.actions ?? [],
    check_suite_id: suite,
    history: [structuredClone(ctx.body) as Record<string, unknown>],
    created_at: now,
    updated_at: now,
  };
  s.checkRuns.push(run);
  return { status: 201, body: checkRunJson(s, run) };
}

function update(ctx: RouteContext): Reply {
  const s = ctx.standIn;
  const run = s.checkRuns.filter(sameRepo(ctx)).find((r) => r.id === Number(ctx.params.check_run_id));
  if (!run) return notFound();
  const body = ctx.body as CheckRunBody;
  const errors = checkRunLimits(body, run);
  if (errors.length > 0) return ctx.invalid(errors);
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  if (body.name !== undefined) run.name = body.name;
  if (body.details_url !== undefined) run.details_url = body.details_url;
  if (body.external_id !== undefined) run.external_id = body.external_id;
  if (body.started_at !== undefined) run.started_at = body.started_at;
  if (body.conclusion !== undefined) {
    run.conclusion = body.conclusion;
    run.status = "completed";
    run.completed_at = body.completed_at ?? run.completed_at ?? now;
  } else if (body.status !== undefined) {
    run.status = body.status;
    if (body.status === "completed") run.completed_at = body.completed_at ?? run.completed_at ?? now;
    else {
      run.conclusion = null;
      run.completed_at = null;
    }
  }
  if (body.output) {
    for (const field of ["title", "summary", "text"] as const) {
      if (body.output[field] !== undefined) run.output[field] = body.output[field];
    }
    run.annotations.push(...(body.output.annotations ?? []));
  }
  if (body.actions !== undefined) run.actions = body.actions;
  run.history.push(structuredClone(ctx.body) as Record<string, unknown>);
  run.updated_at = now;
  return { status: 200, body: checkRunJson(s, run) };
}

function list(ctx: RouteContext, runs: CheckRunRecord[]): Reply {
  const name = ctx.query.get("check_name");
  const status = ctx.query.get("status");
  let selected = runs.filter((r) => (!name || r.name === name) && (!status || r.status === status));
  if ((ctx.query.get("filter") ?? "latest") === "latest") {
    selected = selected.filter((r) => !selected.some((o) => o.name === r.name && o.id > r.id));
  }
  selected.sort((a, b) => b.id - a.id);
  const perPage = Math.min(100, Number(ctx.query.get("per_page") ?? 30));
  const page = Math.max(1, Number(ctx.query.get("page") ?? 1));
  const slice = selected.slice((page - 1) * perPage, page * perPage);
  return { status: 200, body: { total_count: selected.length, check_runs: slice.map((r) => checkRunJson(ctx.standIn, r)) } };
}

export function checkRoutes(): Route[] {
  return [
    { method: "POST", pattern: "/repos/:owner/:repo/check-runs", auth: "token", permission: { checks: "write" }, handler: create },
    { method: "PATCH", pattern: "/repos/:owner/:repo/check-runs/:check_run_id", auth: "token", permission: { checks: "write" }, handler: update },
    {
      method: "GET",
      pattern: "/repos/:owner/:repo/check-runs/:check_run_id",
      auth: "token",
      permission: { checks: "read" },
      handler: (ctx) => {
        const run = ctx.standIn.checkRuns.filter(sameRepo(ctx)).find((r) => r.id === Number(ctx.params.check_run_id));
        return run ? { status: 200, body: checkRunJson(ctx.standIn, run) } : notFound();
      },
    },
    {
      method: "GET",
      pattern: "/repos/:owner/:repo/check-runs/:check_run_id/annotations",
      auth: "token",
      permission: { checks: "read" },
      handler: (ctx) => {
        const run = ctx.standIn.checkRuns.filter(sameRepo(ctx)).find((r) => r.id === Number(ctx.params.check_run_id));
        return run ? { status: 200, body: run.annotations } : notFound();
      },
    },
    {
      method: "GET",
      pattern: "/repos/:owner/:repo/commits/:ref/check-runs",
      auth: "token",
      permission: { checks: "read" },
      handler: (ctx) => {
        const sha = ctx.standIn.resolveRef(ctx.params.owner!, ctx.params.repo!, ctx.params.ref) ?? ctx.params.ref;
        return list(ctx, ctx.standIn.checkRuns.filter(sameRepo(ctx)).filter((r) => r.head_sha === sha));
      },
    },
    {
      method: "GET",
      pattern: "/repos/:owner/:repo/check-suites/:check_suite_id/check-runs",
      auth: "token",
      permission: { checks: "read" },
      handler: (ctx) => list(ctx, ctx.standIn.checkRuns.filter(sameRepo(ctx)).filter((r) => r.check_suite_id === Number(ctx.params.check_suite_id))),
    },
  ];
}
