/**
 * The HTTP benchmark suite (`deno task bench --suite http`). Each variant runs in a fresh
 * process (bench/http.ts) under Deno and Bun: this library's `fetch` and `serve` over shared
 * memory, against the same runtime's own fetch and server over TCP and over a UNIX socket, in
 * rotated order over several rounds; figures are medians. One case runs four client processes
 * against one server, more processes than this machine has cores, where a busy-polling
 * transport could starve its own peers. Writes bench/results/http.json and http.md.
 */
import { machine, median, options, progress, report, run, type Target, targetTable } from "./_suite.ts";

const { rounds, runtimes, quick } = options();
const seconds = quick ? 1 : 2;

const transports = ["xio", "tcp", "unix"] as const;
type Transport = typeof transports[number];

interface Case {
  label: string;
  method: "GET" | "POST";
  body: number;
  /** Concurrent requests per client process. */
  concurrency: number;
  /** Client processes (default 1). */
  clients?: number;
  /** The server's app (bench/http_peer.ts BENCH_APP); a bare handler by default. */
  app?: "hono" | "elysia";
}
const cases: Case[] = [
  { label: "GET, 1 concurrent", method: "GET", body: 0, concurrency: 1 },
  { label: "GET, 64 concurrent", method: "GET", body: 0, concurrency: 64 },
  { label: "GET, 256 concurrent", method: "GET", body: 0, concurrency: 256 },
  { label: "POST 64 KiB, 1 concurrent", method: "POST", body: 64 << 10, concurrency: 1 },
  { label: "POST 64 KiB, 64 concurrent", method: "POST", body: 64 << 10, concurrency: 64 },
  { label: "POST 64 KiB, 256 concurrent", method: "POST", body: 64 << 10, concurrency: 256 },
  { label: "POST 1 MiB, 1 concurrent", method: "POST", body: 1 << 20, concurrency: 1 },
  { label: "POST 1 MiB, 64 concurrent", method: "POST", body: 1 << 20, concurrency: 64 },
  { label: "POST 1 MiB, 256 concurrent", method: "POST", body: 1 << 20, concurrency: 256 },
  // More processes than this machine's cores: busy-polling must not starve the peers.
  { label: "GET, 4 client processes x 16 concurrent", method: "GET", body: 0, concurrency: 16, clients: 4 },
  // Users serve frameworks, not bare handlers: the same server code under a Hono app (with one
  // middleware) and an Elysia app.
  { label: "Hono app: GET, 1 concurrent", method: "GET", body: 0, concurrency: 1, app: "hono" },
  { label: "Hono app: GET, 64 concurrent", method: "GET", body: 0, concurrency: 64, app: "hono" },
  { label: "Elysia app: GET, 1 concurrent", method: "GET", body: 0, concurrency: 1, app: "elysia" },
  { label: "Elysia app: GET, 64 concurrent", method: "GET", body: 0, concurrency: 64, app: "elysia" },
];

interface Variant extends Case {
  transport: Transport;
}
// Transports interleaved, so that each case's three variants run close together in time.
const variants: Variant[] = cases.flatMap((c) => transports.map((transport) => ({ ...c, transport })));
const key = (c: Case, transport: Transport) =>
  `${c.app === undefined ? "" : `${c.app}-`}${transport}-${c.method}-${c.body}-${c.concurrency}-${
    c.clients ?? 1
  }`;

interface Sample {
  req_per_s: number[];
  p50_ms: number[];
  p99_ms: number[];
}
const samples: Record<string, Record<string, Sample>> = {};

for (let round = 0; round < rounds; round++) {
  for (const runtime of runtimes) {
    // A shift that is not a multiple of 3 also changes which transport of a case goes first.
    const order = variants.map((_, i) => variants[(i + round * 4) % variants.length]);
    for (const v of order) {
      const r = run(runtime, "http.ts", [
        v.transport,
        v.method,
        v.body,
        v.concurrency,
        seconds,
        v.clients ?? 1,
      ], v.app === undefined ? {} : { BENCH_APP: v.app });
      const s = (samples[runtime] ??= {})[key(v, v.transport)] ??= { req_per_s: [], p50_ms: [], p99_ms: [] };
      s.req_per_s.push(Number(r.req_per_s));
      s.p50_ms.push(Number(r.p50_ms));
      s.p99_ms.push(Number(r.p99_ms));
      progress(
        `round ${round + 1}/${rounds} ${runtime} ${key(v, v.transport)}: ${
          Math.round(Number(r.req_per_s))
        } req/s`,
      );
    }
  }
}

