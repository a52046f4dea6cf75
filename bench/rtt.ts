/**
 * One round-trip variant in a fresh process: `rtt.ts <xio|unix|tcp> <payload> <iterations> [poll]`.
 * Prints one JSON line with p50, p99 and mean in microseconds.
 *
 * xio: one buffer is allocated and filled once, then travels to the echo peer and back; the
 * payload is never copied, which is the point of the zero-copy API. unix/tcp: the payload is
 * written and read back through the runtime's own socket API.
 */
import process from "node:process";
import { Domain, type PollMode } from "../mod.ts";
import { connect, type Transport } from "./_net.ts";
import { Peer, percentile, runtimeName, tempName } from "./_proc.ts";

const [transport, payloadArg, iterationsArg, pollArg] = process.argv.slice(2);
const payload = Number(payloadArg);
const iterations = Number(iterationsArg);
const poll = (pollArg ?? "event") as PollMode;
const warmup = Math.max(100, Math.floor(iterations / 10));
const times = new Float64Array(iterations);

if (transport === "xio") {
  const name = tempName("bench-rtt");
  using domain = Domain.open({ name });
  const peer = new Peer("peer.ts", ["echo", "xio", name, poll]);
  await peer.json();
  const channel = await domain.connect("bench", { poll });
  let buffer = await channel.alloc(payload);
  buffer.bytes.fill(7);
  for (let i = -warmup; i < iterations; i++) {
    const started = performance.now();
    await channel.send(buffer);
    buffer = (await channel.recv())!;
    if (i >= 0) times[i] = performance.now() - started;
  }
  buffer.release();
  channel.close();
  peer.kill();
} else {
  const path = `/tmp/${tempName("bench-rtt")}.sock`;
  const peer = new Peer("peer.ts", ["echo", transport, path]);
  const address = await peer.json<{ path?: string; port?: number }>();
  const client = await connect(transport as Transport, address, payload);
  for (let i = -warmup; i < iterations; i++) {
    const started = performance.now();
    await client.roundTrip();
    if (i >= 0) times[i] = performance.now() - started;
  }
  client.close();
  peer.kill();
}

times.sort();
let sum = 0;
for (const t of times) sum += t;
console.log(JSON.stringify({
  runtime: runtimeName,
  transport,
  poll: transport === "xio" ? poll : undefined,
  payload,
  iterations,
  p50_us: percentile(times, 0.5) * 1000,
  p99_us: percentile(times, 0.99) * 1000,
  mean_us: (sum / iterations) * 1000,
}));
process.exit(0);
