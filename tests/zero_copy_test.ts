import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import process from "node:process";
import { tmpdir } from "node:os";
import {
  AddrInUseError,
  BufferStateError,
  ClosedError,
  ConnectionRefusedError,
  ConnectionResetError,
  CorruptDescriptorError,
  Domain,
  DomainError,
  type DomainOptions,
  InvalidNameError,
  MessageTooLargeError,
  type SharedBuffer,
} from "../mod.ts";
import { BrokenPipeError, FrameError, LibraryNotFoundError, XioError } from "../errors.ts";
import { ABI_VERSION, native, Opt, Status } from "../ffi/mod.ts";
import { statusError } from "../zero_copy/_status.ts";
import { delay, Fixture, otherRuntime, runtimeName, uniqueName, within } from "./_helpers.ts";

/** A small domain, so that many tests can run side by side. */
function small(name: string, extra: Partial<DomainOptions> = {}): DomainOptions {
  return {
    name,
    hugepages: "never",
    classes: [{ size: 2048, count: 1024 }, { size: 65536, count: 32 }, { size: 1 << 20, count: 4 }],
    ...extra,
  };
}

function allFree(domain: Domain): boolean {
  return domain.stats().classes.every((c) => c.free === c.total);
}

const fixtures: Fixture[] = [];
function peer(args: string[], runtime = runtimeName): Fixture {
  const fixture = new Fixture("zc_peer.ts", args, runtime);
  fixtures.push(fixture);
  return fixture;
}
after(async () => {
  for (const fixture of fixtures) if (fixture.child.exitCode === null) await fixture.kill();
});

