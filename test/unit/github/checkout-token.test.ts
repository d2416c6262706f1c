import { describe, expect, it } from "vitest";
import { CHECKOUT_TOKEN_MIN_REMAINING_MS, checkoutTokenSource, type AppOctokit } from "../../../src/github/octokit.js";
import { fakeSpec } from "../../fakes/records.js";

/** The app's token endpoint as GitHub answers it: a new token each time, an hour to live. */
function tokenEndpoint(clock: { t: number }) {
  const calls: Array<{ installation_id: number; repositories?: string[]; permissions?: unknown }> = [];
  let fail = 0;
  let n = 0;
  const octokit = {
    rest: {
      apps: {
        createInstallationAccessToken: async (params: { installation_id: number; repositories?: string[]; permissions?: unknown }) => {
          calls.push(params);
          await new Promise((r) => setImmediate(r)); // answered later, like a request
          if (fail > 0 && fail--) throw Object.assign(new Error("Server Error"), { status: 502 });
          return { data: { token: `ghs_${++n}`, expires_at: new Date(clock.t + 3_600_000).toISOString() } };
        },
      },
    },
  } as unknown as AppOctokit;
  return { octokit, calls, failNext: (k: number) => (fail = k) };
}

const spec = (repo: string, installationId = 7) => fakeSpec({ installationId, key: { ...fakeSpec().key, repo } });

describe("checkoutTokenSource", () => {
  it("mints one token for the jobs of a repository that ask at once, scoped to it, contents: read", async () => {
    const clock = { t: Date.parse("2025-01-01T00:00:00Z") };
    const gh = tokenEndpoint(clock);
    const source = checkoutTokenSource(async () => gh.octokit, { now: () => clock.t });
    const tokens = await Promise.all(Array.from({ length: 20 }, () => source(spec("alpha"))));
    expect(new Set(tokens)).toEqual(new Set(["ghs_1"]));
    expect(gh.calls).toEqual([{ installation_id: 7, repositories: ["alpha"], permissions: { contents: "read" } }]);
    // Another repository, or the same name in another installation, never gets that token.
    expect(await source(spec("beta"))).toBe("ghs_2");
    expect(await source(spec("alpha", 8))).toBe("ghs_3");
  });

  it("reuses the token until less than 10 minutes of its hour are left, then mints a new one", async () => {
    const clock = { t: Date.parse("2025-01-01T00:00:00Z") };
    const gh = tokenEndpoint(clock);
    const source = checkoutTokenSource(async () => gh.octokit, { now: () => clock.t });
    expect(await source(spec("alpha"))).toBe("ghs_1");
    clock.t += 3_600_000 - CHECKOUT_TOKEN_MIN_REMAINING_MS; // exactly 10 minutes left: still good
    expect(await source(spec("alpha"))).toBe("ghs_1");
    clock.t += 1;
    expect(await source(spec("alpha"))).toBe("ghs_2");
    expect(gh.calls).toHaveLength(2);
  });

  it("keeps no failed mint: the jobs that asked get the error, the next job asks GitHub again", async () => {
    const clock = { t: Date.parse("2025-01-01T00:00:00Z") };
    const gh = tokenEndpoint(clock);
    const source = checkoutTokenSource(async () => gh.octokit, { now: () => clock.t });
    gh.failNext(1);
    const both = await Promise.allSettled([source(spec("alpha")), source(spec("alpha"))]);
    expect(both.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(await source(spec("alpha"))).toBe("ghs_1");
    expect(gh.calls).toHaveLength(2);
  });
});
