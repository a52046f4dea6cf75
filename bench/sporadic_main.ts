/**
 * The sporadic-traffic suite (`deno task bench --suite sporadic`): one request at a time with
 * idle gaps, the regime most services live in, where every request finds its peer asleep.
 *
 * Workloads, under Deno and Bun, each variant in fresh processes (bench/sporadic.ts):
 * - 64 B round trips on a zero-copy channel in event mode, and on an xio `Conn`, against the
 *   runtime's own UNIX socket and TCP;
 * - HTTP GET at one request at a time: this library's fetch and serve against the runtime's own
 *   fetch and server over TCP and over a UNIX socket.
 * Intervals 0.1, 1, 5 and 20 ms. Reported: p50, p99 and p99.9 of each request, the CPU time of both
 * sides while paced and while idle, and the floor measured in the same run (bench/../zig
 * xio-floor: two idle processes ping-ponging a shared futex, and a 1-byte UNIX-socket ping-pong,
 * paced alike, no runtime). Variants run in rotated order over the rounds; each figure is the
 * median over rounds. Writes bench/results/sporadic.json and .md, and draws bench/sporadic.svg
 * from that JSON (`--chart` redraws it from the last results without running anything).
 *
 * Options: --rounds N (default 3), --runtimes deno,bun, --quick (fewer requests, one round).
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { lineChart, type Panel } from "./_chart.ts";
import { machine, median, options, progress, report, root, run, type Target, targetTable } from "./_suite.ts";

const INTERVALS = [0.1, 1, 5, 20];

interface Variant {
  workload: "echo" | "http";
  transport: "xio" | "conn" | "unix" | "tcp";
}
const VARIANTS: Variant[] = [
  { workload: "echo", transport: "unix" },
  { workload: "echo", transport: "tcp" },
  { workload: "echo", transport: "xio" },
  { workload: "echo", transport: "conn" },
  { workload: "http", transport: "tcp" },
  { workload: "http", transport: "unix" },
  { workload: "http", transport: "xio" },
];
const key = (v: Variant) => `${v.workload}-${v.transport}`;
const NAMES: Record<string, string> = {
  "echo-unix": "UNIX socket",
  "echo-tcp": "TCP",
  "echo-xio": "xio zero-copy (event)",
  "echo-conn": "xio Conn",
  "http-tcp": "HTTP over TCP",
  "http-unix": "HTTP over a UNIX socket",
  "http-xio": "xio HTTP",
};

interface Point {
  p50: number;
  p99: number;
  p999: number;
  clientCpu: number;
  serverCpu: number;
}
interface Measured {
  machine: Record<string, unknown>;
  rounds: number;
  counts: number[];
  /** runtime -> variant -> interval -> medians over rounds. */
  runs: Record<string, Record<string, Record<string, Point>>>;
  /** runtime -> variant -> idle CPU of each side, medians. */
  idle: Record<string, Record<string, { client: number; server: number }>>;
  /** futex|unix -> interval -> figures. */
  floor: Record<string, Record<string, { p50: number; p99: number; p999: number }>>;
}

const RESULTS = `${root}bench/results/sporadic.json`;
const CHART = `${root}bench/sporadic.svg`;

if (process.argv.includes("--chart")) {
  const measured = JSON.parse(readFileSync(RESULTS, "utf8")) as Measured;
  writeFileSync(CHART, chart(measured));
  console.log(`drew ${CHART} from ${RESULTS}`);
  process.exit(0);
}

const { rounds, runtimes, quick } = options();
const counts = (quick ? [600, 400, 120, 50] : [3000, 2000, 600, 250]).map((n) => Math.ceil(n / rounds));
const IDLE_SECONDS = quick ? 1 : 2;

const raw: Record<string, Record<string, Record<string, Point[]>>> = {};
const idleRaw: Record<string, Record<string, { client: number[]; server: number[] }>> = {};
for (let round = 0; round < rounds; round++) {
  for (const runtime of runtimes) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round * 3) % VARIANTS.length]);
    for (const v of order) {
      const r = run(runtime, "sporadic.ts", [
        v.workload,
        v.transport,
        INTERVALS.join(","),
        counts.join(","),
        IDLE_SECONDS,
      ]);
      const byInterval = ((raw[runtime] ??= {})[key(v)] ??= {});
      const summary: string[] = [];
      for (const point of r.results as unknown as Record<string, number>[]) {
        (byInterval[String(point.interval_ms)] ??= []).push({
          p50: point.p50_us,
          p99: point.p99_us,
          p999: point.p999_us,
          clientCpu: point.client_cpu_percent,
          serverCpu: point.server_cpu_percent,
        });
        summary.push(`${point.interval_ms} ms ${Math.round(point.p50_us)}/${Math.round(point.p99_us)} µs`);
      }
      const idle = ((idleRaw[runtime] ??= {})[key(v)] ??= { client: [], server: [] });
      idle.client.push(Number(r.idle_client_cpu_percent));
      idle.server.push(Number(r.idle_server_cpu_percent));
      progress(`round ${round + 1}/${rounds} ${runtime} ${NAMES[key(v)]}: p50/p99 ${summary.join(", ")}`);
    }
  }
}

