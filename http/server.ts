/**
 * The HTTP server: {@linkcode serve}, shaped like `Deno.serve`, and the {@linkcode XioServer} it
 * returns.
 *
 * @module
 */

import { adapter, type TcpServer } from "../runtime/mod.ts";
import { number } from "../_check.ts";
import { ClosedError } from "../errors.ts";
import { type Channel, DEFAULT_POLL_MICROS, type Listener, type SharedBuffer } from "../zero_copy/mod.ts";
import { socketDomain } from "../zero_copy/_default.ts";
import type { XioAddr } from "../socket/mod.ts";
import {
  FLAG_END,
  FLAG_LENGTH,
  FLAG_TYPE_SHIFT,
  FLAG_UPGRADE,
  FRAME_DEFAULTS,
  FRAME_REQUEST,
  FRAME_RESET,
  FRAME_RESPONSE,
  FRAME_WINDOW,
  FrameError,
  type FrameReader,
  IMPLIED_TYPES,
  RESET_CANCEL,
  RESET_REFUSED,
} from "./_frames.ts";
import { INLINE_MAX, type StreamHandler, Wire } from "./_wire.ts";
import { type BunHost, Endpoint, type EndpointEvents, type UpgradeSlot, upgradeSlots } from "./_endpoint.ts";
import { publish, upgradeBun } from "./_bun_socket.ts";
import { BodyQueue, BodySender, directBody, NULL_BODY_STATUS, peekBody } from "./_body.ts";
import type {
  FetchApp,
  RequestLimits,
  ServeHandler,
  ServeHandlerInfo,
  ServeInit,
  ServeOptions,
} from "./types.ts";

/**
 * The largest body the runtime may hand over whole (see `Adapter.completeBody`): one already in
 * memory, whose length is then declared as the runtime's server declares it.
 */
const COMPLETE_MAX = 64 * 1024 * 1024;
const habits = adapter.server;

/** A running server, as `Deno.serve` returns. */
export class XioServer implements AsyncDisposable {
  /** The shared-memory address it listens on. */
  readonly addr: XioAddr;
  /** The TCP server, if `port` was given. */
  readonly tcp: TcpServer | undefined;
  /** Resolves once the server has shut down. */
  readonly finished: Promise<void>;
  #listener: Listener;
  #connections = new Set<ServerConnection>();
  #draining = false;
  #done!: () => void;
  #accepting: Promise<void>;
  #bun: BunHost | undefined;

