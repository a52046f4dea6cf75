/**
 * Bun's WebSocket model over shared memory: `server.upgrade(request, { data, headers })` in a
 * handler, the `websocket` handlers of the serve options (`open`, `message`, `close`, `drain`),
 * and a socket shaped like Bun's `ServerWebSocket`, with its topics (`subscribe`, `publish`).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import {
  type BunHost,
  CLOSED,
  CONNECTING,
  encoder,
  type Endpoint,
  type EndpointEvents,
  messageBytes,
  OPEN,
  slotOf,
  wholeBuffer,
} from "./_endpoint.ts";

/** Bun's `websocket` option of `Bun.serve`: the handlers of every socket a server upgrades. */
export interface BunWebSocketHandler {
  /** A socket opened. */
  open?(ws: XioServerWebSocket): unknown;
  /** A message arrived: a string, or bytes as the socket's `binaryType` has them. */
  message?(ws: XioServerWebSocket, message: unknown): unknown;
  /** The socket closed. */
  close?(ws: XioServerWebSocket, code: number, reason: string): unknown;
  /** What `send` queued has gone out. */
  drain?(ws: XioServerWebSocket): unknown;
  /** The largest message accepted, in bytes (default 64 MiB). */
  maxPayloadLength?: number;
}

/** RFC 6455's key suffix, for `sec-websocket-accept`. */
const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The headers of a 101: those of RFC 6455 (the accept key as a TCP server computes it) and `extra`. */
export function handshakeHeaders(
  request: Request,
  protocol: string | undefined,
  extra?: HeadersInit,
): Headers {
  const headers = new Headers(extra);
  headers.set("upgrade", "websocket");
  headers.set("connection", "Upgrade");
  const key = request.headers.get("sec-websocket-key");
  if (key !== null) {
    headers.set("sec-websocket-accept", createHash("sha1").update(key + ACCEPT_GUID).digest("base64"));
  }
  if (protocol !== undefined && protocol !== "") headers.set("sec-websocket-protocol", protocol);
  return headers;
}

/** Whether `request` asks for a WebSocket (its `upgrade` header says `websocket`). */
export function asksWebSocket(request: Request): boolean {
  return /(^|,)\s*websocket\s*(,|$)/i.test(request.headers.get("upgrade") ?? "");
}

/** A handler's result, with a rejection reported as Bun reports an error in a handler. */
function report(result: unknown): void {
  if (result instanceof Promise) {
    result.catch((error) => console.error("xio: a websocket handler threw:", error));
  }
}

/**
 * Bun's `server.upgrade` for a request over shared memory: true if it asked for a WebSocket and
 * the server has `websocket` handlers; the socket opens once the handler returns.
 */
export function upgradeBun(request: Request, options?: { data?: unknown; headers?: HeadersInit }): boolean {
  const slot = slotOf(request);
  if (slot === undefined || slot.bun === undefined || !asksWebSocket(request)) return false;
  const socket = new XioServerWebSocket(options?.data, slot.bun);
  slot.accepted = {
    headers: handshakeHeaders(request, undefined, options?.headers),
    open: (make) => attachments.get(socket)!(make),
  };
  return true;
}

/** Makes a socket's endpoint once its 101 is sent. */
type MakeEndpoint = (events: EndpointEvents, maxMessage?: number) => Endpoint;

/** How `upgradeBun` opens the sockets it made (kept out of their public members). */
const attachments = new WeakMap<XioServerWebSocket, (make: MakeEndpoint) => void>();

/** A WebSocket of Bun's model: what the `websocket` handlers get, shaped like Bun's `ServerWebSocket`. */
export class XioServerWebSocket {
  /** What the upgrade's `data` gave. */
  data: unknown;
  /** How binary messages reach `message`: `"nodebuffer"` (a Buffer, the default), `"arraybuffer"` or `"uint8array"`. */
  binaryType: "nodebuffer" | "arraybuffer" | "uint8array" = "nodebuffer";
  #endpoint: Endpoint | undefined;
  #host: BunHost;
  #topics = new Set<string>();

