import { createApp } from "./app.js";

/** The Probot entry (`probot run ./lib/index.js` works too). No logic here. */
export default createApp();
