import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import {
  deleteRoute,
  Domain,
  fetch,
  serve,
  setDefaultDomain,
  setRoute,
  upgradeWebSocket,
  WebSocket,
  type XioServer,
  type XioServerWebSocket,
} from "../mod.ts";
import {
  FLAG_END,
  FLAG_MORE,
  FLAG_PACKED,
  FLAG_TEXT,
  FLAG_UPGRADE,
  FRAME_CLOSE,
  FRAME_DATA,
  FRAME_REQUEST,
  FRAME_RESPONSE,
  FrameReader,
  FrameWriter,
} from "../http/_frames.ts";
import { delay, Fixture, otherRuntime, runtimeName, uniqueName, within } from "./_helpers.ts";
import { freeAll } from "./_chaos.ts";

let domain: Domain;
before(() => {
  domain = Domain.open({
    name: uniqueName("ws"),
    hugepages: "never",
    channels: 256,
    classes: [
      { size: 256, count: 4096 },
      { size: 4096, count: 1024 },
      { size: 65536, count: 256 },
    ],
  });
  setDefaultDomain(domain);
});
const fixtures: Fixture[] = [];
after(async () => {
  for (const fixture of fixtures) if (fixture.child.exitCode === null) await fixture.kill();
  setDefaultDomain(undefined);
  domain.close();
});

/** The next event of `type` on `target`. */
function next<E extends Event = Event>(target: EventTarget, type: string, ms = 10_000): Promise<E> {
  return within(
    ms,
    new Promise<E>((resolve) => target.addEventListener(type, (e) => resolve(e as E), { once: true })),
    type,
  );
}

/**
 * The next message's data. Every message is queued from the socket's first use on: Deno's own
 * WebSocket hands out messages that are already there in one task (so is ours there), and a
 * listener added once one came would miss the others.
 */
const inboxes = new WeakMap<EventTarget, { queued: unknown[]; waiting: ((data: unknown) => void)[] }>();
function inboxOf(ws: EventTarget): { queued: unknown[]; waiting: ((data: unknown) => void)[] } {
  let inbox = inboxes.get(ws);
  if (inbox === undefined) {
    const created = { queued: [] as unknown[], waiting: [] as ((data: unknown) => void)[] };
    inboxes.set(ws, inbox = created);
    ws.addEventListener("message", (event) => {
      const data = (event as MessageEvent).data;
      const waiter = created.waiting.shift();
      if (waiter) waiter(data);
      else created.queued.push(data);
    });
  }
  return inbox;
}
function message(ws: EventTarget, ms = 10_000): Promise<unknown> {
  const inbox = inboxOf(ws);
  if (inbox.queued.length > 0) return Promise.resolve(inbox.queued.shift());
  return within(ms, new Promise((resolve) => inbox.waiting.push(resolve)), "message");
}

/** Serves an echo (text and binary) under a new name; the server socket's close is reported to `closes`. */
function echo(closes: CloseEvent[] = [], protocol?: string): { server: XioServer; name: string } {
  const name = uniqueName("echo");
  const server = serve({ name }, (request) => {
    if (request.headers.get("upgrade") !== "websocket") return new Response("plain", { status: 200 });
    const { socket, response } = upgradeWebSocket(request, {
      protocol: protocol ?? request.headers.get("sec-websocket-protocol")?.split(",")[0] ?? undefined,
    });
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => {
      if (event.data === "close me") socket.close(4002, "server says bye");
      else socket.send(event.data);
    };
    socket.onclose = (event) => closes.push(event);
    return response;
  });
  return { server, name };
}

/** A TCP server of the runtime's own that answers any message with a burst of `burst` messages. */
function tcpBurstServer(burst: number): { port: number; close: () => Promise<void> } {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  if (runtimeName === "deno") {
    const server = g.Deno.serve({ port: 0, onListen() {} }, (request: Request) => {
      const { socket, response } = g.Deno.upgradeWebSocket(request);
      socket.onmessage = () => {
        for (let i = 0; i < burst; i++) socket.send(`m${i}`);
      };
      return response;
    });
    return { port: server.addr.port, close: () => server.shutdown() };
  }
  const server = g.Bun.serve({
    port: 0,
    fetch: (request: Request, s: { upgrade(r: Request): boolean }) =>
      s.upgrade(request) ? undefined : new Response("no"),
    websocket: {
      message: (ws: { send(d: string): void }) => {
        for (let i = 0; i < burst; i++) ws.send(`m${i}`);
      },
    },
  });
  return { port: server.port, close: () => server.stop(true) };
}

