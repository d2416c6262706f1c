import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { AskedEntry } from "./catch-up-selection.js";
import type { CatchUpLogger } from "./catch-up-types.js";

/** Catch-up's record of the guids it asked GitHub to redeliver, in `<dataDir>/catch-up.json` (across restarts). */
export const CATCHUP_FILE = "catch-up.json";

export interface CatchUpRecord {
  version: 1;
  asked: Record<string, AskedEntry>;
}

export interface CatchUpRecordFile {
  /** The record: read once (a missing or unreadable file starts an empty one), then the same object. */
  load(): Promise<CatchUpRecord>;
  /** Writes the record atomically (a temporary file renamed over the old one). */
  save(record: CatchUpRecord): Promise<void>;
}

export function catchUpRecordFile(dataDir: string, log: Pick<CatchUpLogger, "warn">): CatchUpRecordFile {
  const file = join(dataDir, CATCHUP_FILE);
  let state: CatchUpRecord | undefined;

  return {
    async load() {
      if (state) return state;
      try {
        const parsed = JSON.parse(await readFile(file, "utf8")) as Partial<CatchUpRecord>;
        state = { version: 1, asked: parsed && typeof parsed.asked === "object" && parsed.asked ? parsed.asked : {} };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
          log.warn({ err, file }, "catch-up: could not read its record of redeliveries; starting a new one");
        }
        state = { version: 1, asked: {} };
      }
      return state;
    },

    async save(s) {
      await mkdir(dataDir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(s, null, 2) + "\n");
      await rename(tmp, file);
    },
  };
}
