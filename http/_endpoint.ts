/**
 * WebSocket messages over one stream of a wire, after its 101: what both ends of a WebSocket
 * share, whichever API they show (the WHATWG `WebSocket`, `Deno.upgradeWebSocket`'s socket, or
 * Bun's `ServerWebSocket`).
 *
 * - A message is one DATA frame, or several for a message over DATA_MAX bytes (all but the last
 *   flagged FLAG_MORE), with FLAG_TEXT on a text message. Text is UTF-8.
 * - The sender spends credit as a body sender does (bytes plus FRAME_CHARGE per frame) and waits
 *   for WINDOW frames once it has WS_WINDOW in flight; what waits is queued in this process and
 *   counted in `bufferedAmount`. Shared memory never holds more than a window per socket.
 * - The receiver copies each frame out as it arrives (a text message is decoded straight from
 *   shared memory), releases it, and returns credit every half window.
 * - Closing is RFC 6455's handshake: each side sends one CLOSE frame, the second in answer to the
 *   first, and the stream is over once both are sent. A wire that fails (the peer died, its
 *   channel closed) closes every socket on it with 1006.
 *
 * No pings: a dead peer is seen by the channel itself, within the domain's death-detection bound.
 *
 * @module
 */

import { clearTimeout, setTimeout } from "node:timers";
import type { SharedBuffer } from "../zero_copy/mod.ts";
import { ClosedError } from "../errors.ts";
import {
  FLAG_MORE,
  FLAG_TEXT,
  FRAME_CLOSE,
  FRAME_RESET,
  FRAME_WINDOW,
  type FrameReader,
  HEADER_BYTES,
  RESET_CANCEL,
} from "./_frames.ts";
import { DATA_MAX, FRAME_CHARGE, type StreamHandler, type Wire } from "./_wire.ts";
import type { BunWebSocketHandler } from "./_bun_socket.ts";

/** Credit a WebSocket sender starts with, in bytes (FRAME_CHARGE per frame included). */
export const WS_WINDOW = 1024 * 1024;
/** The largest message a socket accepts by default: 64 MiB. */
export const MESSAGE_MAX = 64 * 1024 * 1024;
/** How long a socket that sent its CLOSE waits for the answer before it gives up (1006). */
export const CLOSE_TIMEOUT_MS = 5000;
/** The most bytes of a close reason, as RFC 6455 bounds it. */
export const REASON_MAX = 123;

/** The states of a WebSocket, as `readyState` gives them. */
export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

const decoder = new TextDecoder("utf-8", { fatal: true });
export const encoder = new TextEncoder();