async function open(url: string, protocols?: string | string[]): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols);
  inboxOf(ws);
  await next(ws, "open");
  return ws;
}

describe(`WebSocket over shared memory (${runtimeName})`, () => {
  test("text and binary messages, from empty to 64 MiB, in order, as each binaryType", async () => {
    const { server, name } = echo();
    const ws = await open(`xio://${name}/chat?room=1`);
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(ws.url, `xio://${name}/chat?room=1`);
    assert.equal(ws.extensions, "");
    ws.send("");
    assert.equal(await message(ws), "");
    ws.send("héllo ✓");
    assert.equal(await message(ws), "héllo ✓");
    ws.binaryType = "arraybuffer";
    ws.send(new Uint8Array(0));
    const empty = await message(ws);
    assert.ok(empty instanceof ArrayBuffer && empty.byteLength === 0);
    // Several frames each (over 64 KiB), sent back to back: they come back whole and in order.
    const sizes = [1, 65_528, 65_529, 300_000, 1 << 20];
    for (const size of sizes) ws.send(new Uint8Array(size).map((_, i) => (i * 7 + size) & 0xff));
    for (const size of sizes) {
      const got = new Uint8Array(await message(ws) as ArrayBuffer);
      assert.equal(got.length, size);
      assert.ok(got.every((b, i) => b === ((i * 7 + size) & 0xff)), `${size} bytes intact`);
    }
    ws.binaryType = "blob";
    ws.send(new Blob(["blob body"]));
    const blob = await message(ws);
    assert.ok(blob instanceof Blob);
    assert.equal(await blob.text(), "blob body");
    ws.binaryType = "arraybuffer";
    ws.send(new DataView(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2));
    assert.deepEqual([...new Uint8Array(await message(ws) as ArrayBuffer)], [2, 3]);
    const huge = new Uint8Array(64 * 1024 * 1024);
    huge[0] = 1;
    huge[huge.length - 1] = 2;
    ws.send(huge);
    const back = new Uint8Array(await message(ws) as ArrayBuffer);
    assert.equal(back.length, huge.length);
    assert.equal(back[0], 1);
    assert.equal(back[back.length - 1], 2);
    ws.close();
    await next(ws, "close");
    await server.shutdown();
  });

  test("close codes and reasons go both ways, with the closing handshake", async () => {
    const closes: CloseEvent[] = [];
    const { server, name } = echo(closes);
    const ws = await open(`xio://${name}/`);
    ws.close(4001, "client says bye");
    assert.equal(ws.readyState, WebSocket.CLOSING);
    const closed = await next<CloseEvent>(ws, "close");
    assert.equal(closed.wasClean, true);
    assert.equal(ws.readyState, WebSocket.CLOSED);
    await delay(20);
    assert.equal(closes.length, 1);
    assert.equal(closes[0].code, 4001);
    assert.equal(closes[0].reason, "client says bye");
    assert.equal(closes[0].wasClean, true);

    const other = await open(`xio://${name}/`);
    other.send("close me");
    const byServer = await next<CloseEvent>(other, "close");
    assert.deepEqual([byServer.code, byServer.reason, byServer.wasClean], [4002, "server says bye", true]);

    const plain = await open(`xio://${name}/`);
    plain.close();
    assert.equal((await next<CloseEvent>(plain, "close")).code, 1005); // no code given
    await server.shutdown();
  });

  test("what WebSocket refuses: send while connecting, bad close codes and reasons, bad URLs", async () => {
    const { server, name } = echo();
    const ws = new WebSocket(`xio://${name}/`);
    assert.throws(() => ws.send("too early"), { name: "InvalidStateError" });
    assert.throws(() => ws.close(1001), { name: "InvalidAccessError" });
    assert.throws(() => ws.close(1000, "x".repeat(124)), { name: "SyntaxError" });
    assert.throws(() => new WebSocket("ftp://example.com/"), { name: "SyntaxError" });
    assert.throws(() => new WebSocket(`xio://${name}/#frag`), { name: "SyntaxError" });
    assert.throws(() => new WebSocket(`xio://${name}/`, ["a", "a"]), { name: "SyntaxError" });
    await next(ws, "open");
    ws.close();
    await next(ws, "close");
    // Sent once closed: counted in bufferedAmount, and dropped.
    ws.send("late");
    assert.equal(ws.bufferedAmount, 4);
    await server.shutdown();
  });

  test("subprotocols: the server's choice, no choice, and a choice not offered", async () => {
    const { server, name } = echo();
    const ws = await open(`xio://${name}/`, ["v2.chat", "v1.chat"]);
    assert.equal(ws.protocol, "v2.chat");
    ws.close();
    const none = await open(`xio://${name}/`);
    assert.equal(none.protocol, "");
    none.close();
    await server.shutdown();

    const rogue = echo([], "not-offered");
    const refused = new WebSocket(`xio://${rogue.name}/`, ["mine"]);
    const events: string[] = [];
    refused.onerror = () => events.push("error");
    const closed = await next<CloseEvent>(refused, "close");
    assert.deepEqual(events, ["error"]);
    assert.equal(closed.code, 1006);
    assert.equal(closed.wasClean, false);
    await rogue.server.shutdown();
  });

  test("a handler that answers without upgrading, and a service nobody serves, fail with 1006", async () => {
    const name = uniqueName("no-upgrade");
    const server = serve({ name }, () => new Response("no", { status: 403 }));
    const ws = new WebSocket(`xio://${name}/`);
    let errored = false;
    ws.onerror = () => (errored = true);
    const closed = await next<CloseEvent>(ws, "close");
    assert.equal(errored, true);
    assert.equal(closed.code, 1006);
    await server.shutdown();
    const nobody = new WebSocket(`xio://${uniqueName("nobody")}/`);
    assert.equal((await next<CloseEvent>(nobody, "close")).code, 1006);
  });

  test("server shutdown closes every socket with 1001", async () => {
    const closes: CloseEvent[] = [];
    const { server, name } = echo(closes);
    const a = await open(`xio://${name}/`);
    const b = await open(`xio://${name}/`);
    const closedA = next<CloseEvent>(a, "close");
    const closedB = next<CloseEvent>(b, "close");
    await within(10_000, server.shutdown(), "shutdown");
    for (const closed of [await closedA, await closedB]) {
      assert.equal(closed.code, 1001);
      assert.equal(closed.wasClean, true);
    }
  });

  test("other URLs get the runtime's own WebSocket; a routed origin goes local while its service is here", async () => {
    const tcp = runtimeName === "deno"
      ? (globalThis as unknown as {
        Deno: {
          serve: (
            o: object,
            h: (r: Request) => Response,
          ) => { addr: { port: number }; shutdown(): Promise<void> };
        };
      }).Deno.serve(
        { port: 0, onListen() {} },
        (request) => {
          const { socket, response } = (globalThis as unknown as {
            Deno: { upgradeWebSocket(r: Request): { socket: globalThis.WebSocket; response: Response } };
          }).Deno.upgradeWebSocket(request);
          socket.onmessage = (e) => socket.send(`tcp: ${e.data}`);
          return response;
        },
      )
      : (() => {
        const s =
          (globalThis as unknown as { Bun: { serve(o: object): { port: number; stop(): Promise<void> } } })
            .Bun.serve({
              port: 0,
              fetch: (request: Request, server: { upgrade(r: Request): boolean }) =>
                server.upgrade(request) ? undefined : new Response("no"),
              websocket: { message: (ws: { send(d: string): void }, m: string) => ws.send(`tcp: ${m}`) },
            });
        return { addr: { port: s.port }, shutdown: () => s.stop() };
      })();
    const port = tcp.addr.port;
    const remote = new WebSocket(`ws://127.0.0.1:${port}/`);
    assert.ok(remote instanceof globalThis.WebSocket, "the runtime's own");
    await next(remote, "open");
    remote.send("a");
    assert.equal(await message(remote), "tcp: a");
    remote.close();

    const { server, name } = echo();
    const origin = `http://chat-${process.pid}:${port}`;
    setRoute(origin, name);
    try {
      const routed = await open(`ws://chat-${process.pid}:${port}/room`);
      assert.ok(routed instanceof WebSocket, "over shared memory");
      routed.send("b");
      assert.equal(await message(routed), "b");
      routed.close();
      await next(routed, "close");
      await server.shutdown();
      // The service left: the same URL goes over TCP, where nothing answers under that name.
      const gone = new WebSocket(`ws://127.0.0.1:${port}/`);
      assert.ok(gone instanceof globalThis.WebSocket);
      gone.close();
    } finally {
      deleteRoute(origin);
      await tcp.shutdown();
    }
  });

  test("Bun's model: server.upgrade with data and headers, the websocket handlers, topics", async () => {
    const name = uniqueName("bun-model");
    const seen: string[] = [];
    const sockets: XioServerWebSocket[] = [];
    const server = serve({
      name,
      websocket: {
        open(socket: XioServerWebSocket) {
          sockets.push(socket);
          socket.subscribe("room");
          seen.push(`open ${(socket.data as { user: string }).user}`);
        },
        message(socket: XioServerWebSocket, data: unknown) {
          if (typeof data === "string") {
            seen.push(`text ${data}`);
            socket.publish("room", `${(socket.data as { user: string }).user}: ${data}`);
          } else {
            assert.ok(data instanceof Uint8Array, "a Buffer");
            seen.push(`binary ${(data as Uint8Array).length}`);
            socket.send(data as Uint8Array);
          }
        },
        close(socket: XioServerWebSocket, code: number, reason: string) {
          seen.push(`close ${socket.readyState} ${code} ${reason}`);
        },
      },
      fetch(request, server) {
        const user = new URL(request.url).searchParams.get("user") ?? "?";
        if (server.upgrade?.(request, { data: { user }, headers: { "x-welcome": user } })) {
          return undefined as unknown as Response;
        }
        return new Response("not a websocket", { status: 400 });
      },
    });
    const plain = await fetch(`xio://${name}/`);
    assert.equal(plain.status, 400);
    await plain.body?.cancel();
    const ann = await open(`xio://${name}/?user=ann`);
    const bob = await open(`xio://${name}/?user=bob`);
    assert.equal(server.subscriberCount("room"), 2);
    ann.send("hi all");
    assert.equal(await message(bob), "ann: hi all"); // published to the others, not to ann
    ann.binaryType = "arraybuffer";
    ann.send(new Uint8Array([9, 9, 9]));
    assert.deepEqual([...new Uint8Array(await message(ann) as ArrayBuffer)], [9, 9, 9]);
    assert.equal(server.publish("room", "from the server"), 15);
    assert.equal(await message(ann), "from the server");
    assert.equal(await message(bob), "from the server");
    bob.close(4000, "done");
    await next(bob, "close");
    await delay(20);
    assert.equal(server.subscriberCount("room"), 1);
    assert.ok(seen.includes("open ann") && seen.includes("open bob") && seen.includes("text hi all"));
    assert.ok(seen.includes("binary 3"));
    assert.ok(seen.includes("close 3 4000 done"), seen.join(", "));
    sockets[0].close(4003, "kick");
    const kicked = await next<CloseEvent>(ann, "close");
    assert.deepEqual([kicked.code, kicked.reason], [4003, "kick"]);
    await server.shutdown();
  });

  test("backpressure: bufferedAmount grows while the peer is stopped, shared memory does not", async () => {
    const own = Domain.open({ name: uniqueName("ws-bp"), hugepages: "never" });
    const peer = new Fixture("ws_peer.ts", ["server", own.name, "bp"], otherRuntime);
    fixtures.push(peer);
    try {
      await peer.waitFor("ready");
      setDefaultDomain(own);
      const ws = await open("xio://bp/");
      const held = () => own.stats().classes.reduce((n, c) => n + (c.total - c.free) * c.size, 0);
      const before = held();
      process.kill(peer.child.pid!, "SIGSTOP");
      const chunk = new Uint8Array(256 * 1024);
      const total = 64;
      for (let i = 0; i < total; i++) ws.send(chunk);
      // A window's worth went into shared memory; the rest waits here.
      assert.ok(ws.bufferedAmount >= (total - 8) * chunk.length, `bufferedAmount ${ws.bufferedAmount}`);
      await delay(200);
      const inFlight = held() - before;
      assert.ok(inFlight <= 2 * 1024 * 1024, `${inFlight} bytes of shared memory held`);
      process.kill(peer.child.pid!, "SIGCONT");
      ws.send("count?");
      assert.equal(await within(30_000, message(ws), "count"), String(total * chunk.length));
      assert.equal(ws.bufferedAmount, 0);
      ws.close();
      await next(ws, "close");
    } finally {
      process.kill(peer.child.pid!, "SIGCONT");
      setDefaultDomain(domain);
      await peer.kill();
      own.close();
    }
  });

  test("a peer killed with SIGKILL: the other side gets error, then close with 1006", async () => {
    const own = Domain.open({ name: uniqueName("ws-kill"), hugepages: "never" });
    setDefaultDomain(own);
    try {
      // The server dies.
      const server = new Fixture("ws_peer.ts", ["server", own.name, "kill"], otherRuntime);
      fixtures.push(server);
      await server.waitFor("ready");
      const ws = await open("xio://kill/");
      ws.send("ping");
      assert.equal(await message(ws), "ping");
      const events: string[] = [];
      ws.onerror = () => events.push("error");
      const closed = next<CloseEvent>(ws, "close");
      server.child.kill("SIGKILL");
      await server.exited;
      // Sends to a dead peer never throw, as over a socket: they are lost, and close follows.
      let sends = 0;
      while (ws.readyState === WebSocket.OPEN && sends < 100_000) {
        ws.send(new Uint8Array(sends++ % 3 === 0 ? 100_000 : 10));
        if (sends % 100 === 0) await delay(1);
      }
      const event = await within(2_000, closed, "close after the server died");
      assert.deepEqual([event.code, event.wasClean, events], [1006, false, ["error"]]);

      // The client dies.
      const closes: CloseEvent[] = [];
      const { server: local, name } = (() => {
        const name = "kill-client";
        const local = serve({ name, domain: own }, (request) => {
          const { socket, response } = upgradeWebSocket(request);
          socket.onclose = (e) => closes.push(e);
          return response;
        });
        return { server: local, name };
      })();
      const client = new Fixture("ws_peer.ts", ["client", own.name, name], otherRuntime);
      fixtures.push(client);
      await client.waitFor("open");
      client.child.kill("SIGKILL");
      await within(
        2_000,
        (async () => {
          while (closes.length === 0) await delay(10);
        })(),
        "the server socket's close",
      );
      assert.equal(closes[0].code, 1006);
      assert.equal(closes[0].wasClean, false);
      await local.shutdown();
    } finally {
      setDefaultDomain(domain);
      own.close();
    }
  });

  test("messages that arrive together are handed out as the runtime's own WebSocket hands them out", async () => {
    // A burst of 20 messages, read by awaiting one message event at a time: Bun's WebSocket
    // runs the microtasks between two messages (all 20 are seen), Deno's hands them out together
    // (a listener added after one misses those that came with it). Ours does as the runtime does.
    const burst = 20;
    const count = async (ws: EventTarget & { send(data: string): void }) => {
      await next(ws, "open");
      ws.send("go");
      let seen = 0;
      try {
        for (; seen < burst; seen++) await next(ws, "message", 500);
      } catch { /* the rest were missed */ }
      return seen;
    };
    const name = uniqueName("burst");
    const server = serve({ name }, (request) => {
      const { socket, response } = upgradeWebSocket(request);
      socket.onmessage = () => {
        for (let i = 0; i < burst; i++) socket.send(`m${i}`);
      };
      return response;
    });
    const tcp = tcpBurstServer(burst);
    try {
      const theirs = await count(new globalThis.WebSocket(`ws://127.0.0.1:${tcp.port}/`));
      const ours = await count(new WebSocket(`xio://${name}/`));
      if (runtimeName === "bun") {
        assert.equal(theirs, burst);
        assert.equal(ours, burst);
      } else {
        // Deno's hands out together what came off the socket together (how many depends on
        // how the burst was split: not asserted); ours has the whole burst at once, and hands it
        // out together.
        assert.equal(ours, 1, `ours ${ours} (Deno's own saw ${theirs})`);
      }
    } finally {
      await tcp.close();
      await server.shutdown();
    }
  });

  // (hono/bun needs Bun's globals: under Deno, Hono's helper is hono/deno's, tested with the preload.)
  if (runtimeName === "bun") {
    test("Hono's Bun helper (createBunWebSocket) served by serve() with its websocket handlers", async () => {
      const { Hono } = await import("hono");
      const { createBunWebSocket } = await import("hono/bun");
      const { upgradeWebSocket: honoUpgrade, websocket } = createBunWebSocket();
      const hono = new Hono();
      hono.get(
        "/ws",
        honoUpgrade(() => ({
          onOpen: (_event, ws) => ws.send("welcome"),
          onMessage: (event, ws) => ws.send(`hono: ${event.data}`),
        })),
      );
      const name = uniqueName("hono-bun");
      const server = serve({ name, websocket: websocket as never, fetch: hono.fetch });
      const ws = await open(`xio://${name}/ws`);
      assert.equal(await message(ws), "welcome");
      ws.send("hi");
      assert.equal(await message(ws), "hono: hi");
      ws.close();
      await next(ws, "close");
      await server.shutdown();
    });
  }

  test("malformed WebSocket frames from a raw peer close the socket with a typed code, never a wrong message", async () => {
    const closes: CloseEvent[] = [];
    const messages: unknown[] = [];
    const name = uniqueName("raw");
    const server = serve({ name }, (request) => {
      const { socket, response } = upgradeWebSocket(request);
      socket.onmessage = (event) => messages.push(event.data);
      socket.onclose = (event) => closes.push(event);
      return response;
    });
    const frames = new FrameWriter();
    /** A raw connection that has upgraded stream 1; returns it and a reader of its frames. */
    const upgraded = async () => {
      const channel = await domain.connect(name);
      const send = async (bytes: Uint8Array) => {
        const buffer = await channel.alloc(bytes.length);
        buffer.copyFrom(bytes);
        await channel.send(buffer);
      };
      const headers = new Headers({
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-version": "13",
      });
      await send(
        frames.start(FRAME_REQUEST, FLAG_END | FLAG_UPGRADE, 1).string("GET").string("raw").string("/", true)
          .headers(headers).finish(),
      );
      const frame = async () => {
        const buffer = (await within(5_000, channel.recv(), "a frame"))!;
        const copy = buffer.bytes.slice();
        buffer.release();
        return new FrameReader(copy);
      };
      const head = await frame();
      assert.equal(head.type, FRAME_RESPONSE);
      assert.equal(head.u16(), 101);
      return { channel, send, frame };
    };
    const cases: [string, (w: FrameWriter) => Uint8Array, number][] = [
      [
        "a packed record longer than its frame",
        (w) => w.start(FRAME_DATA, FLAG_PACKED, 1).u32(100).bytes(new Uint8Array(10)).finish(),
        1002,
      ],
      [
        "a packed frame cut inside a record header",
        (w) =>
          w.start(FRAME_DATA, FLAG_PACKED, 1).u32(2).bytes(new Uint8Array(2)).bytes(new Uint8Array(3))
            .finish(),
        1002,
      ],
      [
        "a first fragment without its length",
        (w) => w.start(FRAME_DATA, FLAG_MORE, 1).bytes(new Uint8Array(4)).finish(),
        1002,
      ],
      [
        "a message longer than its first fragment said",
        (w) => w.start(FRAME_DATA, FLAG_MORE, 1).u32(4).u32(0).bytes(new Uint8Array(8)).finish(),
        1002,
      ],
      ["a message over 64 MiB", (w) => w.start(FRAME_DATA, FLAG_MORE, 1).u32(0).u32(1).finish(), 1009],
      [
        "text that is not UTF-8",
        (w) => w.start(FRAME_DATA, FLAG_TEXT, 1).bytes(new Uint8Array([0xff, 0xfe])).finish(),
        1007,
      ],
    ];
    for (const [what, build, code] of cases) {
      const before = closes.length;
      const { channel, send, frame } = await upgraded();
      await send(build(frames).slice());
      const close = await frame();
      assert.equal(close.type, FRAME_CLOSE, what);
      assert.equal(close.u16(), code, what);
      channel.close(); // (a raw peer never answers the CLOSE: its channel going ends the socket)
      await within(
        5_000,
        (async () => {
          while (closes.length === before) await delay(5);
        })(),
        `the server socket's close (${what})`,
      );
    }
    assert.deepEqual(messages, []);
    await server.shutdown();
  });

  for (const runtime of [runtimeName, otherRuntime]) {
    test(`a ${runtime} process that served, fetched and talked over a WebSocket exits once its server shut down`, async () => {
      const own = Domain.open({ name: uniqueName("exits"), hugepages: "never" });
      const child = new Fixture("exits.ts", [own.name], runtime);
      fixtures.push(child);
      try {
        assert.equal(await child.line(), "ok");
        assert.equal(await child.line(), "echo");
        assert.equal(await child.line(), "done");
        // Nothing is left to wait for: no doorbell connection, no idle session keeps it alive.
        assert.equal(await within(5_000, child.exited, "the process's exit"), 0);
      } finally {
        own.close();
      }
    });
  }

  test("peers killed at random moments mid-traffic: 1006 within 2 s, every shared buffer back", async () => {
    const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 1e6));
    console.log(`ws kill seed ${seed} (CHAOS_SEED replays it)`);
    let x = seed || 1;
    const random = (n: number) => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % n;
    };
    const own = Domain.open({ name: uniqueName("ws-chaos"), hugepages: "never" });
    setDefaultDomain(own);
    try {
      for (let trial = 0; trial < 8; trial++) {
        const serverDies = trial % 2 === 0;
        let closed: Promise<CloseEvent>;
        let peer: Fixture;
        let local: XioServer | undefined;
        let ws: WebSocket | undefined;
        if (serverDies) {
          // This process floods a peer's server, which dies.
          peer = new Fixture("ws_peer.ts", ["server", own.name, `chaos-${trial}`], otherRuntime);
          fixtures.push(peer);
          await peer.waitFor("ready");
          ws = await open(`xio://chaos-${trial}/`);
          const socket = ws;
          closed = next<CloseEvent>(socket, "close", 5_000);
          const chunk = new Uint8Array(300_000).fill(1);
          const flood = () => {
            if (socket.readyState !== WebSocket.OPEN) return;
            while (socket.bufferedAmount < 2 * chunk.length) {
              socket.send(chunk);
              socket.send("count?");
            }
            setTimeout(flood, 1);
          };
          flood();
        } else {
          // A peer floods this process's server, and dies.
          let resolve!: (event: CloseEvent) => void;
          closed = new Promise((r) => (resolve = r));
          local = serve({ name: `chaos-${trial}` }, (request) => {
            const { socket, response } = upgradeWebSocket(request);
            socket.onclose = resolve;
            return response;
          });
          peer = new Fixture("ws_peer.ts", ["flood", own.name, `chaos-${trial}`], otherRuntime);
          fixtures.push(peer);
          await peer.waitFor("open");
        }
        await delay(5 + random(60));
        const killedAt = performance.now();
        peer.child.kill("SIGKILL");
        const event = await within(2_000, closed, `trial ${trial}: close after the kill`);
        assert.equal(event.code, 1006, `trial ${trial}`);
        assert.ok(performance.now() - killedAt < 2_000);
        await local?.shutdown();
        await within(
          2_000,
          (async () => {
            while (!freeAll(own)) await delay(10);
          })(),
          `trial ${trial} (seed ${seed}): every buffer back in the pool`,
        );
      }
    } finally {
      setDefaultDomain(domain);
      own.close();
    }
  });

  // (Deno.upgradeWebSocket is Deno's; with the preload it is upgradeWebSocket, tested in websocket_apps_test.)
  if (runtimeName === "deno") {
    test("Deno's own upgradeWebSocket, without the preload, fails the upgrade with a 500 and a clear error", async () => {
      const name = uniqueName("deno-own");
      const errors: unknown[] = [];
      const server = serve({
        name,
        onError: (error) => {
          errors.push(error);
          return new Response("no", { status: 500 });
        },
      }, (request) => {
        // deno-lint-ignore no-explicit-any
        const { response } = (globalThis as any).Deno.upgradeWebSocket(request);
        return response;
      });
      const ws = new WebSocket(`xio://${name}/`);
      const closed = await next<CloseEvent>(ws, "close");
      assert.equal(closed.code, 1006);
      assert.equal(errors.length, 1);
      assert.match(String(errors[0]), /upgradeWebSocket from @xio\/core/);
      await server.shutdown();
    });
  }

  test("upgradeWebSocket refuses a request that asks for no WebSocket", async () => {
    const name = uniqueName("refuse");
    let thrown: unknown;
    const server = serve({ name }, (request) => {
      try {
        upgradeWebSocket(request);
      } catch (error) {
        thrown = error;
      }
      return new Response("plain");
    });
    assert.equal(await (await fetch(`xio://${name}/`)).text(), "plain");
    assert.ok(thrown instanceof TypeError);
    await server.shutdown();
  });
});
