import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { Elysia } from "elysia";
import { stream as honoStream } from "hono/streaming";
import {
  DEFAULT_POLL_MICROS,
  deleteRoute,
  Domain,
  fetch,
  type FetchApp,
  InvalidArgumentError,
  serve,
  type ServeHandler,
  setDefaultDomain,
  setFetchPollMicros,
  setRoute,
  type XioServer,
} from "../mod.ts";
import { adapter as runtime } from "../runtime/mod.ts";
import { Stream } from "./fixtures/_stream.ts";
import { delay, Fixture, runtimeName, uniqueName, within } from "./_helpers.ts";

let domain: Domain;
before(() => {
  domain = Domain.open({
    name: uniqueName("http"),
    hugepages: "never",
    channels: 512,
    classes: [
      { size: 256, count: 8192 },
      { size: 4096, count: 2048 },
      { size: 65536, count: 512 },
      { size: 1 << 20, count: 8 },
    ],
  });
  setDefaultDomain(domain);
});
const fixtures: Fixture[] = [];
function peer(args: string[]): Fixture {
  const fixture = new Fixture("http_peer.ts", args);
  fixtures.push(fixture);
  return fixture;
}
after(async () => {
  for (const fixture of fixtures) if (fixture.child.exitCode === null) await fixture.kill();
  setDefaultDomain(undefined);
  domain.close();
});

let services = 0;
/** Serves `handler` under a fresh name; returns the name and the server. */
function start(handler: ServeHandler | FetchApp): [string, XioServer] {
  const name = `svc${services++}`;
  return [name, serve({ name }, handler)];
}

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum = (sum * 31 + bytes[i]) >>> 0;
  return sum;
}

function allFree(): boolean {
  return domain.stats().classes.every((c) => c.free === c.total);
}