/** `bytes` decoded, or undefined if they are not UTF-8. */
function utf8(bytes: Uint8Array): string | undefined {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** What an endpoint tells the socket that shows it. */
export interface EndpointEvents {
  /** A whole message: a string, or bytes of its own (a fresh ArrayBuffer). */
  message(data: string | Uint8Array<ArrayBuffer>): void;
  /** The socket closed: cleanly (both CLOSE frames) or not (1006). Called once. */
  close(code: number, reason: string, clean: boolean): void;
  /** What was queued for lack of credit has all gone out. */
  drain?(): void;
}

/** A message (or a close) waiting for credit or for a buffer. */
interface Outgoing {
  bytes: Uint8Array | Promise<Uint8Array>;
  text: boolean;
  /** How much of it has gone out. */
  at: number;
  /** A CLOSE frame to send in order after the messages before it. */
  close?: { code: number; reason: string };
}

/** One WebSocket's messages on a wire stream. It exists from the 101 on, so it starts OPEN. */
export class Endpoint implements StreamHandler {
  readonly wire: Wire;
  readonly id: number;
  #state = OPEN;
  #events: EndpointEvents;
  #onDone: () => void;
  #maxMessage: number;
  #credit = WS_WINDOW;
  #consumed = 0;
  #queue: Outgoing[] = [];
  #queued = 0;
  #pumping = false;
  #wake: (() => void) | undefined;
  /** The fragments of a message that has not ended yet. */
  #parts: Uint8Array[] | undefined;
  #partsLength = 0;
  #partsText = false;
  #sentClose = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(wire: Wire, id: number, events: EndpointEvents, onDone: () => void, maxMessage = MESSAGE_MAX) {
    this.wire = wire;
    this.id = id;
    this.#events = events;
    this.#onDone = onDone;
    this.#maxMessage = maxMessage;
  }

  get state(): number {
    return this.#state;
  }

  /** Bytes of messages accepted but not yet in shared memory. */
  get bufferedAmount(): number {
    return this.#queued;
  }

  /**
   * Sends a message: at once if its credit and buffers are there, otherwise in order later.
   * Returns the bytes sent at once, -1 if some wait in the queue, 0 if the socket is not open
   * (the message is dropped), as Bun's `ServerWebSocket.send` counts.
   */
  send(bytes: Uint8Array, text: boolean): number {
    if (this.#state !== OPEN || this.#sentClose) return 0;
    const message: Outgoing = { bytes, text, at: 0 };
    if (this.#queue.length === 0 && this.#write(message)) return Math.max(bytes.length, 1);
    // The caller may change its bytes once send returns: what waits is a copy.
    const rest = bytes.slice(message.at);
    message.bytes = rest;
    message.at = 0;
    this.#enqueue(message, rest.length);
    return -1;
  }

  /** Sends a message whose bytes come later (a Blob's), in order after those before it. */
  sendLater(bytes: Promise<Uint8Array>, size: number, text: boolean): void {
    if (this.#state !== OPEN || this.#sentClose) return;
    this.#enqueue({ bytes, text, at: 0 }, size);
  }

  /** Starts the closing handshake (code 0: none given). Messages queued before it go first. */
  close(code: number, reason: string): void {
    if (this.#state !== OPEN || this.#sentClose) return;
    this.#state = CLOSING;
    if (this.#queue.length === 0) this.#sendClose(code, reason);
    else this.#enqueue({ bytes: new Uint8Array(0), text: false, at: 0, close: { code, reason } }, 0);
  }

  /** Ends at once, without the handshake: the peer sees its stream reset (1006 there and here). */
  terminate(): void {
    if (this.#state === CLOSED) return;
    this.wire.control(FRAME_RESET, this.id, RESET_CANCEL);
    this.#end(1006, "", false);
  }

  // --- StreamHandler ---

  onHeaders(): void {
    this.#fail(1002, "headers on an open WebSocket");
  }

  onData(buffer: SharedBuffer, _end: boolean): boolean {
    const flags = buffer.capacityBytes[1];
    const n = buffer.length - HEADER_BYTES;
    try {
      // Messages after a CLOSE (sent or received) are dropped, as WebSocket has it.
      if (this.#state !== OPEN) return false;
      const text = (flags & FLAG_TEXT) !== 0;
      const more = (flags & FLAG_MORE) !== 0;
      if (this.#partsLength + n > this.#maxMessage) {
        this.#parts = undefined;
        this.#partsLength = 0;
        this.close(1009, "Message too big");
        return false;
      }
      let whole: string | Uint8Array<ArrayBuffer> | undefined;
      if (!more && this.#parts === undefined) {
        const view = buffer.capacityBytes.subarray(HEADER_BYTES, HEADER_BYTES + n);
        if (text) whole = utf8(view);
        else {
          whole = new Uint8Array(n);
          whole.set(view);
        }
      } else {
        const part = new Uint8Array(n);
        buffer.copyTo(part, HEADER_BYTES);
        if (this.#parts === undefined) {
          this.#parts = [];
          this.#partsText = text;
        }
        this.#parts.push(part);
        this.#partsLength += n;
        if (more) return false;
        const joined = new Uint8Array(this.#partsLength);
        let at = 0;
        for (const p of this.#parts) {
          joined.set(p, at);
          at += p.length;
        }
        this.#parts = undefined;
        this.#partsLength = 0;
        whole = this.#partsText ? utf8(joined) : joined;
      }
      if (whole === undefined) {
        this.#fail(1007, "A text message is not valid UTF-8");
        return false;
      }
      this.#events.message(whole);
      return true;
    } finally {
      buffer.release();
      this.#took(n + FRAME_CHARGE);
    }
  }

  onEnd(): void {
    // A stream that ends without the handshake: the peer went away uncleanly.
    this.#end(1006, "", false);
  }

  onReset(_error: Error): void {
    this.#end(1006, "", false);
  }

  onWindow(bytes: number): void {
    this.#credit += bytes;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  onClose(frame: FrameReader): void {
    if (this.#state === CLOSED) return;
    const given = frame.u16();
    const reason = frame.string();
    const code = given === 0 ? 1005 : given;
    if (!this.#sentClose) {
      // The answer echoes the code, as RFC 6455 asks; what is still queued is dropped.
      this.#dropQueue();
      this.#sendClose(given, "");
    }
    this.#end(code, reason, true);
  }

  // --- sending ---

  /** Writes as much of `message` as credit and free buffers allow; true once all of it went. */
  #write(message: Outgoing): boolean {
    const bytes = message.bytes as Uint8Array;
    const wire = this.wire;
    const flags = message.text ? FLAG_TEXT : 0;
    do {
      const at = message.at;
      const end = Math.min(bytes.length, at + DATA_MAX);
      const cost = end - at + FRAME_CHARGE;
      if (this.#credit < cost) return false;
      if (
        !wire.trySendData(this.id, bytes.subarray(at, end), end < bytes.length ? flags | FLAG_MORE : flags)
      ) {
        return false;
      }
      this.#credit -= cost;
      message.at = end;
    } while (message.at < bytes.length);
    return true;
  }

  #enqueue(message: Outgoing, size: number): void {
    this.#queue.push(message);
    this.#queued += size;
    if (!this.#pumping) {
      this.#pumping = true;
      this.#pump().catch(() => {}); // a failed wire closes the socket (onReset)
    }
  }

  async #pump(): Promise<void> {
    let waited = false;
    try {
      while (this.#queue.length > 0 && this.#state !== CLOSED) {
        const head = this.#queue[0];
        if (head.bytes instanceof Promise) head.bytes = await head.bytes;
        if (head.close !== undefined) {
          this.#queue.shift();
          this.#sendClose(head.close.code, head.close.reason);
          continue;
        }
        const before = head.at;
        const done = this.#write(head);
        this.#queued -= head.at - before;
        if (done) {
          this.#queue.shift();
          continue;
        }
        waited = true;
        const bytes = head.bytes;
        const end = Math.min(bytes.length, head.at + DATA_MAX);
        const cost = end - head.at + FRAME_CHARGE;
        if (this.#credit < cost) {
          await new Promise<void>((resolve) => (this.#wake = resolve));
          continue;
        }
        // Credit, but no free buffer: wait for one.
        const flags = (head.text ? FLAG_TEXT : 0) | (end < bytes.length ? FLAG_MORE : 0);
        await this.wire.sendData(this.id, bytes.subarray(head.at, end), flags);
        this.#credit -= cost;
        this.#queued -= end - head.at;
        head.at = end;
        if (end === bytes.length) this.#queue.shift();
      }
    } finally {
      this.#pumping = false;
    }
    if (waited && this.#state === OPEN && this.#queue.length === 0) this.#events.drain?.();
  }

  #dropQueue(): void {
    this.#queue.length = 0;
    this.#queued = 0;
  }

  #sendClose(code: number, reason: string): void {
    if (this.#sentClose) return;
    this.#sentClose = true;
    this.wire.frame(FRAME_CLOSE, 0, this.id).u16(code).string(reason);
    try {
      this.wire.send()?.catch(() => {});
    } catch {
      // The wire failed: onReset closes the socket.
    }
    if (this.#state !== CLOSED) {
      this.#closeTimer = setTimeout(() => this.terminate(), CLOSE_TIMEOUT_MS);
      this.#closeTimer.unref?.();
    }
  }

  // --- receiving ---

  #took(bytes: number): void {
    this.#consumed += bytes;
    if (this.#consumed >= WS_WINDOW / 2 && this.#state !== CLOSED) {
      this.wire.control(FRAME_WINDOW, this.id, this.#consumed);
      this.#consumed = 0;
    }
  }

  /** Fails the connection, as RFC 6455 has it: a CLOSE with `code`, and the socket closes. */
  #fail(code: number, reason: string): void {
    this.#dropQueue();
    this.#state = CLOSING;
    this.#sendClose(code, reason);
  }

  #end(code: number, reason: string, clean: boolean): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    this.#dropQueue();
    this.#parts = undefined;
    this.onWindow(0); // a pump waiting for credit sees the end
    this.#onDone();
    this.#events.close(code, reason, clean);
  }
}

/**
 * A request that may become a WebSocket: what the server learns from the handler's upgrade
 * call (`upgradeWebSocket`, or Bun's `server.upgrade`), found by the request.
 */
export interface UpgradeSlot {
  /** Set by the upgrade call: the 101's headers, and what to open once it is sent. */
  accepted: {
    headers: Headers;
    open: (endpoint: (events: EndpointEvents) => Endpoint) => void;
    response?: Response;
  } | undefined;
  /** Bun's `websocket` handlers of the serving server, if it was given some. */
  readonly bun: BunHost | undefined;
  /** Called when the handler answered with something other than the upgrade. */
  refused?: () => void;
}

/** What Bun's model needs of its server: the handlers and the topics of its sockets. */
export interface BunHost {
  readonly handlers: BunWebSocketHandler;
  readonly topics: Map<string, Set<BunSocketLike>>;
  readonly remote: string;
}

/** A Bun socket as the topics hold it. */
export interface BunSocketLike {
  send(data: string | ArrayBufferLike | ArrayBufferView, compress?: boolean): number;
}

/** The upgrade slots of requests that asked for a WebSocket, while their handler runs. */
export const upgradeSlots: WeakMap<Request, UpgradeSlot> = new WeakMap();

/** Whether `request` asks for a WebSocket over shared memory (and has not been answered yet). */
export function slotOf(request: Request): UpgradeSlot | undefined {
  const slot = upgradeSlots.get(request);
  return slot !== undefined && slot.accepted === undefined ? slot : undefined;
}

/** Throws unless `reason` fits in a CLOSE frame. */
export function checkReason(reason: string): void {
  if (encoder.encode(reason).length > REASON_MAX) {
    throw new DOMException(`A close reason may be at most ${REASON_MAX} bytes of UTF-8`, "SyntaxError");
  }
}

/** The bytes of a message to send, and whether it is text. Blobs are read later. */
export function messageBytes(
  data: string | ArrayBufferLike | ArrayBufferView | Blob,
): { bytes: Uint8Array; text: boolean } | { later: Promise<Uint8Array>; size: number } {
  if (typeof data === "string") return { bytes: encoder.encode(data), text: true };
  if (ArrayBuffer.isView(data)) {
    return { bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), text: false };
  }
  if (data instanceof Blob) {
    return { later: data.arrayBuffer().then((b) => new Uint8Array(b)), size: data.size };
  }
  if (
    data instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer === "function" && data instanceof SharedArrayBuffer)
  ) {
    return { bytes: new Uint8Array(data), text: false };
  }
  return { bytes: encoder.encode(String(data)), text: true };
}

export { ClosedError };
