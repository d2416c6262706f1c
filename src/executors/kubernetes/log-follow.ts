import type { FollowStream } from "./follow-stream.js";

/** The watchers of one run's live log, and the stream they share (see `followLog`). */
export interface LogFollow {
  readonly runId: string;
  /** Viewers whose signal has not aborted yet. */
  watchers: number;
  /** The stream copying the pod's output, while one runs. */
  stream?: FollowStream;
  /** Pods streamed since the first watcher came: a stream that ended is not restarted for its pod. */
  readonly streamedPods: Set<string>;
  /** The stop of the last stream: a new stream's writes (its truncation first) wait for it. */
  lastStop: Promise<void>;
}
