/**
 * Captures what the README shows of the `xio` command: `xio stat` of a domain with traffic, as
 * text, and a picture of `xio watch` (docs/watch.svg), rendered from a pseudo-terminal by a
 * terminal emulator. `deno run -A scripts/watch_picture.ts` after a build; it prints the stat.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Fixture } from "../tests/_helpers.ts";
import { collect } from "../ops/mod.ts";
import { screenOf, svgOf, underTerminal } from "./_screen.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
// Where Domain.open puts a domain by default: this user's directory under a hugetlbfs mount or
// /dev/shm, as a user's services would have it.
const dir = "";
const name = "shop";
const peer = (role: string, args: string[], runtime: "deno" | "bun") =>
  new Fixture("ops_peer.ts", [role, name, dir, ...args], runtime);
const server = peer("serve", [], "deno");
await server.waitFor("ready");
const senders = [peer("send", ["50000000", "200"], "bun"), peer("send", ["50000000", "1000"], "deno")];
const holder = peer("hold", [], "bun");
await holder.waitFor("ready");
await new Promise((resolve) => setTimeout(resolve, 1500));
try {
  const cli = `${root}ops/cli.ts`;
  const deno = `${root}node_modules/.bin/deno`;
  const stat = new Deno.Command(deno, { args: ["run", "-A", cli, "stat", name] })
    .outputSync();
  console.log(new TextDecoder().decode(stat.stdout));
  const cols = 160;
  const rows = 34;
  const raw = await underTerminal(`${deno} run -A ${cli} watch ${name} --count 3`, cols, rows);
  const screen = await screenOf(raw, cols, rows);
  writeFileSync(`${root}docs/watch.svg`, svgOf(screen.lines, cols));
  console.log("wrote docs/watch.svg");
} finally {
  for (const s of senders) await s.kill();
  await holder.kill();
  await server.kill();
  // Killed, they left the domain's files behind: what `xio gc` is for.
  console.log(JSON.stringify(collect({ names: [name] })));
}
