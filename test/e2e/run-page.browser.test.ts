import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, waitFor, type GitHubStandIn } from "../support/github-stand-in.js";
import { e2eBudget, startApp, type AppProcess } from "../support/app-process.js";
import { loadExample, sendWebhook, withInstallation } from "../support/webhooks.js";

let github: GitHubStandIn;
let app: AppProcess;
let browser: Browser;

beforeAll(async () => {
  github = await startGitHubStandIn();
  app = await startApp({
    github,
    env: { YACI_LINK_SECRET: "e2e-link-secret-0123456789abcdef0123456789", YACI_PUBLIC_URL: "http://public.invalid", YACI_CATCHUP_INTERVAL: "off" },
  });
  browser = await chromium.launch({
    executablePath: process.env.YACI_CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await app?.stop();
  await github?.close();
});

describe("a check run's details link, opened in a browser (real app process)", () => {
  // Its steps: the push handled and the job in progress (15 s), the page's first line (10 s), the
  // whole log (15 s), the result (10 s), opening the page and the forged link (10 s).
  it("shows the running job's coloured log as it grows, then its result; a tampered link is refused", { timeout: e2eBudget({ inProgress: 15_000, firstLine: 10_000, wholeLog: 15_000, result: 10_000, pageAndForgery: 10_000 }) }, async () => {
    const p = withInstallation(loadExample("push", (x) => x.ref.startsWith("refs/heads/") && !x.deleted), 5);
    p.after = "feed".repeat(10);
    p.ref = "refs/heads/page";
    const owner = (p.repository.owner as { login: string }).login;
    const script = 'printf "\\033[31mred line\\033[0m\\n"; for i in 1 2 3; do echo "step $i"; sleep 1; done; echo finished';
    github.setFiles(owner, p.repository.name, p.after, { ".yaci.yml": `run: '${script.replace(/'/g, "''")}'\n` });
    expect(await sendWebhook(app.webhookUrl, { event: "push", payload: p, secret: app.webhookSecret })).toBe(202); // stored by the intake, handled in the background

    const run = await waitFor(() => github.checkRunsFor(owner, p.repository.name, p.after).find((r) => r.status === "in_progress"), { timeoutMs: 15_000 });
    expect(run.details_url).toMatch(/^http:\/\/public\.invalid\/runs\/yaci-build-/);
    const link = run.details_url!.replace("http://public.invalid", app.url);

    const page = await browser.newPage();
    await page.goto(link);
    const log = () => page.locator("#log").textContent();
    await expect.poll(log, { timeout: 10_000 }).toContain("step 1");
    expect(await log()).not.toContain("finished"); // still running: the page follows it
    expect(await page.locator("#status").textContent()).toBe("Running");
    const color = await page.locator("#log span", { hasText: "red line" }).evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(el).color);
    const [r, g, b] = color.match(/\d+/g)!.map(Number);
    expect(r).toBeGreaterThan(g! + 50); // rendered red, not stripped
    expect(r).toBeGreaterThan(b! + 50);
    await expect.poll(log, { timeout: 15_000 }).toBe("red line\nstep 1\nstep 2\nstep 3\nfinished\n");
    await expect.poll(() => page.locator("#status").textContent(), { timeout: 10_000 }).toBe("Succeeded");
    await page.close();

    const forged = link.replace(/token=[^&]+/, "token=v1.9999999999.AAAA");
    const res = await fetch(forged);
    expect(res.status).toBe(403);
    expect(await res.text()).not.toContain("step 1");
  });
});
