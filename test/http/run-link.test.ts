import { describe, expect, it } from "vitest";
import { httpEnvFromProcess } from "../../src/http/env.js";
import { detailsUrl, runPageUrl, signRunLink, verifyRunLink } from "../../src/http/access.js";

const SECRET = "a-link-secret-of-32-characters!!";
const API = "0123456789abcdef0123456789abcdef-api";
const METRICS = "0123456789abcdef0123456789abcdef-metrics";
const RUN = "yaci-build-abc1234-0123456789-1";
const now = new Date("2025-03-01T12:00:00Z");
const inAnHour = new Date(now.getTime() + 3_600_000);

describe("signed run links", () => {
  it("a token is valid for its run until it expires", () => {
    const token = signRunLink(RUN, SECRET, inAnHour);
    expect(token).toMatch(/^v1\.\d+\.[A-Za-z0-9_-]{43}$/);
    expect(verifyRunLink(RUN, token, SECRET, now)).toEqual({ ok: true, expiresAt: inAnHour });
    expect(verifyRunLink(RUN, token, SECRET, new Date(inAnHour.getTime() - 1000)).ok).toBe(true);
    expect(verifyRunLink(RUN, token, SECRET, inAnHour)).toEqual({ ok: false, reason: "expired" });
  });

  it("is valid only for that run and that secret", () => {
    const token = signRunLink(RUN, SECRET, inAnHour);
    expect(verifyRunLink(`${RUN}x`, token, SECRET, now)).toEqual({ ok: false, reason: "bad-signature" });
    expect(verifyRunLink("yaci-build-abc1234-0123456789-2", token, SECRET, now).ok).toBe(false);
    expect(verifyRunLink(RUN, token, `${SECRET}?`, now)).toEqual({ ok: false, reason: "bad-signature" });
  });

  it("refuses a token whose expiry was moved, or whose signature was altered", () => {
    const token = signRunLink(RUN, SECRET, inAnHour);
    const [v, exp, sig] = token.split(".") as [string, string, string];
    expect(verifyRunLink(RUN, `${v}.${Number(exp) + 86_400}.${sig}`, SECRET, now)).toEqual({ ok: false, reason: "bad-signature" });
    const flipped = (sig[0] === "A" ? "B" : "A") + sig.slice(1);
    expect(verifyRunLink(RUN, `${v}.${exp}.${flipped}`, SECRET, now).ok).toBe(false);
    // An expired token with a forged later expiry is still refused.
    const old = signRunLink(RUN, SECRET, new Date(now.getTime() - 1000));
    const [, oldExp, oldSig] = old.split(".") as [string, string, string];
    expect(verifyRunLink(RUN, `v1.${Number(oldExp) + 7200}.${oldSig}`, SECRET, now).ok).toBe(false);
  });

  it("refuses malformed tokens and an empty secret", () => {
    for (const t of [undefined, null, "", "v1", "v1..", "v2.1.abc", `v1.x.${"a".repeat(43)}`, "x".repeat(500)]) {
      expect(verifyRunLink(RUN, t, SECRET, now)).toEqual({ ok: false, reason: "malformed" });
    }
    expect(verifyRunLink(RUN, signRunLink(RUN, SECRET, inAnHour), "", now).ok).toBe(false);
    expect(() => signRunLink(RUN, "", inAnHour)).toThrow(/secret is empty/);
  });

  it("runPageUrl builds the details_url; detailsUrl needs both the public URL and the secret", () => {
    const url = new URL(runPageUrl("https://ci.example.com/yaci/", RUN, SECRET, now, 3_600_000));
    expect(url.origin + url.pathname).toBe(`https://ci.example.com/yaci/runs/${RUN}`);
    expect(verifyRunLink(RUN, url.searchParams.get("token"), SECRET, now)).toEqual({ ok: true, expiresAt: inAnHour });
    expect(verifyRunLink(RUN, url.searchParams.get("token"), SECRET, inAnHour).ok).toBe(false);

    const env = { publicUrl: "https://ci.example.com", linkSecret: SECRET, linkTtlMs: 60_000 };
    expect(detailsUrl(env, RUN, now)).toMatch(/^https:\/\/ci\.example\.com\/runs\/yaci-build-abc1234-0123456789-1\?token=v1\./);
    expect(detailsUrl({ linkSecret: SECRET, linkTtlMs: 60_000 }, RUN, now)).toBeUndefined();
    expect(detailsUrl({ publicUrl: "https://ci.example.com", linkTtlMs: 60_000 }, RUN, now)).toBeUndefined();
  });
});

describe("HTTP environment variables", () => {
  it("defaults: API off, page off, 14-day retention, links valid as long as logs", () => {
    expect(httpEnvFromProcess({})).toEqual({ logRetentionMs: 14 * 86_400_000, linkTtlMs: 14 * 86_400_000 });
  });

  it("reads every variable", () => {
    const env = httpEnvFromProcess({
      YACI_API_TOKEN: API,
      YACI_METRICS_TOKEN: METRICS,
      YACI_LINK_SECRET: SECRET,
      YACI_PUBLIC_URL: "https://ci.example.com/",
      YACI_LOG_RETENTION: "36h",
      YACI_LINK_TTL: "7d",
    });
    expect(env).toEqual({
      apiToken: API,
      metricsToken: METRICS,
      linkSecret: SECRET,
      publicUrl: "https://ci.example.com",
      logRetentionMs: 36 * 3_600_000,
      linkTtlMs: 7 * 86_400_000,
    });
  });

  it("refuses a token or secret under 32 characters, naming it and how to make one", () => {
    for (const name of ["YACI_API_TOKEN", "YACI_LINK_SECRET", "YACI_METRICS_TOKEN"]) {
      for (const value of ["x", "change-me", "a".repeat(31)]) {
        expect(() => httpEnvFromProcess({ [name]: value }), `${name}=${value}`).toThrow(
          `${name} is ${value.length} characters long; it must be at least 32. Make one with \`openssl rand -hex 32\``,
        );
      }
      // Exactly 32 is enough; surrounding whitespace does not count.
      expect(() => httpEnvFromProcess({ [name]: ` ${"a".repeat(32)} ` })).not.toThrow();
    }
  });

  it("names the variable in every error", () => {
    expect(() => httpEnvFromProcess({ YACI_LINK_SECRET: "short" })).toThrow(/YACI_LINK_SECRET is 5 characters long; it must be at least 32/);
    expect(() => httpEnvFromProcess({ YACI_PUBLIC_URL: "ci.example.com" })).toThrow(/YACI_PUBLIC_URL/);
    expect(() => httpEnvFromProcess({ YACI_PUBLIC_URL: "ftp://ci.example.com" })).toThrow(/YACI_PUBLIC_URL must start with https/);
    expect(() => httpEnvFromProcess({ YACI_LOG_RETENTION: "two weeks" })).toThrow(/YACI_LOG_RETENTION: "two weeks" is not a duration/);
    expect(() => httpEnvFromProcess({ YACI_LINK_TTL: "10" })).toThrow(/YACI_LINK_TTL/);
  });
});
