// Runs the edge for the end-to-end tests: `wrangler dev` (the same workerd, bindings and
// local state) through wrangler's own API, so that the DevTools inspector can be left off.
// With it on, as `wrangler dev` always has it, every message the runtime sends the
// inspector (four for each fetch the worker makes, to its Durable Objects too) also goes to
// wrangler's Node process: a third of the CPU the tests' edges used.
//
// node tests/edge.mjs PORT PERSIST_DIR [NAME:VALUE ...], run in the edge's folder (where
// wrangler.toml is); each NAME:VALUE is a variable, like `wrangler dev --var`.
import { unstable_startWorker } from "wrangler";

const [port, persist, ...vars] = process.argv.slice(2);
const bindings = Object.fromEntries(
  vars.map((pair) => {
    const colon = pair.indexOf(":");
    return [pair.slice(0, colon), { type: "plain_text", value: pair.slice(colon + 1) }];
  }),
);
const worker = await unstable_startWorker({
  config: "wrangler.toml",
  bindings,
  dev: {
    server: { hostname: "127.0.0.1", port: Number(port) },
    inspector: false,
    persist,
    remote: false,
    liveReload: false,
    logLevel: "warn",
  },
});
await worker.ready;
// Runs until the harness ends the process group.
