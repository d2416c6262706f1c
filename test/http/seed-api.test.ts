import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_BODY_BYTES, runApiStatus } from "../../src/http/api.js";
import { API_TOKEN, eventually, startHarness, type Harness } from "./harness.js";

const auth = { authorization: `Bearer ${API_TOKEN}` };
/** What `curl -d '...'` sends. */
const curlForm = { "content-type": "application/x-www-form-urlencoded" };

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

interface Entry {
  pod: string;
  status: string;
  log: string;
}

async function pollUntilDone(base: string, id: string): Promise<Entry[]> {
  return eventually(
    async () => {
      const res = await fetch(`${base}/get?id=${encodeURIComponent(id)}`, { headers: auth });
      expect(res.status).toBe(200);
      const entries = (await res.json()) as Entry[];
      return entries.every((e) => e.status === "Succeeded" || e.status === "Failed") ? entries : undefined;
    },
    15_000,
    `run ${id} to finish`,
  );
}

async function expectJsonError(res: Response, status: number, message?: string | RegExp): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await res.json()) as { message?: unknown };
  expect(Object.keys(body)).toEqual(["message"]);
  expect(typeof body.message).toBe("string");
  if (typeof message === "string") expect(body.message).toBe(message);
  else if (message) expect(body.message).toMatch(message);
  return body.message as string;
}

