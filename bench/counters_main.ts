/**
 * What the per-channel message and byte counters cost (`deno task bench --suite counters`).
 *
 * The same library is built twice from the same source: as shipped, counting, and without the
 * counters (`-Dcounters=false`, zig-out/lib/testing/libxio-uncounted.so). Each variant runs in a
 * fresh process under Deno and Bun, alternating which goes first, over several rounds:
 * - the native operations without FFI (zig-out/bin/testing/xio-bench and -uncounted), where
 *   the counters' own cost is least hidden; "alloc + release" pushes nothing and so shows the
 *   noise floor;
 * - the in-process hot path of the API (bench/counters.ts, tinybench): send and receive, one at
 *   a time and 256 per call;
 * - a round trip between two processes (bench/rtt.ts, 64 B, spin mode), with the UNIX-socket
 *   round trip of the same runtime as the kernel baseline in the same run.
 * The two variants of a measure run back to back in each round, alternating which goes first,
 * and the cost is the median over rounds of their ratio (so that drift between rounds cancels);
 * figures are medians over rounds. Prints a table and writes bench/results/counters.json.
 *
 * Options: --rounds N (default 15; 5 with --quick), --runtimes deno,bun.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";
import {
  type Json,
  machine,
  median,
  options,
  progress,
  report,
  root,
  run,
  type Target,
  targetTable,
} from "./_suite.ts";

const opts = options();
const rounds = process.argv.includes("--rounds") ? opts.rounds : opts.quick ? 5 : 15;
const uncounted = `${root}zig/zig-out/lib/testing/libxio-uncounted.so`;
const counted = `${root}zig/zig-out/lib/libxio.so`;
const benches = {
  with: `${root}zig/zig-out/bin/testing/xio-bench`,
  without: `${root}zig/zig-out/bin/testing/xio-bench-uncounted`,
};
for (const lib of [counted, uncounted, benches.with, benches.without]) {
  if (!existsSync(lib)) throw new Error(`${lib} is missing: run \`bash scripts/xio.sh build\``);
}
const libraries = { with: counted, without: uncounted } as const;
type Variant = keyof typeof libraries;
const tasks = ["alloc + release, no send", "send + receive, one at a time", "send + receive, 256 per call"];
const iterations = opts.quick ? 5_000 : 20_000;

const figures: Record<string, Record<string, Record<Variant, number[]>>> = {};
const unix: Record<string, { p50: number[]; p99: number[] }> = {};
const slot = (
  runtime: string,
  task: string,
) => (((figures[runtime] ??= {})[task]) ??= { with: [], without: [] });

const nativeTasks = ["alloc + release", "alloc + send + recv + release", "the same in bulk, per message"];
/** The counters' own cost, timed in one process by xio-bench: a ring's push and pop with and without. */
const ringCounted: number[] = [];
const ringUncounted: number[] = [];
for (let round = 0; round < rounds; round++) {
  const first: Variant[] = round % 2 === 0 ? ["with", "without"] : ["without", "with"];
  for (const variant of first) {
    const out = spawnSync(benches[variant], { encoding: "utf8" });
    const line = JSON.parse(out.stdout.trim()) as Record<string, number>;
    for (const task of nativeTasks) slot("native", `${task} (ns)`)[variant].push(line[task]);
    if (variant === "with") {
      ringCounted.push(line["ring push + pop, counted"]);
      ringUncounted.push(line["ring push + pop, uncounted"]);
    }
  }
  for (const runtime of opts.runtimes) {
    const order: Variant[] = round % 2 === 0 ? ["with", "without"] : ["without", "with"];
    for (const variant of order) {
      const env = { XIO_LIB: libraries[variant] };
      const hot = run(runtime, "counters.ts", [], env);
      for (const task of tasks) slot(runtime, task)[variant].push(Number(hot[task]));
      const rtt: Json = run(runtime, "rtt.ts", ["xio", 64, iterations, "spin"], env);
      slot(runtime, "round trip p50 (µs)")[variant].push(Number(rtt.p50_us));
      slot(runtime, "round trip p99 (µs)")[variant].push(Number(rtt.p99_us));
    }
    const base = run(runtime, "rtt.ts", ["unix", 64, iterations]);
    const u = (unix[runtime] ??= { p50: [], p99: [] });
    u.p50.push(Number(base.p50_us));
    u.p99.push(Number(base.p99_us));
    progress(`round ${round + 1}/${rounds} ${runtime}`);
  }
}

const lines = [
  `Per-channel counters: the zero-copy hot path with and without them, median of ${rounds} rounds`,
  "",
  "| runtime | measure | with counters | without | cost (median of paired ratios) |",
  "| --- | --- | --- | --- | --- |",
];
const results: Record<string, unknown> = { machine: machine(), rounds, figures: {}, unix: {} };
const targets: Target[] = [];
// What counting adds per message, timed in one process with both variants interleaved.
const delta = median(ringCounted.map((c, i) => c - ringUncounted[i]));
results.ring = {
  counted: median(ringCounted),
  uncounted: median(ringUncounted),
  delta,
  ringCounted,
  ringUncounted,
};
for (const runtime of ["native", ...opts.runtimes]) {
  const out: Record<string, unknown> = {};
  for (const [measure, values] of Object.entries(figures[runtime])) {
    const withCounters = median(values.with);
    const without = median(values.without);
    const cost = median(values.with.map((w, i) => w / values.without[i])) - 1;
    out[measure] = { with: withCounters, without, cost, samples: values };
    const unit = measure.includes("µs") || measure.includes("(ns)") ? "" : " ns/msg";
    lines.push(
      `| ${runtime} | ${measure} | ${withCounters.toFixed(2)}${unit} | ${without.toFixed(2)}${unit} | ${
        (cost * 100).toFixed(1)
      }% |`,
    );
    // Judged by the counters' own cost measured in one process (above), against this path's
    // time per message: across processes the "alloc + release" rows, the same code in both
    // libraries, show a noise floor of several percent.
    if (runtime !== "native" && measure.startsWith("send + receive")) {
      const share = delta / withCounters;
      targets.push({
        runtime,
        target: `${measure}: counting < 2% of it`,
        measured: `${delta.toFixed(2)} of ${withCounters.toFixed(1)} ns = ${(share * 100).toFixed(2)}%`,
        pass: share < 0.02,
      });
    }
  }
  (results.figures as Record<string, unknown>)[runtime] = out;
  if (runtime === "native") continue;
  const p50 = median(unix[runtime].p50);
  const p99 = median(unix[runtime].p99);
  const xio = figures[runtime]["round trip p50 (µs)"];
  lines.push(
    `| ${runtime} | UNIX socket round trip p50 / p99 (µs), same run | ${p50.toFixed(2)} / ${
      p99.toFixed(2)
    } | | xio with counters ${(p50 / median(xio.with)).toFixed(1)}x faster at p50 |`,
  );
  (results.unix as Record<string, unknown>)[runtime] = { p50, p99, ratioP50: p50 / median(xio.with) };
}
lines.push(
  "",
  `The counters' own cost, in one process (xio-bench, both variants interleaved 40 times): a ring's push + pop takes ${
    median(ringCounted).toFixed(2)
  } ns counted and ${median(ringUncounted).toFixed(2)} ns uncounted, so counting adds ${
    delta.toFixed(2)
  } ns per message.`,
);
lines.push(
  ...targetTable("Targets: what counting adds per message, against the hot path's time per message", targets),
);
results.targets = targets;
report("counters", lines.join("\n"), results);
