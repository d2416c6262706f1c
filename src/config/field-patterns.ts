/** Syntax of names and quantities in `.yaci.yml`; the schema also puts them in the JSON schema (`pattern`). */

export const JOB_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Kubernetes resource quantity (no sign): `500m`, `1`, `0.5`, `1Gi`, `512Mi`, `1e3`. */
export const QUANTITY_RE = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/;
