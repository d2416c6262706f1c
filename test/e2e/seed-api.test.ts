import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { e2eBudget, startApp, STEP_MS, type AppProcess } from "../support/app-process.js";

const TOKEN = "e2e-api-token-0123456789abcdef0123456789";
const METRICS_TOKEN = "e2e-metrics-token-0123456789abcdef01234";
let github: GitHubStandIn;
let app: AppProcess;

beforeAll(async () => {
  github = await startGitHubStandIn();
  app = await startApp({ github, env: { YACI_API_TOKEN: TOKEN, YACI_METRICS_TOKEN: METRICS_TOKEN } });
});
afterAll(async () => {
  await app?.stop();
  await github?.close();
});

const auth = { authorization: `Bearer ${TOKEN}` };
/** Each API test: a few requests (10 s) and a run to its end (15 s, the waits below). */
const API_TEST = { timeout: e2eBudget({ requests: 10_000, finished: 15_000 }) };

/** `curl localhost:PORT/run -d 'CMD'` (form content type, raw body), as in the original session. */
async function run(command: string): Promise<string> {
  const res = await fetch(`${app.url}/run`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/x-www-form-urlencoded" },
    body: command,
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { name: string };
  expect(body.name).toMatch(/^yaci-run-/);
  return body.name;
}

async function get(id: string) {
  const res = await fetch(`${app.url}/get?id=${id}`, { headers: auth });
  expect(res.status).toBe(200);
  return (await res.json()) as { pod: string; status: string; log: string }[];
}

describe("the original /run + /get API on the real app (local executor)", () => {
  it("runs `echo great success` and shows it Succeeded with its log", API_TEST, async () => {
    const id = await run("echo great success");
    const [pod] = await waitFor(async () => {
      const pods = await get(id);
      return pods[0]?.status === "Succeeded" ? pods : undefined;
    }, { timeoutMs: 15_000 });
    expect(pod).toEqual({ pod: expect.any(String), status: "Succeeded", log: "great success\n" });
  });

  it("runs the command with `sh -c`, as the original did: only the last command's status counts", API_TEST, async () => {
    const id = await run("false; echo kept going");
    const [pod] = await waitFor(async () => {
      const pods = await get(id);
      return pods[0]?.status === "Succeeded" || pods[0]?.status === "Failed" ? pods : undefined;
    }, { timeoutMs: 15_000 });
    expect(pod).toMatchObject({ status: "Succeeded", log: "kept going\n" });
  });

  it("a failing command ends Failed with its log", API_TEST, async () => {
    const id = await run("echo about to fail; exit 4");
    const [pod] = await waitFor(async () => {
      const pods = await get(id);
      return pods[0]?.status === "Failed" ? pods : undefined;
    }, { timeoutMs: 15_000 });
    expect(pod!.log).toBe("about to fail\n");
  });

  it("refuses a missing token and never touches GitHub for API runs", API_TEST, async () => {
    const res = await fetch(`${app.url}/run`, { method: "POST", body: "echo hi" });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toBeTruthy();
    expect(github.requests.filter((r) => r.path.includes("check-runs"))).toEqual([]);
  });

  it("GET / says the app is up and which executor runs the jobs, but not its version", API_TEST, async () => {
    const res = await fetch(`${app.url}/`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("YACI is running");
    expect(html).toContain("<strong>local</strong> executor");
    expect(html).not.toMatch(/\d+\.\d+\.\d+/);
  });

  it("serves health, and Prometheus metrics behind YACI_METRICS_TOKEN, on the same port", API_TEST, async () => {
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
    const anonymous = await fetch(`${app.url}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).not.toContain("yaci_");
    const metrics = await (await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    expect(metrics).toMatch(/^yaci_runs_finished_total\{conclusion="success"\} [1-9]/m);
  });
});

describe("weak secrets stop the start", () => {
  it.each(["YACI_API_TOKEN", "YACI_LINK_SECRET", "YACI_METRICS_TOKEN"])("%s under 32 characters: exits with a message naming it", { timeout: e2eBudget({ start: STEP_MS.appStart }) }, async (name) => {
    await expect(startApp({ github, env: { [name]: "change-me" } })).rejects.toThrow(
      `${name} is 9 characters long; it must be at least 32. Make one with \`openssl rand -hex 32\``,
    );
  });
});
