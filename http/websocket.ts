/**
 * WebSockets over shared memory: a {@linkcode WebSocket} class that follows the WHATWG interface
 * for `xio://` URLs and routed origins, and {@linkcode upgradeWebSocket}, shaped like
 * `Deno.upgradeWebSocket`, for a handler served by `serve`. (Bun's model, `server.upgrade` with
 * `websocket` handlers, is in `_bun_socket.ts`.) Both run over the HTTP layer's connections: a
 * WebSocket is one stream of its client's connection to the service, with its own flow control.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { adapter } from "../runtime/mod.ts";
import { ConnectionRefusedError } from "../errors.ts";
import { socketDomain } from "../zero_copy/_default.ts";
import {
  FLAG_END,
  FLAG_UPGRADE,
  FRAME_REQUEST,
  FRAME_RESET,
  type FrameReader,
  RESET_CANCEL,
} from "./_frames.ts";
import type { StreamHandler } from "./_wire.ts";
import {
  checkReason,
  CLOSED,
  CLOSING,
  CONNECTING,
  Endpoint,
  type EndpointEvents,
  messageBytes,
  OPEN,
  slotOf,
  wholeBuffer,
} from "./_endpoint.ts";
import { asksWebSocket, handshakeHeaders } from "./_bun_socket.ts";
import { type ClientSession, session, target } from "./client.ts";

/** The runtime's own WebSocket, for every URL that is not local (taken before any preload). */
const RuntimeWebSocket: typeof globalThis.WebSocket = globalThis.WebSocket;

/** What a message's binary data becomes: `"blob"`, `"arraybuffer"`, or (Bun's default) `"nodebuffer"`. */
export type BinaryType = "blob" | "arraybuffer" | "nodebuffer";

/** Set while `upgradeWebSocket` makes a server-side socket (the constructor then connects nowhere). */
let serverSide: string | undefined;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * A WebSocket that follows the WHATWG interface. `xio://service/path` URLs, `ws://` URLs of
 * `*.xio.localhost` hosts, and origins routed to a local service (`XIO_ROUTES`, `setRoute`;
 * `ws://orders:8080` follows the route of `http://orders:8080`) go over shared memory; any
 * other URL (and a routed one whose service is not here) gets the runtime's own WebSocket.
 *
 * No compression and no pings: messages stay in shared memory, and a dead peer is seen by the
 * channel. Messages up to 64 MiB each.
 *
 * @example
 * ```ts
 * import { serve, upgradeWebSocket, WebSocket } from "@xio/core/http";
 * import assert from "node:assert/strict";
 *
 * await using _server = serve({ name: "ws-example" }, (request) => {
 *   const { socket, response } = upgradeWebSocket(request);
 *   socket.onmessage = (event) => socket.send(`echo: ${event.data}`);
 *   return response;
 * });
 * const ws = new WebSocket("xio://ws-example/chat");
 * await new Promise((resolve) => (ws.onopen = resolve));
 * ws.send("hi");
 * const reply = await new Promise<MessageEvent>((resolve) => (ws.onmessage = resolve));
 * assert.equal(reply.data, "echo: hi");
 * ws.close();
 * await new Promise((resolve) => (ws.onclose = resolve));
 * ```
 */
export class WebSocket extends EventTarget {
  /** `readyState` while connecting. */
  static readonly CONNECTING: 0 = CONNECTING;
  /** `readyState` while open. */
  static readonly OPEN: 1 = OPEN;
  /** `readyState` while closing. */
  static readonly CLOSING: 2 = CLOSING;
  /** `readyState` once closed. */
  static readonly CLOSED: 3 = CLOSED;
  /** `readyState` while connecting. */
  declare readonly CONNECTING: 0;
  /** `readyState` while open. */
  declare readonly OPEN: 1;
  /** `readyState` while closing. */
  declare readonly CLOSING: 2;
  /** `readyState` once closed. */
  declare readonly CLOSED: 3;

  #url = "";
  #origin: string | undefined;
  #state = CONNECTING;
  #protocol = "";
  #binaryType: BinaryType = adapter.name === "bun" ? "nodebuffer" : "blob";
  #endpoint: Endpoint | undefined;
  /** Bytes of messages given after the socket started closing (counted, as WebSocket has it, and dropped). */
  #late = 0;
  /** A client's connection until the 101, to abandon it. */
  #session: ClientSession | undefined;
  #stream = 0;
  #handlers: Record<string, ((event: Event) => unknown) | null> = {};