  /** Internal: use {@linkcode serve}. */
  constructor(listener: Listener, addr: XioAddr, app: ServeHandler, options: ServeOptions) {
    this.#listener = listener;
    this.addr = addr;
    this.finished = new Promise((resolve) => (this.#done = resolve));
    const onError = options.onError ?? defaultOnError;
    const limits = resolveLimits(options.limits);
    const bun = this.#bun = options.websocket !== undefined
      ? { handlers: options.websocket, topics: new Map(), remote: "127.0.0.1" }
      : undefined;
    this.#accepting = (async () => {
      for await (const channel of listener) {
        const connection = new ServerConnection(
          channel,
          app,
          onError,
          addr,
          () => this.#draining,
          limits,
          bun,
        );
        this.#connections.add(connection);
        connection.wire.done.then(() => this.#connections.delete(connection));
      }
    })();
    this.tcp = options.port !== undefined
      ? adapter.serveTcp(
        { port: options.port, hostname: options.hostname },
        (request) => app(request, { remoteAddr: addr, completed: Promise.resolve() }),
      )
      : undefined;
    const signal = options.signal;
    if (signal !== undefined) {
      const onAbort = () => void this.shutdown();
      signal.addEventListener("abort", onAbort, { once: true });
      // A long-lived signal must not keep a stopped server (and what it references) alive.
      this.finished.then(() => signal.removeEventListener("abort", onAbort));
    }
  }

  /**
   * Sends `data` to every WebSocket subscribed to `topic` (Bun's model: see `websocket` in
   * {@linkcode ServeOptions}). Returns the bytes of one message sent, or 0 if none was.
   */
  publish(topic: string, data: string | ArrayBufferLike | ArrayBufferView, compress?: boolean): number {
    return this.#bun === undefined ? 0 : publish(this.#bun, topic, data, compress);
  }

  /** How many WebSockets are subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.#bun?.topics.get(topic)?.size ?? 0;
  }

  /**
   * Stops taking new requests, lets the ones in flight complete, closes every WebSocket with
   * 1001 (going away), then closes.
   */
  async shutdown(): Promise<void> {
    if (!this.#draining) {
      this.#draining = true;
      this.#listener.close();
      await this.#accepting.catch(() => {});
      await Promise.all([...this.#connections].map((c) => c.drain()));
      await this.tcp?.shutdown();
      this.#done();
    }
    await this.finished;
  }

  /** Lets the process exit while the server waits for requests. */
  unref(): void {
    this.#listener.unref();
    for (const c of this.#connections) c.wire.channel.unref();
    this.tcp?.unref();
  }

  /** Undoes {@linkcode XioServer.unref}. */
  ref(): void {
    this.#listener.ref();
    for (const c of this.#connections) c.wire.channel.ref();
    this.tcp?.ref();
  }

  /** Shuts the server down gracefully. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}

/** {@linkcode RequestLimits} with every bound set, and the status that refuses a request over one. */
interface Limits {
  headerCount: number;
  headBytes: number;
  headerBytes: number;
  urlBytes: number;
  /** The smallest of the byte bounds. */
  smallest: number;
  status: number;
}

/** What the runtimes' servers send with a refusal: they close the connection after it. */
const REFUSAL_HEADERS = new Headers({ connection: "close" });

function resolveLimits(given: RequestLimits | undefined): Limits {
  const own = habits.limits;
  const bound = (name: keyof RequestLimits, fallback: number) => {
    const value = given?.[name];
    if (value === undefined) return fallback;
    number(`serve's limits.${name}`, value, 1, 2 ** 31);
    return value;
  };
  const headBytes = bound("headBytes", own.headBytes);
  const headerBytes = bound("headerBytes", headBytes);
  const urlBytes = bound("urlBytes", headBytes);
  return {
    headerCount: bound("headerCount", own.headerCount),
    headBytes,
    headerBytes,
    urlBytes,
    smallest: Math.min(headBytes, headerBytes, urlBytes),
    status: own.status,
  };
}

function defaultOnError(error: unknown): Response {
  console.error("xio: the request handler threw:", error);
  return new Response("Internal Server Error", { status: 500 });
}

/** What `info` a handler gets. `completed` is made on first use: most handlers never look. */
class HandlerInfo implements ServeHandlerInfo {
  readonly remoteAddr: XioAddr;
  #bun: BunHost | undefined;
  #completed: Promise<void> | undefined;
  #settle: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  #outcome: { error: unknown } | null | undefined; // undefined: pending; null: completed

  constructor(remoteAddr: XioAddr, bun: BunHost | undefined) {
    this.remoteAddr = remoteAddr;
    this.#bun = bun;
  }

  /**
   * Bun's `server.upgrade`: makes `request` a WebSocket served by the `websocket` handlers of the
   * serve options, once the handler returns. False if it asked for none, or there are no handlers.
   */
  upgrade(request: Request, options?: { data?: unknown; headers?: HeadersInit }): boolean {
    return upgradeBun(request, options);
  }

  /** Bun's `server.publish`: as {@linkcode XioServer.publish}. */
  publish(topic: string, data: string | ArrayBufferLike | ArrayBufferView, compress?: boolean): number {
    return this.#bun === undefined ? 0 : publish(this.#bun, topic, data, compress);
  }

  get completed(): Promise<void> {
    if (this.#completed === undefined) {
      const outcome = this.#outcome;
      this.#completed = outcome === null
        ? Promise.resolve()
        : outcome !== undefined
        ? Promise.reject(outcome.error)
        : new Promise<void>((resolve, reject) => (this.#settle = { resolve, reject }));
      this.#completed.catch(() => {});
    }
    return this.#completed;
  }

  resolve(): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = null;
    this.#settle?.resolve();
  }

  reject(error: unknown): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = { error };
    this.#settle?.reject(error);
  }
}

/** One request on a server connection: the frames of its stream, and its state. */
class ServerStream implements StreamHandler {
  readonly id: number;
  readonly body: BodyQueue | undefined;
  sender: BodySender | undefined;
  reset: Error | undefined;
  done = false;
  #abort: AbortController | undefined;
  #connection: ServerConnection;

  constructor(connection: ServerConnection, id: number, streamed: boolean) {
    this.#connection = connection;
    this.id = id;
    const wire = connection.wire;
    this.body = streamed ? new BodyQueue((bytes) => wire.control(FRAME_WINDOW, id, bytes)) : undefined;
  }

  /** The headers the client's fetch sends with every request, if it said (DEFAULTS). */
  get defaults(): readonly [string, string][] | undefined {
    return this.#connection.defaults;
  }

  /** The request's signal, aborted when the client cancels the request or goes away. */
  get signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.reset !== undefined) this.#abort.abort(this.reset);
    }
    return this.#abort.signal;
  }

  onHeaders(): void {
    throw new FrameError(`Stream ${this.id} sent its headers twice`);
  }

  onData(buffer: SharedBuffer, end: boolean): void {
    if (this.body === undefined) return buffer.release();
    this.body.push(buffer);
    if (end) this.body.end();
  }

  onEnd(): void {
    this.body?.end();
  }

  onReset(error: Error): void {
    if (this.reset !== undefined) return;
    this.reset = error;
    this.#abort?.abort(error);
    (this.sender ??= new BodySender()).stop(error);
    this.body?.fail(error);
    // A request whose client reset it is over, whether or not its handler ever returns.
    this.#connection.finish(this);
  }

  onWindow(bytes: number): void {
    (this.sender ??= new BodySender()).grant(bytes);
  }
}

/**
 * The Request a handler receives. Its `signal` is created on first use, since making one per
 * request costs more than most handlers do; a streamed body is read straight out of shared
 * memory by `arrayBuffer()` and the like (`directBody`).
 */
class ServerRequest extends directBody(Request) {
  #stream: ServerStream;

  constructor(url: string, init: RequestInit | undefined, stream: ServerStream, length: number | undefined) {
    super(url, init);
    this.#stream = stream;
    this.attachBody(stream.body, length);
  }

  override get signal(): AbortSignal {
    return this.#stream.signal;
  }

  /**
   * Also what a request over HTTP/1.1 carries: `host` (the URL's), and what the client's fetch
   * sends with every request (its DEFAULTS frame; `accept: *\/*` from a client that sent none).
   */
  override completeHeaders(headers: Headers): void {
    if (!headers.has("host")) {
      const url = this.url; // http://<authority>/<path>
      headers.set("host", url.slice(7, url.indexOf("/", 7)));
    }
    const defaults = this.#stream.defaults;
    if (defaults === undefined) {
      if (!headers.has("accept")) headers.set("accept", "*/*");
    } else {
      for (const [name, value] of defaults) if (!headers.has(name)) headers.set(name, value);
    }
    super.completeHeaders(headers);
  }

  /** A copy whose signal is this request's: aborted when the client goes away. */
  override clone(): this {
    void this.headers; // the copy has the defaults too
    return new Request(super.clone(), { signal: this.signal }) as this;
  }
}

class ServerConnection {
  readonly wire: Wire;
  /** What the client's fetch sends with every request (its DEFAULTS frame), if it said. */
  defaults: [string, string][] | undefined;
  #inFlight = 0;
  #idle: (() => void) | undefined;
  #app: ServeHandler;
  #onError: (error: unknown) => Response | Promise<Response>;
  #remote: XioAddr;
  #draining: () => boolean;
  #limits: Limits;
  /** The bytes of the DEFAULTS headers as HTTP/1.1 lines. */
  #defaultsBytes = 0;
  #bun: BunHost | undefined;
  /** The open WebSockets of this connection. */
  #sockets = new Set<Endpoint>();
  #socketsGone: (() => void) | undefined;

  constructor(
    channel: Channel,
    app: ServeHandler,
    onError: (error: unknown) => Response | Promise<Response>,
    addr: XioAddr,
    draining: () => boolean,
    limits: Limits,
    bun: BunHost | undefined,
  ) {
    this.#limits = limits;
    this.#bun = bun;
    this.#app = app;
    this.#onError = onError;
    this.#remote = { ...addr, name: `client-${channel.index}` };
    this.#draining = draining;
    this.wire = new Wire(channel, (frame) => this.#onRequest(frame), () => {});
  }

  async drain(): Promise<void> {
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    if (this.#sockets.size > 0) {
      // Each closes within CLOSE_TIMEOUT_MS: answered, or given up on.
      const gone = new Promise<void>((resolve) => (this.#socketsGone = resolve));
      for (const socket of this.#sockets) socket.close(1001, "");
      await gone;
    }
    this.wire.close();
  }

  /** Ends a request's bookkeeping (once): its response was sent, or it was reset. */
  finish(stream: ServerStream): void {
    if (stream.done) return;
    stream.done = true;
    if (this.wire.streams.get(stream.id) === stream) this.wire.streams.delete(stream.id);
    // (An Error costs its stack: none is made for a body read to its end.)
    const body = stream.body;
    if (body !== undefined && !body.drained) body.fail(new ClosedError("The request is over"));
    if (--this.#inFlight === 0) this.#idle?.();
  }

  #onRequest(frame: FrameReader): void {
    if (frame.type === FRAME_DEFAULTS && frame.stream === 0) {
      // Validated as any header block is (a FrameError if one is not a header).
      const defaults = [...(frame.headersInit() ?? [])];
      this.defaults = defaults;
      this.#defaultsBytes = defaults.reduce((n, [name, value]) => n + name.length + value.length + 4, 0);
      return;
    }
    if (frame.type !== FRAME_REQUEST) return; // a late frame of a finished stream
    const id = frame.stream;
    if (this.#draining()) {
      this.wire.control(FRAME_RESET, id, RESET_REFUSED);
      return;
    }
    const method = frame.string();
    const authority = frame.string();
    const path = frame.string(true);
    if (this.#overLimits(frame, method, authority, path)) {
      // Refused before any handler runs, as the runtime's own server refuses it.
      const declares = habits.limits.declaresLength;
      const frame = this.wire.frame(FRAME_RESPONSE, FLAG_END | (declares ? FLAG_LENGTH : 0), id)
        .u16(this.#limits.status).string("").headers(REFUSAL_HEADERS);
      if (declares) frame.bodyLength(0);
      this.wire.send()?.catch(() => {});
      return;
    }
    const headers = frame.headersInit();
    const length = frame.bodyLength();
    const end = (frame.flags & FLAG_END) !== 0;
    if (!path.startsWith("/")) {
      throw new FrameError(`A request path must start with "/", got ${JSON.stringify(path)}`);
    }
    // A GET or HEAD body is never given to the handler (as Request would refuse one).
    const inline = end && method !== "GET" && method !== "HEAD" ? frame.rest() : undefined;
    const stream = new ServerStream(this, id, !end);
    this.wire.streams.set(id, stream);
    this.#inFlight++;
    const upgrade = (frame.flags & FLAG_UPGRADE) !== 0 && end;
    this.#serve(stream, method, `http://${authority}${path}`, headers, inline, length, upgrade);
  }

  /**
   * Turns the stream of an upgraded request into a WebSocket: the socket's endpoint takes the
   * stream, the 101 goes out, then the socket opens (`open` runs after the 101, so that what it
   * sends follows it).
   */
  #upgrade(stream: ServerStream, accepted: NonNullable<UpgradeSlot["accepted"]>): void {
    const wire = this.wire;
    const id = stream.id;
    accepted.open((events: EndpointEvents, maxMessage?: number) => {
      const endpoint: Endpoint = new Endpoint(wire, id, events, () => {
        this.#sockets.delete(endpoint);
        if (wire.streams.get(id) === endpoint) wire.streams.delete(id);
        if (this.#sockets.size === 0) this.#socketsGone?.();
      }, maxMessage);
      wire.streams.set(id, endpoint);
      this.#sockets.add(endpoint);
      wire.frame(FRAME_RESPONSE, 0, id).u16(101).string("").headers(accepted.headers);
      wire.send()?.catch(() => {}); // a failed wire closes the socket (onReset)
      return endpoint;
    });
  }

  /**
   * Whether the request's head is over a limit, measured as HTTP/1.1 would write it: the
   * request line, `host`, the headers the client's fetch sends with every request, and the
   * request's own.
   */
  #overLimits(frame: FrameReader, method: string, authority: string, path: string): boolean {
    const limits = this.#limits;
    // The common case at a glance: the rest of the frame (each header there takes more bytes
    // than its HTTP/1.1 line) and the request line fit in the smallest bound.
    const fixed = method.length + path.length + authority.length + 20 + this.#defaultsBytes;
    const count = frame.peekHeaderCount() + 1 + (this.defaults?.length ?? 0);
    if (count <= limits.headerCount && frame.left + fixed <= limits.smallest) return false;
    const block = frame.headerBlockSize();
    const bytes = method.length + path.length + 12 + authority.length + 8 + block.bytes + 2 +
      this.#defaultsBytes;
    return count > limits.headerCount || bytes > limits.headBytes || block.longest > limits.headerBytes ||
      path.length > limits.urlBytes;
  }

  /** Runs the handler and sends its response. Never rejects. */
  async #serve(
    stream: ServerStream,
    method: string,
    url: string,
    headers: Headers | undefined,
    inline: Uint8Array<ArrayBuffer> | undefined,
    length: number | undefined,
    upgrade: boolean,
  ): Promise<void> {
    const info = new HandlerInfo(this.#remote, this.#bun);
    try {
      // Only what differs from the defaults: every member given costs a conversion.
      let init: RequestInit | undefined;
      if (method !== "GET") init = { method };
      if (headers !== undefined) (init ??= {}).headers = headers;
      if (method !== "GET" && method !== "HEAD") {
        init!.body = inline ?? stream.body!.stream(() => {});
        // @ts-ignore: `duplex` is required for streamed bodies but not yet in every type library
        init!.duplex = "half";
      }
      const request = new ServerRequest(url, init, stream, length);
      const slot: UpgradeSlot | undefined = upgrade ? { accepted: undefined, bun: this.#bun } : undefined;
      if (slot !== undefined) upgradeSlots.set(request, slot);
      let response: Response;
      try {
        response = await this.#app(request, info);
        const accepted = slot?.accepted;
        if (accepted !== undefined && stream.reset === undefined) {
          // Upgraded: by Bun's `server.upgrade` (whatever the handler returns), or with the
          // response `upgradeWebSocket` made.
          if (accepted.response === undefined || accepted.response === response) {
            this.#upgrade(stream, accepted);
            info.resolve();
            return;
          }
          slot!.refused?.();
        }
        if (!(response instanceof Response)) throw new TypeError("The handler did not return a Response");
        if (response.status === 101) {
          // The runtime's own upgrade (Deno.upgradeWebSocket without the preload): its socket can
          // never open over shared memory, so the upgrade fails here rather than seeming to work.
          throw new TypeError(
            "A 101 response that upgradeWebSocket from @xio/core did not make: use it (or the preload) " +
              "to upgrade a request over shared memory",
          );
        }
      } catch (error) {
        if (stream.reset !== undefined) throw stream.reset;
        response = await this.#onError(error);
      }
      if (stream.reset !== undefined) {
        response.body?.cancel().catch(() => {});
        throw stream.reset;
      }
      await this.#respond(stream, method, response);
      info.resolve();
    } catch (error) {
      info.reject(error);
      if (stream.reset === undefined) this.wire.control(FRAME_RESET, stream.id, RESET_CANCEL);
    } finally {
      this.finish(stream);
    }
  }

  async #respond(stream: ServerStream, method: string, response: Response): Promise<void> {
    const wire = this.wire;
    let body: ReadableStream<Uint8Array> | null = null;
    let inline: Uint8Array | undefined;
    let length: number | undefined;
    // A whole body too large to travel in the headers frame (a string measured in characters
    // that takes more bytes in UTF-8, say).
    let large: Uint8Array | undefined;
    // Headers before body: Bun fills in the content type a Blob, file or form body implies
    // when the headers are first read, but not once the body has become a stream.
    const headers = response.headers;
    const status = response.status;
    // A body the runtime can hand over whole skips the stream (Bun: a string, bytes, JSON).
    const complete = adapter.completeBody(response, COMPLETE_MAX);
    const source = complete === undefined ? response.body : null;
    // What the runtime's server would add (a content type: flag bits, which the client turns
    // into the header when it is read) or drop (transfer-encoding).
    let implied = 0;
    let skip: string | undefined;
    if (complete !== undefined) {
      const bytes = complete instanceof Uint8Array ? complete : await complete;
      length = bytes.length;
      if (method !== "HEAD") {
        if (length <= INLINE_MAX) inline = bytes;
        else large = bytes;
        const type = habits.impliedContentType;
        if (type !== undefined && length > 0 && !headers.has("content-type")) {
          implied = IMPLIED_TYPES.indexOf(type);
        }
      }
    } else if (source === null) {
      if (!NULL_BODY_STATUS.has(status)) length = 0;
    } else if (method === "HEAD") {
      // No body, but the length it would have, as an HTTP/1.1 server answers HEAD.
      const peeked = await peekBody(source, habits.gathersStreams);
      length = peeked.length;
      await peeked.stream?.cancel();
    } else {
      ({ inline, stream: body, length } = await peekBody(source, habits.gathersStreams));
      const type = habits.impliedStreamContentType;
      if (type !== undefined && length !== undefined && length > 0 && !headers.has("content-type")) {
        implied = IMPLIED_TYPES.indexOf(type);
      }
    }
    // No length for a status that has no body, as the runtimes' servers send none.
    if (NULL_BODY_STATUS.has(status)) length = undefined;
    if (headers.has("transfer-encoding")) {
      // A handler's own transfer-encoding: Deno's server keeps it (and then declares no length),
      // Bun's drops it.
      if (habits.keepsTransferEncoding) length = undefined;
      else skip = "transfer-encoding";
    }
    // A body known whole is declared, as an HTTP/1.1 server declares it.
    const flags = (body === null && large === undefined ? FLAG_END : 0) |
      (length !== undefined ? FLAG_LENGTH : 0) | (implied << FLAG_TYPE_SHIFT);
    const frame = wire.frame(FRAME_RESPONSE, flags, stream.id)
      .u16(status)
      .string("") // the reason phrase: clients show the standard one, as over HTTP/1.1
      .headers(headers, skip);
    if (length !== undefined) frame.bodyLength(length);
    if (inline !== undefined) frame.bytes(inline);
    await wire.send();
    if (body === null && large === undefined) return;
    const sender = stream.sender ??= new BodySender();
    const sent = body !== null
      ? await sender.send(wire, stream.id, body)
      : await sender.sendBytes(wire, stream.id, large!);
    if (!sent) throw sender.stopped;
  }
}

/**
 * Serves HTTP over shared memory, taking what `Deno.serve` takes: `serve(handler)`,
 * `serve(options, handler)`, `serve({ ...options, handler })`, or an object with a `fetch`
 * method (a Hono app, a `deno serve` default export, a `Bun.serve` options object).
 *
 * A handler that throws gives a 500 (or `onError`'s response); the server keeps serving. With
 * `port` (and `hostname`) the same handler is also served over TCP by the runtime's own server.
 *
 * @example
 * ```ts
 * import { fetch, serve } from "@xio/core/http";
 * import assert from "node:assert/strict";
 *
 * const server = serve({ name: "serve-example" }, () => new Response("ok"));
 * assert.equal(await (await fetch("xio://serve-example/")).text(), "ok");
 * await server.shutdown();
 * await assert.rejects(fetch("xio://serve-example/"), TypeError); // nobody serves it now
 * ```
 */
export function serve(handler: ServeHandler | FetchApp): XioServer;
/** Serves `handler` with `options`: the service name, domain, signal, callbacks and TCP port. */
export function serve(options: ServeOptions, handler: ServeHandler | FetchApp): XioServer;
/** Serves the `handler` (or `fetch` method) inside the options object. */
export function serve(init: ServeInit | (ServeOptions & FetchApp)): XioServer;
export function serve(
  first: ServeHandler | FetchApp | ServeInit | ServeOptions,
  second?: ServeHandler | FetchApp,
): XioServer {
  let options: ServeOptions;
  let app: ServeHandler | FetchApp | undefined;
  if (typeof first === "function") {
    options = {};
    app = first;
  } else if (second !== undefined) {
    options = first as ServeOptions;
    app = second;
  } else {
    options = first as ServeOptions;
    app = (first as ServeInit).handler ??
      (typeof (first as FetchApp).fetch === "function" ? first as FetchApp : undefined);
  }
  if (app === undefined) throw new TypeError("serve() needs a handler or an object with a fetch method");
  const handler: ServeHandler = typeof app === "function"
    ? app
    : ((target: FetchApp) => (request: Request, info: ServeHandlerInfo) => target.fetch(request, info))(app);
  if (options.pollMicros !== undefined) number("serve's pollMicros", options.pollMicros, 0, 1e7);
  const domain = socketDomain(options.domain);
  const name = options.name ?? adapter.env("XIO_SERVICE") ?? "http";
  const listener = domain.listen(name, { pollMicros: options.pollMicros ?? DEFAULT_POLL_MICROS });
  const addr: XioAddr = { transport: "xio", domain: domain.name, name };
  const server = new XioServer(listener, addr, handler, options);
  options.onListen?.(addr);
  return server;
}
