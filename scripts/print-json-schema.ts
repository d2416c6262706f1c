/**
 * Prints the JSON schema of `.yaci.yml` (generated from the zod schema, the single source of truth).
 * Usage: `node --import tsx scripts/print-json-schema.ts > yaci.schema.json`
 */
import { yaciConfigJsonSchema } from "../src/config/schema.js";

process.stdout.write(`${JSON.stringify(yaciConfigJsonSchema(), null, 2)}\n`);
