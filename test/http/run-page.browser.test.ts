import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runPageUrl, signRunLink } from "../../src/http/access.js";
import { API_TOKEN, LINK_SECRET, startHarness, type Harness } from "./harness.js";

/**
 * The run page in a real headless Chromium (Debian's `chromium` package, driven by playwright-core).
 */

let browser: Browser;
let h: Harness | undefined;
let page: Page | undefined;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env.YACI_CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  await page?.context().close();
  page = undefined;
  await h?.close();
  h = undefined;
});

async function newPage(): Promise<Page> {
  const context = await browser.newContext();
  page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  (page as Page & { errors: string[] }).errors = errors;
  return page;
}

function urlFor(h: Harness, runId: string): string {
  return runPageUrl(h.url, runId, LINK_SECRET, h.clock.now, 3_600_000);
}

/** The browser's globals this test touches (the project's tsconfig has no DOM lib). */
interface Win {
  getComputedStyle(el: unknown): { color: string; fontWeight: string };
  marker?: number;
}

const color = (p: Page, selector: string) =>
  p.locator(selector).evaluate((el) => (globalThis as unknown as Win).getComputedStyle(el).color);

describe("run page in Chromium", () => {
  it("shows the log with colours, appends lines while the job runs, then shows the final state", async () => {
    h = await startHarness();
    const id = "yaci-build-abc1234-0123456789-1";
    h.runner.create(
      id,
      { phase: "in_progress", startedAt: h.clock.now.toISOString(), executor: "local" },
      {
        key: { owner: "octo-org", repo: "hello-world", sha: "abc1234def5678abc1234def5678abc1234def56", job: "build" },
        event: "push",
        ref: "refs/heads/main",
        image: "node:22-alpine",
      },
    );
    await h.logs.write(id, "\x1b[31mred alert\x1b[0m then plain\n");
    const p = await newPage();
    const res = await p.goto(urlFor(h, id));
    expect(res?.status()).toBe(200);

    // Header: status, repository, SHA, timings.
    await expect.poll(() => p.locator("#status").textContent()).toBe("Running");
    expect(await p.locator('[data-field="repository"]').textContent()).toBe("octo-org/hello-world");
    expect(await p.locator('[data-field="sha"]').textContent()).toBe("abc1234def5678abc1234def5678abc1234def56");
    expect(await p.locator('[data-field="startedAt"]').textContent()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    expect(await p.locator('[data-row="finishedAt"]').isHidden()).toBe(true);

    // Colours rendered, not stripped: the red span is computed red.
    const red = p.locator("#log span", { hasText: "red alert" });
    expect(await red.evaluate((el) => (globalThis as unknown as Win).getComputedStyle(el).color)).toBe("rgb(255, 123, 114)");
    expect(await p.locator("#log").textContent()).toBe("red alert then plain\n");

    // New output appears without a reload.
    await p.evaluate(() => ((globalThis as unknown as Win).marker = 42));
    await h.logs.append(id, "second line \x1b[1;32mgreen bold\x1b[0m\n");
    await expect.poll(() => p.locator("#log").textContent(), { timeout: 10_000 }).toBe("red alert then plain\nsecond line green bold\n");
    expect(await color(p, '#log span:has-text("green bold")')).toBe("rgb(63, 185, 80)");
    expect(await p.locator('#log span:has-text("green bold")').evaluate((el) => (globalThis as unknown as Win).getComputedStyle(el).fontWeight)).toBe("700");
    await h.logs.append(id, "third line\n");
    await expect.poll(() => p.locator("#log").textContent(), { timeout: 10_000 }).toContain("third line\n");
    expect(await p.locator("#status").textContent()).toBe("Running");
    expect(await p.evaluate(() => (globalThis as unknown as Win).marker)).toBe(42);

    // Completion: the final state replaces "Running", timings and exit code appear, streaming stops.
    await h.logs.append(id, "last words\n");
    h.runner.update(id, {
      phase: "completed",
      conclusion: "success",
      outcome: "succeeded",
      exitCode: 0,
      finishedAt: new Date(h.clock.now.getTime() + 65_000).toISOString(),
    });
    await expect.poll(() => p.locator("body").getAttribute("data-live"), { timeout: 10_000 }).toBe("ended");
    expect(await p.locator("#status").textContent()).toBe("Succeeded");
    expect(await p.locator("#status").getAttribute("data-conclusion")).toBe("success");
    expect(await p.locator('[data-field="duration"]').textContent()).toBe("1m 5s");
    expect(await p.locator('[data-field="exitCode"]').textContent()).toBe("0");
    expect(await p.locator('[data-row="finishedAt"]').isVisible()).toBe(true);
    expect(await p.locator("#log").textContent()).toBe("red alert then plain\nsecond line green bold\nthird line\nlast words\n");
    expect(await p.evaluate(() => (globalThis as unknown as Win).marker)).toBe(42);
    expect((p as Page & { errors: string[] }).errors).toEqual([]);
  });

  it("follows a real job submitted through POST /run until it fails", async () => {
    h = await startHarness();
    const res = await fetch(`${h.url}/run`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_TOKEN}` },
      body: "printf '\\033[34mstep one\\033[0m\\n'; sleep 1; echo step two; sleep 1; echo broken >&2; exit 4",
    });
    const { name } = (await res.json()) as { name: string };
    const p = await newPage();
    expect((await p.goto(urlFor(h, name)))?.status()).toBe(200);
    expect(await p.locator('[data-field="repository"]').textContent()).toBe("none (API run)");
    await expect.poll(() => p.locator("#log").textContent(), { timeout: 10_000 }).toContain("step one\n");
    expect(await color(p, '#log span:has-text("step one")')).toBe("rgb(88, 166, 255)");
    // Seen while the job still runs:
    await expect.poll(() => p.locator("#log").textContent(), { timeout: 10_000 }).toContain("step two\n");
    expect(["Running", "Failed"]).toContain(await p.locator("#status").textContent());
    await expect.poll(() => p.locator("body").getAttribute("data-live"), { timeout: 15_000 }).toBe("ended");
    expect(await p.locator("#status").textContent()).toBe("Failed");
    expect(await p.locator('[data-field="exitCode"]').textContent()).toBe("4");
    expect(await p.locator("#log").textContent()).toBe("step one\nstep two\nbroken\n");
  });

  it("keeps working after the job is gone: a completed run renders from the LogStore alone", async () => {
    h = await startHarness();
    const id = "yaci-done-1";
    h.runner.create(id, {
      phase: "completed",
      conclusion: "timed_out",
      startedAt: "2025-01-01T10:00:00Z",
      finishedAt: "2025-01-01T10:05:00Z",
      message: "timed out after 5m",
    });
    await h.logs.write(id, "working...\n\x1b[33mstill working\x1b[0m\n");
    const p = await newPage();
    expect((await p.goto(urlFor(h, id)))?.status()).toBe(200);
    expect(await p.locator("#status").textContent()).toBe("Timed out");
    expect(await p.locator("body").getAttribute("data-live")).toBe("ended");
    expect(await p.locator('[data-field="duration"]').textContent()).toBe("5m");
    expect(await p.locator('[data-field="message"]').textContent()).toBe("timed out after 5m");
    expect(await color(p, '#log span:has-text("still working")')).toBe("rgb(210, 153, 34)");
  });

  it("escapes the log: markup in output is text, never HTML", async () => {
    h = await startHarness();
    const id = "yaci-xss-1";
    h.runner.create(id, { phase: "in_progress" });
    const evil = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script><b>bold?</b>\n`;
    await h.logs.write(id, evil);
    const p = await newPage();
    await p.goto(urlFor(h, id));
    await h.logs.append(id, `\x1b[31m${evil}\x1b[0m`);
    h.runner.update(id, { phase: "completed", conclusion: "success" });
    await expect.poll(() => p.locator("body").getAttribute("data-live"), { timeout: 10_000 }).toBe("ended");
    expect(await p.locator("#log").textContent()).toBe(evil + evil);
    expect(await p.locator("#log img, #log script, #log b").count()).toBe(0);
    expect(await p.title()).not.toBe("pwned");
  });

  it("refuses a forged or expired link: 403 and no log text", async () => {
    h = await startHarness();
    const id = "yaci-private-1";
    h.runner.create(id, { phase: "completed", conclusion: "success" }, { key: { owner: "acme", repo: "secret", sha: "f00", job: "build" } });
    await h.logs.write(id, "SECRET-LOG-CONTENT\n");
    const p = await newPage();
    const base = `${h.url}/runs/${id}`;
    const forged = [
      `${base}?token=${signRunLink(id, "not-the-link-secret-at-all", new Date(h.clock.now.getTime() + 3_600_000))}`,
      `${base}?token=${signRunLink("yaci-other-run", LINK_SECRET, new Date(h.clock.now.getTime() + 3_600_000))}`,
      `${base}?token=${signRunLink(id, LINK_SECRET, new Date(h.clock.now.getTime() - 1000))}`,
      base,
    ];
    for (const url of forged) {
      const res = await p.goto(url);
      expect(res?.status(), url).toBe(403);
      const text = await p.locator("body").textContent();
      expect(text).toContain("invalid or has expired");
      expect(text).not.toContain("SECRET-LOG-CONTENT");
      expect(await p.locator("#log").count()).toBe(0);
    }
    // A link that was valid stops working once it expires.
    const good = urlFor(h, id);
    expect((await p.goto(good))?.status()).toBe(200);
    expect(await p.locator("#log").textContent()).toBe("SECRET-LOG-CONTENT\n");
    h.clock.now = new Date(h.clock.now.getTime() + 3_600_000);
    const expired = await p.goto(good);
    expect(expired?.status()).toBe(403);
    expect(await p.locator("body").textContent()).not.toContain("SECRET-LOG-CONTENT");
  });

  it("reconnects by itself when a stream reaches its time limit, without losing or repeating lines", async () => {
    h = await startHarness({ deps: { streamLimits: { maxDurationMs: 300 } } });
    const id = "yaci-reconnect-1";
    h.runner.create(id, { phase: "in_progress", startedAt: h.clock.now.toISOString() });
    await h.logs.write(id, "\x1b[36mone\n");
    const p = await newPage();
    await p.goto(urlFor(h, id));
    await h.waitForLog((l) => l.message === "run page stream ended: time limit");
    await h.logs.append(id, "two\x1b[0m\n");
    await expect.poll(() => p.locator("#log").textContent(), { timeout: 10_000 }).toBe("one\ntwo\n");
    await h.waitForLog((l) => l.message === "run page stream ended: time limit" && h!.logLines.filter((x) => x.message === l.message).length >= 2);
    await h.logs.append(id, "three\n");
    h.runner.update(id, { phase: "completed", conclusion: "success", exitCode: 0 });
    await expect.poll(() => p.locator("body").getAttribute("data-live"), { timeout: 10_000 }).toBe("ended");
    expect(await p.locator("#log").textContent()).toBe("one\ntwo\nthree\n");
    expect(await color(p, '#log span:has-text("two")')).toBe("rgb(57, 197, 207)"); // still cyan after the reconnection
    expect((p as Page & { errors: string[] }).errors).toEqual([]);
  });

  it("says so when the server refuses the live stream (too many viewers)", async () => {
    h = await startHarness({ deps: { streamLimits: { perRun: 1 } } });
    const id = "yaci-crowded-1";
    h.runner.create(id, { phase: "in_progress", startedAt: h.clock.now.toISOString() });
    await h.logs.write(id, "busy\n");
    const first = await fetch(`${h.url}/runs/${id}/events?token=${encodeURIComponent(signRunLink(id, LINK_SECRET, new Date(h.clock.now.getTime() + 60_000)))}`);
    expect(first.status).toBe(200);
    const p = await newPage();
    expect((await p.goto(urlFor(h, id)))?.status()).toBe(200);
    expect(await p.locator("#log").textContent()).toBe("busy\n");
    await expect.poll(() => p.locator("#live").textContent(), { timeout: 10_000 }).toMatch(/^Live updates stopped .*reload the page\.$/);
    await first.body!.cancel();
  });

  it("shows the end of a big log with a link to the full log", async () => {
    h = await startHarness();
    const id = "yaci-huge-1";
    h.runner.create(id, { phase: "completed", conclusion: "success", exitCode: 0 });
    const line = "0123456789".repeat(10) + "\n";
    await h.logs.write(id, "FIRST LINE\n" + line.repeat(30_000) + "LAST LINE\n");
    const size = await h.logs.size(id);
    const p = await newPage();
    expect((await p.goto(urlFor(h, id)))?.status()).toBe(200);
    const note = p.locator("#skipped");
    expect(await note.textContent()).toBe(`${size - 256 * 1024} bytes earlier in the log are not shown — full log: ${id}.log`);
    expect(await p.locator("#log").textContent()).toMatch(/LAST LINE\n$/);
    expect(await p.locator("#log").textContent()).not.toContain("FIRST LINE");
    const [download] = await Promise.all([p.waitForEvent("response", (r) => r.url().includes("/log?")), note.locator("a").click()]);
    expect(download.status()).toBe(200);
    expect(await p.locator("body").textContent()).toMatch(/^FIRST LINE\n/);
  });
});
