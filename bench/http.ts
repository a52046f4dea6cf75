/**
 * One HTTP variant in fresh processes:
 *
 *   http.ts xio|tcp|unix GET|POST <body bytes> <concurrency> <seconds> [<client processes>]
 *
 * Starts bench/http_peer.ts (same runtime) and runs `concurrency` loops for `seconds` seconds,
 * each sending a request and reading the whole response body: in this process, or with more than
 * one client process in that many child processes (`http.ts client ...`), each running
 * `concurrency` loops. xio is this library's `fetch` (`xio://bench/`); tcp and unix are the
 * runtime's own fetch against the runtime's own server. Prints one JSON line: requests per second
 * (of all clients) and the p50/p99 latency of one request (the median over clients).
 */
import process from "node:process";
import { unlinkSync } from "node:fs";
import { fetch as xioFetch, socketDomain } from "../mod.ts";
import { Peer, percentile, ready, runtimeName, tempName } from "./_proc.ts";

const clientMode = process.argv[2] === "client";
const args = process.argv.slice(clientMode ? 3 : 2);
const [transport, methodArg, bodyArg, concurrencyArg, secondsArg, sixth] = args;
const method = methodArg === "POST" ? "POST" : "GET";
const size = method === "POST" ? Number(bodyArg) : 0;
const concurrency = Number(concurrencyArg);
const seconds = Number(secondsArg);
// The peer's address in client mode; the number of client processes otherwise.
const clients = clientMode ? 1 : Number(sixth ?? 1);
const WARMUP_MS = 300;

const payload = new Uint8Array(size).fill(7);
// GET answers "ok"; POST answers the body's length in bytes, as text.
const expected = method === "POST" ? String(size) : "ok";

/** How one request is made against the peer at `address` (a domain, a port or a socket path). */
function requester(address: string): () => Promise<Response> {
  if (transport === "xio") {
    const url = "xio://bench/";
    return method === "POST" ? () => xioFetch(url, { method, body: payload }) : () => xioFetch(url);
  }
  if (transport === "tcp") {
    const url = `http://127.0.0.1:${address}/`;
    return method === "POST" ? () => fetch(url, { method, body: payload }) : () => fetch(url);
  }
  const url = "http://localhost/";
  let init: RequestInit;
  if (runtimeName === "bun") {
    init = { unix: address } as RequestInit;
  } else {
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: address } });
    init = { client } as RequestInit; // Deno's extension of RequestInit
  }
  const post: RequestInit = { ...init, method, body: payload };
  return method === "POST" ? () => fetch(url, post) : () => fetch(url, init);
}

if (!["xio", "tcp", "unix"].includes(transport)) {
  console.error(`http.ts: unknown transport ${JSON.stringify(transport)}`);
  process.exit(2);
}

let peer: Peer | undefined;
let address: string;
let cleanup = () => {};

if (clientMode) {
  address = sixth;
  if (transport === "xio") process.env.XIO_DOMAIN = address;
} else if (transport === "xio") {
  address = tempName("bench-http");
  process.env.XIO_DOMAIN = address; // what our fetch uses; the peer and clients are told the name too
  const domain = socketDomain(); // created here, shared with fetch, closed at the end
  peer = new Peer("http_peer.ts", ["xio", address]);
  await ready(peer);
  cleanup = () => domain.close(); // after the peer died: the last one out removes the file
} else if (transport === "tcp") {
  peer = new Peer("http_peer.ts", ["tcp", "-"]);
  address = String((await ready<{ port: number }>(peer)).port);
} else {
  address = `/tmp/${tempName("bench-http")}.sock`;
  peer = new Peer("http_peer.ts", ["unix", address]);
  await ready(peer);
  const path = address;
  cleanup = () => {
    try {
      unlinkSync(path);
    } catch { /* already gone */ }
  };
}
const request = requester(address);

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

let result: { requests: number; req_per_s: number; p50_ms: number; p99_ms: number };
if (clients === 1) {
  await once();
  await load(WARMUP_MS);
  const { times, elapsed } = await load(seconds * 1000);
  const sorted = Float64Array.from(times).sort();
  result = {
    requests: times.length,
    req_per_s: times.length / (elapsed / 1000),
    p50_ms: percentile(sorted, 0.5),
    p99_ms: percentile(sorted, 0.99),
  };
} else {
  const children = Array.from(
    { length: clients },
    () =>
      new Peer("http.ts", [
        "client",
        transport,
        method,
        String(size),
        String(concurrency),
        String(seconds),
        address,
      ]),
  );
  const parts = await Promise.all(children.map((child) => ready<typeof result>(child)));
  const middle = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  result = {
    requests: parts.reduce((sum, part) => sum + part.requests, 0),
    req_per_s: parts.reduce((sum, part) => sum + part.req_per_s, 0),
    p50_ms: middle(parts.map((part) => part.p50_ms)),
    p99_ms: middle(parts.map((part) => part.p99_ms)),
  };
}

if (clientMode) {
  console.log(JSON.stringify(result));
  process.exit(0);
}

// Wait until the peer is gone: a domain whose other node still lives stays in /dev/shm.
// (Deno sets signalCode as soon as kill() is called, so look before.)
const server = peer!;
const running = server.child.exitCode === null && server.child.signalCode === null;
const exited = new Promise((resolve) => server.child.once("exit", resolve));
server.kill();
if (running) await exited;
cleanup();
console.log(JSON.stringify({
  runtime: runtimeName,
  transport,
  method,
  body: size,
  concurrency,
  clients,
  ...result,
}));
process.exit(0);
