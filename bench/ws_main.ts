/**
 * The WebSocket suite (`deno task bench --suite websocket`): this library's WebSocket and serve
 * over shared memory (xio) against the runtime's own WebSocket and server over TCP (Deno.serve with
 * Deno.upgradeWebSocket, Bun.serve with its websocket handlers), in the same run, each variant in
 * fresh processes (bench/ws.ts, server bench/ws_peer.ts):
 * - 64 B round trips back to back, and paced one per 1, 5 and 20 ms (p50, p99, CPU);
 * - one-way throughput of 1 KiB and 1 MiB messages;
 * - 1,000 idle connections: the CPU both processes use, and the memory each connection costs.
 * Variants run in rotated order over the rounds; each figure is the median over rounds. Writes
 * bench/results/websocket.json and .md.
 *
 * Options: --rounds N (default 3), --runtimes deno,bun, --quick (fewer messages, one round).
 */
import { machine, median, options, progress, report, run, type Target, targetTable } from "./_suite.ts";

const { rounds, runtimes, quick } = options();
const INTERVALS = [1, 5, 20];
const PACED_COUNTS = quick ? [300, 100, 40] : [2000, 500, 150];
const RTT_COUNT = quick ? 5000 : 20000;
const THROUGHPUT: [number, number][] = [[1024, quick ? 16 << 20 : 64 << 20], [
  1 << 20,
  quick ? 128 << 20 : 512 << 20,
]];
const IDLE = { connections: 1000, seconds: quick ? 2 : 5 };

type Transport = "xio" | "tcp";
const transports: Transport[] = ["xio", "tcp"];
interface Variant {
  transport: Transport;
  workload: "rtt" | "paced" | "throughput" | "idle";
  args: (string | number)[];
  key: string;
}
const variants: Variant[] = [];
for (const transport of transports) {
  variants.push({ transport, workload: "rtt", args: [RTT_COUNT], key: "rtt" });
  variants.push({
    transport,
    workload: "paced",
    args: [INTERVALS.join(","), PACED_COUNTS.join(",")],
    key: "paced",
  });
  for (const [size, total] of THROUGHPUT) {
    variants.push({ transport, workload: "throughput", args: [size, total], key: `throughput ${size}` });
  }
  variants.push({ transport, workload: "idle", args: [IDLE.connections, IDLE.seconds], key: "idle" });
}

type Json = Record<string, unknown>;
const samples: Record<string, Record<string, Json[]>> = {};
for (let round = 0; round < rounds; round++) {
  for (const runtime of runtimes) {
    const order = variants.map((_, i) => variants[(i + round * 3) % variants.length]);
    for (const v of order) {
      const r = run(runtime, "ws.ts", [v.transport, v.workload, ...v.args]);
      ((samples[runtime] ??= {})[`${v.transport} ${v.key}`] ??= []).push(r);
      progress(`round ${round + 1}/${rounds} ${runtime} ${v.transport} ${v.key}`);
    }
  }
}