describe(`HTTP over shared memory (${runtimeName})`, () => {
  test("every method reaches the handler, and HEAD gets headers without a body", async () => {
    const [name, server] = start((request) =>
      new Response(`method ${request.method}`, { headers: { "x-method": request.method } })
    );
    for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
      const response = await fetch(`xio://${name}/`, { method, body: method === "GET" ? undefined : "x" });
      assert.equal(await response.text(), `method ${method}`);
    }
    const head = await fetch(`xio://${name}/`, { method: "HEAD" });
    assert.equal(head.headers.get("x-method"), "HEAD");
    assert.equal(head.body, null);
    await server.shutdown();
  });

  test("status, statusText and repeated headers, set-cookie included, go both ways", async () => {
    const [name, server] = start((request) => {
      const headers = new Headers();
      headers.append("set-cookie", "a=1; Path=/");
      headers.append("set-cookie", "b=2; HttpOnly");
      headers.append("x-list", "one");
      headers.append("x-list", "two");
      headers.set("x-seen", request.headers.get("x-multi") ?? "");
      headers.set("x-cookie", request.headers.get("cookie") ?? "");
      return new Response(null, { status: 418, statusText: "I'm a teapot", headers });
    });
    const sent = new Headers([["x-multi", "1"], ["x-multi", "2"], ["cookie", "k=v"]]);
    const response = await fetch(`xio://${name}/`, { headers: sent });
    assert.equal(response.status, 418);
    assert.equal(response.statusText, "I'm a teapot");
    assert.deepEqual(response.headers.getSetCookie(), ["a=1; Path=/", "b=2; HttpOnly"]);
    assert.equal(response.headers.get("x-list"), "one, two");
    assert.equal(response.headers.get("x-seen"), "1, 2");
    assert.equal(response.headers.get("x-cookie"), "k=v");
    await server.shutdown();
  });

  test("implied content types, lengths and reason phrases arrive as over the runtime's HTTP", async () => {
    const [name, server] = start((request) => {
      const path = new URL(request.url).pathname;
      if (path === "/host") {
        return new Response(`${request.headers.get("host")} ${request.headers.get("accept")}`);
      }
      if (path === "/seen") {
        const seen = `${request.headers.get("content-type")} ${request.headers.get("content-length")}`;
        return new Response(seen, { status: request.method === "PUT" ? 201 : 404 });
      }
      if (path === "/blob") return new Response(new Blob(["<p>hi</p>"], { type: "text/html" }));
      if (path === "/params") return new Response(new URLSearchParams({ a: "1", b: "two" }));
      const form = new FormData();
      form.set("field", "value");
      form.set("file", new Blob(["content"], { type: "text/plain" }), "note.txt");
      return new Response(form);
    });
    const blob = await fetch(`xio://${name}/blob`);
    assert.match(blob.headers.get("content-type") ?? "", /^text\/html/); // Bun adds a charset
    assert.equal(await blob.text(), "<p>hi</p>");
    const params = await fetch(`xio://${name}/params`);
    assert.match(params.headers.get("content-type") ?? "", /^application\/x-www-form-urlencoded/);
    assert.equal(await params.text(), "a=1&b=two");
    // A body known whole is declared, for HEAD too, as an HTTP/1.1 server declares it.
    assert.equal(params.headers.get("content-length"), "9");
    const head = await fetch(`xio://${name}/params`, { method: "HEAD" });
    assert.equal(head.headers.get("content-length"), "9");
    assert.equal(await head.text(), "");
    // A multipart body is unreadable without the boundary its content type carries.
    const form = await (await fetch(`xio://${name}/form`)).formData();
    assert.equal(form.get("field"), "value");
    assert.equal(await (form.get("file") as File).text(), "content");

    // The same for request bodies, with the length a runtime's fetch declares on the wire.
    const sentParams = await fetch(`xio://${name}/seen`, { method: "PUT", body: new URLSearchParams("a=1") });
    assert.match(await sentParams.text(), /^application\/x-www-form-urlencoded\S* 3$/);
    const sentBlob = await fetch(`xio://${name}/seen`, {
      method: "POST",
      body: new Blob(["xy"], { type: "a/b" }),
    });
    assert.equal(await sentBlob.text(), "a/b 2");
    // A handler that gives no statusText: the client sees the reason phrase an HTTP/1.1 server sends.
    assert.equal(sentParams.statusText, "Created");
    assert.equal(sentBlob.statusText, "Not Found");
    assert.equal(blob.statusText, "OK");
    // What every HTTP/1.1 request carries (a host like one a TCP server sees), and fetch's
    // default accept, unless the client sent its own.
    assert.equal(await (await fetch(`xio://${name}/host`)).text(), `${name}.xio.localhost */*`);
    const typed = await fetch(`xio://${name}/host`, { headers: { accept: "text/html" } });
    assert.equal(await typed.text(), `${name}.xio.localhost text/html`);
    await server.shutdown();
  });

  test("empty, small and 100 MiB bodies arrive intact both ways", async () => {
    const [name, server] = start(async (request) => {
      const body = new Uint8Array(await request.arrayBuffer());
      return new Response(body, { headers: { "x-sum": String(checksum(body)) } });
    });
    for (const size of [0, 1, 100, 16 * 1024, 16 * 1024 + 1, 1 << 20, 100 << 20]) {
      const body = new Stream(size).take(size);
      const response = await fetch(`xio://${name}/`, { method: "POST", body });
      const back = new Uint8Array(await response.arrayBuffer());
      assert.equal(back.length, size);
      assert.equal(Number(response.headers.get("x-sum")), checksum(body), `size ${size}`);
      assert.equal(checksum(back), checksum(body));
    }
    await server.shutdown();
    await within(2000, waitFor(allFree), "every buffer back");
  });

  test("with polling off (pollMicros 0) both sides sleep on their doorbells and still answer", async () => {
    setFetchPollMicros(0);
    try {
      const name = `svc${services++}`;
      const server = serve({ name, pollMicros: 0 }, async (request) => new Response(await request.text()));
      const answers = await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) => fetch(`xio://${name}/`, { method: "POST", body: `n${i}` }).then((r) => r.text()),
        ),
      );
      assert.deepEqual(answers, Array.from({ length: 50 }, (_, i) => `n${i}`));
      const big = new Uint8Array(300_000).fill(9);
      const echoed = await (await fetch(`xio://${name}/`, { method: "POST", body: big })).arrayBuffer();
      assert.deepEqual(new Uint8Array(echoed), big);
      assert.throws(
        () => serve({ name: `${name}-bad`, pollMicros: -1 }, () => new Response()),
        InvalidArgumentError,
      );
      assert.throws(() => setFetchPollMicros(Number.NaN), InvalidArgumentError);
      await server.shutdown();
    } finally {
      setFetchPollMicros(DEFAULT_POLL_MICROS);
    }
  });

  test("in-memory bodies go as they were when fetch was called, with fetch's content type", async () => {
    const [name, server] = start(async (request) =>
      new Response(`${request.headers.get("content-type")} ${await request.text()}`)
    );
    const text = await fetch(`xio://${name}/`, { method: "POST", body: "héllo" });
    assert.equal(await text.text(), "text/plain;charset=UTF-8 héllo");
    for (const size of [100, 20_000, 200_000]) {
      const bytes = new Uint8Array(size).fill(65);
      const pending = fetch(`xio://${name}/`, { method: "PUT", body: size === 100 ? bytes.buffer : bytes });
      bytes.fill(66); // too late: fetch took the body as it was
      assert.equal(await (await pending).text(), `null ${"A".repeat(size)}`);
    }
    // Large bodies are copied into memory that is used again once they are sent: copies in
    // flight at once, and one after another, never mix.
    for (let round = 0; round < 3; round++) {
      const bodies = [70_000, 70_000, 300_000, 1_000_000].map((size, i) =>
        new Uint8Array(size).fill(67 + i + round)
      );
      const answers = bodies.map((bytes) => fetch(`xio://${name}/`, { method: "POST", body: bytes }));
      for (const bytes of bodies) bytes.fill(0);
      const texts = await Promise.all(answers.map(async (answer) => (await answer).text()));
      texts.forEach((text, i) => {
        const letter = String.fromCharCode(67 + i + round);
        assert.equal(text, `null ${letter.repeat(bodies[i].length)}`, `round ${round}, body ${i}`);
      });
    }
    await server.shutdown();
  });

  test("small in-memory response bodies skip the stream; live ones are never waited for", async () => {
    // The runtime hook itself: Bun hands over what it holds in memory, Deno always streams.
    const text = (bytes: Uint8Array | Promise<Uint8Array> | undefined) =>
      bytes instanceof Uint8Array ? new TextDecoder().decode(bytes) : bytes;
    const live = () => new ReadableStream<Uint8Array>({ pull() {} });
    const expected = (value: string) => runtimeName === "bun" ? value : undefined;
    assert.equal(text(runtime.completeBody(new Response("ok"), 100)), expected("ok"));
    assert.equal(text(runtime.completeBody(Response.json({ a: 1 }), 100)), expected('{"a":1}'));
    assert.equal(text(runtime.completeBody(new Response(new Uint8Array([65, 66])), 100)), expected("AB"));
    // An ASCII statusText is counted by Bun's estimate with the body, and taken off again.
    assert.equal(text(runtime.completeBody(new Response("ok", { statusText: "Fine" }), 100)), expected("ok"));
    const notTaken = [
      new Response("x".repeat(101)), // larger than asked for
      new Response("ok", { statusText: "Finé" }), // not ASCII: counted as Bun stores it
      new Response(live()),
      new Response(live(), { status: 201, headers: { "content-type": "text/event-stream" } }),
      new Response(new Response("rewrapped").body),
      new Response(new Blob(["blob"])),
      new Response(""),
    ];
    // A subclass may say what the estimate does not count; a body read in part reports its whole size.
    class Quiet extends Response {
      override get statusText(): string {
        return "";
      }
    }
    notTaken.push(new Quiet(live(), { statusText: "Fine" }), new Quiet("ok"));
    for (const response of notTaken) {
      assert.equal(runtime.completeBody(response, 100), undefined);
      assert.equal(response.bodyUsed, false, "a body not taken is left unread");
    }
    const partly = new Response("abcdef");
    const partlyReader = partly.body!.getReader();
    await partlyReader.read();
    partlyReader.releaseLock();
    const cancelled = new Response("abcdef");
    await cancelled.body!.cancel();
    for (const response of [partly, cancelled]) assert.equal(runtime.completeBody(response, 100), undefined);

    // Over the wire: a live stream's first chunk arrives while the stream is still open.
    let finish!: () => void;
    const [name, server] = start((request) => {
      const path = new URL(request.url).pathname;
      if (path === "/json") return Response.json({ ok: true }, { headers: { "x-kind": "json" } });
      if (path === "/rewrapped") return new Response(new Response("whole").body);
      if (path === "/quiet") return new Quiet(live(), { statusText: "Fine" });
      if (path === "/wide") return new Response("é".repeat(10_000)); // 10,000 chars, 20,000 bytes
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(encoder.encode("first"));
          finish = () => {
            controller.enqueue(encoder.encode(" second"));
            controller.close();
          };
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    });
    const json = await fetch(`xio://${name}/json`);
    assert.match(json.headers.get("content-type") ?? "", /^application\/json/); // Bun adds a charset
    assert.equal(json.headers.get("x-kind"), "json");
    assert.equal(json.headers.get("content-length"), "11");
    assert.deepEqual(await json.json(), { ok: true });
    const rewrapped = await fetch(`xio://${name}/rewrapped`);
    assert.equal(await rewrapped.text(), "whole");
    // Measured in characters but longer in UTF-8 than a headers frame holds: sent after it.
    const wide = await fetch(`xio://${name}/wide`);
    assert.equal(wide.headers.get("content-length"), "20000");
    assert.equal(await wide.text(), "é".repeat(10_000));
    const quiet = await within(2000, fetch(`xio://${name}/quiet`), "the headers of a subclass's open stream");
    await quiet.body!.cancel();
    const head = await fetch(`xio://${name}/json`, { method: "HEAD" });
    assert.equal(head.headers.get("content-length"), "11");
    assert.equal(await head.text(), "");
    const stream = await within(2000, fetch(`xio://${name}/live`), "the headers of an open stream");
    assert.equal(stream.headers.get("content-length"), null);
    const reader = stream.body!.getReader();
    const first = await within(2000, reader.read(), "the first chunk of an open stream");
    assert.equal(new TextDecoder().decode(first.value), "first");
    finish();
    const second = await within(2000, reader.read(), "the last chunk");
    assert.equal(new TextDecoder().decode(second.value), " second");
    assert.equal((await reader.read()).done, true);
    await server.shutdown();
  });

  test("a whole body is read once, straight or through its stream; clones keep signal and URL", async () => {
    const big = { items: Array.from({ length: 3000 }, (_, i) => ({ i, name: `item ${i}` })) }; // > 16 KiB
    const json = JSON.stringify(big);
    const aborted = Promise.withResolvers<void>();
    const [name, server] = start(async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/once") {
        assert.equal(request.bodyUsed, false);
        const value = await request.json();
        assert.equal(request.bodyUsed, true);
        await assert.rejects(request.text(), TypeError);
        await assert.rejects(request.blob(), TypeError);
        assert.throws(() => request.clone(), TypeError);
        return Response.json({ count: value.items.length, length: request.headers.get("content-length") });
      }
      if (path === "/clone") {
        const copy = request.clone();
        const [a, b] = await Promise.all([request.text(), copy.text()]);
        return new Response(String(a === b && a === json));
      }
      if (path === "/stream-first") {
        const reader = request.body!.getReader();
        let total = 0;
        for (let first = true;; first = false) {
          const { value, done } = await reader.read();
          if (done) break;
          total += value.length;
          if (first) await assert.rejects(request.arrayBuffer(), TypeError); // the stream has it
        }
        assert.equal(request.bodyUsed, true);
        return new Response(String(total));
      }
      // /abort: a clone's signal follows the client's abort too.
      request.clone().signal.addEventListener("abort", () => aborted.resolve());
      return new Promise<Response>(() => {});
    });
    const once = await fetch(`xio://${name}/once`, { method: "POST", body: json });
    assert.deepEqual(await once.json(), {
      count: 3000,
      length: String(new TextEncoder().encode(json).length),
    });
    const cloned = await fetch(`xio://${name}/clone`, { method: "POST", body: json });
    assert.equal(await cloned.text(), "true");
    const streamed = await fetch(`xio://${name}/stream-first`, { method: "POST", body: json });
    assert.equal(await streamed.text(), String(new TextEncoder().encode(json).length));

    // The same on the client's side, for a response body streamed back.
    const [echo, echoServer] = start(async (request) => new Response(await request.arrayBuffer()));
    const response = await fetch(`xio://${echo}/x`, { method: "POST", body: json });
    const copy = response.clone();
    assert.equal(copy.url, `xio://${echo}/x`);
    assert.deepEqual(await response.json(), big);
    assert.equal(response.bodyUsed, true);
    await assert.rejects(response.arrayBuffer(), TypeError);
    assert.equal(await copy.text(), json);

    const controller = new AbortController();
    const pending = fetch(`xio://${name}/abort`, { signal: controller.signal });
    await delay(20);
    controller.abort();
    await assert.rejects(pending, (e: Error) => e.name === "AbortError");
    await within(1000, aborted.promise, "the clone's signal aborting on the server");
    await server.shutdown();
    await echoServer.shutdown();
  });

  test("a whole-body read fails with the request when the client aborts mid-upload, leaking nothing", async () => {
    const failed = Promise.withResolvers<unknown>();
    const [name, server] = start(async (request) => {
      try {
        await request.arrayBuffer();
      } catch (error) {
        failed.resolve(error);
      }
      return new Response("unreachable");
    });
    let sent = 0;
    const upload = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 128 * 1024) return new Promise<void>(() => {}); // then stalls mid-body
        controller.enqueue(new Uint8Array(64 * 1024).fill(1));
        sent += 64 * 1024;
      },
    });
    const controller = new AbortController();
    const pending = fetch(
      `xio://${name}/`,
      { method: "POST", body: upload, duplex: "half", signal: controller.signal } as RequestInit,
    );
    await waitFor(() => sent >= 128 * 1024);
    await delay(20);
    controller.abort();
    await assert.rejects(pending, (e: Error) => e.name === "AbortError");
    const error = await within(1000, failed.promise, "arrayBuffer() rejecting on the server");
    assert.ok(error instanceof Error);
    await server.shutdown();
    await within(2000, waitFor(allFree), "every buffer back");
  });

  test("a response dropped with its body unread gives its buffers back once collected", async () => {
    // deno-lint-ignore no-explicit-any
    const g = globalThis as any;
    const collect: (() => void) | undefined = g.Bun ? () => g.Bun.gc(true) : g.gc;
    assert.ok(collect, "the test command runs deno test with --v8-flags=--expose-gc");
    const [name, server] = start(() => new Response(new Uint8Array(1 << 20)));
    const free = () => domain.stats().classes.find((c) => c.size === 65536)!.free;
    const before = free();
    const drop = async () => assert.equal((await fetch(`xio://${name}/`)).status, 200);
    for (let i = 0; i < 10; i++) await drop(); // each holds a window of its body, unread
    assert.ok(free() < before, "unread bodies hold buffers until then");
    await within(
      5000,
      (async () => {
        while (free() < before) {
          collect!();
          await delay(50);
        }
      })(),
      "the dropped responses' buffers back in the pool",
    );
    await server.shutdown();
  });

  test("request and response bodies stream as ReadableStreams", async () => {
    const [name, server] = start((request) => {
      // Echo the request body back as it arrives.
      return new Response(request.body);
    });
    let sendNext!: () => void;
    const upload = new ReadableStream<Uint8Array>({
      start() {},
      async pull(controller) {
        await new Promise<void>((resolve) => (sendNext = resolve));
        controller.enqueue(new TextEncoder().encode("piece"));
      },
    });
    const response = await fetch(
      `xio://${name}/`,
      { method: "POST", body: upload, duplex: "half" } as RequestInit,
    );
    const reader = response.body!.getReader();
    for (let i = 0; i < 3; i++) {
      await delay(5);
      sendNext();
      const { value } = await within(2000, reader.read(), "an echoed piece");
      assert.equal(new TextDecoder().decode(value), "piece", "each piece comes back before the next is sent");
    }
    await reader.cancel();
    await server.shutdown();
  });

  test("an abort on the client cancels the request on the server", async () => {
    let serverSignal: AbortSignal | undefined;
    const aborted = Promise.withResolvers<void>();
    const [name, server] = start((request) => {
      serverSignal = request.signal;
      request.signal.addEventListener("abort", () => aborted.resolve());
      return new Promise<Response>(() => {});
    });
    const controller = new AbortController();
    const pending = fetch(`xio://${name}/`, { signal: controller.signal });
    await waitFor(() => serverSignal !== undefined);
    controller.abort();
    await assert.rejects(pending, (e: Error) => e.name === "AbortError");
    await within(1000, aborted.promise, "request.signal aborting on the server");
    await server.shutdown();
  });

  test("a timeout signal rejects with a TimeoutError", async () => {
    const [name, server] = start(() => new Promise<Response>(() => {}));
    const started = performance.now();
    await assert.rejects(
      fetch(`xio://${name}/`, { signal: AbortSignal.timeout(100) }),
      (e: Error) => e.name === "TimeoutError",
    );
    assert.ok(performance.now() - started < 1000);
    await server.shutdown();
  });

  test("redirects are followed as fetch does, or not, as asked", async () => {
    const [name, server] = start(async (request) => {
      const url = new URL(request.url);
      const code = Number(url.pathname.slice(1));
      if (code >= 300) return new Response(null, { status: code, headers: { location: "/final" } });
      return new Response(`${request.method} ${await request.text()}`);
    });
    for (
      const [code, expected] of [[301, "GET "], [302, "GET "], [303, "GET "], [307, "POST body"], [
        308,
        "POST body",
      ]] as const
    ) {
      const response = await fetch(`xio://${name}/${code}`, { method: "POST", body: "body" });
      assert.equal(await response.text(), expected, `status ${code}`);
      assert.equal(response.url, `xio://${name}/final`);
    }
    // A 307/308 sends the body again as it was at the call, on the quick path (plain init) and
    // the general one (with a signal), small and large.
    for (const size of [100, 20_000]) {
      for (const signal of [undefined, AbortSignal.timeout(10_000)]) {
        const bytes = new Uint8Array(size).fill(65);
        const pending = fetch(`xio://${name}/307`, { method: "POST", body: bytes, signal });
        bytes.fill(66);
        assert.equal(
          await (await pending).text(),
          `POST ${"A".repeat(size)}`,
          `${size} bytes, signal ${!!signal}`,
        );
      }
    }
    const manual = await fetch(`xio://${name}/302`, { redirect: "manual" });
    assert.equal(manual.status, 302);
    assert.equal(manual.headers.get("location"), "/final");
    await assert.rejects(fetch(`xio://${name}/302`, { redirect: "error" }), TypeError);
    await server.shutdown();
  });

  test("256 concurrent requests progress while a slow handler and an unread body wait", async () => {
    const [name, server] = start(async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/slow") await delay(3000);
      if (path === "/big") return new Response(new Uint8Array(8 << 20));
      return new Response(path);
    });
    const slow = fetch(`xio://${name}/slow`);
    const big = await fetch(`xio://${name}/big`); // its body is never read during the test
    const started = performance.now();
    const bodies = await within(
      2500,
      Promise.all(Array.from({ length: 256 }, (_, i) => fetch(`xio://${name}/r${i}`).then((r) => r.text()))),
      "256 quick requests",
    );
    assert.deepEqual(bodies, Array.from({ length: 256 }, (_, i) => `/r${i}`));
    assert.ok(performance.now() - started < 2500);
    await big.body!.cancel();
    await (await slow).text();
    await server.shutdown();
  });

  test("many client processes talk to one server at once", async () => {
    const [name, server] = start(() => new Response("hello from the test"));
    const clients = Array.from({ length: 4 }, () => peer(["client", domain.name, name, "50"]));
    for (const client of clients) {
      assert.deepEqual(await within(30_000, client.json(30_000), "a client"), { ok: 50 });
    }
    await server.shutdown();
  });

  test("a server killed mid-response fails pending fetches with a TypeError within a second", async () => {
    const server = peer(["server", domain.name, "doomed"]);
    await server.waitFor("ready");
    const streaming = await fetch("xio://doomed/stream?n=1000");
    const reader = streaming.body!.getReader();
    await reader.read();
    const hanging = fetch("xio://doomed/hang");
    hanging.catch(() => {}); // it may fail while we wait for the kill; asserted below
    await delay(50);
    const killed = performance.now();
    await server.kill();
    await assert.rejects(within(1000, hanging, "the pending fetch's failure"), TypeError);
    await assert.rejects(
      within(
        1000,
        (async () => {
          for (;;) if ((await reader.read()).done) throw new Error("the body ended cleanly");
        })(),
        "the body's failure",
      ),
      TypeError,
    );
    assert.ok(performance.now() - killed < 1000);
    // A new server under the same name is reachable again.
    const again = peer(["server", domain.name, "doomed"]);
    await again.waitFor("ready");
    assert.match(await (await fetch("xio://doomed/hello")).text(), /^hello from/);
    await again.kill();
  });

  test("a killed client leaves no buffers or streams behind on the server", async () => {
    let uploads = 0;
    const [name, server] = start(async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/upload") {
        uploads++;
        try {
          for await (const _ of request.body!) { /* consume until the client dies */ }
        } catch { /* reset */ }
        return new Response("done");
      }
      return new Response(
        new ReadableStream({ pull: (c) => c.enqueue(new Uint8Array(65536)) }),
      );
    });
    const client = peer(["hold", domain.name, name]);
    await client.waitFor("holding");
    await waitFor(() => uploads === 1);
    assert.ok(!allFree(), "the client's requests hold buffers while it lives");
    await client.kill();
    await within(2000, waitFor(allFree), "every buffer back after the client died");
    assert.equal(await (await fetch(`xio://${name}/upload`, { method: "POST", body: "x" })).text(), "done");
    await server.shutdown();
  });

  test("a malformed frame resets its stream, another frame version ends the connection; the server serves on", async () => {
    const [name, server] = start(() => new Response("fine"));
    const raw = await domain.connect(name);
    // A request frame (format version 1) whose path length runs past the end of the frame.
    const frame = await raw.alloc(24);
    frame.bytes.set([1, 1, 1, 0, 7, 0, 0, 0, 3, 0, 71, 69, 84, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 0]);
    await raw.send(frame);
    const reply = (await within(2000, raw.recv(), "the server's answer"))!;
    assert.equal(reply.bytes[0], 5, "a RESET frame");
    assert.equal(new DataView(reply.bytes.buffer, reply.bytes.byteOffset).getUint32(4, true), 7);
    reply.release();
    // A well-formed request frame whose header name is not a valid HTTP token.
    const bytes: number[] = [1, 1, 1, 0, 9, 0, 0, 0];
    const text = (value: string, wide = false) => {
      const encoded = new TextEncoder().encode(value);
      bytes.push(encoded.length & 0xff, encoded.length >> 8);
      if (wide) bytes.push(0, 0);
      bytes.push(...encoded);
    };
    text("GET");
    text("x");
    text("/", true);
    bytes.push(1, 0); // one header
    text("bad name");
    text("v", true);
    const invalid = await raw.alloc(bytes.length);
    invalid.bytes.set(bytes);
    await raw.send(invalid);
    const second = (await within(2000, raw.recv(), "the server's answer"))!;
    assert.equal(second.bytes[0], 5, "a RESET frame");
    assert.equal(new DataView(second.bytes.buffer, second.bytes.byteOffset).getUint32(4, true), 9);
    second.release();
    // A frame of another format version (0: before versions existed): every frame of such a peer
    // would be misread, so the server ends the connection.
    const old = await raw.alloc(bytes.length);
    old.bytes.set(bytes);
    old.bytes[2] = 0;
    await raw.send(old);
    assert.equal(await within(2000, raw.recv(), "the server closing the connection"), null);
    raw.close();
    assert.equal(await (await fetch(`xio://${name}/`)).text(), "fine");
    await server.shutdown();
  });

  test("connections that end give their channels back to the domain, on both sides", async () => {
    const own = Domain.open({ name: uniqueName("http-channels"), hugepages: "never" });
    try {
      const server = serve({ name: "svc", domain: own }, () => new Response("ok"));
      for (let i = 0; i < 5; i++) {
        const raw = await own.connect("svc");
        raw.close();
      }
      await within(2000, waitFor(() => own.stats().channels.open === 0), "the server closing its sides");
      // A client session whose server goes away closes its side too.
      setDefaultDomain(own);
      try {
        assert.equal(await (await fetch("xio://svc/")).text(), "ok");
      } finally {
        setDefaultDomain(domain);
      }
      assert.equal(own.stats().channels.open, 1);
      await server.shutdown();
      await within(2000, waitFor(() => own.stats().channels.open === 0), "both sides closed");
    } finally {
      own.close();
    }
  });

  test("uploads end with their exchange: a failed upload reaches the server, an unread one stops", async () => {
    // The upload's source fails midway: the server's read of the body fails too (no hang).
    const seen = Promise.withResolvers<string>();
    const [name, server] = start(async (request) => {
      if (new URL(request.url).pathname === "/early") return new Response("early");
      try {
        seen.resolve(`read ${(await request.arrayBuffer()).byteLength}`);
      } catch (error) {
        seen.resolve(`rejected: ${(error as Error).message}`);
      }
      return new Response("ok");
    });
    let sent = 0;
    const failing = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent++ < 3) {
          controller.enqueue(new Uint8Array(20_000));
          await delay(5);
        } else controller.error(new Error("upload source failed"));
      },
    });
    await assert.rejects(
      fetch(`xio://${name}/`, { method: "POST", body: failing, duplex: "half" } as RequestInit),
    );
    assert.match(await within(1000, seen.promise, "the handler's read settling"), /^rejected/);

    // The server answers without reading the upload: the upload stops and its source is cancelled.
    let pulls = 0;
    const cancelled = Promise.withResolvers<void>();
    const endless = new ReadableStream<Uint8Array>({
      pull: (controller) => void (pulls++, controller.enqueue(new Uint8Array(32 * 1024))),
      cancel: () => cancelled.resolve(),
    });
    const early = await fetch(
      `xio://${name}/early`,
      { method: "POST", body: endless, duplex: "half" } as RequestInit,
    );
    assert.equal(await early.text(), "early");
    await within(1000, cancelled.promise, "the upload's source cancelled");
    assert.ok(pulls < 100, `the upload stopped (${pulls} chunks pulled)`);
    await within(2000, server.shutdown(), "shutdown with nothing left in flight");
    await within(2000, waitFor(allFree), "every buffer back");
  });

  test("a stream of tiny chunks holds a bounded number of buffers, so other services still answer", async () => {
    const gate = Promise.withResolvers<void>();
    const [slow, slowServer] = start(async (request) => {
      await gate.promise; // reads nothing until released
      return new Response(`read ${(await request.arrayBuffer()).byteLength}`);
    });
    const [other, otherServer] = start(() => new Response("other ok"));
    const small = () => domain.stats().classes.find((c) => c.size === 256)!;
    const before = small().free;
    let chunks = 0;
    const body = new ReadableStream<Uint8Array>({
      pull: (controller) => chunks++ < 5000 ? controller.enqueue(new Uint8Array([1])) : controller.close(),
    });
    const upload = fetch(`xio://${slow}/`, { method: "POST", body, duplex: "half" } as RequestInit);
    await delay(300);
    // Credit is charged per frame too: the stalled upload holds at most a window's worth of frames.
    assert.ok(before - small().free <= 128, `${before - small().free} small buffers held`);
    assert.equal(
      await within(1000, fetch(`xio://${other}/`).then((r) => r.text()), "the other service"),
      "other ok",
    );
    gate.resolve();
    assert.equal(await (await upload).text(), "read 5000");
    await slowServer.shutdown();
    await otherServer.shutdown();
  });

  test("a request too large to send fails alone; a session whose server went away is retried once", async () => {
    const [name, server] = start(async (request) => {
      if (new URL(request.url).pathname === "/slow") await delay(200);
      return new Response("ok");
    });
    const slow = fetch(`xio://${name}/slow`);
    await delay(20);
    // Headers larger than any buffer: this request fails with a TypeError, the session lives on.
    await assert.rejects(fetch(`xio://${name}/`, { headers: { "x-big": "a".repeat(2 << 20) } }), TypeError);
    assert.equal(await (await slow).text(), "ok", "the request in flight on the same session");
    await server.shutdown();
    // A new server under the same name: the old session's channel is gone, and the next fetch,
    // body included, goes over a new one.
    const again = serve({ name }, async (request) => new Response(`again ${await request.text()}`));
    const body = new Blob(["hello"]);
    assert.equal(await (await fetch(`xio://${name}/`, { method: "POST", body })).text(), "again hello");
    await again.shutdown();
    await within(2000, waitFor(allFree), "every buffer back");
  });

  test("an unknown service rejects at once with a clear TypeError", async () => {
    const started = performance.now();
    await assert.rejects(
      fetch("xio://nobody-home/x"),
      (e: Error) => e instanceof TypeError && /nobody-home/.test(e.message),
    );
    assert.ok(performance.now() - started < 100);
  });

  test("serve takes what Deno.serve takes, and shuts down gracefully", async () => {
    const listened: string[] = [];
    const a = serve((request) => new Response(`a ${new URL(request.url).pathname}`));
    const b = serve({ name: "sig-b", onListen: (addr) => listened.push(addr.name) }, () => new Response("b"));
    const c = serve({ name: "sig-c", handler: () => new Response("c") });
    const d = serve({ name: "sig-d" }, { fetch: () => new Response("d") });
    const e = serve({ name: "sig-e", fetch: () => new Response("e") } as never);
    assert.deepEqual(listened, ["sig-b"]);
    assert.equal(await (await fetch("xio://http/x")).text(), "a /x");
    for (const [svc, body] of [["sig-b", "b"], ["sig-c", "c"], ["sig-d", "d"], ["sig-e", "e"]]) {
      assert.equal(await (await fetch(`xio://${svc}/`)).text(), body);
    }
    // onError, and a throwing handler that leaves the server serving.
    const f = serve({ name: "sig-f", onError: () => new Response("handled", { status: 503 }) }, (request) => {
      if (new URL(request.url).pathname === "/boom") throw new Error("boom");
      return new Response("ok");
    });
    const boom = await fetch("xio://sig-f/boom");
    assert.equal(boom.status, 503);
    assert.equal(await boom.text(), "handled");
    assert.equal(await (await fetch("xio://sig-f/")).text(), "ok");
    // Graceful: a request in flight completes after shutdown() began.
    const g = serve({ name: "sig-g" }, async () => {
      await delay(200);
      return new Response("late but whole");
    });
    const inFlight = fetch("xio://sig-g/");
    await delay(50);
    const stopping = g.shutdown();
    assert.equal(await (await inFlight).text(), "late but whole");
    await stopping;
    await g.finished;
    // A signal shuts a server down.
    const controller = new AbortController();
    const h = serve({ name: "sig-h", signal: controller.signal }, () => new Response("h"));
    controller.abort();
    await h.finished;
    await assert.rejects(fetch("xio://sig-h/"), TypeError);
    for (const server of [a, b, c, d, e, f]) await server.shutdown();
  });

  test("port and hostname also serve the handler over TCP", async () => {
    const server = serve({ name: "tcp-too", port: 0, hostname: "127.0.0.1" }, () => new Response("both"));
    const port = server.tcp!.addr.port;
    assert.equal(await (await globalThis.fetch(`http://127.0.0.1:${port}/`)).text(), "both");
    assert.equal(await (await fetch("xio://tcp-too/")).text(), "both");
    await server.shutdown();
  });

  test("routed origins go over shared memory when local, and over TCP when not", async () => {
    const tcp = serve(
      { name: "route-tcp-only", port: 0, hostname: "127.0.0.1" },
      () => new Response("via tcp"),
    );
    const port = tcp.tcp!.addr.port;
    const local = serve({ name: "route-local" }, () => new Response("via xio"));
    setRoute(`http://127.0.0.1:${port}`, "route-local");
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "via xio");
    await local.shutdown();
    // The service is gone: the same code now reaches the TCP server.
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "via tcp");
    await tcp.shutdown();
  });

  test("a routed GET whose service dies before answering goes to its origin over TCP", async () => {
    const tcp = serve(
      { name: "route-fallback-tcp", port: 0, hostname: "127.0.0.1" },
      () => new Response("via tcp"),
    );
    const origin = `http://127.0.0.1:${tcp.tcp!.addr.port}`;
    const doomed = peer(["server", domain.name, "route-dies"]);
    await doomed.waitFor("ready", 20_000);
    setRoute(origin, "route-dies");
    try {
      // Sent over shared memory, where the handler never answers; then its process dies.
      const pending = fetch(`${origin}/hang`);
      const posted = fetch(`${origin}/hang`, { method: "POST", body: "not idempotent" });
      posted.catch(() => {}); // it rejects before it is awaited
      await delay(100);
      doomed.child.kill("SIGKILL");
      assert.equal(await (await within(5000, pending, "the GET, over TCP")).text(), "via tcp");
      // A POST may have reached its handler: it is not sent again.
      await assert.rejects(within(5000, posted, "the POST fails"), TypeError);
    } finally {
      deleteRoute(origin);
      await tcp.shutdown();
    }
  });

  test("a redirect a handler builds from request.url stays on shared memory", async () => {
    const [name, server] = start((request) => {
      const url = new URL(request.url);
      if (url.pathname === "/from") return Response.redirect(new URL("/to?x=1", request.url).href, 302);
      return new Response(`at ${url.pathname}${url.search} on ${url.host}`);
    });
    const response = await fetch(`xio://${name}/from`);
    assert.equal(response.redirected, true);
    assert.equal(response.url, `http://${name}.xio.localhost/to?x=1`);
    assert.equal(await response.text(), `at /to?x=1 on ${name}.xio.localhost`);
    // Not followed: the Location as the server sent it, and not redirected.
    const manual = await fetch(`xio://${name}/from`, { redirect: "manual" });
    assert.equal(manual.redirected, false);
    assert.equal(manual.headers.get("location"), `http://${name}.xio.localhost/to?x=1`);
    // The local host is this service to fetch, and to nobody else a network error, never DNS.
    assert.equal(
      await (await fetch(`http://${name}.xio.localhost/plain`)).text(),
      `at /plain on ${name}.xio.localhost`,
    );
    await assert.rejects(fetch("http://nobody-here.xio.localhost/"), TypeError);
    await server.shutdown();
  });

  test("a framework that skips past the shortest origin finds the path under a short name", async () => {
    // Elysia looks for the path from the eleventh character of the URL on.
    const app = new Elysia().get("/ping", () => "pong");
    const server = serve({ name: "a" }, { fetch: (request: Request) => app.handle(request) });
    const response = await fetch("xio://a/ping");
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "pong");
    await server.shutdown();
  });

  test("handlers see what the runtime's fetch sends, and compressed bodies arrive decoded", async () => {
    const [name, server] = start((request) => {
      if (new URL(request.url).pathname === "/gzip") {
        const body = new Blob(["zipped ".repeat(100)]).stream().pipeThrough(new CompressionStream("gzip"));
        return new Response(body, { headers: { "content-encoding": "gzip" } });
      }
      const h = request.headers;
      return Response.json([h.get("user-agent"), h.get("accept-encoding"), h.get("accept")]);
    });
    const [agent, encodings, accept] = await (await fetch(`xio://${name}/`)).json();
    assert.match(agent, runtimeName === "deno" ? /^Deno\// : /^Bun\//);
    assert.match(encodings, /gzip/);
    assert.equal(accept, "*/*");
    // The caller's own values win.
    const own = await (await fetch(`xio://${name}/`, { headers: { "user-agent": "mine" } })).json();
    assert.equal(own[0], "mine");
    const zipped = await fetch(`xio://${name}/gzip`);
    assert.equal(zipped.headers.get("content-encoding"), "gzip"); // as fetch leaves it
    assert.equal(await zipped.text(), "zipped ".repeat(100));
    await server.shutdown();
  });

  test("a request over the server's limits is refused before its handler runs", async () => {
    let handled = 0;
    const server = serve(
      { name: "limited", limits: { headerCount: 20, headerBytes: 1024, urlBytes: 256 } },
      () => {
        handled++;
        return new Response("ok");
      },
    );
    const refused = runtimeName === "deno" ? 400 : 431;
    const many = new Headers();
    for (let i = 0; i < 25; i++) many.set(`x-h${i}`, "v");
    assert.equal((await fetch("xio://limited/", { headers: many })).status, refused);
    assert.equal((await fetch("xio://limited/", { headers: { "x-big": "v".repeat(2000) } })).status, refused);
    assert.equal((await fetch(`xio://limited/${"u".repeat(300)}`)).status, refused);
    assert.equal(handled, 0);
    assert.equal((await fetch("xio://limited/", { headers: { "x-small": "v" } })).status, 200);
    assert.equal(handled, 1);
    assert.throws(
      () => serve({ name: "bad-limits", limits: { headerCount: -1 } }, () => new Response()),
      InvalidArgumentError,
    );
    await server.shutdown();
  });
});

