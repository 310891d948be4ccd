// Runs the built edge in workerd for `cargo xtask bench`: Miniflare (the engine of
// `wrangler dev`) with the bindings wrangler derives from the given config, but without the
// dev-only reload proxy and inspector that `wrangler dev` puts in front of every request.
// Usage, from edge/: node ../xtask/edge-server.mjs CONFIG PORT STATE_DIR
import { Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

const [config, port, state] = process.argv.slice(2);
const { workerOptions } = unstable_getMiniflareWorkerOptions(config);
// The admin token, when the benchmark reads the admin API (Miniflare reads no .dev.vars).
const bindings = { ...workerOptions.bindings };
if (process.env.RAPPORT_ADMIN_TOKEN) bindings.ADMIN_TOKEN = process.env.RAPPORT_ADMIN_TOKEN;
const mf = new Miniflare({
  ...workerOptions,
  bindings,
  host: "127.0.0.1",
  port: Number(port),
  modules: true,
  modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
  scriptPath: "build/index.js",
  defaultPersistRoot: state,
});
const url = await mf.ready;
console.log(`edge ready on ${url.href}`);
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