describe(`zero-copy channels (${runtimeName})`, () => {
  test("a service whose only process was killed is served again by its restart", async () => {
    // The first process is node 0 of a domain nobody else is in; after its SIGKILL the restart
    // must reclaim it on the way in, or its service would still read as taken.
    const name = uniqueName("zc-restart");
    const first = peer(["echo", name, "echo"]);
    await first.waitFor("ready");
    await first.kill();
    const second = peer(["echo", name, "echo"], otherRuntime);
    await second.waitFor("ready");
    // Opened as the peers open it (they chose its store), not as a small test domain.
    using domain = Domain.open({ name });
    const channel = await domain.connect("echo");
    const buffer = await channel.alloc(5);
    buffer.bytes.set([1, 2, 3, 4, 5]);
    await channel.send(buffer);
    const reply = await within(5000, channel.recv(), "the echo of the restarted service");
    assert.deepEqual([...reply!.bytes], [1, 2, 3, 4, 5]);
    reply!.release();
    channel.close();
    await second.kill();
  });

  test("a message makes a round trip through another process", async () => {
    const name = uniqueName("zc-rt");
    using domain = Domain.open(small(name));
    const echo = peer(["echo", name, "echo"]);
    await echo.waitFor("ready");
    const channel = await domain.connect("echo");
    const buffer = await channel.alloc(11);
    buffer.bytes.set(new TextEncoder().encode("hello there"));
    const id = buffer.id;
    await channel.send(buffer);
    const reply = await within(5000, channel.recv(), "the echo");
    assert.ok(reply !== null);
    assert.equal(new TextDecoder().decode(reply.bytes), "hello there");
    assert.equal(reply.id, id, "the echo sent back the very same buffer");
    reply.release();
    channel.close();
    await echo.kill();
  });

  test("one million messages arrive in order with none lost", async () => {
    const name = uniqueName("zc-million");
    using domain = Domain.open(small(name));
    using listener = domain.listen("sink");
    const count = 1_000_000;
    const producer = peer(["produce", name, "sink", String(count), "64"]);
    const channel = await within(10_000, listener.accept(), "the producer's connection");
    const batch: SharedBuffer[] = [];
    let expected = 0;
    for (;;) {
      const n = channel.tryRecvMany(batch);
      if (n === null) break;
      if (n === 0) {
        const one = await channel.recv();
        if (one === null) break;
        batch[0] = one;
        checkSequence(one, expected++);
        one.release();
        continue;
      }
      for (let i = 0; i < n; i++) checkSequence(batch[i], expected++);
      channel.releaseMany(batch, n);
    }
    assert.equal(expected, count);
    channel.close();
    await producer.done();
    assert.ok(allFree(domain));
  });

  test(`a ${runtimeName} process and a ${otherRuntime} process talk in one domain`, async () => {
    const name = uniqueName("zc-mixed");
    using domain = Domain.open(small(name));
    const echo = peer(["echo", name, "echo"], otherRuntime);
    await echo.waitFor("ready");
    const channel = await domain.connect("echo");
    for (let i = 0; i < 100; i++) {
      const buffer = await channel.alloc(4);
      new DataView(buffer.bytes.buffer, buffer.bytes.byteOffset).setUint32(0, i * 7, true);
      await channel.send(buffer);
      const reply = await within(5000, channel.recv(), "the echo");
      assert.equal(new DataView(reply!.bytes.buffer, reply!.bytes.byteOffset).getUint32(0, true), i * 7);
      reply!.release();
    }
    assert.equal(domain.stats().nodes.active, 2);
    channel.close();
    await echo.kill();
  });

  test("three processes forward one buffer without copying it", async () => {
    const name = uniqueName("zc-chain");
    using domain = Domain.open(small(name));
    const marker = peer(["mark", name, "c"]);
    await marker.waitFor("ready");
    const relay = peer(["relay", name, "b", "c"], otherRuntime);
    await relay.waitFor("ready");
    const channel = await domain.connect("b");
    const before = domain.stats().classes[0].allocations;
    const buffer = await channel.alloc(16);
    buffer.bytes.fill(0x11);
    const { id, offset } = buffer;
    await channel.send(buffer);
    const back = await within(5000, channel.recv(), "the buffer's return");
    assert.ok(back !== null);
    const forwarded = await relay.json();
    const marked = await marker.json();
    const returned = await relay.json();
    for (const seen of [forwarded, marked, returned]) {
      assert.equal(seen.id, id);
      assert.equal(seen.offset, offset);
    }
    assert.equal(marked.first, 0x11);
    // The marker wrote into the buffer in place; we see its write in the same memory.
    assert.equal(back.id, id);
    assert.equal(back.offset, offset);
    assert.equal(back.bytes[0], 0xc0);
    assert.equal(back.bytes[1], 0x11);
    assert.equal(domain.stats().classes[0].allocations - before, 1, "one allocation for the whole trip");
    back.release();
    channel.close();
    await relay.done();
    await marker.done();
  });

  test("a send that fails gives its buffer back, at once or while it waited for room", async () => {
    const name = uniqueName("zc-failed-send");
    using domain = Domain.open(small(name, { ringCapacity: 8 }));
    using listener = domain.listen("gone");
    const client = await domain.connect("gone");
    const server = await listener.accept();
    // Waiting for room when the peer goes away.
    for (let i = 0; i < 8; i++) assert.equal(client.trySend(client.tryAlloc(8)!), true);
    const waiting = client.tryAlloc(8)!;
    const pending = client.send(waiting);
    await delay(20);
    server.close();
    await assert.rejects(within(2000, pending, "the waiting send"), BrokenPipeError);
    assert.equal(waiting.owned, false, "the failed send gave the buffer up");
    // And at once, on a channel already gone.
    const late = client.tryAlloc(8)!;
    await assert.rejects(client.send(late), BrokenPipeError);
    assert.equal(late.owned, false);
    // trySend keeps the caller's buffer when it throws.
    const kept = client.tryAlloc(8)!;
    assert.throws(() => client.trySend(kept), BrokenPipeError);
    assert.ok(kept.owned);
    kept.release();
    client.close();
    await within(
      2000,
      (async () => {
        while (!allFree(domain)) await delay(10);
      })(),
      "every buffer back",
    );
  });

  test("a full ring makes send wait and trySend refuse", async () => {
    const name = uniqueName("zc-ring");
    using domain = Domain.open(small(name, { ringCapacity: 8 }));
    using listener = domain.listen("slow");
    const client = await domain.connect("slow");
    const server = await listener.accept();
    for (let i = 0; i < 8; i++) assert.equal(client.trySend(client.tryAlloc(8)!), true);
    const extra = client.tryAlloc(8)!;
    assert.equal(client.trySend(extra), false);
    assert.ok(extra.owned, "a refused buffer stays with the sender");
    let sent = false;
    const pending = client.send(extra).then(() => (sent = true));
    await delay(50);
    assert.equal(sent, false, "send waits while the ring is full");
    (await server.recv())!.release();
    await within(2000, pending, "the blocked send");
    assert.equal(sent, true);
  });

  test("an empty pool makes alloc wait and tryAlloc return undefined", async () => {
    const name = uniqueName("zc-pool");
    using domain = Domain.open(small(name));
    const held: SharedBuffer[] = [];
    for (let i = 0; i < 4; i++) held.push(domain.tryAlloc(1 << 20)!);
    assert.equal(domain.tryAlloc(1 << 20), undefined);
    let settled = false;
    const pending = domain.alloc(1 << 20).finally(() => (settled = true));
    await delay(50);
    assert.equal(settled, false, "alloc waits while the pool is empty");
    held.pop()!.release();
    const got = await within(2000, pending, "the blocked alloc");
    assert.ok(got.owned);
  });

  test("an empty pool is refilled by a release in another process", async () => {
    const name = uniqueName("zc-pool2");
    using domain = Domain.open(small(name));
    const echo = peer(["echo", name, "echo"]);
    await echo.waitFor("ready");
    const channel = await domain.connect("echo");
    const held: SharedBuffer[] = [];
    for (let i = 0; i < 4; i++) held.push(await channel.alloc(1 << 20));
    const first = held.shift()!;
    await channel.send(first);
    const reply = (await channel.recv())!;
    held.push(reply);
    const pending = channel.alloc(1 << 20);
    await delay(50);
    // The echo holds nothing; we release one and the waiter gets it.
    held.pop()!.release();
    const got = await within(2000, pending, "the blocked alloc");
    assert.ok(got.owned);
    channel.close();
    await echo.kill();
  });

  test("recv() returns null after the peer closes", async () => {
    const name = uniqueName("zc-eof");
    using domain = Domain.open(small(name));
    using listener = domain.listen("svc");
    const client = await domain.connect("svc");
    const server = await listener.accept();
    await client.send(await client.alloc(1));
    client.close();
    const first = await server.recv();
    assert.ok(first !== null, "messages sent before the close still arrive");
    first.release();
    assert.equal(await server.recv(), null);
    assert.equal(server.tryRecv(), null);
    server.close();
    assert.ok(allFree(domain));
  });

  test("a peer killed mid-stream resets the channel within a second and frees every buffer", async () => {
    const name = uniqueName("zc-kill");
    using domain = Domain.open(small(name));
    using listener = domain.listen("svc");
    const streamer = peer(["stream", name, "svc"]);
    const channel = await within(10_000, listener.accept(), "the streamer's connection");
    for (let i = 0; i < 1000; i++) (await channel.recv())!.release();
    streamer.child.kill("SIGKILL");
    const started = performance.now();
    await assert.rejects(async () => {
      for (;;) {
        const message = await channel.recv();
        if (message === null) throw new Error("expected a reset, got end of stream");
        message.release();
      }
    }, ConnectionResetError);
    assert.ok(performance.now() - started < 1000, `reset took ${performance.now() - started} ms`);
    await streamer.exited;
    assert.ok(allFree(domain), JSON.stringify(domain.stats().classes));
    assert.equal(domain.stats().nodes.active, 1);
    // The listener still accepts.
    const next = await domain.connect("svc");
    const accepted = await within(2000, listener.accept(), "a new connection");
    await next.send(await next.alloc(3));
    (await accepted.recv())!.release();
  });

  test("a killed process's held and in-flight buffers come back to the pool", async () => {
    const name = uniqueName("zc-hold");
    using domain = Domain.open(small(name));
    using listener = domain.listen("svc");
    const holder = peer(["hold", name, "svc", "10", "5"]);
    const channel = await within(10_000, listener.accept(), "the holder's connection");
    await holder.json();
    assert.equal(domain.stats().classes[0].free, 1024 - 15);
    await holder.kill();
    await within(
      1000,
      (async () => {
        while (!allFree(domain) || domain.stats().nodes.active !== 1) {
          try {
            channel.tryRecv()?.release();
          } catch {
            // the reset, once noticed
          }
          await delay(10);
        }
      })(),
      "reclaiming the dead holder's buffers",
    );
  });

  test("the domain can be reopened after every process left", () => {
    const name = uniqueName("zc-reopen");
    const first = Domain.open(small(name));
    first.close();
    first.close();
    using second = Domain.open(small(name));
    assert.equal(second.stats().nodes.active, 1);
  });
});

