/**
 * One sporadic-traffic variant in fresh processes:
 *
 *   sporadic.ts <workload> <transport> <intervals ms, comma-separated> <counts, comma-separated> <idle s>
 *
 * workload `echo`: 64 B round trips; transport `xio` (a zero-copy channel in event mode), `conn`
 * (an xio Conn), `unix` or `tcp` (the runtime's own socket API). workload `http`: one GET at a
 * time; transport `xio` (this library's fetch and serve), `tcp` or `unix` (the runtime's own fetch
 * and server).
 *
 * One request is in flight at a time. Between requests the client sleeps until the next tick of
 * the interval (a deadline schedule, so the interval does not drift): in the kernel, with
 * `Atomics.wait`, so that its core may go idle as a paced service's would, and precisely even at
 * 0.1 ms, which no timer API offers. The server is a separate process of the same runtime
 * (bench/peer.ts, bench/http_peer.ts) that waits for each request as any service does.
 *
 * For each interval: the latency of each request (p50, p99, p99.9 in µs) and the CPU time both
 * processes used while paced (from /proc/<pid>/task/<tid>/schedstat), as a percentage of one core.
 * Then both sides idle for `idle s` with the connection open, and their CPU is measured again.
 * Prints one JSON line.
 */
import process from "node:process";
import { unlinkSync } from "node:fs";
import { connect as xioConnect, Domain, fetch as xioFetch, socketDomain } from "../mod.ts";
import { connect as netConnect, type Transport } from "./_net.ts";
import { cpuNs, Peer, percentile, ready, runtimeName, tempName } from "./_proc.ts";

const [workload, transport, intervalsArg, countsArg, idleArg] = process.argv.slice(2);
const intervals = intervalsArg.split(",").map(Number);
const counts = countsArg.split(",").map(Number);
const idleSeconds = Number(idleArg ?? 2);
const PAYLOAD = 64;
const WARMUP = 50;

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Sleeps in the kernel until `performance.now()` reaches `until` (ms). */
function sleepUntil(until: number): void {
  const ms = until - performance.now();
  if (ms > 0) Atomics.wait(sleeper, 0, 0, ms);
}

/** Sets up the variant; returns one request and a clean-up. */
async function setUp(): Promise<{ peer: Peer; once: () => Promise<void>; close: () => void }> {
  if (workload === "echo" && (transport === "xio" || transport === "conn")) {
    const name = tempName("bench-sporadic");
    const domain = Domain.open({ name });
    const peer = new Peer("peer.ts", ["echo", transport === "xio" ? "xio" : "xsock", name, "event"]);
    await ready(peer);
    if (transport === "xio") {
      const channel = await domain.connect("bench", { poll: "event" });
      let buffer = await channel.alloc(PAYLOAD);
      buffer.bytes.fill(7);
      return {
        peer,
        once: async () => {
          await channel.send(buffer);
          buffer = (await channel.recv())!;
        },
        close: () => {
          buffer.release();
          channel.close();
          domain.close();
        },
      };
    }
    const conn = await xioConnect({ name: "bench", domain, poll: "event" });
    const out = new Uint8Array(PAYLOAD).fill(7);
    const back = new Uint8Array(PAYLOAD);
    return {
      peer,
      once: async () => {
        await conn.write(out);
        let got = 0;
        while (got < PAYLOAD) {
          const n = await conn.read(back.subarray(got));
          if (n === null) throw new Error("echo closed");
          got += n;
        }
      },
      close: () => {
        conn.close();
        domain.close();
      },
    };
  }
  if (workload === "echo") {
    const path = `/tmp/${tempName("bench-sporadic")}.sock`;
    const peer = new Peer("peer.ts", ["echo", transport, path]);
    const address = await ready<{ path?: string; port?: number }>(peer);
    const client = await netConnect(transport as Transport, address, PAYLOAD);
    return { peer, once: () => client.roundTrip(), close: () => client.close() };
  }
  // HTTP
  let request: () => Promise<Response>;
  let peer: Peer;
  let close = () => {};
  if (transport === "xio") {
    const name = tempName("bench-sporadic");
    process.env.XIO_DOMAIN = name;
    const domain = socketDomain();
    peer = new Peer("http_peer.ts", ["xio", name]);
    await ready(peer);
    request = () => xioFetch("xio://bench/");
    close = () => domain.close();
  } else if (transport === "tcp") {
    peer = new Peer("http_peer.ts", ["tcp", "-"]);
    const { port } = await ready<{ port: number }>(peer);
    request = () => fetch(`http://127.0.0.1:${port}/`);
  } else {
    const path = `/tmp/${tempName("bench-sporadic")}.sock`;
    peer = new Peer("http_peer.ts", ["unix", path]);
    await ready(peer);
    const init = runtimeName === "bun"
      ? { unix: path } as RequestInit
      : { client: Deno.createHttpClient({ proxy: { transport: "unix", path } }) } as RequestInit;
    request = () => fetch("http://localhost/", init);
    close = () => {
      try {
        unlinkSync(path);
      } catch { /* gone */ }
    };
  }
  return {
    peer,
    once: async () => {
      const response = await request();
      if ((await response.text()) !== "ok") throw new Error(`Unexpected response ${response.status}`);
    },
    close,
  };
}

const { peer, once, close } = await setUp();
const pids = [process.pid, peer.child.pid!];
const results: Record<string, unknown>[] = [];
for (let k = 0; k < intervals.length; k++) {
  const interval = intervals[k];
  const count = counts[k];
  const times = new Float64Array(count);
  let next = performance.now();
  let before = pids.map(cpuNs);
  let started = performance.now();
  for (let i = -WARMUP; i < count; i++) {
    if (i === 0) {
      // CPU and wall time count from the end of the warm-up.
      before = pids.map(cpuNs);
      started = performance.now();
    }
    next += interval;
    sleepUntil(next);
    const t = performance.now();
    await once();
    const took = performance.now() - t;
    if (i >= 0) times[i] = took;
    // A request that overran its tick starts the schedule afresh, as a timer would.
    if (performance.now() > next + interval) next = performance.now();
  }
  const wall = (performance.now() - started) * 1e6;
  const cpu = pids.map((pid, i) => (cpuNs(pid) - before[i]) / wall * 100);
  times.sort();
  results.push({
    interval_ms: interval,
    count,
    p50_us: percentile(times, 0.5) * 1000,
    p99_us: percentile(times, 0.99) * 1000,
    p999_us: percentile(times, 0.999) * 1000,
    client_cpu_percent: cpu[0],
    server_cpu_percent: cpu[1],
  });
}

// Idle: the connection stays open, nobody sends. Measured after a settling half second.
await new Promise((resolve) => setTimeout(resolve, 500));
const idleBefore = pids.map(cpuNs);
const idleStart = performance.now();
await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
const idleWall = (performance.now() - idleStart) * 1e6;
const idle = pids.map((pid, i) => (cpuNs(pid) - idleBefore[i]) / idleWall * 100);

const exited = new Promise((resolve) => peer.child.once("exit", resolve));
peer.kill();
await exited;
close();
console.log(JSON.stringify({
  runtime: runtimeName,
  workload,
  transport,
  results,
  idle_client_cpu_percent: idle[0],
  idle_server_cpu_percent: idle[1],
}));
process.exit(0);
