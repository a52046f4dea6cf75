/**
 * In-process costs at three levels, timed with tinybench: the raw FFI call, the native operation
 * behind it, and the public API around it. One process holds both ends of a channel.
 * `ffi.ts` prints one JSON line: nanoseconds per operation for each task.
 */
import { Bench } from "tinybench";
import { native } from "../ffi/mod.ts";
import { Domain, type SharedBuffer } from "../mod.ts";
import { runtimeName, tempName } from "./_proc.ts";

using domain = Domain.open({ name: tempName("bench-ffi"), hugepages: "never" });
using listener = domain.listen("ffi");
const client = await domain.connect("ffi");
const server = await listener.accept();
const sym = native();
const a: SharedBuffer[] = [];
const b: SharedBuffer[] = [];

// Each task runs an inner loop, so that the timer's own cost (tens of nanoseconds) is spread
// over many operations; results are reported per operation (per message for the bulk task).
const INNER = 1000;
const tasks: [string, number, () => void][] = [
  ["raw FFI call (xio_version)", INNER, () => {
    for (let i = 0; i < INNER; i++) sym.xio_version();
  }],
  ["tryRecv on an empty ring", INNER, () => {
    for (let i = 0; i < INNER; i++) server.tryRecv();
  }],
  ["tryAlloc + release", INNER, () => {
    for (let i = 0; i < INNER; i++) client.tryAlloc(64)!.release();
  }],
  ["tryAlloc + trySend + tryRecv + release", INNER, () => {
    for (let i = 0; i < INNER; i++) {
      client.trySend(client.tryAlloc(64)!);
      server.tryRecv()!.release();
    }
  }],
  ["the same in bulk (256 per call), per message", 2560, () => {
    for (let i = 0; i < 10; i++) {
      const n = client.tryAllocMany(64, a, 256);
      client.trySendMany(a, n);
      server.releaseMany(b, server.tryRecvMany(b, 256)!);
    }
  }],
];

const bench = new Bench({ time: 300, warmupTime: 100 });
for (const [name, , fn] of tasks) bench.add(name, fn);
await bench.run();

const result: Record<string, unknown> = { runtime: runtimeName };
for (const [name, per] of tasks) {
  const task = bench.getTask(name)!;
  const latency = task.result && "latency" in task.result ? task.result.latency : undefined;
  result[name] = latency ? (latency.mean * 1e6) / per : null; // ms per task -> ns per operation
}
console.log(JSON.stringify(result));
