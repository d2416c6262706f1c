/** The keys of a `.yaci.yml` at the top level, with their schemas. */
import * as z from "zod";
import { jobsSchema } from "./jobs-schema.js";
import { onSchema } from "./on-schema.js";
import { durationSchema, envSchema, imageSchema, runSchema } from "./value-schemas.js";
import { DEFAULT_IMAGE } from "./yaci-config.js";

export const topLevelShape = {
  version: z.literal(1).optional().meta({ description: "Config format version; only 1 exists." }),
  image: imageSchema.optional().meta({ description: `Default container image of every job (default ${DEFAULT_IMAGE}).` }),
  timeout: durationSchema.optional().meta({ description: "Default timeout of every job (default 1h, at most 6h)." }),
  env: envSchema.optional(),
  on: onSchema.optional(),
  cancel_superseded: z
    .boolean()
    .optional()
    .meta({ description: "Cancel still-running jobs of older commits on the same branch or pull request (default true)." }),
  run: runSchema.optional().meta({ description: "Shortest form: one command, run as a single job named `build`. Use either `run` or `jobs`." }),
  jobs: jobsSchema.optional(),
};
