/**
 * One WebSocket benchmark variant in fresh processes (the server is bench/ws_peer.ts):
 *
 *   ws.ts <transport> rtt <count>                  64 B round trips, back to back
 *   ws.ts <transport> paced <intervals> <counts>   64 B round trips, one per tick (ms, comma-separated)
 *   ws.ts <transport> throughput <size> <bytes>    one-way messages of `size` bytes, `bytes` in all
 *   ws.ts <transport> idle <connections> <s>       that many open connections, idle for `s` seconds
 *
 * transport `xio` (this library's WebSocket and serve) or `tcp` (the runtime's own WebSocket and
 * server). Round trips report p50, p99 and p99.9 in µs and the CPU both processes used (% of a
 * core); throughput reports MB/s and messages/s (the sender keeps at most 8 MiB unacknowledged);
 * idle reports both processes' CPU and the resident memory the connections added. Prints one
 * JSON line.
 */
import process from "node:process";
import { readFileSync } from "node:fs";
import { socketDomain, WebSocket as XioWebSocket } from "../mod.ts";
import { cpuNs, Peer, percentile, ready, runtimeName, tempName } from "./_proc.ts";

const [transport, workload, first, second] = process.argv.slice(2);

let url: string;
let peer: Peer;
let closeDomain = () => {};
if (transport === "xio") {
  const name = tempName("bench-ws");
  process.env.XIO_DOMAIN = name;
  const domain = socketDomain();
  closeDomain = () => domain.close();
  peer = new Peer("ws_peer.ts", ["xio", name]);
  await ready(peer);
  url = "xio://bench/";
} else {
  peer = new Peer("ws_peer.ts", ["tcp", "-"]);
  const { port } = await ready<{ port: number }>(peer);
  url = `ws://127.0.0.1:${port}/`;
}
const Socket = (transport === "xio" ? XioWebSocket : globalThis.WebSocket) as typeof globalThis.WebSocket;
const pids = [process.pid, peer.child.pid!];

/** A socket whose messages are awaited one at a time. */
async function openSocket(): Promise<{ ws: WebSocket; next: () => Promise<unknown> }> {
  const ws = new Socket(url);
  ws.binaryType = "arraybuffer";
  const queued: unknown[] = [];
  let waiting: ((data: unknown) => void) | undefined;
  ws.onmessage = (event) => {
    const resolve = waiting;
    waiting = undefined;
    if (resolve) resolve(event.data);
    else queued.push(event.data);
  };
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`cannot open ${url}`));
  });
  const next = () =>
    queued.length > 0 ? Promise.resolve(queued.shift()) : new Promise((resolve) => (waiting = resolve));
  return { ws, next };
}

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepUntil(until: number): void {
  const ms = until - performance.now();
  if (ms > 0) Atomics.wait(sleeper, 0, 0, ms);
}

const payload = new Uint8Array(64).fill(7);
payload[0] = 1; // echoed
let result: Record<string, unknown>;

/** `count` round trips, each after `interval` ms (0: back to back); latency percentiles and CPU. */
async function roundTrips(
  socket: { ws: WebSocket; next: () => Promise<unknown> },
  count: number,
  interval: number,
): Promise<Record<string, number>> {
  const times = new Float64Array(count);
  const warmup = interval === 0 ? 1000 : 50;
  let before = pids.map(cpuNs);
  let started = performance.now();
  let tick = performance.now();
  for (let i = -warmup; i < count; i++) {
    if (i === 0) {
      before = pids.map(cpuNs);
      started = performance.now();
    }
    if (interval > 0) {
      tick += interval;
      sleepUntil(tick);
    }
    const t = performance.now();
    socket.ws.send(payload);
    await socket.next();
    if (i >= 0) times[i] = performance.now() - t;
    if (interval > 0 && performance.now() > tick + interval) tick = performance.now();
  }
  const wall = performance.now() - started;
  const cpu = pids.map((pid, i) => (cpuNs(pid) - before[i]) / (wall * 1e6) * 100);
  times.sort();
  return {
    interval_ms: interval,
    count,
    mean_us: wall / count * 1000,
    p50_us: percentile(times, 0.5) * 1000,
    p99_us: percentile(times, 0.99) * 1000,
    p999_us: percentile(times, 0.999) * 1000,
    client_cpu_percent: cpu[0],
    server_cpu_percent: cpu[1],
  };
}

switch (workload) {
  case "rtt": {
    const socket = await openSocket();
    result = await roundTrips(socket, Number(first), 0);
    socket.ws.close();
    break;
  }
  case "paced": {
    const socket = await openSocket();
    const intervals = first.split(",").map(Number);
    const counts = second.split(",").map(Number);
    const results = [];
    for (let k = 0; k < intervals.length; k++) {
      results.push(await roundTrips(socket, counts[k], intervals[k]));
    }
    result = { results };
    socket.ws.close();
    break;
  }
  case "throughput": {
    const size = Number(first);
    const total = Number(second);
    const socket = await openSocket();
    const message = new Uint8Array(size); // first byte 0: counted, not echoed
    const batch = Math.max(1, Math.floor(8 * 1024 * 1024 / size));
    const sync = async () => {
      socket.ws.send("count?");
      return Number(await socket.next());
    };
    // Warm-up: one batch.
    for (let i = 0; i < batch; i++) socket.ws.send(message);
    await sync();
    const count = Math.max(batch, Math.floor(total / size));
    const before = pids.map(cpuNs);
    const started = performance.now();
    let received = 0;
    for (let sent = 0; sent < count;) {
      const n = Math.min(batch, count - sent);
      for (let i = 0; i < n; i++) socket.ws.send(message);
      sent += n;
      received += await sync();
    }
    const seconds = (performance.now() - started) / 1000;
    if (received !== count * size) throw new Error(`received ${received} of ${count * size} bytes`);
    const cpu = pids.map((pid, i) => (cpuNs(pid) - before[i]) / (seconds * 1e9) * 100);
    result = {
      size,
      messages: count,
      mb_per_s: count * size / seconds / 1e6,
      messages_per_s: count / seconds,
      client_cpu_percent: cpu[0],
      server_cpu_percent: cpu[1],
    };
    socket.ws.close();
    break;
  }
  case "idle": {
    const connections = Number(first);
    const seconds = Number(second);
    const rssBefore = pids.map(rssKb);
    const sockets = [];
    for (let i = 0; i < connections; i++) sockets.push(await openSocket());
    // Every one works.
    for (const s of sockets) s.ws.send(payload);
    for (const s of sockets) await s.next();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const rssAfter = pids.map(rssKb);
    const before = pids.map(cpuNs);
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const wall = (performance.now() - started) * 1e6;
    const cpu = pids.map((pid, i) => (cpuNs(pid) - before[i]) / wall * 100);
    result = {
      connections,
      idle_s: seconds,
      client_cpu_percent: cpu[0],
      server_cpu_percent: cpu[1],
      client_kb_per_connection: (rssAfter[0] - rssBefore[0]) / connections,
      server_kb_per_connection: (rssAfter[1] - rssBefore[1]) / connections,
    };
    for (const s of sockets) s.ws.close();
    break;
  }
  default:
    throw new Error(`unknown workload ${workload}`);
}

await new Promise((resolve) => setTimeout(resolve, 50));
const exited = new Promise((resolve) => peer.child.once("exit", resolve));
if (process.env.PEER_BUN) peer.child.kill("SIGTERM");
else peer.kill();
await exited;
closeDomain();
console.log(JSON.stringify({ runtime: runtimeName, transport, workload, ...result }));
process.exit(0);