// The floor, with no runtime at all.
const build = spawnSync(
  "bash",
  [`${root}scripts/xio.sh`, "zig", "build", "floor", "-Doptimize=ReleaseFast"],
  {
    encoding: "utf8",
  },
);
if (build.status !== 0) throw new Error(`Cannot build xio-floor:\n${build.stderr}`);
const floor: Measured["floor"] = {};
for (const mode of ["futex", "unix"]) {
  for (let k = 0; k < INTERVALS.length; k++) {
    const result = spawnSync(
      `${root}zig/zig-out/bin/xio-floor`,
      [mode, String(INTERVALS[k]), String(counts[k] * rounds)],
      { encoding: "utf8", timeout: 120_000 },
    );
    const r = JSON.parse(result.stdout.trim());
    (floor[mode] ??= {})[String(INTERVALS[k])] = { p50: r.p50_us, p99: r.p99_us, p999: r.p999_us };
    progress(`floor ${mode} ${INTERVALS[k]} ms: p50/p99 ${r.p50_us}/${r.p99_us} µs`);
  }
}

const measured: Measured = { machine: machine(), rounds, counts, runs: {}, idle: {}, floor };
for (const runtime of runtimes) {
  for (const v of VARIANTS) {
    for (const interval of INTERVALS) {
      const points = raw[runtime][key(v)][String(interval)];
      const m = (f: (p: Point) => number) => median(points.map(f));
      ((measured.runs[runtime] ??= {})[key(v)] ??= {})[String(interval)] = {
        p50: m((p) => p.p50),
        p99: m((p) => p.p99),
        p999: m((p) => p.p999),
        clientCpu: m((p) => p.clientCpu),
        serverCpu: m((p) => p.serverCpu),
      };
    }
    const idle = idleRaw[runtime][key(v)];
    (measured.idle[runtime] ??= {})[key(v)] = { client: median(idle.client), server: median(idle.server) };
  }
}

// Tables and targets.
const fmt = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));
const targets: Target[] = [];
const lines: string[] = [];
const ratios: Record<string, unknown> = {};
lines.push(
  "Sporadic traffic: one request at a time, paced every 0.1-20 ms, client and server in separate processes.",
  "p50 / p99 / p99.9 in µs (median over rounds); ratios are the better kernel path's p50 over xio's p50.",
);
for (const runtime of runtimes) {
  const at = (k: string, interval: number) => measured.runs[runtime][k][String(interval)];
  for (const workload of ["echo", "http"] as const) {
    const kernel = workload === "echo" ? ["echo-unix", "echo-tcp"] : ["http-tcp", "http-unix"];
    const ours = workload === "echo" ? ["echo-xio", "echo-conn"] : ["http-xio"];
    const columns = [...kernel, ...ours];
    lines.push(
      "",
      `${runtime}, ${workload === "echo" ? "64 B round trips" : "HTTP GET, one at a time"}`,
      `| paced every | ${columns.map((c) => NAMES[c]).join(" | ")} | ${
        ours.map((c) => `${NAMES[c]} vs best kernel`).join(" | ")
      } |`,
      `| --- | ${columns.map(() => "---").join(" | ")} | ${ours.map(() => "---").join(" | ")} |`,
    );
    for (const interval of INTERVALS) {
      const cells = columns.map((c) => {
        const p = at(c, interval);
        return `${fmt(p.p50)} / ${fmt(p.p99)} / ${fmt(p.p999)}`;
      });
      const bestP50 = Math.min(...kernel.map((c) => at(c, interval).p50));
      const bestP99 = Math.min(...kernel.map((c) => at(c, interval).p99));
      const ratioCells = ours.map((c) => {
        const p = at(c, interval);
        const ratio = bestP50 / p.p50;
        ((ratios[runtime] ??= {}) as Record<string, unknown>)[`${c}@${interval}`] = {
          p50_ratio: ratio,
          p99_ratio: bestP99 / p.p99,
        };
        targets.push(
          {
            runtime,
            target: `${NAMES[c]} every ${interval} ms: p50 >= 1.5x better than the better kernel path`,
            measured: `${ratio.toFixed(2)}x (${fmt(p.p50)} vs ${fmt(bestP50)} µs)`,
            pass: ratio >= 1.5,
          },
          {
            runtime,
            target: `${NAMES[c]} every ${interval} ms: p99 no worse than the better kernel path`,
            measured: `${fmt(p.p99)} vs ${fmt(bestP99)} µs`,
            pass: p.p99 <= bestP99,
          },
        );
        return `${ratio.toFixed(2)}x`;
      });
      lines.push(`| ${interval} ms | ${cells.join(" | ")} | ${ratioCells.join(" | ")} |`);
    }
  }
  lines.push(
    "",
    `${runtime}, CPU while paced (client / server, % of one core) and while idle`,
    `| variant | ${INTERVALS.map((i) => `${i} ms`).join(" | ")} | idle |`,
    `| --- | ${INTERVALS.map(() => "---").join(" | ")} | --- |`,
  );
  for (const v of VARIANTS) {
    const k = key(v);
    const idle = measured.idle[runtime][k];
    lines.push(
      `| ${NAMES[k]} | ${
        INTERVALS.map((i) => `${at(k, i).clientCpu.toFixed(1)} / ${at(k, i).serverCpu.toFixed(1)}`).join(
          " | ",
        )
      } | ${idle.client.toFixed(2)} / ${idle.server.toFixed(2)} |`,
    );
    if (v.transport === "xio" || v.transport === "conn") {
      const idleMax = Math.max(idle.client, idle.server);
      const paced = Math.max(at(k, 20).clientCpu, at(k, 20).serverCpu);
      targets.push(
        {
          runtime,
          target: `${NAMES[k]}: an idle endpoint uses < 1% of a core`,
          measured: `${idleMax.toFixed(2)}%`,
          pass: idleMax < 1,
        },
        {
          runtime,
          target: `${NAMES[k]}: an endpoint paced every 20 ms uses < 3% of a core`,
          measured: `${paced.toFixed(2)}%`,
          pass: paced < 3,
        },
      );
    }
  }
}
lines.push(
  "",
  "The floor: no runtime, two idle processes (zig/src/floor.zig), p50 / p99 / p99.9 in µs, and how close xio's zero-copy round trip comes to it",
  `| paced every | futex ping-pong | 1-byte UNIX socket | ${
    runtimes.map((r) => `${r} xio zero-copy p50 / futex floor p50`).join(" | ")
  } |`,
  `| --- | --- | --- | ${runtimes.map(() => "---").join(" | ")} |`,
);
for (const interval of INTERVALS) {
  const f = floor.futex[String(interval)];
  const u = floor.unix[String(interval)];
  lines.push(
    `| ${interval} ms | ${fmt(f.p50)} / ${fmt(f.p99)} / ${fmt(f.p999)} | ${fmt(u.p50)} / ${fmt(u.p99)} / ${
      fmt(u.p999)
    } | ${
      runtimes.map((r) => `${(measured.runs[r]["echo-xio"][String(interval)].p50 / f.p50).toFixed(1)}x`).join(
        " | ",
      )
    } |`,
  );
}
lines.push(...targetTable("Targets (issue: sporadic traffic)", targets));
writeFileSync(CHART, chart(measured));
report("sporadic", lines.join("\n"), { ...measured, ratios, targets });
console.log(`drew ${CHART}`);

