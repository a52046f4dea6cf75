/**
 * All benchmark suites: `deno task bench [--suite zero-copy|socket|http|sporadic|websocket|counters] [--quick] [--rounds N]
 * [--runtimes deno,bun]`. Each suite runs its variants in fresh processes under Deno and Bun,
 * with the kernel baselines of the same runtime in the same run, prints a table, and writes
 * bench/results/<suite>.json with every ratio.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";
import { root } from "./_suite.ts";

const args = process.argv.slice(2);
const at = args.indexOf("--suite");
const only = at >= 0 ? args[at + 1] : undefined;
const rest = args.filter((_, i) => i !== at && i !== at + 1);
const suites: Record<string, string> = {
  "zero-copy": "zero_copy_main.ts",
  socket: "socket_main.ts",
  http: "http_main.ts",
  sporadic: "sporadic_main.ts",
  websocket: "ws_main.ts",
  counters: "counters_main.ts",
};
let failed = false;
for (const [name, script] of Object.entries(suites)) {
  if (only !== undefined && only !== name) continue;
  if (!existsSync(`${root}bench/${script}`)) continue;
  console.log(`\n## ${name}\n`);
  const result = spawnSync(process.execPath, ["run", "--allow-all", `${root}bench/${script}`, ...rest], {
    stdio: "inherit",
  });
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
