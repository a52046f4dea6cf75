/**
 * CPU used by idle event-mode endpoints: `idle.ts <seconds>`. A peer process listens and waits in
 * `recv()` on an accepted channel; this process holds the other end and also waits in `recv()`.
 * After a settling second, the CPU time of every thread of both processes is read from
 * /proc/<pid>/task/<tid>/schedstat over the window. Prints one JSON line.
 */
import process from "node:process";
import { Domain } from "../mod.ts";
import { cpuNs, Peer, runtimeName, tempName } from "./_proc.ts";

const seconds = Number(process.argv[2] ?? 5);

const name = tempName("bench-idle");
using domain = Domain.open({ name });
const peer = new Peer("peer.ts", ["idle", "xio", name, "event"]);
await peer.json();
const channel = await domain.connect("bench", { poll: "event" });
const waiting = channel.recv(); // parks this side too
await new Promise((r) => setTimeout(r, 1000));
const pids = [process.pid, peer.child.pid!];
const before = pids.map(cpuNs);
const started = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
const wall = (performance.now() - started) * 1e6;
const after = pids.map(cpuNs);
// This process also ran its timer; the peer ran nothing but the library.
const [self, other] = after.map((a, i) => (a - before[i]) / wall * 100);
console.log(JSON.stringify({
  runtime: runtimeName,
  seconds,
  peer_cpu_percent: other,
  self_cpu_percent: self,
}));
peer.kill();
channel.close();
await waiting.catch(() => {});
process.exit(0);
