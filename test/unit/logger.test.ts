import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { guardProcess, redactLine } from "../../src/logger.js";

describe("redactLine: no credential reaches the log", () => {
  it.each([
    ['{"req":{"headers":{"authorization":"Bearer abc.def-123"}}}', '{"req":{"headers":{"authorization":"[redacted]"}}}'],
    ['{"headers":{"Cookie":"session=s3cr3t; other=x","x-hub-signature-256":"sha256=ab12"}}', '{"headers":{"Cookie":"[redacted]","x-hub-signature-256":"[redacted]"}}'],
    ['{"msg":"GET /runs/yaci-build-1?token=v1.abc.def&x=1 200 - 3ms"}', '{"msg":"GET /runs/yaci-build-1?token=[redacted]&x=1 200 - 3ms"}'],
    ['{"url":"/probot/setup?code=0123abcd"}', '{"url":"/probot/setup?code=[redacted]"}'],
    ['{"msg":"sent Bearer ghs_abcdef0123456789 along"}', '{"msg":"sent Bearer [redacted] along"}'],
    ['{"msg":"nothing secret: tokens were minted, Bearer [redacted]"}', '{"msg":"nothing secret: tokens were minted, Bearer [redacted]"}'],
  ])("%s", (line, expected) => {
    expect(redactLine(line)).toBe(expected);
  });
});

describe("guardProcess", () => {
  it("logs an unhandled rejection or exception and keeps going; too many in a minute exit(1)", () => {
    const proc = new EventEmitter();
    const errors: string[] = [];
    const exits: number[] = [];
    let now = 0;
    guardProcess(proc, { info: () => {}, warn: () => {}, error: (_f, msg) => void errors.push(msg) }, { maxPerMinute: 3, now: () => now, exit: (c) => void exits.push(c) });
    proc.emit("unhandledRejection", new Error("lost promise"));
    proc.emit("uncaughtException", new Error("thrown in a callback"));
    expect(errors).toEqual(["unhandled promise rejection (logged; the app keeps serving)", "uncaught exception (logged; the app keeps serving)"]);
    expect(exits).toEqual([]);
    now = 61_000; // the first two are more than a minute old
    for (let i = 0; i < 3; i++) proc.emit("uncaughtException", new Error("again"));
    expect(exits).toEqual([]);
    proc.emit("uncaughtException", new Error("one too many"));
    expect(exits).toEqual([1]);
    expect(errors.at(-1)).toMatch(/4 unexpected errors within a minute; exiting/);
  });
});
