/**
 * Operations: the `xio` command, `Inspector`, `Domain.metrics()` and the Prometheus helpers,
 * against real processes (of both runtimes) that are busy, gone or killed.
 */

import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { Hono } from "hono";
import { Domain, type DomainSnapshot, Inspector } from "../mod.ts";
import { fetch as xioFetch, serve } from "../http/mod.ts";
import { socketDomain } from "../socket/mod.ts";
import { collect, prometheus, withMetrics } from "../ops/mod.ts";
import { main as cli } from "../ops/cli.ts";
import { screenOf, underTerminal } from "../scripts/_screen.ts";
import {
  delay,
  Fixture,
  otherRuntime,
  runtimeBinary,
  type RuntimeName,
  runtimeName,
  uniqueName,
} from "./_helpers.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const CLI = `${root}ops/cli.ts`;
const scratch = mkdtempSync(`${tmpdir()}/xio-ops-`);
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A directory of its own for one test's domains, as XIO_DIR would be. */
function dirFor(label: string): string {
  const dir = `${scratch}/${label}`;
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the `xio` command in a process of its own, under `runtime`. */
function xio(
  args: string[],
  runtime: RuntimeName = runtimeName,
  wrapper: string[] = [],
  env: Record<string, string> = {},
): Promise<Run> {
  const argv = runtime === "deno" ? ["run", "--allow-all", CLI, ...args] : [CLI, ...args];
  const command = wrapper.length > 0 ? wrapper[0] : runtimeBinary(runtime);
  const rest = wrapper.length > 0 ? [...wrapper.slice(1), runtimeBinary(runtime), ...argv] : argv;
  return new Promise((resolve) => {
    const child = spawn(command, rest, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function peer(
  role: string,
  name: string,
  dir: string,
  args: string[] = [],
  runtime: RuntimeName = runtimeName,
) {
  return new Fixture("ops_peer.ts", [role, name, dir, ...args], runtime);
}

function channelTo(snapshot: DomainSnapshot, service: string) {
  return snapshot.channels.filter((c) => c.service === service);
}

describe(`operations (${runtimeName})`, () => {
  test("a busy domain is inspected while traffic flows, read-only, and the counters match what was sent", async () => {
    const dir = dirFor("busy");
    const name = uniqueName("ops-busy");
    const server = peer("serve", name, dir);
    await server.waitFor("ready");
    const sender = peer("send", name, dir, ["20000", "100"], otherRuntime);
    try {
      const path = `${dir}/xio-${name}`;
      using inspector = Inspector.open(path);
      for (let i = 0; inspector.snapshot().channels.length === 0; i++) {
        assert.ok(i < 20_000, "the sender connected");
        await delay(1);
      }
      // While the sender sends: every snapshot sees the two processes and no third, and the
      // counters only grow.
      let last = 0;
      let seenFlowing = 0;
      const totals = sender.json<{ messages: number; bytes: number; pid: number }>(60_000);
      let done = false;
      totals.finally(() => (done = true));
      while (!done) {
        const s = inspector.snapshot();
        assert.equal(s.nodes.length, 2, "the inspector took no node");
        assert.ok(s.nodes.every((n) => n.alive));
        const [channel] = channelTo(s, "orders");
        if (channel !== undefined) {
          assert.ok(channel.toServer.messages >= last, "messages only grow");
          if (channel.toServer.messages > last && channel.toServer.messages < 20000) seenFlowing++;
          last = channel.toServer.messages;
        }
        await delay(2);
      }
      const sent = await totals;
      const s = inspector.snapshot();
      const [channel] = channelTo(s, "orders");
      assert.equal(channel.toServer.messages, sent.messages);
      assert.equal(channel.toServer.bytes, sent.bytes);
      assert.equal(channel.toClient.messages, 0);
      assert.equal(channel.state, "open");
      assert.deepEqual(channel.poll, { client: "event", server: "event" });
      assert.ok(seenFlowing > 0, "some snapshots were taken mid-flow");
      const client = s.nodes.find((n) => n.index === channel.client)!;
      assert.equal(client.pid, sent.pid);
      assert.equal(client.runtime, otherRuntime);
      // The command sees the same, in a process of the other runtime.
      const run = await xio(["stat", path, "--json"], otherRuntime);
      assert.equal(run.code, 0, run.stderr);
      const viaCli = JSON.parse(run.stdout) as DomainSnapshot;
      assert.equal(channelTo(viaCli, "orders")[0].toServer.bytes, sent.bytes);
      assert.equal(viaCli.nodes.length, 2);
      const text = await xio(["stat", name, "--dir", dir]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`^\\s+\\d+\\s+orders\\s+.*event/event\\s+open\\s+20,000\\s`, "m"));
      console.log(`ops: xio stat of a busy domain\n${text.stdout}`);
    } finally {
      sender.child.stdin!.end();
      await sender.exited;
      await server.kill();
    }
  });

  test("an inspector needs no node slot: it reads a domain whose every slot is taken", () => {
    const dir = dirFor("full");
    const name = uniqueName("ops-full");
    using domain = Domain.open({ name, dir, nodes: 1 });
    assert.throws(() => Domain.open({ name, dir }), /no free slot/);
    using inspector = Inspector.open(domain.path);
    const snapshot = inspector.snapshot();
    assert.equal(snapshot.limits.nodes, 1);
    assert.equal(snapshot.nodes.length, 1);
    assert.equal(snapshot.self, undefined);
    assert.deepEqual(domain.metrics().nodes, snapshot.nodes);
    assert.equal(domain.metrics().self, snapshot.nodes[0].index);
  });

  test("a domain whose creator left is inspected, and ls lists it with its owner, nodes and services", async () => {
    const dir = dirFor("creator");
    const name = uniqueName("ops-creator");
    const creator = peer("hold", name, dir);
    await creator.waitFor("ready");
    const joiner = peer("hold", name, dir, [], otherRuntime);
    await joiner.waitFor("ready");
    creator.child.stdin!.end();
    await creator.done();
    const s = Inspector.open(`${dir}/xio-${name}`);
    try {
      const snapshot = s.snapshot();
      assert.equal(snapshot.creatorPid, creator.child.pid);
      assert.deepEqual(snapshot.nodes.map((n) => n.pid), [joiner.child.pid]);
      assert.deepEqual(snapshot.services.map((v) => v.name), [`held-${joiner.child.pid}`]);
    } finally {
      s.close();
    }
    const listed = await xio(["ls", "--json", "--dir", dir]);
    assert.equal(listed.code, 0, listed.stderr);
    const entries = JSON.parse(listed.stdout) as {
      name: string;
      nodes: { alive: number };
      services: string[];
    }[];
    const entry = entries.find((e) => e.name === name)!;
    assert.deepEqual(entry.nodes, { alive: 1, dead: 0 });
    assert.deepEqual(entry.services, [`held-${joiner.child.pid}`]);
    const table = await xio(["ls", "--dir", dir]);
    assert.match(table.stdout, new RegExp(`^${name}\\s+\\S+\\s+.*\\s1\\s+0\\s+held-`, "m"));
    joiner.child.stdin!.end();
    await joiner.done();
  });

  test("errors: an unknown domain, a file that is no domain, another layout version, no permission", async () => {
    const dir = dirFor("errors");
    const unknown = await xio(["stat", "no-such-domain", "--dir", dir]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^xio stat: no domain "no-such-domain" \(looked in .*errors/);
    writeFileSync(`${dir}/xio-text`, "this is a text file, not an xio domain, and long enough\n");
    const foreign = await xio(["stat", "text", "--dir", dir]);
    assert.equal(foreign.code, 1);
    assert.match(foreign.stderr, /the file exists but is not an xio domain/);
    // A header of layout version 2: the magic, then the version.
    const old = new Uint8Array(4096);
    new DataView(old.buffer).setBigUint64(0, 0x314e_4d4f_444f_4958n, true);
    new DataView(old.buffer).setUint32(8, 2, true);
    writeFileSync(`${dir}/xio-old`, old);
    const version = await xio(["stat", `${dir}/xio-old`]);
    assert.equal(version.code, 1);
    assert.match(version.stderr, /layout version 3 expected, found 2/);
    const ls = await xio(["ls", "--dir", dir]);
    assert.equal(ls.code, 0);
    assert.match(ls.stdout, /^old .*layout version 3 expected, found 2/m);
    assert.match(ls.stdout, /^text .*not an xio domain/m);
    const usage = await xio(["frobnicate"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /no command "frobnicate"/);
    if (process.getuid?.() === 0) {
      // Another user, without read permission on the file.
      const name = uniqueName("ops-perm");
      using domain = Domain.open({ name, dir: scratch });
      chmodSync(scratch, 0o755);
      const cache = `/tmp/xio-test-cache-65534`;
      mkdirSync(cache, { recursive: true });
      chmodSync(cache, 0o777);
      const denied = await xio(
        ["stat", domain.path],
        runtimeName,
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"],
        { DENO_DIR: cache, HOME: cache, BUN_INSTALL_CACHE_DIR: cache, XIO_CACHE_DIR: cache },
      );
      assert.equal(denied.code, 1, denied.stderr);
      assert.match(denied.stderr, /permission denied/);
    } else {
      // This user, on a file it may not read.
      writeFileSync(`${dir}/xio-closed`, old);
      chmodSync(`${dir}/xio-closed`, 0);
      const denied = await xio(["stat", "closed", "--dir", dir]);
      assert.equal(denied.code, 1, denied.stderr);
      assert.match(denied.stderr, /permission denied/);
    }
  });

  test("gc after SIGKILL of every process leaves nothing behind, and a second gc finds nothing", async () => {
    const dir = dirFor("gc-killed");
    const name = uniqueName("ops-killed");
    const server = peer("serve", name, dir);
    await server.waitFor("ready");
    const sender = peer("send", name, dir, ["100", "64"], otherRuntime);
    await sender.json();
    const holder = peer("hold", name, dir);
    await holder.waitFor("ready");
    await Promise.all([server.kill(), sender.kill(), holder.kill()]);
    assert.ok(readdirSync(dir).length >= 2, "the dead left files behind");
    const dry = await xio(["gc", "--dry-run", "--dir", dir]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`would remove ${name}: no live process holds it`));
    assert.ok(existsSync(`${dir}/xio-${name}`), "a dry run removes nothing");
    const run = await xio(["gc", "--dir", dir, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), [{ name, action: "removed", reclaimed: 0 }]);
    assert.deepEqual(readdirSync(dir), [], "no domain, lock file or doorbell is left");
    const again = await xio(["gc", "--dir", dir]);
    assert.equal(again.code, 0);
    assert.equal(again.stdout, "nothing to collect\n");
    // A lock file whose domain is gone (a process killed between leave's two unlinks).
    writeFileSync(`${dir}/.xio-stale.lock`, "");
    const stale = await xio(["gc", "--dir", dir]);
    assert.equal(stale.stdout, "remove the stale lock file of stale\n");
    assert.deepEqual(readdirSync(dir), []);
  });

  test("gc reclaims the dead nodes of a live domain and keeps the domain", async () => {
    const dir = dirFor("gc-live");
    const name = uniqueName("ops-live");
    const survivor = peer("hold", name, dir);
    await survivor.waitFor("ready");
    const victims = [peer("hold", name, dir), peer("hold", name, dir, [], otherRuntime)];
    for (const v of victims) await v.waitFor("ready");
    for (const v of victims) await v.kill();
    const path = `${dir}/xio-${name}`;
    const before = Inspector.open(path);
    try {
      assert.equal(before.snapshot().nodes.filter((n) => !n.alive).length, 2);
      const dry = collect({ dir, dryRun: true });
      assert.deepEqual(dry, [{ name, action: "reclaimed", reclaimed: 2 }]);
      assert.equal(before.snapshot().nodes.length, 3, "a dry run reclaims nothing");
      const run = await xio(["gc", "--dir", dir], otherRuntime);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `reclaim 2 dead nodes in ${name}\n`);
      const s = before.snapshot();
      assert.deepEqual(s.nodes.map((n) => n.pid), [survivor.child.pid]);
      assert.equal(s.reclaimedNodes, 2);
      assert.deepEqual(s.services.map((v) => v.name), [`held-${survivor.child.pid}`]);
      assert.deepEqual(collect({ dir }), [{ name, action: "nothing", reclaimed: 0 }]);
    } finally {
      before.close();
      survivor.child.stdin!.end();
      await survivor.done();
    }
    assert.deepEqual(readdirSync(dir), []);
  });

  test("gc racing 8 processes that attach and detach in a loop never removes a live domain", async () => {
    const dir = dirFor("gc-race");
    const name = uniqueName("ops-race");
    const churners = Array.from(
      { length: 8 },
      (_, i) => peer("churn", name, dir, ["3000"], i % 2 === 0 ? runtimeName : otherRuntime),
    );
    const results = Promise.all(churners.map((c) => c.json<{ rounds: number; errors: string[] }>(60_000)));
    let finished = false;
    results.finally(() => (finished = true));
    let collections = 0;
    let removals = 0;
    while (!finished) {
      for (const r of collect({ dir, lockTimeoutMs: 5000 })) {
        assert.notEqual(r.action, "error", r.error ?? "");
        if (r.action === "removed") removals++;
      }
      collections++;
      await delay(Math.random() * 2);
    }
    const outcomes = await results;
    for (const c of churners) await c.done();
    const rounds = outcomes.reduce((sum, o) => sum + o.rounds, 0);
    assert.deepEqual(outcomes.flatMap((o) => o.errors), []);
    assert.ok(rounds >= 80, `the churners made ${rounds} rounds`);
    assert.ok(collections >= 20, `the collector ran ${collections} times`);
    console.log(
      `ops: ${collections} collections raced ${rounds} attach/detach rounds (${removals} removals of unheld files)`,
    );
    assert.deepEqual(collect({ dir }), []);
  });

  test("metrics(): a route of the service's own serve, in the Prometheus text format a real parser reads", async () => {
    // The default domain of serve and fetch, which the helper serves by default too.
    const domain = socketDomain();
    const name = domain.name;
    const service = uniqueName("metrics");
    const server = serve({ name: service, onListen() {} }, withMetrics(() => new Response("hello")));
    try {
      assert.equal(await (await xioFetch(`xio://${service}/`)).text(), "hello");
      const response = await xioFetch(`xio://${service}/metrics`);
      assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      const text = await response.text();
      const families = parsePrometheus(text) as {
        name: string;
        type: string;
        metrics: { labels?: Record<string, string>; value: string }[];
      }[];
      const byName = new Map(families.map((f) => [f.name, f]));
      const expected = domain.metrics();
      assert.equal(byName.get("xio_nodes")!.type, "GAUGE");
      assert.equal(
        byName.get("xio_nodes")!.metrics.find((m) => m.labels!.state === "alive")!.value,
        String(expected.nodes.length),
      );
      const messages = byName.get("xio_channel_messages_total")!;
      assert.equal(messages.type, "COUNTER");
      assert.ok(messages.metrics.length >= 2);
      for (const m of messages.metrics) assert.equal(m.labels!.domain, name);
      const requests = messages.metrics.filter((m) => m.labels!.direction === "to_server")
        .reduce((sum, m) => sum + Number(m.value), 0);
      assert.ok(requests >= 2, "both requests were counted");
      const pools = byName.get("xio_pool_buffers")!;
      assert.equal(pools.metrics.length, expected.classes.length * 5);
      // Every family the helper documents is there, with HELP and TYPE.
      for (
        const family of [
          "xio_domain_size_bytes",
          "xio_services",
          "xio_channels",
          "xio_channel_bytes_total",
          "xio_channel_queued",
          "xio_pool_allocations_total",
          "xio_corrupt_descriptors_total",
          "xio_nodes_reclaimed_total",
          "xio_channels_opened_total",
        ]
      ) assert.ok(byName.has(family), family);
      // Label values are escaped as the format says.
      const odd = prometheus({ ...expected, name: 'a"b\\c\nd' });
      const parsed = parsePrometheus(odd) as { metrics: { labels?: Record<string, string> }[] }[];
      assert.equal(parsed[0].metrics[0].labels!.domain, 'a"b\\c\nd');
      // The command gives the same format.
      const run = await xio(["stat", domain.path, "--format", "prometheus"]);
      assert.equal(run.code, 0, run.stderr);
      assert.ok((parsePrometheus(run.stdout) as unknown[]).length >= 10);
    } finally {
      await server.shutdown();
    }
  });

  test("withMetrics wraps a Hono app unchanged: its routes answer as before, /metrics is added", async () => {
    const app = new Hono();
    app.get("/", (c) => c.json({ hello: "world" }));
    app.get("/metrics/other", (c) => c.text("the app's own"));
    const service = uniqueName("hono-metrics");
    const server = serve({ name: service, onListen() {} }, withMetrics(app.fetch));
    try {
      const plain = await xioFetch(`xio://${service}/`);
      assert.deepEqual(await plain.json(), { hello: "world" });
      assert.equal(await (await xioFetch(`xio://${service}/metrics/other`)).text(), "the app's own");
      assert.equal((await xioFetch(`xio://${service}/missing`)).status, 404);
      const metrics = await xioFetch(`xio://${service}/metrics?x=1`);
      const families = parsePrometheus(await metrics.text()) as { name: string }[];
      assert.ok(families.some((f) => f.name === "xio_channel_messages_total"));
      const posted = await xioFetch(`xio://${service}/metrics`, { method: "POST" });
      assert.equal(posted.status, 404, "only GET and HEAD are the metrics route; the rest is the app's");
    } finally {
      await server.shutdown();
    }
  });

  test("watch renders a live screen with rates under a pseudo-terminal", async () => {
    const dir = dirFor("watch");
    const name = uniqueName("ops-watch");
    const server = peer("serve", name, dir);
    await server.waitFor("ready");
    const sender = peer("send", name, dir, ["100000000", "200"], otherRuntime);
    try {
      const cols = 150;
      const rows = 40;
      const screen = await watchScreen(`${dir}/xio-${name}`, cols, rows);
      const text = screen.join("\n");
      assert.match(screen[0], new RegExp(`^xio watch ${name}  every 300 ms  \\d\\d:\\d\\d:\\d\\d`));
      assert.match(text, /^NODES {2}2 live, 0 dead, of 64$/m);
      assert.match(text, /^ {2}orders {3}\d+ \(\d+\)$/m);
      // The channel row, with a rate per second after each total.
      // Client to server: messages, then bytes, each with a rate that is not zero.
      assert.match(
        text,
        /^\s+\d+ {2}orders .* open +[\d,]+ \((?!0\/s)[\d.]+[kM]?\/s\) +[\d.]+ [KMG]?i?B \((?!0 B)[\d.]+ [KMG]?i?B\/s\)/m,
      );
      assert.match(text, /^POOLS$/m);
    } finally {
      sender.child.stdin!.end();
      await sender.kill();
      await server.kill();
    }
  });
});

/** Runs `xio watch` on `path` under a pseudo-terminal of `cols` x `rows`: its last screen. */
async function watchScreen(path: string, cols: number, rows: number): Promise<string[]> {
  const argv = runtimeName === "deno" ? `run --allow-all ${CLI}` : CLI;
  const raw = await underTerminal(
    `${runtimeBinary(runtimeName)} ${argv} watch ${path} --interval 300 --count 4`,
    cols,
    rows,
  );
  const screen = await screenOf(raw, cols, rows);
  assert.equal(screen.buffer, "alternate", "watch draws on the alternate screen");
  return screen.lines;
}

test(`xio main() answers --help and --version in process (${runtimeName})`, async () => {
  const writes: string[] = [];
  const original = process.stdout.write;
  process.stdout.write = ((chunk: string) => writes.push(chunk) > 0) as typeof process.stdout.write;
  try {
    assert.equal(await cli(["--help"]), 0);
    assert.equal(await cli(["--version"]), 0);
  } finally {
    process.stdout.write = original;
  }
  assert.match(writes.join(""), /usage:\n {2}xio ls/);
  assert.match(writes.join(""), /^xio 0\.1\.0 \(library .*libxio.*\.so, layout 3\)$/m);
});
