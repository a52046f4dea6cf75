/**
 * The long chaos run (`deno task chaos [--kills N] [--soak-minutes M] [--parallel P] [--seed S]`):
 * N peers killed with SIGKILL at random moments (default 5000), across the four layers, both
 * runtimes and the poll modes, then a soak of M minutes (default 60) at mixed load: long-lived
 * checked clients of every layer keep running while more peers are killed around them.
 *
 * First, on a quiet machine, one kill at a time: how soon a survivor notices a killed server over
 * xio, beside how soon a UNIX socket's reader sees the end of stream of a killed echo server of
 * the same runtime (the kernel's own detection), alternating runtimes and layers (`--quiet N`
 * kills of each, default 200).
 *
 * Then it reports the runs, hangs, leaks (buffers or nodes not back at the end), crashes (peers that died
 * of something else than our kill, or a survivor that fails), mixed-up messages, and the time a
 * survivor took to notice a dead server (p50, p99, max). Writes bench/results/chaos.json.
 */
import process from "node:process";
import net from "node:net";
import { tmpdir } from "node:os";
import { Domain, setDefaultDomain } from "../mod.ts";
import { drive, freeAll, killPeers, LAYERS, quantile, STOPPED, survive } from "../tests/_chaos.ts";
import { delay, Fixture, otherRuntime, runtimeName, within } from "../tests/_helpers.ts";
import { machine, progress, report } from "./_suite.ts";

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const kills = option("kills", 5000);
const soakMinutes = option("soak-minutes", 60);
const parallel = option("parallel", 4);
const seed = option("seed", Date.now() % 1_000_000);
const quietKills = option("quiet", 200);

const domain = Domain.open({ name: `chaos-bench-${process.pid}`, channels: 2048 });
setDefaultDomain(domain);
const untyped: string[] = [];
const stop = survive(domain, untyped);
const started = performance.now();

/**
 * One kill at a time, nothing else running: the milliseconds from each SIGKILL of a server under
 * ping-pong traffic to the survivor's typed error (xio) or its end of stream (a UNIX socket).
 */
async function quietDetection(
  n: number,
): Promise<{ xio: number[]; unix: number[]; layers: Record<string, number[]> }> {
  const xio: number[] = [];
  const unix: number[] = [];
  const layers: Record<string, number[]> = {};
  for (let k = 0; k < n; k++) {
    // Every layer under each runtime in turn.
    const runtime = Math.floor(k / LAYERS.length) % 2 === 0 ? runtimeName : otherRuntime;
    const layer = LAYERS[k % LAYERS.length];
    const service = `quiet-${k}`;
    const peer = new Fixture("chaos_peer.ts", ["server", layer, domain.name, service, "event"], runtime);
    await peer.waitFor("ready", 30_000);
    const outcome = drive(layer, domain, service, "event", (wrong) => mixed.push(wrong));
    await delay(30);
    const killed = performance.now();
    peer.child.kill("SIGKILL");
    try {
      await within(2000, outcome, `quiet kill ${k}`);
      xio.push(performance.now() - killed);
      (layers[layer] ??= []).push(performance.now() - killed);
    } catch {
      hangs.push(`quiet kill ${k}: ${layer} ${runtime}`);
    }
    await peer.exited;

    const path = `${tmpdir()}/xio-quiet-${process.pid}-${k}.sock`;
    const echo = new Fixture("chaos_peer.ts", ["server", "unix", "-", path, "event"], runtime);
    await echo.waitFor("ready", 30_000);
    const socket = net.createConnection(path);
    const ended = new Promise<number>((resolve) => {
      const done = () => resolve(performance.now());
      socket.on("end", done).on("close", done).on("error", done);
    });
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    socket.on("data", () => socket.write("x")); // ping-pong, as the xio traffic is
    socket.write("x");
    await delay(30);
    const unixKilled = performance.now();
    echo.child.kill("SIGKILL");
    unix.push((await ended) - unixKilled);
    socket.destroy();
    await echo.exited;
    if (k % 50 === 49) {
      progress(
        `quiet: ${k + 1}/${n} kills; xio p50 ${quantile([...xio].sort((a, b) => a - b), 0.5).toFixed(1)} ms`,
      );
    }
  }
  for (const list of Object.values(layers)) list.sort((a, b) => a - b);
  return { xio: xio.sort((a, b) => a - b), unix: unix.sort((a, b) => a - b), layers };
}

const detection: number[] = [];
const mixed: string[] = [];
const hangs: string[] = [];
const quiet = await quietDetection(quietKills);

// The kills, in batches so that progress shows.
const BATCH = 100;
for (let done = 0; done < kills; done += BATCH) {
  const n = Math.min(BATCH, kills - done);
  const r = await killPeers(domain, { kills: n, parallel, seed: seed + done, untyped });
  detection.push(...r.detection);
  mixed.push(...r.mixed);
  hangs.push(...r.hangs);
  const sorted = [...detection].sort((a, b) => a - b);
  progress(
    `${done + n}/${kills} kills: ${hangs.length} hangs, ${mixed.length} mixed, ${untyped.length} untyped; ` +
      `noticed p50 ${quantile(sorted, 0.5).toFixed(1)} ms, p99 ${quantile(sorted, 0.99).toFixed(1)} ms`,
  );
}

