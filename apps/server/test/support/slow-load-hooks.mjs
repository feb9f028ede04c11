// Loaded with `node --import`: holds back the loading of pino, which the server imports as it
// loads the rest of itself after its entry, for 2 s, saying so on stderr first; a test can then
// signal the server while it is still loading.
import { register } from "node:module";

const hooks = `
import { writeSync } from "node:fs";
export async function load(url, context, nextLoad) {
  if (url.includes("/node_modules/pino/pino.js")) {
    writeSync(2, "test hook: holding back pino\\n");
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  return nextLoad(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
