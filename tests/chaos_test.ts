/**
 * Chaos: peers killed with SIGKILL at random moments, across the four layers (zero-copy, Conn, HTTP, WebSocket), both runtimes and
 * the poll modes, and random scribbles over every control region of a live domain. Each trial
 * checks what a user relies on: nothing hangs, failures are typed, no message reaches the wrong
 * place, every buffer comes back, and the survivor goes on serving.
 *
 * CHAOS_KILLS (default 200), CHAOS_SCRIBBLES (default 40) and CHAOS_SEED replay or scale it; the
 * seed is printed. bench/chaos.ts runs the long version.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import process from "node:process";
import { Domain, setDefaultDomain } from "../mod.ts";
import {
  ClosedCleanly,
  drive,
  freeAll,
  killPeers,
  type Layer,
  LAYERS,
  prng,
  quantile,
  STOPPED,
  survive,
  typed,
} from "./_chaos.ts";
import { delay, Fixture, otherRuntime, runtimeName, uniqueName, within } from "./_helpers.ts";

const KILLS = Number(process.env.CHAOS_KILLS ?? 200);
const SCRIBBLES = Number(process.env.CHAOS_SCRIBBLES ?? 40);
const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
const PARALLEL = 4;

describe(`chaos (${runtimeName})`, () => {
  test(`${KILLS} SIGKILLs at random moments: no hang, no leak, no mix-up, the survivor serves on`, async () => {
    console.log(`DIAGNOSTIC: chaos seed ${SEED} (CHAOS_SEED replays it)`);
    const name = uniqueName("chaos");
    using domain = Domain.open({ name, channels: 1024 });
    setDefaultDomain(domain);
    const untyped: string[] = [];
    const stop = survive(domain, untyped);
    const report = await killPeers(domain, { kills: KILLS, parallel: PARALLEL, seed: SEED, untyped });
    assert.deepEqual(report.hangs, [], "no survivor waited for a dead peer");
    assert.deepEqual(report.mixed, [], "no message reached the wrong place");
    assert.deepEqual(report.untyped, [], "every failure was a typed error");
    const detection = report.detection.sort((a, b) => a - b);
    console.log(
      `DIAGNOSTIC: ${KILLS} kills; a killed server was noticed after p50 ${
        quantile(detection, 0.5).toFixed(1)
      } ms, ` +
        `p99 ${quantile(detection, 0.99).toFixed(1)} ms, max ${
          detection[detection.length - 1].toFixed(1)
        } ms`,
    );
    assert.ok(quantile(detection, 0.99) < 1000, "a dead peer is noticed within a second");
    // Nothing is left behind, and the survivor serves each layer to a new peer.
    await within(
      5000,
      (async () => {
        while (!freeAll(domain) || domain.stats().nodes.active > 1) await delay(20);
      })(),
      "every buffer and node back",
    );
    for (const layer of LAYERS) {
      const peer = new Fixture("chaos_peer.ts", ["client", layer, name, layer, "event"]);
      await peer.waitFor("ready", 30_000);
      await delay(100);
      await peer.kill();
      assert.deepEqual(peer.stdout().filter((l) => l.includes("mixed") || l.includes("error")), []);
    }
    await stop();
    setDefaultDomain(undefined);
  });

  test("servers stopped mid-exchange: every client ends typed, and every buffer comes back", async () => {
    const TRIALS = 24;
    const random = prng(SEED + 1);
    using domain = Domain.open({ name: uniqueName("chaos-stop"), channels: 256 });
    setDefaultDomain(domain);
    const untyped: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const stop = survive(domain, untyped);
      const mixed: string[] = [];
      // Two clients per layer, so that the server stops with several exchanges in flight. The
      // HTTP server's shutdown ends its connections; a listener's close leaves its accepted
      // channels and Conns open, as a socket's does, so their clients stop by themselves then.
      let stopping = false;
      const clients = [...LAYERS, ...LAYERS].map((layer) =>
        drive(layer, domain, layer, "event", (wrong) => mixed.push(wrong), () => stopping)
      );
      await delay(5 + random(60));
      stopping = true;
      await stop();
      const outcomes = await within(3000, Promise.all(clients), `trial ${trial}: every client ends`);
      for (const outcome of outcomes) {
        if (outcome === STOPPED || outcome instanceof ClosedCleanly) continue;
        assert.ok(typed(outcome), `trial ${trial}: a client failed untyped: ${String(outcome)}`);
      }
      assert.deepEqual(mixed, [], "no message reached the wrong place");
      const deadline = performance.now() + 3000;
      while (!freeAll(domain) && performance.now() < deadline) await delay(10);
      const held = domain.stats().classes.map((c) => `${c.size} B: ${c.total - c.free}`);
      assert.ok(freeAll(domain), `trial ${trial}: buffers still held: ${held.join(", ")}`);
    }
    assert.deepEqual(untyped, [], "the servers saw typed failures only");
    setDefaultDomain(undefined);
  });

  test(`${SCRIBBLES} scribbles over a live domain's control regions: typed errors at most, never a hang`, async () => {
    const random = prng(SEED + 1);
    const dir = mkdtempSync("/dev/shm/xio-chaos-");
    const regions = ["nodes", "events", "services", "channels", "rings", "owners"] as const;
    const seen: Record<string, number> = {};
    try {
      const trial = async (k: number) => {
        const name = uniqueName("scribble");
        const layer: Layer = random(2) === 0 ? "zc" : "conn";
        const domain = Domain.open({ name, dir, channels: 64, nodes: 8 });
        const runtime = random(2) ? runtimeName : otherRuntime;
        const peer = new Fixture("chaos_peer.ts", ["server", layer, name, "svc", "event", dir], runtime);
        await peer.waitFor("ready", 30_000);
        const mixed: string[] = [];
        const outcome = drive(layer, domain, "svc", "event", (wrong) => mixed.push(wrong));
        await delay(20 + random(50));
        const region = regions[random(regions.length)];
        // The exchange's channel is slot 0: the first (and only) one of a fresh domain.
        const [from, to] = regionOf(`${dir}/xio-${name}`, region, 0);
        const at = from + random(Math.max(1, to - from));
        const bytes = new Uint8Array(1 + random(8)).map(() => random(256));
        scribbleFile(`${dir}/xio-${name}`, at, bytes);
        // The exchange goes on, or fails with a typed error; it never just stops.
        const settled = await Promise.race([outcome.then((e) => ({ e })), delay(400).then(() => undefined)]);
        // A scribbled "closed" flag in the channel region reads as the peer's orderly close, which
        // it cannot be told apart from; anywhere else only a typed error may end the exchange.
        const clean = (e: unknown) => region === "channels" && e instanceof ClosedCleanly;
        if (settled !== undefined) {
          assert.ok(typed(settled.e) || clean(settled.e), `trial ${k} (${region}): ${String(settled.e)}`);
          seen[(settled.e as Error).name] = (seen[(settled.e as Error).name] ?? 0) + 1;
        } else {
          seen.unaffected = (seen.unaffected ?? 0) + 1;
        }
        await peer.kill();
        // Once the peer is gone the exchange must end too (a typed error), never hang.
        const end = await within(2000, outcome, `trial ${k} (${region}): the end after the kill`);
        assert.ok(typed(end) || clean(end), `trial ${k} (${region}) ended with ${String(end)}`);
        assert.deepEqual(mixed, [], `trial ${k} (${region}): no message reached the wrong place`);
        domain.close();
      };
      let next = 0;
      await Promise.all(Array.from({ length: PARALLEL }, async () => {
        while (next < SCRIBBLES) await trial(next++);
      }));
      console.log(`DIAGNOSTIC: scribble outcomes ${JSON.stringify(seen)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The bytes of `region` that the live exchange uses, in the domain file at `path` (offsets from
 * its header, layout.zig): the first two node slots, their first event words, the first service
 * slot, the channel slot, its two ring headers and first descriptors, and the first owner words of
 * each size class. Scribbles land where they can do harm.
 */
