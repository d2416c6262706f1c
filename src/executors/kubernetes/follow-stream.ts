import type { PodLogParams } from "./pod-log-params.js";
import { Writable, type Readable } from "node:stream";
import { Log } from "@kubernetes/client-node";
import { apiMessage } from "./api-error.js";
import type { Logger } from "./job-informer.js";
import { SecretMasker } from "../../logs/secret-masker.js";

export interface FollowStreamParams extends PodLogParams {
  /** Writes wait for this first (the stop of an earlier stream of the same run). */
  after?: Promise<void>;
  log?: Logger;
}

/** One `pods/log?follow=true` stream copying a container's output into the LogStore. */
export interface FollowStream {
  readonly pod: string;
  /** Resolves when the stream has ended (by itself, by an error, or stopped) and its writes are done. */
  readonly done: Promise<void>;
  /** Stops copying at once; resolves when nothing more will be written to the LogStore. */
  stop(): Promise<void>;
}

/**
 * Truncates the run's log in the LogStore and copies the container's output into it from the
 * start, masked, as it comes. Never rejects: an error (pod gone, 4xx, dropped connection) is
 * logged and ends the stream.
 */
export function openFollowStream(p: FollowStreamParams): FollowStream {
  const masker = new SecretMasker(p.secrets ?? []);
  let stopped = false;
  let ended = false;
  let received = 0;
  let controller: AbortController | undefined;
  let source: Readable | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  // Every LogStore write goes through this chain, in order; the truncation comes first.
  let chain: Promise<void> = (p.after ?? Promise.resolve()).then(() => (stopped ? undefined : p.logStore.write(p.runId, "")));
  const enqueue = (text: string): Promise<void> => {
    chain = chain
      .then(() => (stopped || !text ? undefined : p.logStore.append(p.runId, text)))
      .catch((err: unknown) => {
        if (!stopped) p.log?.warn(`kubernetes: ${p.runId}: the live log could not be stored: ${apiMessage(err)}`);
        halt();
      });
    return chain;
  };
  void enqueue("");

  /** Ends the HTTP side (now, or once the request is answered) and discards whatever still comes. */
  const halt = () => {
    stopped = true;
    controller?.abort();
    source?.destroy();
    sink.destroy();
  };

  const finish = (err?: unknown) => {
    if (ended) return;
    ended = true;
    if (err !== undefined && !stopped) p.log?.warn(`kubernetes: ${p.runId}: the live log of ${p.pod} ended: ${apiMessage(err)}`);
    if (err !== undefined || stopped) halt();
    void chain.then(resolveDone, resolveDone);
  };

  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (stopped) return cb();
      received += chunk.length;
      enqueue(masker.push(chunk)).then(() => cb(), cb);
    },
    final(cb) {
      const note =
        received >= p.maxBytes ? `\n[yaci: the live log stops after YACI_LOG_MAX_BYTES (${p.maxBytes} bytes); the end of the log is stored when the job ends]\n` : "";
      enqueue(masker.end() + note).then(() => cb(), cb);
    },
  });
  // The client pipes its response body into the sink and listens for no error on it: without
  // this listener an aborted or dropped connection would be an uncaught exception.
  sink.on("pipe", (src: Readable) => {
    source = src;
    src.on("error", (err) => {
      finish(stopped ? undefined : err);
      sink.destroy();
    });
    if (stopped) halt();
  });
  sink.on("finish", () => finish());
  sink.on("error", (err) => finish(err));
  sink.on("close", () => finish());

  new Log(p.kc)
    .log(p.namespace, p.pod, p.container, sink, { follow: true, limitBytes: p.maxBytes })
    .then((c) => {
      controller = c;
      if (stopped) halt();
    })
    .catch((err: unknown) => {
      finish(err);
      sink.destroy();
    });

  return {
    pod: p.pod,
    done,
    stop() {
      halt();
      return chain.then(
        () => undefined,
        () => undefined,
      );
    },
  };
}