const med = (list: Json[], pick: (r: Json) => number) => median(list.map(pick));
const fmt = (x: number) => (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0));
const lines: string[] = [
  "WebSocket: this library's WebSocket and serve over shared memory (xio) against the runtime's own " +
  "WebSocket and server over TCP, in the same run",
];
const results: Json = { machine: machine(), rounds, runtimes: {} };
const targets: Target[] = [];
for (const runtime of runtimes) {
  const s = samples[runtime];
  const out: Json = {};
  lines.push("", `### ${runtime}`, "");
  lines.push(
    "| 64 B round trips | xio p50 / p99 µs | TCP p50 / p99 µs | p50 ratio | p99 ratio | xio CPU (client + server) | TCP CPU |",
  );
  lines.push("| --- | --- | --- | --- | --- | --- | --- |");
  const row = (label: string, pick: (t: Transport) => Json[]) => {
    const m = Object.fromEntries(transports.map((t) => {
      const list = pick(t);
      return [t, {
        p50: med(list, (r) => Number(r.p50_us)),
        p99: med(list, (r) => Number(r.p99_us)),
        cpu: med(list, (r) => Number(r.client_cpu_percent) + Number(r.server_cpu_percent)),
      }];
    })) as Record<Transport, { p50: number; p99: number; cpu: number }>;
    const p50 = m.tcp.p50 / m.xio.p50;
    const p99 = m.tcp.p99 / m.xio.p99;
    lines.push(
      `| ${label} | ${fmt(m.xio.p50)} / ${fmt(m.xio.p99)} | ${fmt(m.tcp.p50)} / ${fmt(m.tcp.p99)} | ${
        p50.toFixed(2)
      }x | ${p99.toFixed(2)}x | ${m.xio.cpu.toFixed(1)}% | ${m.tcp.cpu.toFixed(1)}% |`,
    );
    out[label] = { ...m, p50_ratio: p50, p99_ratio: p99 };
    return { p50, p99 };
  };
  const backToBack = row("back to back", (t) => s[`${t} rtt`]);
  targets.push({
    runtime,
    target: "64 B round trip back to back: p50 >= 5x better than TCP",
    measured: `${backToBack.p50.toFixed(2)}x`,
    pass: backToBack.p50 >= 5,
  });
  INTERVALS.forEach((interval, k) => {
    const paced = row(
      `paced every ${interval} ms`,
      (t) => s[`${t} paced`].map((r) => (r.results as Json[])[k]),
    );
    targets.push({
      runtime,
      target: `64 B round trip paced every ${interval} ms: p50 >= 1.5x better than TCP`,
      measured: `${paced.p50.toFixed(2)}x`,
      pass: paced.p50 >= 1.5,
    });
  });
  lines.push(
    "",
    "| one-way throughput | xio MB/s | TCP MB/s | ratio | xio msg/s | TCP msg/s |",
    "| --- | --- | --- | --- | --- | --- |",
  );
  for (const [size] of THROUGHPUT) {
    const m = Object.fromEntries(transports.map((t) => {
      const list = s[`${t} throughput ${size}`];
      return [t, {
        mb: med(list, (r) => Number(r.mb_per_s)),
        msgs: med(list, (r) => Number(r.messages_per_s)),
      }];
    })) as Record<Transport, { mb: number; msgs: number }>;
    const ratio = m.xio.mb / m.tcp.mb;
    const label = size >= 1 << 20 ? "1 MiB messages" : "1 KiB messages";
    lines.push(
      `| ${label} | ${fmt(m.xio.mb)} | ${fmt(m.tcp.mb)} | ${ratio.toFixed(2)}x | ${fmt(m.xio.msgs)} | ${
        fmt(m.tcp.msgs)
      } |`,
    );
    out[label] = { ...m, ratio };
    targets.push({
      runtime,
      target: `${label}, one way: >= 2x TCP`,
      measured: `${ratio.toFixed(2)}x`,
      pass: ratio >= 2,
    });
  }
  lines.push(
    "",
    `| ${IDLE.connections} idle connections | client CPU | server CPU | client KiB per connection | server KiB per connection |`,
    "| --- | --- | --- | --- | --- |",
  );
  const idle: Record<string, number> = {};
  for (const t of transports) {
    const list = s[`${t} idle`];
    const m = {
      client_cpu: med(list, (r) => Number(r.client_cpu_percent)),
      server_cpu: med(list, (r) => Number(r.server_cpu_percent)),
      client_kb: med(list, (r) => Number(r.client_kb_per_connection)),
      server_kb: med(list, (r) => Number(r.server_kb_per_connection)),
    };
    lines.push(
      `| ${t === "xio" ? "xio" : "TCP"} | ${m.client_cpu.toFixed(2)}% | ${m.server_cpu.toFixed(2)}% | ${
        fmt(m.client_kb)
      } | ${fmt(m.server_kb)} |`,
    );
    out[`idle ${t}`] = m;
    idle[t] = m.client_cpu + m.server_cpu;
  }
  // Both runtimes spend a little while idle whatever they hold (timers, GC); what counts is
  // what the connections add, against the runtime's own in the same run.
  targets.push({
    runtime,
    target: `${IDLE.connections} idle connections cost no CPU: within 0.5 points of a core of TCP's`,
    measured: `${idle.xio.toFixed(2)}% against ${idle.tcp.toFixed(2)}%`,
    pass: idle.xio <= idle.tcp + 0.5,
  });
  (results.runtimes as Json)[runtime] = out;
}
lines.push(...targetTable("Targets (issue: WebSocket over shared memory)", targets));
results.targets = targets;
results.samples = samples;
report("websocket", lines.join("\n"), results);
