/**
 * Heap growth of the hot path: `heap.ts <messages>`. One process holds both ends of a channel and
 * moves N messages through the non-blocking API (tryAlloc, trySend, tryRecv, release), then through
 * the bulk API, then, as a control that allocates, through async send/recv. Heap use is read
 * before and after each run without a collection in between; Deno runs this with a young
 * generation large enough that no scavenge hides allocations (see bench/main.ts).
 */
import process from "node:process";
import { Domain, type SharedBuffer } from "../mod.ts";
import { runtimeName, tempName } from "./_proc.ts";

const count = Number(process.argv[2] ?? 1_000_000);
using domain = Domain.open({ name: tempName("bench-heap"), hugepages: "never" });
using listener = domain.listen("heap");
const client = await domain.connect("heap");
const server = await listener.accept();
const a: SharedBuffer[] = [];
const b: SharedBuffer[] = [];

function collect(): void {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  if (typeof g.gc === "function") g.gc();
  else g.Bun?.gc(true);
}

function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

function single(n: number): void {
  for (let i = 0; i < n; i++) {
    const buffer = client.tryAlloc(64)!;
    buffer.bytes[0] = i & 0xff;
    client.trySend(buffer);
    server.tryRecv()!.release();
  }
}

function bulk(n: number): void {
  for (let done = 0; done < n;) {
    const got = client.tryAllocMany(64, a, 256);
    for (let i = 0; i < got; i++) a[i].bytes[0] = i;
    client.trySendMany(a, got);
    const received = server.tryRecvMany(b, 256)!;
    server.releaseMany(b, received);
    done += received;
  }
}

async function asyncPath(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await client.send(await client.alloc(64));
    (await server.recv())!.release();
  }
}

async function measure(run: (n: number) => void | Promise<void>): Promise<number> {
  await run(10_000); // warm up: JIT, pooled buffer objects, cached views
  collect();
  const before = heapUsed();
  await run(count);
  return (heapUsed() - before) / count;
}

const result = {
  runtime: runtimeName,
  messages: count,
  sync_bytes_per_message: await measure(single),
  bulk_bytes_per_message: await measure(bulk),
  async_bytes_per_message: await measure(asyncPath),
};
console.log(JSON.stringify(result));