// The soak: checked clients of every layer run throughout, while kills go on around them.
let soakKills = 0;
let soakExchanges = 0;
if (soakMinutes > 0) {
  const until = performance.now() + soakMinutes * 60_000;
  const steady = LAYERS.map((layer) =>
    (async () => {
      const over = () => performance.now() >= until;
      while (!over()) {
        const outcome = await drive(layer, domain, layer, "event", (wrong) => mixed.push(wrong), over);
        soakExchanges++;
        if (outcome !== STOPPED) untyped.push(`a steady ${layer} client failed: ${String(outcome)}`);
      }
    })()
  );
  while (performance.now() < until) {
    const r = await killPeers(domain, { kills: 20, parallel: 2, seed: seed + kills + soakKills, untyped });
    soakKills += 20;
    detection.push(...r.detection);
    mixed.push(...r.mixed);
    hangs.push(...r.hangs);
    if (soakKills % 200 === 0) {
      progress(`soak: ${Math.round((performance.now() - started) / 60_000)} min, ${soakKills} more kills`);
    }
  }
  // The steady clients stop at `until` once their exchange ends, and close their connections
  // with nothing in flight, so that every buffer is back before the servers stop.
  const ended = await Promise.race([Promise.all(steady).then(() => true), delay(5000).then(() => false)]);
  if (!ended) hangs.push("a steady client did not stop within 5 s of the soak's end");
}

await stop();
let leaked = true;
for (let i = 0; i < 250 && leaked; i++) {
  leaked = !freeAll(domain) || domain.stats().nodes.active > 1;
  if (leaked) await delay(20);
}
const stats = domain.stats();
domain.close();
setDefaultDomain(undefined);

const sorted = detection.sort((a, b) => a - b);
const results = {
  machine: machine(),
  seed,
  runs: kills + soakKills,
  kills,
  soak_minutes: soakMinutes,
  soak_kills: soakKills,
  hangs: hangs.length,
  leaks: leaked ? 1 : 0,
  leaked_buffers: stats.classes.reduce((n, c) => n + c.total - c.free, 0),
  mixed: mixed.length,
  untyped: untyped.length,
  detection_ms: {
    count: sorted.length,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1],
  },
  quiet_detection_ms: {
    kills: quietKills,
    xio: {
      p50: quantile(quiet.xio, 0.5),
      p99: quantile(quiet.xio, 0.99),
      max: quiet.xio[quiet.xio.length - 1],
    },
    unix: {
      p50: quantile(quiet.unix, 0.5),
      p99: quantile(quiet.unix, 0.99),
      max: quiet.unix[quiet.unix.length - 1],
    },
    layers: Object.fromEntries(
      Object.entries(quiet.layers).map(([layer, list]) => [layer, {
        p50: quantile(list, 0.5),
        p99: quantile(list, 0.99),
        max: list[list.length - 1],
      }]),
    ) as Record<string, { p50: number; p99: number; max: number }>,
  },
  reclaimed_nodes: stats.reclaimedNodes,
  examples: { hangs: hangs.slice(0, 5), mixed: mixed.slice(0, 5), untyped: untyped.slice(0, 5) },
};
/** A time in ms, or "-" when nothing was measured (no kills of that kind). */
function ms(value: number | undefined): string {
  return value === undefined ? "-" : `${value.toFixed(1)} ms`;
}
const lines = [
  "Chaos: peers killed with SIGKILL at random moments (zero-copy, Conn, HTTP, WebSocket; Deno and Bun; event, adaptive, spin)",
  "| runs | hangs | leaks | mixed | untyped errors | noticed p50 | p99 | max |",
  "| --- | --- | --- | --- | --- | --- | --- | --- |",
  `| ${results.runs} | ${results.hangs} | ${results.leaks} | ${results.mixed} | ${results.untyped} | ${
    ms(results.detection_ms.p50)
  } | ${ms(results.detection_ms.p99)} | ${ms(results.detection_ms.max)} |`,
];
const q = results.quiet_detection_ms;
lines.push(
  "",
  `Death detection on a quiet machine, one kill at a time (${quietKills} of each, both runtimes, every layer)`,
  "| transport | noticed p50 | p99 | max |",
  "| --- | --- | --- | --- |",
  `| xio (typed error) | ${ms(q.xio.p50)} | ${ms(q.xio.p99)} | ${ms(q.xio.max)} |`,
  `| UNIX socket (end of stream) | ${ms(q.unix.p50)} | ${ms(q.unix.p99)} | ${ms(q.unix.max)} |`,
  ...Object.entries(q.layers).map(([layer, m]) =>
    `| xio, ${layer} only | ${ms(m.p50)} | ${ms(m.p99)} | ${ms(m.max)} |`
  ),
);
report("chaos", lines.join("\n"), results);
process.exit(results.hangs + results.leaks + results.mixed + results.untyped === 0 ? 0 : 1);
