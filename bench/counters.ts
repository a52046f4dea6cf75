/**
 * The zero-copy hot path in one process, timed with tinybench: `counters.ts`. Run once with the
 * library as built (counting messages and bytes per ring) and once with XIO_LIB pointing at the
 * same library built without the counters (`zig-out/lib/testing/libxio-uncounted.so`), to measure
 * what counting costs. Prints one JSON line: nanoseconds per message for each task.
 */
import { Bench } from "tinybench";
import { Domain, type SharedBuffer } from "../mod.ts";
import { runtimeName, tempName } from "./_proc.ts";
import { loadLibrary } from "../ffi/mod.ts";

using domain = Domain.open({ name: tempName("bench-counters"), hugepages: "never" });
using listener = domain.listen("counters");
const client = await domain.connect("counters");
const server = await listener.accept();
const a: SharedBuffer[] = [];
const b: SharedBuffer[] = [];

const INNER = 1000;
const tasks: [string, number, () => void][] = [
  // Pushes nothing onto a ring, so it runs the same code in both libraries: the noise floor.
  ["alloc + release, no send", INNER, () => {
    for (let i = 0; i < INNER; i++) client.tryAlloc(64)!.release();
  }],
  ["send + receive, one at a time", INNER, () => {
    for (let i = 0; i < INNER; i++) {
      client.trySend(client.tryAlloc(64)!);
      server.tryRecv()!.release();
    }
  }],
  ["send + receive, 256 per call", 2560, () => {
    for (let i = 0; i < 10; i++) {
      const n = client.tryAllocMany(64, a, 256);
      client.trySendMany(a, n);
      server.releaseMany(b, server.tryRecvMany(b, 256)!);
    }
  }],
];

const bench = new Bench({ time: 400, warmupTime: 150 });
for (const [name, , fn] of tasks) bench.add(name, fn);
await bench.run();

const result: Record<string, unknown> = { runtime: runtimeName, library: loadLibrary().path };
for (const [name, per] of tasks) {
  const task = bench.getTask(name)!;
  const latency = task.result && "latency" in task.result ? task.result.latency : undefined;
  result[name] = latency ? (latency.p50! * 1e6) / per : null; // ms per task -> ns per message
}
console.log(JSON.stringify(result));