describe(`bad input gets typed errors (${runtimeName})`, () => {
  const dir = mkdtempSync(`${tmpdir()}/xio-bad-`);
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a foreign file where a domain should be", () => {
    writeFileSync(`${dir}/xio-foreign`, "this is not a shared-memory domain, just text".repeat(100));
    assert.throws(
      () => Domain.open({ name: "foreign", dir }),
      (e) => e instanceof DomainError && e.code === "ENOTDOMAIN",
    );
  });

  test("a truncated domain file", () => {
    const name = "truncated";
    const domain = Domain.open(small(name, { dir }));
    const size = domain.stats().size;
    // Keep a copy of the first half of a real domain, then let the domain go.
    const raw = readFileSync(`${dir}/xio-${name}`).subarray(0, size / 2);
    domain.close();
    writeFileSync(`${dir}/xio-${name}`, raw);
    assert.throws(
      () => Domain.open({ name, dir }),
      (e) => e instanceof DomainError && e.code === "ETRUNCATED",
    );
  });

  test("a domain file of another layout version", () => {
    const header = new Uint8Array(4096);
    const view = new DataView(header.buffer);
    view.setBigUint64(0, 0x314e4d4f444f4958n, true); // the magic
    view.setUint32(8, 99, true); // the version
    writeFileSync(`${dir}/xio-future`, header);
    assert.throws(
      () => Domain.open({ name: "future", dir }),
      (e) =>
        e instanceof DomainError && e.code === "EVERSION" &&
        new RegExp(`layout version ${native().xio_version()} expected, found 99`).test(e.message),
    );
  });

  test("the library and this package agree on the ABI, and a file that is no library is refused", async () => {
    assert.equal(native().xio_abi_version(), ABI_VERSION);
    const opener = new Fixture("open_domain.ts", [uniqueName("zc-nolib")], runtimeName, {
      env: { XIO_LIB: `${dir}/xio-future` },
    });
    fixtures.push(opener);
    const outcome = await opener.json<{ code: string; message: string }>(30_000);
    assert.equal(outcome.code, "ENOLIB");
    assert.match(outcome.message, /Cannot load libxio from .*xio-future.*rebuild it/);
  });

  test("every status of the ABI becomes its own typed error, and every error extends XioError", () => {
    const codes = new Map<string, string>();
    for (const [name, code] of Object.entries(Status)) {
      if (name === "ok") continue;
      const error = statusError(code, "the thing");
      assert.ok(error instanceof XioError, name);
      assert.match(error.message, /^the thing: /, name);
      assert.doesNotMatch(error.message, /unexpected status/, `${name} has its own message`);
      // Only the system-error status may be the generic EIO.
      if (name !== "io") assert.notEqual(error.code, "EIO", name);
      codes.set(name, `${error.name}/${error.code}/${error.message}`);
    }
    // No two statuses read the same to a caller.
    assert.equal(new Set(codes.values()).size, codes.size);
    const unknown = statusError(-999, "the thing");
    assert.equal(unknown.code, "EIO");
    assert.match(unknown.message, /unexpected status -999/);
    for (const error of [new LibraryNotFoundError("x"), new FrameError("x")]) {
      assert.ok(error instanceof XioError);
      assert.equal(typeof error.code, "string");
    }
  });

  test("names that are empty, too long, or contain / or ..", () => {
    for (const name of ["", "x".repeat(65), "a/b", "..", "a..b", ".hidden", "sp ace"]) {
      assert.throws(() => Domain.open({ name }), InvalidNameError, JSON.stringify(name));
    }
    using domain = Domain.open(small(uniqueName("zc-names")));
    assert.throws(() => domain.listen("../etc"), InvalidNameError);
    assert.throws(() => domain.listen(""), InvalidNameError);
    assert.rejects(domain.connect("a/b"), InvalidNameError);
  });

  test("connecting to nobody is refused and listening twice is in use", async () => {
    using domain = Domain.open(small(uniqueName("zc-refused")));
    await assert.rejects(domain.connect("nobody"), ConnectionRefusedError);
    using _listener = domain.listen("taken");
    assert.throws(() => domain.listen("taken"), AddrInUseError);
  });

  test("an allocation larger than the largest class", () => {
    using domain = Domain.open(small(uniqueName("zc-big")));
    assert.throws(() => domain.tryAlloc((1 << 20) + 1), MessageTooLargeError);
    assert.rejects(domain.alloc(1 << 30), MessageTooLargeError);
  });

  test("using a buffer after send or release", async () => {
    using domain = Domain.open(small(uniqueName("zc-use")));
    using listener = domain.listen("svc");
    const client = await domain.connect("svc");
    await listener.accept();
    const sent = await client.alloc(10);
    // The whole-buffer view: every byte of capacity, the same object each time, shared with bytes.
    const whole = sent.capacityBytes;
    assert.equal(whole.length, sent.capacity);
    assert.equal(sent.capacityBytes, whole);
    whole[3] = 42;
    assert.equal(sent.bytes[3], 42);
    await client.send(sent);
    assert.throws(() => sent.bytes, BufferStateError);
    assert.throws(() => sent.capacityBytes, BufferStateError);
    assert.throws(() => client.trySend(sent), BufferStateError);
    const released = await client.alloc(10);
    released.release();
    assert.throws(() => released.bytes, BufferStateError);
    assert.throws(() => released.release(), BufferStateError);
    client.close();
    assert.throws(() => client.tryRecv(), ClosedError);
  });

  test("a corrupted descriptor planted in a ring", async () => {
    const name = uniqueName("zc-corrupt");
    using domain = Domain.open(small(name));
    using listener = domain.listen("svc");
    const client = await domain.connect("svc");
    const server = await listener.accept();
    // A second handle on the domain plays a hostile peer that writes raw descriptors.
    const sym = native();
    // Attach only (no create): the sizes come from the file; no group, no extra owners.
    const words = new Uint32Array(Opt.words);
    words[Opt.group] = 0xffff_ffff;
    words[Opt.lockTimeoutMs] = 1000;
    words.fill(0xffff_ffff, Opt.owners, Opt.owners + Opt.ownersMax);
    const status = new Int32Array(2);
    const encoded = new TextEncoder().encode(name);
    const hostile = sym.xio_open(encoded, encoded.length, new Uint8Array(0), 0, words, status);
    assert.ok(hostile, `status ${status[0]}`);
    try {
      // Buffer index far past the end of class 0.
      assert.equal(sym.xio_debug_plant(hostile, client.index, 0, 0x00ff_fff0, 64), 0);
      await assert.rejects(server.recv(), CorruptDescriptorError);
      assert.equal(server.closed, true);
      assert.equal(domain.stats().corruptDescriptors, 1);
      // A valid buffer id that was never sent on this channel.
      const other = await domain.connect("svc");
      const otherServer = await listener.accept();
      const mine = await domain.alloc(8);
      assert.equal(sym.xio_debug_plant(hostile, other.index, 0, mine.id, 8), 0);
      assert.throws(() => otherServer.tryRecv(), CorruptDescriptorError);
      assert.ok(mine.owned, "the forged descriptor did not take our buffer");
      mine.release();
    } finally {
      sym.xio_close(hostile);
    }
  });
});