  /** Connects to `url`, offering `protocols` (subprotocols, most wanted first). */
  constructor(url: string | URL, protocols: string | string[] = []) {
    super();
    if (serverSide !== undefined) {
      // A server-side socket (upgradeWebSocket): binary messages as ArrayBuffers, as Deno's.
      this.#url = serverSide;
      this.#binaryType = "arraybuffer";
      return;
    }
    let parsed: URL;
    try {
      parsed = new URL(String(url));
    } catch {
      throw new DOMException(`The URL '${url}' is not valid`, "SyntaxError");
    }
    if (parsed.protocol === "http:") parsed.protocol = "ws:";
    else if (parsed.protocol === "https:") parsed.protocol = "wss:";
    if (!["ws:", "wss:", "xio:"].includes(parsed.protocol)) {
      throw new DOMException(
        `The URL's scheme must be 'ws', 'wss' or 'xio', not '${parsed.protocol}'`,
        "SyntaxError",
      );
    }
    if (parsed.hash !== "") throw new DOMException("A WebSocket URL has no fragment", "SyntaxError");
    const list = typeof protocols === "string" ? [protocols] : [...protocols];
    if (list.some((p) => !TOKEN.test(p)) || new Set(list).size !== list.length) {
      throw new DOMException(`The subprotocols ${JSON.stringify(list)} are not valid`, "SyntaxError");
    }
    // Routes and local hosts are HTTP origins.
    const where = target(parsed.protocol === "xio:" ? parsed : new URL(parsed.href.replace(/^ws/, "http")));
    if (where === undefined) return new RuntimeWebSocket(url, protocols) as unknown as WebSocket;
    this.#url = parsed.href;
    let s: ClientSession;
    try {
      s = session(socketDomain(undefined), where.service);
    } catch (error) {
      if (!(error instanceof ConnectionRefusedError)) throw error;
      // A routed origin whose service is not here: over TCP as it always was.
      if (where.routed) return new RuntimeWebSocket(url, protocols) as unknown as WebSocket;
      queueMicrotask(() => this.#closed(1006, "", false));
      return;
    }
    this.#handshake(s, where.authority, parsed.pathname + parsed.search, list);
  }

  /** The URL, as given (resolved). */
  get url(): string {
    return this.#url;
  }

  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  get readyState(): number {
    return this.#state;
  }

  /** The subprotocol the server chose, or "". */
  get protocol(): string {
    return this.#protocol;
  }

  /** The extensions in use: none. */
  get extensions(): string {
    return "";
  }

  /** Bytes of messages accepted by `send` and not yet sent. */
  get bufferedAmount(): number {
    return (this.#endpoint?.bufferedAmount ?? 0) + this.#late;
  }

  /** What binary messages become: `"blob"`, `"arraybuffer"` or `"nodebuffer"`. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    if (value === "blob" || value === "arraybuffer" || value === "nodebuffer") this.#binaryType = value;
  }

  /** Sends a text (a string) or binary (bytes, a Blob) message. Throws while connecting. */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.#state === CONNECTING) {
      throw new DOMException("The WebSocket is still connecting", "InvalidStateError");
    }
    const message = messageBytes(data);
    const endpoint = this.#endpoint;
    if (this.#state !== OPEN || endpoint === undefined || endpoint.state !== OPEN) {
      this.#late += "bytes" in message ? message.bytes.length : message.size;
      return;
    }
    if ("bytes" in message) endpoint.send(message.bytes, message.text);
    else endpoint.sendLater(message.later, message.size, false);
  }

