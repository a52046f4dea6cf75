/**
 * WebSocket messages over one stream of a wire, after its 101: what both ends of a WebSocket
 * share, whichever API they show (the WHATWG `WebSocket`, `Deno.upgradeWebSocket`'s socket, or
 * Bun's `ServerWebSocket`).
 *
 * - A message is one DATA frame, or several for a message over DATA_MAX bytes (all but the last
 *   flagged FLAG_MORE; the first starts with the whole length), with FLAG_TEXT on a text message.
 *   Text is UTF-8. The small messages that follow the first of a task are packed into one frame
 *   of records (FLAG_PACKED), sent as the task's microtasks end.
 * - Messages are handed out as the runtime's own WebSocket hands them out: in Bun the pending
 *   microtasks run between two (`adapter.drainMicrotasks`), in Deno all that arrived go at once.
 * - The sender spends credit as a body sender does (bytes plus FRAME_CHARGE per frame) and waits
 *   for WINDOW frames once it has WS_WINDOW in flight; what waits is queued in this process and
 *   counted in `bufferedAmount`. Shared memory never holds more than a window per socket.
 * - The receiver copies each frame out as it arrives (a text message is decoded straight from
 *   shared memory), releases it, and returns credit every eighth of a window.
 * - Closing is RFC 6455's handshake: each side sends one CLOSE frame, the second in answer to the
 *   first, and the stream is over once both are sent. A wire that fails (the peer died, its
 *   channel closed) closes every socket on it with 1006.
 *
 * No pings: a dead peer is seen by the channel itself, within the domain's death-detection bound.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { clearTimeout, setTimeout } from "node:timers";
import { adapter } from "../runtime/mod.ts";
import type { SharedBuffer } from "../zero_copy/mod.ts";
import { ClosedError } from "../errors.ts";
import {
  FLAG_MORE,
  FLAG_PACKED,
  FLAG_TEXT,
  FRAME_CLOSE,
  FRAME_RESET,
  FRAME_WINDOW,
  type FrameReader,
  HEADER_BYTES,
  LENGTH_BYTES,
  readLength,
  RESET_CANCEL,
} from "./_frames.ts";
import { DATA_MAX, FRAME_CHARGE, type StreamHandler, type Wire } from "./_wire.ts";
import type { BunWebSocketHandler } from "./_bun_socket.ts";

/** Credit a WebSocket sender starts with, in bytes (FRAME_CHARGE per frame included). */
export const WS_WINDOW = 2 * 1024 * 1024;
/** The largest message a socket accepts by default: 64 MiB. */
export const MESSAGE_MAX = 64 * 1024 * 1024;
/** How long a socket that sent its CLOSE waits for the answer before it gives up (1006). */
export const CLOSE_TIMEOUT_MS = 5000;
/** The most bytes of a close reason, as RFC 6455 bounds it. */
export const REASON_MAX = 123;

/** Messages of up to this many bytes sent in one task travel packed in one frame. */
const PACK_MAX = 8 * 1024;
/** A packed record's header: u32, the length with bit 31 for text. */
const RECORD_BYTES = 4;
const RECORD_TEXT = 0x80000000;
const EMPTY = new Uint8Array(0);

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

/** The frame of a message that goes next. */
interface NextFrame {
  end: number;
  flags: number;
  total: number | undefined;
  cost: number;
  chunk: Uint8Array;
}