function regionOf(path: string, region: string, channel: number): [number, number] {
  const header = new Uint8Array(4096);
  const fd = openSync(path, "r");
  readSync(fd, header, 0, 4096, 0);
  closeSync(fd);
  const view = new DataView(header.buffer);
  const u64 = (at: number) => Number(view.getBigUint64(at, true));
  const u32 = (at: number) => view.getUint32(at, true);
  const nodes = u64(56), events = u64(64), services = u64(72), channels = u64(80), rings = u64(88);
  const ringPair = u64(96);
  const eventBytes = u32(40) / 8; // one node's bitmap: channel_max bits
  switch (region) {
    case "nodes":
      return [nodes, nodes + 2 * 256];
    case "events":
      return [events, events + 2 * eventBytes];
    case "services":
      return [services, services + 128];
    case "channels":
      return [channels + channel * 128, channels + channel * 128 + 28];
    case "rings":
      return [rings + channel * ringPair, rings + channel * ringPair + ringPair];
    default: {
      const klass = channel % u32(48);
      const owners = u64(256 + klass * 128 + 8);
      return [owners, owners + 64 * 4];
    }
  }
}
function scribbleFile(path: string, at: number, bytes: Uint8Array): void {
  const fd = openSync(path, "r+");
  writeSync(fd, bytes, 0, bytes.length, at);
  closeSync(fd);
}