describe("the original API over real HTTP (ORIGIN.md session, plus the bearer token)", () => {
  it("curl -d 'echo great success' → name; /get polls to Succeeded with the log", async () => {
    h = await startHarness();
    const res = await fetch(`${h.url}/run`, { method: "POST", headers: { ...auth, ...curlForm }, body: "echo great success" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const text = await res.text();
    expect(text).toMatch(/^\{\n {2}"name": "[^"]+"\n\}\n?$/); // pretty-printed, like the original
    const { name } = JSON.parse(text) as { name: string };
    expect(h.runner.submitted).toEqual([{ command: "echo great success", image: "alpine" }]);

    const entries = await pollUntilDone(h.url, name);
    expect(entries).toEqual([{ pod: name, status: "Succeeded", log: "great success\n" }]);
  });

  it("a failing command ends Failed with its log", async () => {
    h = await startHarness();
    const res = await fetch(`${h.url}/run`, {
      method: "POST",
      headers: { ...auth, ...curlForm },
      body: "echo about to fail; echo oops >&2; exit 3",
    });
    expect(res.status).toBe(200);
    const { name } = (await res.json()) as { name: string };
    const entries = await pollUntilDone(h.url, name);
    expect(entries).toEqual([{ pod: name, status: "Failed", log: "about to fail\noops\n" }]);
    expect(h.runner.get(name)?.exitCode).toBe(3);
  });

  it("reports Pending and Running while the run has not finished", async () => {
    h = await startHarness();
    const res = await fetch(`${h.url}/run`, { method: "POST", headers: auth, body: "echo started; sleep 1; echo done" });
    const { name } = (await res.json()) as { name: string };
    const seen = new Set<string>();
    const entries = await eventually(async () => {
      const e = (await (await fetch(`${h!.url}/get?id=${name}`, { headers: auth })).json()) as Entry[];
      seen.add(e[0]!.status);
      return e[0]!.status === "Succeeded" ? e : undefined;
    });
    expect(seen.has("Running")).toBe(true);
    expect(entries[0]!.log).toBe("started\ndone\n");
  });

  it("keeps a form-labelled body raw: no URL decoding", async () => {
    h = await startHarness();
    const command = "printf '%s\\n' 'a+b%20c=d&e'";
    const res = await fetch(`${h.url}/run`, { method: "POST", headers: { ...auth, ...curlForm }, body: command });
    const { name } = (await res.json()) as { name: string };
    expect(h.runner.submitted[0]!.command).toBe(command);
    const entries = await pollUntilDone(h.url, name);
    expect(entries[0]!.log).toBe("a+b%20c=d&e\n");
  });

  it("accepts JSON {command, image}; the image defaults to alpine", async () => {
    h = await startHarness();
    const json = { ...auth, "content-type": "application/json" };
    let res = await fetch(`${h.url}/run`, { method: "POST", headers: json, body: JSON.stringify({ command: "echo from json", image: "busybox:1.36" }) });
    expect(res.status).toBe(200);
    const { name } = (await res.json()) as { name: string };
    res = await fetch(`${h.url}/run`, { method: "POST", headers: json, body: JSON.stringify({ command: "true" }) });
    expect(res.status).toBe(200);
    expect(h.runner.submitted).toEqual([
      { command: "echo from json", image: "busybox:1.36" },
      { command: "true", image: "alpine" },
    ]);
    expect((await pollUntilDone(h.url, name))[0]!.log).toBe("from json\n");
  });

  it("uses the pod name when the record has one", async () => {
    h = await startHarness();
    h.runner.create("yaci-api-podded", { phase: "in_progress", podName: "yaci-api-podded-x7k2q" } as never);
    const res = await fetch(`${h.url}/get?id=yaci-api-podded`, { headers: auth });
    expect(await res.json()).toEqual([{ pod: "yaci-api-podded-x7k2q", status: "Running", log: "" }]);
  });
});

describe("refusals: every error is JSON with a message", () => {
  it("no token → 401 on both routes", async () => {
    h = await startHarness();
    const run = await fetch(`${h.url}/run`, { method: "POST", body: "echo hi" });
    await expectJsonError(run, 401, /bearer token/);
    expect(run.headers.get("www-authenticate")).toMatch(/^Bearer/);
    await expectJsonError(await fetch(`${h.url}/get?id=x`), 401);
    expect(h.runner.submitted).toEqual([]);
  });

  it("wrong token (or another scheme) → 401 on both routes", async () => {
    h = await startHarness();
    for (const authorization of [`Bearer ${API_TOKEN}x`, `Bearer ${API_TOKEN.slice(0, -1)}`, "Bearer nope", `Basic ${API_TOKEN}`, API_TOKEN]) {
      await expectJsonError(await fetch(`${h.url}/run`, { method: "POST", headers: { authorization }, body: "echo hi" }), 401);
      await expectJsonError(await fetch(`${h.url}/get?id=x`, { headers: { authorization } }), 401);
    }
    expect(h.runner.submitted).toEqual([]);
  });

  it("API off (YACI_API_TOKEN unset) → 404 on both routes, even with a token", async () => {
    h = await startHarness({ env: { apiToken: undefined } });
    await expectJsonError(await fetch(`${h.url}/run`, { method: "POST", headers: auth, body: "echo hi" }), 404, /API is off/);
    await expectJsonError(await fetch(`${h.url}/get?id=x`, { headers: auth }), 404, /API is off/);
    await expectJsonError(await fetch(`${h.url}/run`, { method: "POST", body: "echo hi" }), 404);
    expect(h.runner.submitted).toEqual([]);
  });

  it("body over 64 KiB → 413 (declared length), and exactly 64 KiB is accepted", async () => {
    h = await startHarness();
    const big = "echo " + "x".repeat(MAX_BODY_BYTES);
    await expectJsonError(await fetch(`${h.url}/run`, { method: "POST", headers: auth, body: big }), 413, /larger than 65536 bytes/);
    expect(h.runner.submitted).toEqual([]);
    const exact = ": " + "x".repeat(MAX_BODY_BYTES - 2);
    const ok = await fetch(`${h.url}/run`, { method: "POST", headers: auth, body: exact });
    expect(ok.status).toBe(200);
    expect(h.runner.submitted[0]!.command.length).toBe(MAX_BODY_BYTES);
  });

  it("a chunked body (no Content-Length) is cut off at 64 KiB → 413 without reading it all", async () => {
    h = await startHarness();
    const { port } = new URL(h.url);
    const result = await new Promise<{ status: number; body: string; sent: number }>((resolve, reject) => {
      let sent = 0;
      const req = request(
        { host: "127.0.0.1", port, method: "POST", path: "/run", headers: { ...auth, "transfer-encoding": "chunked" } },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (body += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body, sent }));
        },
      );
      req.on("error", reject);
      // Offer far more than the limit (8 MiB), slowly enough that the answer arrives first.
      const chunk = Buffer.alloc(16 * 1024, "y");
      let n = 0;
      const pump = () => {
        while (n < 512) {
          n++;
          sent += chunk.length;
          if (!req.write(chunk)) {
            req.once("drain", pump);
            return;
          }
        }
        req.end();
      };
      req.on("response", () => {
        n = 512; // stop offering more once the server has answered
        req.end();
      });
      pump();
    });
    expect(result.status).toBe(413);
    expect(JSON.parse(result.body)).toEqual({ message: "request body is larger than 65536 bytes" });
    expect(result.sent).toBeLessThan(8 * 1024 * 1024);
    expect(h.runner.submitted).toEqual([]);
  });

  it("empty command → 400 (raw, whitespace only, JSON)", async () => {
    h = await startHarness();
    await expectJsonError(await fetch(`${h.url}/run`, { method: "POST", headers: auth }), 400, /command is empty/);
    await expectJsonError(await fetch(`${h.url}/run`, { method: "POST", headers: { ...auth, ...curlForm }, body: "  \n\t " }), 400, /command is empty/);
    const json = { ...auth, "content-type": "application/json" };
    await expectJsonError(await fetch(`${h.url}/run`, { method: "POST", headers: json, body: '{"command": "  "}' }), 400, /command is empty/);
    await expectJsonError(await fetch(`${h.url}/run`, { method: "POST", headers: json, body: "{}" }), 400, /command is empty/);
    await expectJsonError(await fetch(`${h.url}/run`, { method: "POST", headers: json, body: '{"command": 42}' }), 400, /must be a string/);
    await expectJsonError(await fetch(`${h.url}/run`, { method: "POST", headers: json, body: "echo not json" }), 400, /not valid JSON/);
    await expectJsonError(await fetch(`${h.url}/run`, { method: "POST", headers: json, body: '["echo"]' }), 400, /JSON object/);
    await expectJsonError(
      await fetch(`${h.url}/run`, { method: "POST", headers: json, body: '{"command": "true", "image": "bad image; rm -rf /"}' }),
      400,
      /not a valid image/,
    );
    expect(h.runner.submitted).toEqual([]);
  });

  it("a NUL in the command, or an overlong image, → 400 up front; the server keeps serving", async () => {
    h = await startHarness();
    const json = { ...auth, "content-type": "application/json" };
    const nul = /command contains a NUL character \(\\u0000\)/;
    await expectJsonError(await fetch(`${h.url}/run`, { method: "POST", headers: json, body: '{"command":"echo \\u0000"}' }), 400, nul);
    await expectJsonError(await fetch(`${h.url}/run`, { method: "POST", headers: { ...auth, ...curlForm }, body: "echo a\0b" }), 400, nul);
    await expectJsonError(
      await fetch(`${h.url}/run`, { method: "POST", headers: json, body: JSON.stringify({ command: "true", image: "a".repeat(256) }) }),
      400,
      '"image" is 256 characters long; at most 255 are allowed',
    );
    await expectJsonError(
      await fetch(`${h.url}/run`, { method: "POST", headers: json, body: JSON.stringify({ command: "true", image: "alpine\u0000" }) }),
      400,
      /not a valid image reference/,
    );
    expect(h.runner.submitted).toEqual([]);
    const ok = await fetch(`${h.url}/run`, { method: "POST", headers: json, body: JSON.stringify({ command: "echo fine", image: "a".repeat(255) }) });
    expect(ok.status).toBe(200);
  });

  it("missing id → 400 'id query param is required'", async () => {
    h = await startHarness();
    await expectJsonError(await fetch(`${h.url}/get`, { headers: auth }), 400, "id query param is required");
    await expectJsonError(await fetch(`${h.url}/get?id=`, { headers: auth }), 400, "id query param is required");
  });

  it("unknown id → 404", async () => {
    h = await startHarness();
    await expectJsonError(await fetch(`${h.url}/get?id=k8s-job-does-not-exist`, { headers: auth }), 404, /no run with id/);
    await expectJsonError(await fetch(`${h.url}/get?id=${encodeURIComponent("../../etc/passwd")}`, { headers: auth }), 404);
  });

  it("the executor refusing the run → 503 JSON", async () => {
    h = await startHarness({
      deps: {
        submit: async () => {
          throw new Error("kubernetes API unreachable");
        },
      },
    });
    await expectJsonError(await fetch(`${h.url}/run`, { method: "POST", headers: auth, body: "echo hi" }), 503, /kubernetes API unreachable/);
  });

  it("wrong method → 405 JSON with Allow; other paths are left to the next handler", async () => {
    h = await startHarness();
    const res = await fetch(`${h.url}/run`, { headers: auth });
    await expectJsonError(res, 405, /use POST/);
    expect(res.headers.get("allow")).toBe("POST");
    const other = await fetch(`${h.url}/api/github/webhooks`, { method: "POST", body: "{}" });
    expect(other.status).toBe(404);
    expect(await other.text()).toBe("not handled by YACI\n");
  });
});

describe("runApiStatus", () => {
  it("maps phases and conclusions to the original pod phases", () => {
    expect(runApiStatus({ phase: "queued" })).toBe("Pending");
    expect(runApiStatus({ phase: "in_progress" })).toBe("Running");
    expect(runApiStatus({ phase: "completed", conclusion: "success" })).toBe("Succeeded");
    for (const conclusion of ["failure", "timed_out", "cancelled", "neutral", "action_required"] as const) {
      expect(runApiStatus({ phase: "completed", conclusion })).toBe("Failed");
    }
  });
});
