/**
 * One socket-layer variant in a fresh process:
 *
 *   socket.ts rtt       xsock|unix|tcp <payload> <iterations> [poll]   echo round trips
 *   socket.ts stream    xsock|unix|tcp <write size> <seconds>          one connection streaming
 *   socket.ts aggregate xsock|unix|tcp <write size> <seconds>          64 connections streaming
 *   socket.ts pipe      xsock|unix <chunk size> <MiB>                   an echo that pipes its
 *                                                                      readable to its writable
 *
 * xsock is this library's Conn (`connect`/`listen`); unix and tcp are the runtime's own socket
 * API. Every byte is written and read by the application on both transports. Prints one JSON
 * line.
 */
import process from "node:process";
import { type Conn, connect, Domain, type PollMode } from "../mod.ts";
import { connect as connectKernel, pipeThrough, streamThrough, type Transport } from "./_net.ts";
import { Peer, percentile, runtimeName, tempName } from "./_proc.ts";

const [kind, transport, sizeArg, amountArg, pollArg] = process.argv.slice(2);
const size = Number(sizeArg);
const amount = Number(amountArg);
const poll = (pollArg || "adaptive") as PollMode;

interface Client {
  roundTrip(): Promise<void>;
  stream(count: number): Promise<void>;
  close(): void;
}

function xsockClient(conn: Conn): Client {
  const payload = new Uint8Array(size).fill(7);
  const back = new Uint8Array(size);
  return {
    async roundTrip() {
      await conn.write(payload);
      let got = 0;
      while (got < size) got += (await conn.read(back.subarray(got)))!;
    },
    async stream(count: number) {
      for (let i = 0; i < count; i++) await conn.write(payload);
    },
    close: () => conn.close(),
  };
}

if (kind === "pipe") {
  // Every byte goes through the Web Streams of both ends.
  const total = amount * (1 << 20);
  let seconds: number;
  let pipePeer: Peer;
  let pipeDomain: Domain | undefined;
  if (transport === "xsock") {
    const name = tempName("bench-pipe");
    pipeDomain = Domain.open({ name });
    pipePeer = new Peer("peer.ts", ["pipe", "xsock", name, poll]);
    await pipePeer.json();
    const conn = await connect({ name: "bench", domain: pipeDomain, poll });
    seconds = await streamThrough(conn, size, total);
    conn.close();
  } else {
    const path = `/tmp/${tempName("bench-pipe")}.sock`;
    pipePeer = new Peer("peer.ts", ["pipe", transport, path]);
    const address = await pipePeer.json<{ path?: string }>();
    seconds = await pipeThrough(address, size, total);
  }
  pipePeer.kill();
  pipeDomain?.close();
  console.log(JSON.stringify({
    runtime: runtimeName,
    kind,
    transport,
    size,
    mib: amount,
    poll: transport === "xsock" ? poll : undefined,
    gb_per_s: total / seconds / 1e9,
    seconds,
  }));
  process.exit(0);
}

let domain: Domain | undefined;
let peer: Peer;
let clients: Client[];
const connections = kind === "aggregate" ? 64 : 1;
if (transport === "xsock") {
  const name = tempName("bench-sock");
  domain = Domain.open({ name });
  peer = new Peer("peer.ts", [kind === "rtt" ? "echo" : "sink", "xsock", name, poll]);
  await peer.json();
  clients = [];
  for (let i = 0; i < connections; i++) {
    clients.push(xsockClient(await connect({ name: "bench", domain, poll })));
  }
} else {
  const path = `/tmp/${tempName("bench-sock")}.sock`;
  peer = new Peer("peer.ts", [kind === "rtt" ? "echo" : "sink", transport, path]);
  const address = await peer.json<{ path?: string; port?: number }>();
  clients = [];
  for (let i = 0; i < connections; i++) {
    clients.push(await connectKernel(transport as Transport, address, size));
  }
}

let result: Record<string, unknown>;
if (kind === "rtt") {
  const times = new Float64Array(amount);
  const warmup = Math.max(100, amount / 10);
  for (let i = -warmup; i < amount; i++) {
    const started = performance.now();
    await clients[0].roundTrip();
    if (i >= 0) times[i] = performance.now() - started;
  }
  times.sort();
  result = { p50_us: percentile(times, 0.5) * 1000, p99_us: percentile(times, 0.99) * 1000 };
} else {
  const batch = Math.max(1, Math.floor((4 << 20) / size));
  const started = performance.now();
  const deadline = started + amount * 1000;
  let bytes = 0;
  await Promise.all(clients.map(async (client) => {
    while (performance.now() < deadline) {
      await client.stream(batch);
      bytes += batch * size;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  result = { gb_per_s: bytes / seconds / 1e9, seconds };
}
for (const client of clients) client.close();
peer.kill();
domain?.close();
console.log(
  JSON.stringify({
    runtime: runtimeName,
    kind,
    transport,
    size,
    connections,
    poll: transport === "xsock" ? poll : undefined,
    ...result,
  }),
);
process.exit(0);
