import { PassThrough, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { maskForms, pipeMasked, SecretMasker } from "../../../src/logs/secret-masker.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

describe("SecretMasker: a secret in every form a job could print it (issue 14)", () => {
  it("masks the value itself", () => {
    expect(new SecretMasker(["s3cr3t-value"]).mask("token=s3cr3t-value;")).toBe("token=***;");
  });

  it("masks each line of a multi-line value, printed whole or line by line", () => {
    const key = "-----BEGIN KEY-----\nAAAAbbbbCCCC\nddddEEEE\n-----END KEY-----";
    const m = new SecretMasker([key]);
    expect(m.mask(`${key}\n`)).toBe("***\n");
    const out = m.mask("line: AAAAbbbbCCCC\nthen ddddEEEE\n");
    expect(out).not.toContain("AAAAbbbbCCCC");
    expect(out).not.toContain("ddddEEEE");
  });

  it("masks the base64 form, padded or not, wrapped at 76 columns as `base64` prints it", () => {
    const short = "hunter2-password";
    expect(new SecretMasker([short]).mask(`echo ${b64(short)}`)).toBe("echo ***");
    expect(new SecretMasker([short]).mask(b64(short).replace(/=+$/, ""))).toBe("***");
    const long = "a-rather-long-secret-value-that-base64-wraps-over-two-lines-0123456789";
    const wrapped = b64(long).match(/.{1,76}/g)!.join("\n");
    const out = new SecretMasker([long]).mask(wrapped);
    for (const line of wrapped.split("\n")) expect(out).not.toContain(line);
  });

  it("masks the base64 form of each line of a multi-line value", () => {
    const out = new SecretMasker(["first-line-1\nsecond-line-2"]).mask(`${b64("second-line-2")}\n`);
    expect(out).toBe("***\n");
  });

  it("leaves parts shorter than 4 characters alone (they would hide the log)", () => {
    expect(maskForms(["abc"])).toEqual([]);
    expect(maskForms(["x\nlong-enough"])).toContain("long-enough");
    expect(maskForms(["x\nlong-enough"])).not.toContain("x");
  });

  it("pipeMasked masks a stream split anywhere, and writes what it holds at the end", async () => {
    const out: string[] = [];
    const sink = new Writable({ write: (c, _e, cb) => (out.push(String(c)), cb()) });
    const src = new PassThrough();
    const drained = pipeMasked([src], sink, ["top-secret-42"]);
    src.write("a top-sec");
    src.write("ret-42 b\nlast top-secret-42");
    src.end();
    await drained();
    expect(out.join("")).toBe("a *** b\nlast ***");
  });
});
