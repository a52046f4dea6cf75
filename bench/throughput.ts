/**
 * One-way message throughput in a fresh process: `throughput.ts <xio|unix|tcp> <payload> <seconds>`.
 * Prints one JSON line with messages per second and MB/s.
 *
 * xio: the producer allocates, stamps and sends buffers in bulk (256 per native call) and the sink
 * peer receives and releases them in bulk; the rate is measured at the sink. unix/tcp: one write
 * per message through the runtime's socket API, measured at the writer.
 */
import process from "node:process";
import { Domain, type SharedBuffer } from "../mod.ts";
import { connect, type Transport } from "./_net.ts";
import { Peer, runtimeName, tempName } from "./_proc.ts";

const [transport, payloadArg, secondsArg] = process.argv.slice(2);
const payload = Number(payloadArg);
const seconds = Number(secondsArg);
let messages = 0;
let elapsed = 0;

if (transport === "xio") {
  const name = tempName("bench-tp");
  using domain = Domain.open({ name });
  const peer = new Peer("peer.ts", ["sink", "xio", name, "adaptive"]);
  await peer.json();
  const channel = await domain.connect("bench", { poll: "adaptive" });
  const batch: SharedBuffer[] = [];
  const deadline = performance.now() + seconds * 1000;
  let sequence = 0;
  while (performance.now() < deadline) {
    for (let round = 0; round < 64; round++) {
      let got = channel.tryAllocMany(payload, batch, 256);
      if (got === 0) {
        batch[0] = await channel.alloc(payload);
        got = 1;
      }
      for (let i = 0; i < got; i++) batch[i].bytes[0] = sequence++ & 0xff;
      let sent = channel.trySendMany(batch, got);
      while (sent < got) {
        await channel.send(batch[sent++]);
        const rest = batch.slice(sent, got);
        sent += channel.trySendMany(rest);
      }
    }
  }
  channel.closeWrite();
  const result = await peer.json<{ messages: number; seconds: number }>();
  messages = result.messages;
  elapsed = result.seconds;
  channel.close();
} else {
  const path = `/tmp/${tempName("bench-tp")}.sock`;
  const peer = new Peer("peer.ts", ["sink", transport, path]);
  const address = await peer.json<{ path?: string; port?: number }>();
  const client = await connect(transport as Transport, address, payload);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    await client.stream(1000);
    messages += 1000;
  }
  elapsed = (performance.now() - started) / 1000;
  client.close();
  peer.kill();
}

console.log(JSON.stringify({
  runtime: runtimeName,
  transport,
  payload,
  messages,
  seconds: elapsed,
  messages_per_s: messages / elapsed,
  mb_per_s: (messages * payload) / elapsed / 1e6,
}));
process.exit(0);
