import { describe, expect, it } from "vitest";
import { ReplyLimiter } from "../../../src/github/comment-commands.js";

describe("ReplyLimiter", () => {
  it("lets a key be used once per hour, each key on its own", () => {
    let now = 0;
    const limiter = new ReplyLimiter(() => now);
    expect(limiter.take("help o/r#1")).toBe(true);
    expect(limiter.take("help o/r#1")).toBe(false);
    expect(limiter.free("help o/r#1")).toBe(false);
    expect(limiter.take("help o/r#2")).toBe(true);
    now = 59 * 60 * 1000;
    expect(limiter.take("help o/r#1")).toBe(false);
    now = 60 * 60 * 1000;
    expect(limiter.free("help o/r#1")).toBe(true);
    expect(limiter.take("help o/r#1")).toBe(true);
  });

  it("forgets old keys, so that its memory stays bounded", () => {
    let now = 0;
    const limiter = new ReplyLimiter(() => now);
    for (let i = 0; i < 10_000; i++) limiter.take(`k${i}`);
    now = 2 * 60 * 60 * 1000;
    expect(limiter.take("new")).toBe(true);
    expect((limiter as unknown as { used: Map<string, number> }).used.size).toBe(1);
  });
});
