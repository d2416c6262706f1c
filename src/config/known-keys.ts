import { jobShape } from "./jobs-schema.js";
import { eventFilterShape, onShape } from "./on-schema.js";
import { resourcesShape } from "./resources-schema.js";
import { topLevelShape } from "./top-level-shape.js";

/** Keys allowed at each level, for unknown-key errors and did-you-mean hints. */
export const KNOWN_KEYS = {
  top: Object.keys(topLevelShape),
  job: Object.keys(jobShape),
  resources: Object.keys(resourcesShape),
  on: Object.keys(onShape),
  eventFilter: Object.keys(eventFilterShape),
} as const;