const fmt = (x: number) => (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0));
const lines: string[] = [];
const results: Record<string, unknown> = { machine: machine(), rounds, seconds, runtimes: {} };
const targets: Target[] = [];
lines.push(
  "HTTP: this library's fetch/serve over shared memory (xio) against the runtime's own fetch and " +
    "server over TCP and a UNIX socket: requests per second, and latency p50 / p99 in ms",
);
lines.push(
  "| runtime | case | xio req/s | TCP req/s | UNIX req/s | xio vs TCP | xio vs UNIX | xio p50 / p99 | TCP p50 / p99 | UNIX p50 / p99 |",
);
lines.push("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const runtime of runtimes) {
  const out: Record<string, unknown> = {};
  const ratios: Record<string, { tcp: number; unix: number }> = {};
  for (const c of cases) {
    const m = Object.fromEntries(transports.map((t) => {
      const s = samples[runtime][key(c, t)];
      return [t, { req_per_s: median(s.req_per_s), p50_ms: median(s.p50_ms), p99_ms: median(s.p99_ms) }];
    })) as Record<Transport, { req_per_s: number; p50_ms: number; p99_ms: number }>;
    const vsTcp = m.xio.req_per_s / m.tcp.req_per_s;
    const vsUnix = m.xio.req_per_s / m.unix.req_per_s;
    ratios[c.label] = { tcp: vsTcp, unix: vsUnix };
    out[c.label] = { ...m, ratio_vs_tcp: vsTcp, ratio_vs_unix: vsUnix };
    const latency = (t: Transport) => `${fmt(m[t].p50_ms)} / ${fmt(m[t].p99_ms)}`;
    lines.push(
      `| ${runtime} | ${c.label} | ${fmt(m.xio.req_per_s)} | ${fmt(m.tcp.req_per_s)} | ${
        fmt(m.unix.req_per_s)
      } | ${vsTcp.toFixed(1)}x | ${vsUnix.toFixed(1)}x | ${latency("xio")} | ${latency("tcp")} | ${
        latency("unix")
      } |`,
    );
  }
  (results.runtimes as Record<string, unknown>)[runtime] = out;
  const get64 = ratios["GET, 64 concurrent"];
  const get1 = ratios["GET, 1 concurrent"];
  for (const app of ["Hono", "Elysia"]) {
    const many = ratios[`${app} app: GET, 64 concurrent`];
    const one = ratios[`${app} app: GET, 1 concurrent`];
    targets.push(
      {
        runtime,
        target: `${app} app, 64 concurrent GET requests: xio req/s >= 4x TCP`,
        measured: `${many.tcp.toFixed(1)}x`,
        pass: many.tcp >= 4,
      },
      {
        runtime,
        target: `${app} app, 64 concurrent GET requests: xio req/s >= 2x the UNIX socket`,
        measured: `${many.unix.toFixed(1)}x`,
        pass: many.unix >= 2,
      },
      {
        runtime,
        target: `${app} app, 1 concurrent GET request: xio req/s >= 5x TCP`,
        measured: `${one.tcp.toFixed(1)}x`,
        pass: one.tcp >= 5,
      },
    );
  }
  targets.push(
    {
      runtime,
      target: "64 concurrent GET requests: xio req/s >= 4x TCP",
      measured: `${get64.tcp.toFixed(1)}x`,
      pass: get64.tcp >= 4,
    },
    {
      runtime,
      target: "64 concurrent GET requests: xio req/s >= 2x the UNIX socket",
      measured: `${get64.unix.toFixed(1)}x`,
      pass: get64.unix >= 2,
    },
    {
      runtime,
      target: "1 concurrent GET request: xio req/s >= 5x TCP",
      measured: `${get1.tcp.toFixed(1)}x`,
      pass: get1.tcp >= 5,
    },
  );
}
lines.push(...targetTable("Targets (issue: HTTP over shared memory)", targets));
results.targets = targets;
results.samples = samples;
report("http", lines.join("\n"), results);
