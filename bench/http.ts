/**
 * One HTTP variant in a fresh process:
 *
 *   http.ts xio|tcp|unix GET|POST <body bytes> <concurrency> <seconds>
 *
 * Starts bench/http_peer.ts (same runtime) and runs `concurrency` loops for `seconds` seconds,
 * each sending a request and reading the whole response body. xio is this library's `fetch`
 * (`xio://bench/`); tcp and unix are the runtime's own fetch against the runtime's own server.
 * Prints one JSON line: requests per second and the p50/p99 latency of one request.
 */
import process from "node:process";
import { unlinkSync } from "node:fs";
import { fetch as xioFetch, socketDomain } from "../mod.ts";
import { Peer, percentile, runtimeName, tempName } from "./_proc.ts";

const [transport, methodArg, bodyArg, concurrencyArg, secondsArg] = process.argv.slice(2);
const method = methodArg === "POST" ? "POST" : "GET";
const size = method === "POST" ? Number(bodyArg) : 0;
const concurrency = Number(concurrencyArg);
const seconds = Number(secondsArg);
const WARMUP_MS = 300;

const payload = new Uint8Array(size).fill(7);
// GET answers "ok"; POST answers the body's length in bytes, as text.
const expected = method === "POST" ? String(size) : "ok";

/** The peer's ready line; throws if the peer exits first (instead of waiting forever). */
function ready<T>(peer: Peer): Promise<T> {
  return Promise.race([
    peer.json<T>(),
    new Promise<never>((_, reject) =>
      peer.child.once(
        "exit",
        (code) => reject(new Error(`http_peer.ts exited (${code}) before it was ready`)),
      )
    ),
  ]);
}

let request: () => Promise<Response>;
let peer: Peer;
let cleanup = () => {};

if (transport === "xio") {
  const name = tempName("bench-http");
  process.env.XIO_DOMAIN = name; // what our fetch uses; the peer is told the name too
  const domain = socketDomain(); // created here, shared with fetch, closed at the end
  peer = new Peer("http_peer.ts", ["xio", name]);
  await ready(peer);
  const url = "xio://bench/";
  request = method === "POST" ? () => xioFetch(url, { method, body: payload }) : () => xioFetch(url);
  cleanup = () => domain.close(); // after the peer died: the last one out removes the file
} else if (transport === "tcp") {
  peer = new Peer("http_peer.ts", ["tcp", "-"]);
  const { port } = await ready<{ port: number }>(peer);
  const url = `http://127.0.0.1:${port}/`;
  request = method === "POST" ? () => fetch(url, { method, body: payload }) : () => fetch(url);
} else if (transport === "unix") {
  const path = `/tmp/${tempName("bench-http")}.sock`;
  peer = new Peer("http_peer.ts", ["unix", path]);
  await ready(peer);
  const url = "http://localhost/";
  let init: RequestInit;
  if (runtimeName === "bun") {
    init = { unix: path } as RequestInit;
  } else {
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path } });
    init = { client } as RequestInit; // Deno's extension of RequestInit
  }
  const post: RequestInit = { ...init, method, body: payload };
  request = method === "POST" ? () => fetch(url, post) : () => fetch(url, init);
  cleanup = () => {
    try {
      unlinkSync(path);
    } catch { /* already gone */ }
  };
} else {
  console.error(`http.ts: unknown transport ${JSON.stringify(transport)}`);
  process.exit(2);
}

/** One request and its whole response body (a few bytes of text); throws on a wrong answer. */
async function once(): Promise<void> {
  const response = await request();
  const text = await response.text();
  if (response.status !== 200 || text !== expected) {
    throw new Error(`Unexpected response: ${response.status} ${JSON.stringify(text)}`);
  }
}

/** `concurrency` loops until `ms` have passed; the latency of every request in milliseconds. */
async function load(ms: number): Promise<{ times: number[]; elapsed: number }> {
  const times: number[] = [];
  const started = performance.now();
  const deadline = started + ms;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const t = performance.now();
      await once();
      times.push(performance.now() - t);
    }
  }));
  return { times, elapsed: performance.now() - started };
}

await once();
await load(WARMUP_MS);
const { times, elapsed } = await load(seconds * 1000);
const sorted = Float64Array.from(times).sort();

// Wait until the peer is gone: a domain whose other node still lives stays in /dev/shm.
// (Deno sets signalCode as soon as kill() is called, so look before.)
const running = peer.child.exitCode === null && peer.child.signalCode === null;
const exited = new Promise((resolve) => peer.child.once("exit", resolve));
peer.kill();
if (running) await exited;
cleanup();
console.log(JSON.stringify({
  runtime: runtimeName,
  transport,
  method,
  body: size,
  concurrency,
  requests: times.length,
  req_per_s: times.length / (elapsed / 1000),
  p50_ms: percentile(sorted, 0.5),
  p99_ms: percentile(sorted, 0.99),
}));
process.exit(0);
