/**
 * The socket-layer benchmark suite (`deno task bench --suite socket`). Each variant runs in a
 * fresh process under Deno and Bun, against UNIX sockets and TCP through the same runtime's own
 * socket API, in rotated order over several rounds; figures are medians. Writes
 * bench/results/socket.json and socket.md.
 */
import { machine, median, options, progress, report, run, type Target, targetTable } from "./_suite.ts";

const { rounds, runtimes, quick } = options();
const seconds = quick ? 1 : 2;

interface Variant {
  kind: "rtt" | "stream" | "aggregate" | "pipe";
  transport: "xsock" | "unix" | "tcp";
  size: number;
  poll?: string;
}
const variants: Variant[] = [];
for (const transport of ["unix", "tcp", "xsock"] as const) {
  for (const size of [64, 65536]) {
    if (transport === "xsock") {
      variants.push({ kind: "rtt", transport, size, poll: "adaptive" }, {
        kind: "rtt",
        transport,
        size,
        poll: "event",
      });
    } else variants.push({ kind: "rtt", transport, size });
  }
  for (const size of [65536, 1 << 20]) variants.push({ kind: "stream", transport, size });
  variants.push({ kind: "aggregate", transport, size: 65536 });
  // An echo that does `conn.readable.pipeTo(conn.writable)`, driven through Web Streams too.
  if (transport !== "tcp") variants.push({ kind: "pipe", transport, size: 1 << 20, poll: "event" });
}
/** MiB pushed through the pipe echo (1 GiB: a quarter of that lasts a few hundred ms, too noisy). */
const PIPE_MIB = quick ? 256 : 1024;
const key = (v: Variant) =>
  `${v.kind}-${v.transport}${v.poll && v.kind !== "pipe" ? `-${v.poll}` : ""}-${v.size}`;
const samples: Record<string, Record<string, number[]>> = {};

const fmt = (x: number) => (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0));

for (let round = 0; round < rounds; round++) {
  for (const runtime of runtimes) {
    const order = variants.map((_, i) => variants[(i + round * 5) % variants.length]);
    for (const v of order) {
      const amount = v.kind === "rtt"
        ? (v.transport === "xsock" && v.poll === "adaptive" ? 50_000 : 5_000) * (quick ? 0.3 : 1)
        : v.kind === "pipe"
        ? PIPE_MIB
        : seconds;
      const r = run(runtime, "socket.ts", [
        v.kind,
        v.transport,
        v.size,
        Math.round(amount),
        v.poll ?? "adaptive",
      ]);
      const value = Number(v.kind === "rtt" ? r.p50_us : r.gb_per_s);
      ((samples[runtime] ??= {})[key(v)] ??= []).push(value);
      progress(`round ${round + 1}/${rounds} ${runtime} ${key(v)}: ${fmt(value)}`);
    }
  }
}
const m = (runtime: string, k: string) => median(samples[runtime][k]);
const lines: string[] = [];
const results: Record<string, unknown> = { machine: machine(), rounds, runtimes: {} };
const targets: Target[] = [];
lines.push(
  "Socket layer (Conn) against the runtime's own sockets: round-trip p50 in µs, throughput in GB/s (one way)",
);
lines.push("| runtime | measure | UNIX socket | TCP | xio Conn | xio vs UNIX | xio vs TCP |");
lines.push("| --- | --- | --- | --- | --- | --- | --- |");
for (const runtime of runtimes) {
  const out: Record<string, unknown> = {};
  const row = (label: string, k: (t: string) => string, lowerIsBetter: boolean) => {
    const unix = m(runtime, k("unix"));
    const ours = m(runtime, k("xsock"));
    const tcpSamples = samples[runtime][k("tcp")];
    const tcp = tcpSamples === undefined ? undefined : median(tcpSamples);
    const vsUnix = lowerIsBetter ? unix / ours : ours / unix;
    const vsTcp = tcp === undefined ? undefined : lowerIsBetter ? tcp / ours : ours / tcp;
    out[label] = { unix, tcp, xio: ours, ratio_vs_unix: vsUnix, ratio_vs_tcp: vsTcp };
    lines.push(
      `| ${runtime} | ${label} | ${fmt(unix)} | ${tcp === undefined ? "-" : fmt(tcp)} | ${fmt(ours)} | ${
        vsUnix.toFixed(1)
      }x | ${vsTcp === undefined ? "-" : `${vsTcp.toFixed(1)}x`} |`,
    );
    return vsUnix;
  };
  const rtt64 = row(
    "round trip 64 B (adaptive), µs",
    (t) => t === "xsock" ? "rtt-xsock-adaptive-64" : `rtt-${t}-64`,
    true,
  );
  row("round trip 64 B (event), µs", (t) => t === "xsock" ? "rtt-xsock-event-64" : `rtt-${t}-64`, true);
  row(
    "round trip 64 KiB (adaptive), µs",
    (t) => t === "xsock" ? "rtt-xsock-adaptive-65536" : `rtt-${t}-65536`,
    true,
  );
  const s64 = row("stream, 64 KiB writes, GB/s", (t) => `stream-${t}-65536`, false);
  const s1m = row("stream, 1 MiB writes, GB/s", (t) => `stream-${t}-${1 << 20}`, false);
  row("64 connections streaming, GB/s total", (t) => `aggregate-${t}-65536`, false);
  const pipe = row(
    "readable.pipeTo(writable) echo, 1 MiB chunks, GB/s",
    (t) => `pipe-${t}-${1 << 20}`,
    false,
  );
  (results.runtimes as Record<string, unknown>)[runtime] = out;
  targets.push(
    {
      runtime,
      target: "streaming throughput, 64 KiB writes, >= 2x the UNIX socket",
      measured: `${s64.toFixed(1)}x`,
      pass: s64 >= 2,
    },
    {
      runtime,
      target: "streaming throughput, 1 MiB writes, >= 2x the UNIX socket",
      measured: `${s1m.toFixed(1)}x`,
      pass: s1m >= 2,
    },
    {
      runtime,
      target: "64 B round trip in adaptive mode >= 2x better than the UNIX socket",
      measured: `${rtt64.toFixed(1)}x`,
      pass: rtt64 >= 2,
    },
    {
      runtime,
      target: "readable.pipeTo(writable) echo, 1 MiB chunks, >= 2.5x the same echo over a UNIX socket",
      measured: `${pipe.toFixed(1)}x`,
      pass: pipe >= 2.5,
    },
  );
}
lines.push(...targetTable("Targets (issue: socket-like byte streams)", targets));
results.targets = targets;
report("socket", lines.join("\n"), results);