  /** Closes with `code` (1000, or 3000 to 4999) and `reason` (at most 123 bytes of UTF-8). */
  close(code?: number, reason?: string): void {
    if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
      throw new DOMException(
        `A close code must be 1000 or from 3000 to 4999, not ${code}`,
        "InvalidAccessError",
      );
    }
    if (reason !== undefined) checkReason(reason);
    if (this.#state === CLOSING || this.#state === CLOSED) return;
    if (this.#state === CONNECTING) {
      // Failed, as WebSocket fails a connection closed before it opened.
      this.#state = CLOSING;
      this.#abandon();
      queueMicrotask(() => this.#closed(1006, "", false));
      return;
    }
    this.#state = CLOSING;
    this.#endpoint?.close(code ?? 0, reason ?? "");
  }

  // --- the client's handshake ---

  #handshake(s: ClientSession, authority: string, path: string, protocols: string[]): void {
    const wire = s.wire;
    const handshake: StreamHandler = {
      onHeaders: (frame: FrameReader) => this.#answered(s, frame, protocols),
      onData: (buffer) => buffer.release(),
      onEnd: () => this.#refused(),
      onReset: () => this.#refused(),
      onWindow: () => {},
    };
    const id = this.#stream = s.open(handshake);
    this.#session = s;
    const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
    const headers = new Headers({
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": key,
      "sec-websocket-version": "13",
    });
    if (protocols.length > 0) headers.set("sec-websocket-protocol", protocols.join(", "));
    wire.frame(FRAME_REQUEST, FLAG_END | FLAG_UPGRADE, id).string("GET").string(authority).string(path, true)
      .headers(headers);
    try {
      wire.send()?.catch(() => this.#refused());
    } catch {
      queueMicrotask(() => this.#refused());
    }
  }

  #answered(s: ClientSession, frame: FrameReader, protocols: string[]): void {
    const status = frame.u16();
    frame.string();
    const headers = frame.headersInit();
    const protocol = headers?.get("sec-websocket-protocol") ?? "";
    if (status !== 101 || (protocol !== "" && !protocols.includes(protocol))) {
      this.#refused();
      return;
    }
    if (this.#state !== CONNECTING) return; // closed while connecting: #abandon reset it
    this.#session = undefined;
    this.#protocol = protocol;
    const id = this.#stream;
    const endpoint = new Endpoint(s.wire, id, this.#events(), () => s.finish(id));
    s.wire.streams.set(id, endpoint);
    this.#opened(endpoint);
  }

  /** The handshake failed (any answer but a 101 that fits, a reset, a failed wire). */
  #refused(): void {
    if (this.#state === CLOSED) return;
    this.#abandon();
    this.#closed(1006, "", false);
  }

  /** Lets go of the handshake's stream. */
  #abandon(): void {
    const s = this.#session;
    if (s === undefined) return;
    this.#session = undefined;
    if (s.wire.streams.has(this.#stream)) s.wire.control(FRAME_RESET, this.#stream, RESET_CANCEL);
    s.finish(this.#stream);
  }

  // --- both ends ---

  #events(): EndpointEvents {
    return {
      message: (data) => {
        if (this.#state !== OPEN) return;
        this.#origin ??= new URL(this.#url).origin;
        this.dispatchEvent(new MessageEvent("message", { data: this.#data(data), origin: this.#origin }));
      },
      close: (code, reason, clean) => this.#closed(code, reason, clean),
    };
  }

  #data(data: string | Uint8Array<ArrayBuffer>): unknown {
    if (typeof data === "string") return data;
    switch (this.#binaryType) {
      case "arraybuffer":
        return wholeBuffer(data);
      case "nodebuffer":
        return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      default:
        return new Blob([data]);
    }
  }

  #opened(endpoint: Endpoint): void {
    this.#endpoint = endpoint;
    this.#state = OPEN;
    this.dispatchEvent(new Event("open"));
  }

  #closed(code: number, reason: string, clean: boolean): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    if (!clean) this.dispatchEvent(new Event("error"));
    this.dispatchEvent(new CloseEvent("close", { code, reason, wasClean: clean }));
  }

  /** Internal (upgradeWebSocket): the server side opens once its 101 is sent. */
  static serverOpen(socket: WebSocket, make: (events: EndpointEvents) => Endpoint, protocol: string): void {
    socket.#protocol = protocol;
    socket.#opened(make(socket.#events()));
  }

  /** Internal (upgradeWebSocket): the handler answered with something else; the socket never opens. */
  static serverRefused(socket: WebSocket): void {
    queueMicrotask(() => socket.#closed(1006, "", false));
  }

  /** Called on `open`. */
  get onopen(): ((event: Event) => unknown) | null {
    return this.#handlers.open ?? null;
  }
  set onopen(value: ((event: Event) => unknown) | null) {
    this.#handle("open", value);
  }

  /** Called on each `message`. */
  get onmessage(): ((event: MessageEvent) => unknown) | null {
    return (this.#handlers.message as ((event: MessageEvent) => unknown) | undefined) ?? null;
  }
  set onmessage(value: ((event: MessageEvent) => unknown) | null) {
    this.#handle("message", value as ((event: Event) => unknown) | null);
  }

  /** Called on `error` (a connection that failed or was lost; `close` follows). */
  get onerror(): ((event: Event) => unknown) | null {
    return this.#handlers.error ?? null;
  }
  set onerror(value: ((event: Event) => unknown) | null) {
    this.#handle("error", value);
  }

  /** Called on `close`. */
  get onclose(): ((event: CloseEvent) => unknown) | null {
    return (this.#handlers.close as ((event: CloseEvent) => unknown) | undefined) ?? null;
  }
  set onclose(value: ((event: CloseEvent) => unknown) | null) {
    this.#handle("close", value as ((event: Event) => unknown) | null);
  }

  /** An `on*` attribute: the listener it holds is replaced. */
  #handle(type: string, value: ((event: Event) => unknown) | null): void {
    const old = this.#handlers[type];
    if (old) this.removeEventListener(type, old as EventListener);
    this.#handlers[type] = typeof value === "function" ? value : null;
    if (typeof value === "function") this.addEventListener(type, value as EventListener);
  }

  /** "WebSocket", as the runtime's own says. */
  get [Symbol.toStringTag](): string {
    return "WebSocket";
  }
}

/** The events of a {@linkcode WebSocket}. */
export interface WebSocketEventMap {
  /** The socket opened. */
  open: Event;
  /** A message arrived (`data`: a string, or binary data as `binaryType` says). */
  message: MessageEvent;
  /** The connection failed or was lost (`close` follows). */
  error: Event;
  /** The socket closed (`code`, `reason`, `wasClean`). */
  close: CloseEvent;
}

/** The typed listeners of a {@linkcode WebSocket}. */
export interface WebSocket {
  /** Listens for `open`, `message`, `error` or `close`. */
  addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: WebSocket, event: WebSocketEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Listens for an event. */
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Stops listening. */
  removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: WebSocket, event: WebSocketEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  /** Stops listening. */
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

for (const [name, value] of [["CONNECTING", 0], ["OPEN", 1], ["CLOSING", 2], ["CLOSED", 3]] as const) {
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
}
// The internal statics stay out of sight of `Object.keys` and autocompletion alike.
for (const name of ["serverOpen", "serverRefused"]) {
  Object.defineProperty(WebSocket, name, { enumerable: false });
}

/** Options of {@linkcode upgradeWebSocket}, as `Deno.upgradeWebSocket` takes them. */
export interface UpgradeWebSocketOptions {
  /** The subprotocol to answer with (one the client offered). */
  protocol?: string;
  /** Accepted for Deno's signature; no pings over shared memory (a dead peer is seen by its channel). */
  idleTimeout?: number;
}

/** A 101 that a handler returns: a Response cannot be made with that status, so it shows it. */
class UpgradeResponse extends Response {
  override get status(): number {
    return 101;
  }
  override get ok(): boolean {
    return false;
  }
  override get statusText(): string {
    return "Switching Protocols";
  }
}

/**
 * Upgrades a request to a WebSocket, as `Deno.upgradeWebSocket` does: the handler returns
 * `response`, and `socket` opens once it is sent. A request that did not come over shared
 * memory goes to the runtime's own `Deno.upgradeWebSocket` (Bun has none: it throws).
 *
 * @example
 * ```ts
 * import { serve, upgradeWebSocket } from "@xio/core/http";
 *
 * await using _server = serve({ name: "upgrade-example" }, (request) => {
 *   if (request.headers.get("upgrade") !== "websocket") return new Response("not a websocket", { status: 400 });
 *   const { socket, response } = upgradeWebSocket(request);
 *   socket.addEventListener("message", (event) => socket.send(event.data));
 *   return response;
 * });
 * ```
 */
export function upgradeWebSocket(
  request: Request,
  options: UpgradeWebSocketOptions = {},
): { socket: WebSocket; response: Response } {
  const slot = slotOf(request);
  if (slot === undefined) {
    const own = adapter.upgradeWebSocket;
    if (own !== undefined) return own(request, options) as { socket: WebSocket; response: Response };
    throw new TypeError("upgradeWebSocket: the request is not a WebSocket upgrade over shared memory");
  }
  if (!asksWebSocket(request)) {
    throw new TypeError("Invalid Header: 'upgrade' header must contain 'websocket'");
  }
  const protocol = options.protocol ?? "";
  serverSide = request.url.replace(/^http/, "ws");
  let socket: WebSocket;
  try {
    socket = new WebSocket("");
  } finally {
    serverSide = undefined;
  }
  const headers = handshakeHeaders(request, protocol);
  const response = new UpgradeResponse(null, { status: 200, headers });
  slot.accepted = { headers, response, open: (make) => WebSocket.serverOpen(socket, make, protocol) };
  slot.refused = () => WebSocket.serverRefused(socket);
  return { socket, response };
}