describe(`backing stores (${runtimeName})`, () => {
  const hugepagesExpected = process.env.XIO_REQUIRE_HUGEPAGES === "1";
  const mounted = hugetlbfsMounted();

  test("huge pages back the domain when a hugetlbfs mount has free pages", (t) => {
    if (!mounted) {
      // Without a mount the hugepage path cannot be taken; CI sets XIO_REQUIRE_HUGEPAGES=1 so
      // that this can never pass silently there.
      assert.equal(hugepagesExpected, false, "XIO_REQUIRE_HUGEPAGES=1 but no hugetlbfs mount");
      assert.throws(
        () => Domain.open(small(uniqueName("zc-huge"), { hugepages: "require" })),
        (e) => e instanceof DomainError && e.code === "ENOHUGEPAGES",
      );
      t.diagnostic?.("no hugetlbfs mount: checked that 'require' fails with a typed error");
      return;
    }
    using domain = Domain.open(small(uniqueName("zc-huge"), { hugepages: "require" }));
    assert.equal(domain.stats().backing, "hugetlbfs");
    assert.equal(domain.stats().size % (2 << 20), 0);
  });

  test("without huge pages the domain falls back to /dev/shm and says so", () => {
    using never = Domain.open(small(uniqueName("zc-shm"), { hugepages: "never" }));
    assert.ok(["shm", "shm-thp"].includes(never.stats().backing), never.stats().backing);
    // One more 2 MiB page than are free: "auto" must fall back, not fail.
    const pages = hugepagesFree() + 1;
    using big = Domain.open(small(uniqueName("zc-auto"), {
      hugepages: "auto",
      classes: [{ size: 2 << 20, count: pages }],
    }));
    assert.ok(["shm", "shm-thp"].includes(big.stats().backing), big.stats().backing);
  });
});

function checkSequence(message: SharedBuffer, expected: number): void {
  const got = new DataView(message.bytes.buffer, message.bytes.byteOffset, 4).getUint32(0, true);
  if (got !== expected) assert.fail(`message ${expected} arrived as ${got}`);
}

function hugepagesFree(): number {
  const match = /HugePages_Free:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"));
  return match ? Number(match[1]) : 0;
}

function hugetlbfsMounted(): boolean {
  return readFileSync("/proc/mounts", "utf8").split("\n").some((line) => line.split(" ")[2] === "hugetlbfs");
}