  /** Internal: made by `server.upgrade`. */
  constructor(data: unknown, host: BunHost) {
    this.data = data;
    this.#host = host;
    attachments.set(this, (make) => this.#attach(make));
  }

  /** The peer's address: a process on this machine. */
  get remoteAddress(): string {
    return this.#host.remote;
  }

  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  get readyState(): number {
    return this.#endpoint?.state ?? CONNECTING;
  }

  /** Opens the socket once its 101 is sent. */
  #attach(make: MakeEndpoint): void {
    const handlers = this.#host.handlers;
    const events: EndpointEvents = {
      message: (data) =>
        report(handlers.message?.(this, typeof data === "string" ? data : this.#binary(data))),
      close: (code, reason) => {
        for (const topic of this.#topics) this.unsubscribe(topic);
        report(handlers.close?.(this, code, reason));
      },
      drain: () => report(handlers.drain?.(this)),
    };
    this.#endpoint = make(events, handlers.maxPayloadLength);
    report(handlers.open?.(this));
  }

  #binary(bytes: Uint8Array<ArrayBuffer>): unknown {
    if (this.binaryType === "arraybuffer") return wholeBuffer(bytes);
    if (this.binaryType === "uint8array") return bytes;
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /**
   * Sends a message (a string as text, bytes as binary). Returns the bytes sent, -1 if they wait
   * for the receiver (backpressure: `drain` follows), or 0 if the socket is closed.
   */
  send(data: string | ArrayBufferLike | ArrayBufferView, _compress?: boolean): number {
    const endpoint = this.#endpoint;
    if (endpoint === undefined) return 0;
    const message = messageBytes(data);
    if (!("bytes" in message)) return 0; // (no Blobs in Bun's model)
    return endpoint.send(message.bytes, message.text);
  }

  /** Sends a text message. */
  sendText(data: string, compress?: boolean): number {
    return this.send(String(data), compress);
  }

  /** Sends a binary message. */
  sendBinary(data: ArrayBufferLike | ArrayBufferView, compress?: boolean): number {
    return this.send(typeof data === "string" ? encoder.encode(data) : data, compress);
  }

  /** Closes the socket with the closing handshake (`code` by default 1000). */
  close(code?: number, reason?: string): void {
    this.#endpoint?.close(code ?? 1000, reason ?? "");
  }

  /** Closes at once, without the handshake. */
  terminate(): void {
    this.#endpoint?.terminate();
  }

  /** Bytes queued but not yet sent. */
  getBufferedAmount(): number {
    return this.#endpoint?.bufferedAmount ?? 0;
  }

  /** Runs `callback` (sends are already batched over shared memory). */
  cork<T>(callback: (ws: this) => T): T {
    return callback(this);
  }

  /** No pings over shared memory: a dead peer is seen by its channel. Returns 0. */
  ping(_data?: unknown): number {
    return 0;
  }

  /** As {@linkcode XioServerWebSocket.ping}. */
  pong(_data?: unknown): number {
    return 0;
  }

  /** Joins `topic`: the server's and other sockets' `publish` to it reach this socket. */
  subscribe(topic: string): void {
    if (this.readyState === CLOSED) return;
    this.#topics.add(topic);
    let set = this.#host.topics.get(topic);
    if (set === undefined) this.#host.topics.set(topic, set = new Set());
    set.add(this);
  }

  /** Leaves `topic`. */
  unsubscribe(topic: string): void {
    this.#topics.delete(topic);
    const set = this.#host.topics.get(topic);
    set?.delete(this);
    if (set?.size === 0) this.#host.topics.delete(topic);
  }

  /** Whether this socket is subscribed to `topic`. */
  isSubscribed(topic: string): boolean {
    return this.#topics.has(topic);
  }

  /** The topics this socket is subscribed to. */
  get subscriptions(): string[] {
    return [...this.#topics];
  }

  /** Sends `data` to every other socket subscribed to `topic`; returns the bytes sent, or 0. */
  publish(topic: string, data: string | ArrayBufferLike | ArrayBufferView, compress?: boolean): number {
    return publish(this.#host, topic, data, compress, this);
  }

  /** As {@linkcode XioServerWebSocket.publish}, as text. */
  publishText(topic: string, data: string, compress?: boolean): number {
    return this.publish(topic, String(data), compress);
  }

  /** As {@linkcode XioServerWebSocket.publish}, as binary. */
  publishBinary(topic: string, data: ArrayBufferLike | ArrayBufferView, compress?: boolean): number {
    return this.publish(topic, data, compress);
  }

  /** "ServerWebSocket", as Bun's says. */
  get [Symbol.toStringTag](): string {
    return "ServerWebSocket";
  }
}

/** Sends `data` to the sockets subscribed to `topic` (but `except`); returns the bytes of one message, or 0. */
export function publish(
  host: BunHost,
  topic: string,
  data: string | ArrayBufferLike | ArrayBufferView,
  compress?: boolean,
  except?: unknown,
): number {
  const set = host.topics.get(topic);
  let sent = 0;
  for (const socket of set ?? []) {
    if (socket === except) continue;
    const n = socket.send(data, compress);
    if (n !== 0) sent = n;
  }
  return sent;
}

export { OPEN };
