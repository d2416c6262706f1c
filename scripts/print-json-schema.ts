/**
 * Prints the JSON schema of `.yaci.yml` (generated from the zod schema, the single source of truth),
 * or writes it to the file given. `npm run schema` refreshes the committed `schema/yaci.schema.json`
 * (test/cli/schema.test.ts fails when it drifts); `yaci schema` prints the same text.
 * Usage: `node --import tsx scripts/print-json-schema.ts [OUT_FILE]`
 */
import { writeFileSync } from "node:fs";
import { yaciConfigJsonSchema } from "../src/config/schema.js";

const text = `${JSON.stringify(yaciConfigJsonSchema(), null, 2)}\n`;
const out = process.argv[2];
if (out) writeFileSync(out, text);
else process.stdout.write(text);
