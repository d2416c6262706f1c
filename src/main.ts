import { run } from "probot";
import app from "./index.js";
import { YaciOctokit } from "./github/yaci-octokit.js";

/** `npm start`: Probot's server (or its setup page, when the app is not registered yet). */
await run(app, { Octokit: YaciOctokit });