/** A message (or a close) waiting for credit or for a buffer. */
interface Outgoing {
  bytes: Uint8Array | Promise<Uint8Array>;
  text: boolean;
  /** A frame of packed records (see `#flush`). */
  packed: boolean;
  /** How much of `bytes` has gone out. */
  at: number;
  /** Where `bytes` starts in the message (what went out before it had to wait), and the message's length. */
  base: number;
  total: number;
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
  /** Small messages sent in this task, packed into one frame when it ends (see `#flush`). */
  #pack: Uint8Array = EMPTY;
  #packed = 0;
  #packCount = 0;
  /** Whether a message went at once in this task (the rest of the task's small ones are packed). */
  #sentInTask = false;
  #taskEnded = (): void => {
    this.#sentInTask = false;
  };
  /** A message of several frames being received: its bytes so far, and where the next go. */
  #partial: Uint8Array<ArrayBuffer> | undefined;
  #partialAt = 0;
  #partialText = false;
  #sentClose = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The frame that goes next (see `#plan`), reused from frame to frame. */
  #next: NextFrame = { end: 0, flags: 0, total: undefined, cost: 0, chunk: EMPTY };

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
    return this.#queued + this.#packed;
  }

  /**
   * Sends a message: at once if its credit and buffers are there, otherwise in order later.
   * Small messages sent in one task travel packed in one frame, sent as the task ends. Returns
   * the bytes sent (or packed), -1 if some wait in the queue, 0 if the socket is not open (the
   * message is dropped), as Bun's `ServerWebSocket.send` counts.
   */
  send(bytes: Uint8Array, text: boolean): number {
    if (this.#state !== OPEN || this.#sentClose) return 0;
    try {
      return this.#send(bytes, text);
    } catch {
      // The wire failed (the peer died, its channel closed): as a socket does, the message is
      // lost, and the socket closes with 1006 as the wire tells its streams.
      return 0;
    }
  }

  #send(bytes: Uint8Array, text: boolean): number {
    const size = bytes.length;
    if (size <= PACK_MAX) {
      // The first message of a task goes at once (an answer waits for no flush); those that
      // follow it in the same task are packed, and go together as the task ends.
      if (!this.#sentInTask && this.#packCount === 0 && this.#queue.length === 0) {
        this.#sentInTask = true;
        queueMicrotask(this.#taskEnded);
        const message: Outgoing = { bytes, text, at: 0, base: 0, total: size, packed: false };
        if (this.#write(message)) return Math.max(size, 1);
        // No credit or no buffer: it waits, packed like those after it.
      }
      if (this.#packed + RECORD_BYTES + size > DATA_MAX) this.#flush();
      this.#packRecord(bytes, text);
      return this.#queue.length === 0 ? Math.max(size, 1) : -1;
    }
    if (this.#packed > 0) this.#flush();
    const message: Outgoing = { bytes, text, at: 0, base: 0, total: size, packed: false };
    if (this.#queue.length === 0 && this.#write(message)) return size;
    // The caller may change its bytes once send returns: what waits is a copy of what is left.
    message.bytes = bytes.slice(message.at);
    message.base = message.at;
    message.at = 0;
    this.#enqueue(message, size - message.base);
    return -1;
  }

  /** Sends a message whose bytes come later (a Blob's), in order after those before it. */
  sendLater(bytes: Promise<Uint8Array>, size: number, text: boolean): void {
    if (this.#state !== OPEN || this.#sentClose) return;
    if (this.#packed > 0) this.#flush();
    this.#enqueue({ bytes, text, at: 0, base: 0, total: size, packed: false }, size);
  }

  /** Starts the closing handshake (code 0: none given). Messages queued before it go first. */
  close(code: number, reason: string): void {
    if (this.#state !== OPEN || this.#sentClose) return;
    this.#state = CLOSING;
    if (this.#packed > 0) this.#flush();
    if (this.#queue.length === 0) this.#sendClose(code, reason);
    else {
      this.#enqueue({
        bytes: EMPTY,
        text: false,
        at: 0,
        base: 0,
        total: 0,
        packed: false,
        close: { code, reason },
      }, 0);
    }
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

  onData(buffer: SharedBuffer, _end: boolean): void {
    const flags = buffer.capacityBytes[1];
    const n = buffer.length - HEADER_BYTES;
    const charge = n + FRAME_CHARGE;
    try {
      // Messages after a CLOSE (sent or received) are dropped, as WebSocket has it.
      if (this.#state !== OPEN) return this.#took(charge);
      const bytes = buffer.capacityBytes;
      const text = (flags & FLAG_TEXT) !== 0;
      if ((flags & FLAG_PACKED) !== 0) return this.#unpack(bytes, n, charge);
      if ((flags & FLAG_MORE) !== 0 || this.#partial !== undefined) {
        return this.#fragment(buffer, n, flags, charge);
      }
      if (text) this.#arrived(utf8(bytes.subarray(HEADER_BYTES, HEADER_BYTES + n)), charge);
      else {
        const copy = new Uint8Array(n);
        buffer.copyTo(copy, HEADER_BYTES);
        this.#arrived(copy, charge);
      }
    } finally {
      buffer.release();
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

  /** Adds a small message to the frame packed in this task, scheduling its flush. */
  #packRecord(bytes: Uint8Array, text: boolean): void {
    const at = this.#packed;
    const end = at + RECORD_BYTES + bytes.length;
    if (end > this.#pack.length) {
      const bigger = new Uint8Array(Math.min(DATA_MAX, Math.max(4096, end * 2)));
      bigger.set(this.#pack.subarray(0, at));
      this.#pack = bigger;
    }
    const pack = this.#pack;
    const word = bytes.length | (text ? RECORD_TEXT : 0);
    pack[at] = word;
    pack[at + 1] = word >>> 8;
    pack[at + 2] = word >>> 16;
    pack[at + 3] = word >>> 24;
    pack.set(bytes, at + RECORD_BYTES);
    this.#packed = end;
    if (this.#packCount++ === 0) queueMicrotask(() => this.#flush());
  }

  /**
   * Sends the messages packed in this task: one alone as a frame of its own (no packing), several
   * as one frame of records.
   */
  #flush(): void {
    const count = this.#packCount;
    if (count === 0) return;
    const pack = this.#pack;
    const length = this.#packed;
    this.#packed = 0;
    this.#packCount = 0;
    if (this.#state === CLOSED) return;
    let message: Outgoing;
    if (count === 1) {
      const word = pack[0] | (pack[1] << 8) | (pack[2] << 16) | (pack[3] << 24);
      const text = (word & RECORD_TEXT) !== 0;
      const bytes = pack.subarray(RECORD_BYTES, length);
      message = { bytes, text, at: 0, base: 0, total: bytes.length, packed: false };
    } else {message = {
        bytes: pack.subarray(0, length),
        text: false,
        at: 0,
        base: 0,
        total: length,
        packed: true,
      };}
    try {
      if (this.#queue.length === 0 && this.#write(message)) return;
    } catch {
      return; // the wire failed: onReset closes the socket
    }
    // (Nothing of it went: a packed frame or a small message is one frame.)
    message.bytes = (message.bytes as Uint8Array).slice(); // the scratch is reused
    this.#enqueue(message, message.bytes.length);
  }

  /**
   * Works out the frame of `message` that goes next, into `#next`: where it ends, its flags, the
   * whole length if it is the first of several (so that the receiver sets the bytes aside once),
   * and its cost in credit. (`bytes` is the message from `base` on: what was left of it when it
   * had to wait.)
   */
  #plan(message: Outgoing): void {
    const bytes = message.bytes as Uint8Array;
    const at = message.at;
    const first = message.base + at === 0 && message.total > DATA_MAX;
    const end = Math.min(bytes.length, at + (first ? DATA_MAX - LENGTH_BYTES : DATA_MAX));
    const next = this.#next;
    next.end = end;
    next.flags = (message.packed ? FLAG_PACKED : message.text ? FLAG_TEXT : 0) |
      (end < bytes.length ? FLAG_MORE : 0);
    next.total = first ? message.total : undefined;
    next.cost = end - at + FRAME_CHARGE;
    next.chunk = at === 0 && end === bytes.length ? bytes : bytes.subarray(at, end);
  }

  /** Writes as much of `message` as credit and free buffers allow; true once all of it went. */
  #write(message: Outgoing): boolean {
    const next = this.#next;
    do {
      this.#plan(message);
      if (this.#credit < next.cost) return false;
      if (!this.wire.trySendData(this.id, next.chunk, next.flags, next.total)) return false;
      this.#credit -= next.cost;
      message.at = next.end;
    } while (message.at < (message.bytes as Uint8Array).length);
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
        this.#plan(head);
        const next = this.#next;
        if (this.#credit < next.cost) {
          await new Promise<void>((resolve) => (this.#wake = resolve));
          continue;
        }
        // Credit, but no free buffer: this frame waits for one.
        const { end, cost } = next;
        await this.wire.sendData(this.id, next.chunk, next.flags, next.total);
        this.#credit -= cost;
        this.#queued -= end - head.at;
        head.at = end;
        if (end === head.bytes.length) this.#queue.shift();
      }
    } finally {
      this.#pumping = false;
    }
    if (waited && this.#state === OPEN && this.#queue.length === 0) this.#events.drain?.();
  }

  #dropQueue(): void {
    this.#queue.length = 0;
    this.#queued = 0;
    this.#packed = 0;
    this.#packCount = 0;
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

  /** A frame of records: small messages, each handed out in order. */
  #unpack(bytes: Uint8Array, n: number, charge: number): void {
    const end = HEADER_BYTES + n;
    // The whole frame is checked before any of its messages is handed out.
    for (let at = HEADER_BYTES; at < end;) {
      if (end - at < RECORD_BYTES) return this.#fail(1002, "A packed frame is truncated");
      at += RECORD_BYTES + (record(bytes, at) & ~RECORD_TEXT);
      if (at > end) return this.#fail(1002, "A packed message runs past its frame");
    }
    let at = HEADER_BYTES;
    while (at < end) {
      const word = record(bytes, at);
      const length = word & ~RECORD_TEXT;
      at += RECORD_BYTES;
      const view = bytes.subarray(at, at + length);
      at += length;
      // The frame's credit goes back with its last message.
      this.#arrived((word & RECORD_TEXT) !== 0 ? utf8(view) : copyOf(view), at === end ? charge : 0);
      if (this.#state !== OPEN) return;
    }
  }

  /** A frame of a message of several. */
  #fragment(buffer: SharedBuffer, n: number, flags: number, charge: number): void {
    const bytes = buffer.capacityBytes;
    let from = HEADER_BYTES;
    let length = n;
    if (this.#partial === undefined) {
      if (n < LENGTH_BYTES) return this.#fail(1002, "A first fragment is truncated");
      const total = readLength(bytes, HEADER_BYTES);
      if (total > this.#maxMessage) {
        this.#took(charge);
        return this.#fail(1009, "Message too big");
      }
      // (Not zeroed first: every byte is written before anyone sees it.)
      const whole = Buffer.allocUnsafeSlow(total);
      this.#partial = new Uint8Array(whole.buffer, whole.byteOffset, total);
      this.#partialAt = 0;
      this.#partialText = (flags & FLAG_TEXT) !== 0;
      from += LENGTH_BYTES;
      length -= LENGTH_BYTES;
    }
    const partial = this.#partial;
    if (this.#partialAt + length > partial.length) {
      return this.#fail(1002, "A message is longer than it said");
    }
    buffer.copyTo(partial.subarray(this.#partialAt, this.#partialAt + length), from);
    this.#partialAt += length;
    this.#took(charge);
    if ((flags & FLAG_MORE) !== 0) return;
    this.#partial = undefined;
    if (this.#partialAt !== partial.length) return this.#fail(1002, "A message is shorter than it said");
    this.#arrived(this.#partialText ? utf8(partial) : partial, 0);
  }

  /**
   * A whole message arrived (undefined: text that is not UTF-8): it is handed out now. Where the
   * runtime's own WebSocket runs the microtasks between two messages (Bun), so does this, so
   * that code awaiting one message sees it before the next is handed out.
   */
  #arrived(message: string | Uint8Array<ArrayBuffer> | undefined, charge: number): void {
    this.#took(charge);
    if (message === undefined) return this.#fail(1007, "A text message is not valid UTF-8");
    this.#events.message(message);
    adapter.drainMicrotasks?.();
  }

  #took(bytes: number): void {
    this.#consumed += bytes;
    if (this.#consumed >= WS_WINDOW / 8 && this.#state !== CLOSED) {
      this.wire.control(FRAME_WINDOW, this.id, this.#consumed);
      this.#consumed = 0;
    }
  }

  /** Fails the connection, as RFC 6455 has it: a CLOSE with `code`, and the socket closes. */
  #fail(code: number, reason: string): void {
    this.#dropQueue();
    this.#partial = undefined;
    if (this.#state === OPEN) this.#state = CLOSING;
    this.#sendClose(code, reason);
  }

  #end(code: number, reason: string, clean: boolean): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    this.#dropQueue();
    this.#partial = undefined;
    this.onWindow(0); // a pump waiting for credit sees the end
    this.#onDone();
    this.#events.close(code, reason, clean);
  }
}

/** The ArrayBuffer of exactly `bytes` (a received message's bytes fill theirs, unless assembled in a larger one). */
export function wholeBuffer(bytes: Uint8Array<ArrayBuffer>): ArrayBuffer {
  const buffer = bytes.buffer;
  return bytes.byteOffset === 0 && buffer.byteLength === bytes.byteLength
    ? buffer
    : buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

/** A copy of `view` that outlives the shared buffer. */
function copyOf(view: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(view.length);
  out.set(view);
  return out;
}

/** A packed record's header word at `at`. */
function record(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
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
  // (A Uint8Array as it is: a new view would cost an object, and in JSC its buffer's materialising.)
  if (data instanceof Uint8Array) return { bytes: data, text: false };
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