describe(`a Hono app behaves the same over xio as over the runtime's own server (${runtimeName})`, () => {
  function app(): Hono {
    const hono = new Hono();
    hono.use("*", async (c, next) => {
      await next();
      c.header("x-powered-by", "hono-middleware");
    });
    hono.get("/", (c) => c.text("root"));
    hono.get("/users/:id", (c) => c.json({ id: c.req.param("id"), q: c.req.query("q") ?? null }));
    hono.post("/echo", async (c) => c.json({ received: await c.req.json() }, 201));
    hono.get("/cookie", (c) => {
      c.header("set-cookie", "session=abc", { append: true });
      c.header("set-cookie", "theme=dark", { append: true });
      return c.text("cookies");
    });
    hono.get("/redirect", (c) => c.redirect("/users/7"));
    hono.get("/missing", (c) => c.notFound());
    hono.get("/error", () => {
      throw new Error("hono route failed");
    });
    hono.onError((error, c) => c.text(`caught: ${error.message}`, 500));
    hono.get("/stream", (c) =>
      honoStream(c, async (stream) => {
        for (let i = 0; i < 3; i++) {
          await stream.write(`part ${i};`);
          await stream.sleep(5);
        }
      }));
    return hono;
  }

  const requests: [string, RequestInit?][] = [
    ["/"],
    ["/users/42?q=x"],
    ["/echo", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ a: [1, 2] }),
    }],
    ["/cookie"],
    ["/redirect"],
    ["/redirect", { redirect: "manual" }],
    ["/missing"],
    ["/error"],
    ["/stream"],
    ["/nope"],
  ];

  async function summary(response: Response) {
    return {
      status: response.status,
      // Bun.serve labels a body whose Response has no content-type "application/octet-stream";
      // xio passes headers through as the handler set them. Both mean "no type given".
      contentType: response.headers.get("content-type") ?? "application/octet-stream",
      poweredBy: response.headers.get("x-powered-by"),
      location: response.headers.get("location"),
      cookies: response.headers.getSetCookie(),
      body: await response.text(),
    };
  }

  test("response by response", async () => {
    const server = serve({ name: "hono", port: 0, hostname: "127.0.0.1" }, app());
    const port = server.tcp!.addr.port;
    for (const [path, init] of requests) {
      const overTcp = await summary(await globalThis.fetch(`http://127.0.0.1:${port}${path}`, init));
      const overXio = await summary(await fetch(`xio://hono${path}`, init));
      assert.deepEqual(overXio, overTcp, path);
    }
    await server.shutdown();
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await delay(10);
}