/** p50 (solid) and p99 (dashed) against the interval, per runtime and workload. */
function chart(m: Measured): string {
  const colors: Record<string, string> = {
    "echo-xio": "#d62728",
    "echo-conn": "#ff7f0e",
    "echo-unix": "#1f77b4",
    "echo-tcp": "#2ca02c",
    "http-xio": "#d62728",
    "http-unix": "#1f77b4",
    "http-tcp": "#2ca02c",
  };
  const labels: Record<string, string> = {
    "echo-xio": "xio zero-copy",
    "echo-conn": "xio Conn",
    "echo-unix": "UNIX socket",
    "echo-tcp": "TCP",
    "http-xio": "xio zero-copy",
    "http-unix": "UNIX socket",
    "http-tcp": "TCP",
  };
  const panels: Panel[] = [];
  for (const workload of ["echo", "http"]) {
    for (const runtime of Object.keys(m.runs)) {
      const series = Object.keys(m.runs[runtime]).filter((k) => k.startsWith(workload)).map((k) => ({
        label: k === "http-xio" ? "xio HTTP" : labels[k],
        color: colors[k],
        solid: INTERVALS.map((i) => [i, m.runs[runtime][k][String(i)].p50] as [number, number]),
        dashed: INTERVALS.map((i) => [i, m.runs[runtime][k][String(i)].p99] as [number, number]),
      }));
      if (workload === "echo") {
        series.push({
          label: "floor: futex, no runtime",
          color: "#888",
          solid: INTERVALS.map((i) => [i, m.floor.futex[String(i)].p50] as [number, number]),
          dashed: INTERVALS.map((i) => [i, m.floor.futex[String(i)].p99] as [number, number]),
        });
      }
      panels.push({ title: `${runtime}: ${workload === "echo" ? "64 B round trip" : "HTTP GET"}`, series });
    }
  }
  return lineChart(panels, {
    title: "One request at a time, paced: latency against the interval",
    xLabel: "paced every (ms)",
    yLabel: "latency",
    xTicks: INTERVALS,
    columns: 2,
    note: "Solid: p50. Dashed: p99. Both axes logarithmic. From bench/results/sporadic.json.",
  });
}
