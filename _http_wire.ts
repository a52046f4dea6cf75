/**
 * What the HTTP client and server share: a channel carrying many streams at once, each with its
 * own flow control, so that no stream waits behind another (no head-of-line blocking).
 *
 * A `Wire` owns one channel. One receive loop drains the channel as fast as frames arrive and
 * hands each to its stream; DATA frames stay in shared memory, queued on their stream, until the
 * body is read. A sender may have WINDOW_BYTES of a stream's body unread by the other side; the
 * reader returns credit with WINDOW frames as the application consumes the body.
 *
 * Between frames a receive loop waits on its channel like any receiver: it polls while frames are
 * expected soon (the channel learns when; see `Channel` in zero_copy.ts) and otherwise sleeps on
 * the process's doorbell, so that a busy connection sees a frame within microseconds and an idle
 * one costs nothing.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import type { Channel, SharedBuffer } from "./zero_copy.ts";
import {
  FLAG_END,
  FRAME_DATA,
  FRAME_END,
  FRAME_REQUEST,
  FRAME_RESET,
  FRAME_RESPONSE,
  FRAME_VERSION,
  FRAME_WINDOW,
  FrameError,
  FrameReader,
  FrameWriter,
  HEADER_BYTES,
  RESET_ERROR,
} from "./_http_frames.ts";

/** Body bytes one stream may have in flight before its sender waits for credit. */
export const WINDOW_BYTES = 256 * 1024;
/** The largest DATA payload: a 64 KiB buffer less the frame header. */
export const DATA_MAX = 65536 - HEADER_BYTES;
/**
 * What each DATA frame costs of a stream's credit beyond its bytes: a frame holds a whole pooled
 * buffer however few bytes it carries, so credit counted in bytes alone would let a stream of
 * one-byte chunks hold a quarter of a million buffers and empty the pool's small classes for
 * every process. With this charge a stream holds at most WINDOW_BYTES / FRAME_CHARGE frames.
 * Sender and receiver count it alike (part of frame format version 1).
 */
export const FRAME_CHARGE = 4096;
/** Bodies up to this size travel inside the headers frame when they are complete. */
export const INLINE_MAX = 16 * 1024;
/**
 * Frames a receive loop hands out per event-loop turn. Small batches keep both sides busy at
 * once: the first responses of a batch already set off new requests while the rest are still
 * being handled, instead of each side waiting for the other's whole batch.
 */
const BATCH = 16;

const nextMacrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Receives the frames of one stream. */
export interface StreamHandler {
  /** A HEADERS frame (copied out) arrived. Only the first frame of a stream. */
  onHeaders(frame: FrameReader, end: boolean): void;
  /** A DATA frame: the handler owns `buffer` (payload after the frame header). */
  onData(buffer: SharedBuffer, end: boolean): void;
  /** END, or DATA with the end flag, was handled by onData. */
  onEnd(): void;
  /** The peer reset the stream, or the wire failed. */
  onReset(error: Error): void;
  /** The peer granted `bytes` more credit. */
  onWindow(bytes: number): void;
}

/** One channel, many streams. */
export class Wire {
  readonly channel: Channel;
  readonly streams = new Map<number, StreamHandler>();
  #frames = new FrameWriter();
  #queue: SharedBuffer[] = [];
  #pumping: Promise<void> | undefined;
  #failed: Error | undefined;
  #onUnknown: (frame: FrameReader) => void;
  #onClose: (error: Error | undefined) => void;
  /** Resolves when the receive loop ends. */
  readonly done: Promise<void>;

  /** `channel` polls as it was opened to (its `pollMicros`). */
  constructor(
    channel: Channel,
    onUnknown: (frame: FrameReader) => void,
    onClose: (error: Error | undefined) => void,
  ) {
    this.channel = channel;
    this.#onUnknown = onUnknown;
    this.#onClose = onClose;
    // Start on the next microtask, so that the owner has stored the wire before frames arrive.
    this.done = Promise.resolve().then(() => this.#receive());
  }

  get failed(): Error | undefined {
    return this.#failed;
  }

  /** Starts a frame; `send()` then ships it. */
  frame(type: number, flags: number, stream: number): FrameWriter {
    return this.#frames.start(type, flags, stream);
  }

  /**
   * Copies the frame built with `frame()` into a shared buffer and sends it in order. Returns
   * a promise only when the send has to wait (for a buffer, or for room in the ring).
   */
  send(): Promise<void> | undefined {
    const bytes = this.#frames.finish();
    const buffer = this.channel.tryAlloc(bytes.length);
    if (buffer === undefined) return this.#sendLater(bytes.slice()); // the scratch is reused
    buffer.copyFrom(bytes);
    this.#ship(buffer);
    return this.#pumping;
  }

  async #sendLater(bytes: Uint8Array): Promise<void> {
    const buffer = await this.channel.alloc(bytes.length);
    buffer.copyFrom(bytes);
    this.#ship(buffer);
    if (this.#pumping !== undefined) await this.#pumping;
  }

  /** Sends a DATA frame of `chunk` (at most DATA_MAX bytes) directly from the caller's bytes. */
  async sendData(stream: number, chunk: Uint8Array, end: boolean): Promise<void> {
    const channel = this.channel;
    const size = HEADER_BYTES + chunk.length;
    const buffer = channel.tryAlloc(size) ?? await channel.alloc(size);
    const header = this.#frames.start(FRAME_DATA, end ? FLAG_END : 0, stream).finish();
    buffer.copyFrom(header);
    buffer.copyFrom(chunk, HEADER_BYTES);
    this.#ship(buffer);
    if (this.#pumping !== undefined) await this.#pumping;
  }

  /** Sends a small control frame (END, RST or WINDOW) without waiting. */
  control(type: number, stream: number, value?: number): void {
    if (this.#failed !== undefined) return;
    const frames = this.#frames.start(type, type === FRAME_END ? FLAG_END : 0, stream);
    if (value !== undefined) frames.u32(value);
    try {
      this.send()?.catch(() => {});
    } catch {
      // The wire failed; its streams have been told.
    }
  }

  #ship(buffer: SharedBuffer): void {
    if (this.#failed !== undefined) {
      buffer.release();
      throw this.#failed;
    }
    if (this.#queue.length === 0) {
      let sent: boolean;
      try {
        sent = this.channel.trySend(buffer);
      } catch (error) {
        // The channel is gone (the peer closed it, or died): the buffer is still ours. (The
        // receive loop fails the wire when it sees the channel closed.)
        buffer.release();
        throw error;
      }
      if (sent) return;
    }
    this.#queue.push(buffer);
    this.#pumping ??= this.#pump();
  }

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        await this.channel.send(this.#queue[0]);
        this.#queue.shift();
      }
    } catch (error) {
      this.#fail(error as Error);
    } finally {
      this.#pumping = undefined;
    }
  }

  async #receive(): Promise<void> {
    const channel = this.channel;
    const batch: SharedBuffer[] = [];
    let error: Error | undefined;
    // The batch's frames not yet handed out: released here if the wire fails midway.
    let next = 0;
    let n: number | null = 0;
    try {
      for (;;) {
        n = channel.tryRecvMany(batch, BATCH);
        if (n === null) break;
        const waited = n === 0;
        if (waited) {
          const one = await channel.recv();
          if (one === null) break;
          batch[0] = one;
          n = 1;
        }
        for (next = 0; next < n;) this.#dispatch(batch[next++]);
        // While frames keep coming, what these set off (the application's next requests,
        // timers, I/O) runs before more are handed out, so that both sides work at once. (Not
        // after a frame that was waited for: an event-loop turn costs more than a whole request
        // from an idle VM, and the next frame is not there yet anyway.)
        if (!waited) await nextMacrotask();
      }
    } catch (e) {
      error = e as Error;
      for (; next < (n ?? 0); next++) batch[next].release();
    }
    this.#fail(error ?? new Error("The peer closed the connection"));
    // The wire is over either way: give its channel back to the domain (a channel open on one
    // side only holds a slot of the domain's channel table for good).
    this.channel.close();
    this.#onClose(error);
  }

  #dispatch(buffer: SharedBuffer): void {
    if (buffer.length < HEADER_BYTES) {
      buffer.release();
      throw new FrameError(`A frame of ${buffer.length} bytes arrived`);
    }
    // The header is read in place: eight bytes of the shared buffer this process now owns.
    // (Through the whole-buffer view: a view of the message length would be a new object per
    // frame, kept by the pooled buffer until its next use, and promoted by the young GC.)
    const header = buffer.capacityBytes;
    if (header[2] !== FRAME_VERSION) {
      // A peer that frames differently (another release of this library): every frame of it
      // would be misread, so the connection ends here with a typed error.
      const version = header[2];
      buffer.release();
      throw new FrameError(
        `The peer speaks HTTP frame version ${version}; this process speaks ${FRAME_VERSION}`,
      );
    }
    const type = header[0];
    const end = (header[1] & FLAG_END) !== 0;
    const stream = (header[4] | (header[5] << 8) | (header[6] << 16) | (header[7] << 24)) >>> 0;
    const handler = this.streams.get(stream);
    if (type === FRAME_DATA && handler !== undefined) {
      handler.onData(buffer, end);
      return;
    }
    // Every other frame is small and is read in place; handlers copy out what they keep.
    const frame = new FrameReader(header, buffer.length);
    try {
      if (handler === undefined) {
        this.#onUnknown(frame);
        return;
      }
      switch (type) {
        case FRAME_END:
          handler.onEnd();
          break;
        case FRAME_RESET:
          handler.onReset(new Error(`The peer reset stream ${stream} (reason ${frame.u32()})`));
          break;
        case FRAME_WINDOW:
          handler.onWindow(frame.u32());
          break;
        case FRAME_REQUEST:
        case FRAME_RESPONSE:
          handler.onHeaders(frame, end);
          break;
        default:
          throw new FrameError(`A frame of unknown type ${type} arrived on stream ${stream}`);
      }
    } catch (error) {
      // A malformed frame ends its stream, not the connection.
      if (!(error instanceof FrameError)) throw error;
      this.streams.get(stream)?.onReset(error);
      this.streams.delete(stream);
      this.control(FRAME_RESET, stream, RESET_ERROR);
    } finally {
      buffer.release();
    }
  }

  #fail(error: Error): void {
    if (this.#failed !== undefined) return;
    this.#failed = error;
    for (const buffer of this.#queue.splice(0)) buffer.release();
    for (const handler of [...this.streams.values()]) handler.onReset(error);
    this.streams.clear();
  }

  /** Fails every stream and closes the channel. */
  close(error: Error = new Error("The connection was closed")): void {
    this.#fail(error);
    this.channel.close();
  }
}

/**
 * The most this process holds of the shared pools in bodies that nobody has read yet; beyond it,
 * arriving DATA frames are copied out (see `BodyQueue.push`). A quarter of a default domain's
 * 64 KiB buffers.
 */
export const HELD_BYTES_MAX = 64 * 65536;
let heldBytes = 0;

/** Bytes this process holds in shared buffers of unread bodies (for tests). */
export function bodyBytesHeld(): number {
  return heldBytes;
}

/** The payload bytes of a queued DATA frame. */
function partLength(part: SharedBuffer | Uint8Array): number {
  return part instanceof Uint8Array ? part.length : part.length - HEADER_BYTES;
}

/** Copies a queued frame's payload from `from` into `target` (as much as fits). */
function copyPart(part: SharedBuffer | Uint8Array, target: Uint8Array, from: number): void {
  if (part instanceof Uint8Array) {
    target.set(part.subarray(from, from + Math.min(target.length, part.length - from)));
  } else part.copyTo(target, HEADER_BYTES + from);
}

function releasePart(part: SharedBuffer | Uint8Array): void {
  if (part instanceof Uint8Array) return;
  heldBytes -= part.capacity;
  part.release();
}

/**
 * The receiving side of a body: DATA buffers queued in shared memory, read out on demand, with
 * credit returned to the sender as they are consumed.
 */
export class BodyQueue {
  /** DATA frames not read yet: in shared memory, or copied out (see `push`). */
  #parts: (SharedBuffer | Uint8Array)[] = [];
  #offset = 0;
  #ended = false;
  #direct = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #consumed = 0;
  #credit: (bytes: number) => void;

  constructor(credit: (bytes: number) => void) {
    this.#credit = credit;
  }

  /**
   * Queues a DATA frame. While this process already holds HELD_BYTES_MAX of shared buffers in
   * bodies nobody has read, the frame's bytes are copied out and its buffer goes back at once:
   * one process that leaves bodies unread (each within its window) cannot empty the pool that
   * every other process needs.
   */
  push(buffer: SharedBuffer): void {
    if (this.#error !== undefined) {
      buffer.release();
      return;
    }
    if (heldBytes + buffer.capacity > HELD_BYTES_MAX) {
      const copy = new Uint8Array(buffer.length - HEADER_BYTES);
      buffer.copyTo(copy, HEADER_BYTES);
      buffer.release();
      this.#parts.push(copy);
    } else {
      heldBytes += buffer.capacity;
      this.#parts.push(buffer);
    }
    this.#notify();
  }

  end(): void {
    this.#ended = true;
    this.#notify();
  }

  /** Whether the body ended and was read to its end: nothing is left to release or to fail. */
  get drained(): boolean {
    return this.#ended && this.#parts.length === 0 && this.#error === undefined;
  }

  fail(error: Error): void {
    this.#error ??= error;
    for (const part of this.#parts.splice(0)) releasePart(part);
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** The next chunk of the body (copied out of shared memory), or null at its end. */
  async next(max = 65536): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#error !== undefined) throw this.#error;
      const head = this.#parts[0];
      if (head !== undefined) {
        const size = partLength(head);
        const n = Math.min(size - this.#offset, max);
        const out = new Uint8Array(n);
        copyPart(head, out, this.#offset);
        this.#offset += n;
        let charge = n;
        if (this.#offset === size) {
          this.#parts.shift();
          releasePart(head);
          this.#offset = 0;
          charge += FRAME_CHARGE; // the frame is done
        }
        this.#took(charge);
        if (n > 0) return out;
        continue;
      }
      if (this.#ended) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /**
   * The rest of the body in one buffer, copied straight out of shared memory: no chunks, no
   * stream. `sizeHint` (the declared length) sizes the buffer up front; it grows past it if
   * the body is longer.
   */
  async readAll(sizeHint = 0): Promise<Uint8Array<ArrayBuffer>> {
    this.#direct = true;
    let out = new Uint8Array(sizeHint);
    let length = 0;
    for (;;) {
      if (this.#error !== undefined) throw this.#error;
      const head = this.#parts.shift();
      if (head === undefined) {
        if (this.#ended) break;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      const n = partLength(head) - this.#offset;
      if (length + n > out.length) {
        const bigger = new Uint8Array(Math.max(length + n, out.length * 2));
        bigger.set(out.subarray(0, length));
        out = bigger;
      }
      copyPart(head, out.subarray(length), this.#offset);
      releasePart(head);
      this.#offset = 0;
      length += n;
      this.#took(n + FRAME_CHARGE);
    }
    return length === out.length ? out : out.slice(0, length);
  }

  /** Whether `readAll` took the body (the queue is read without its stream). */
  get readingDirectly(): boolean {
    return this.#direct;
  }

  /** Counts `bytes` as read, and returns credit to the sender every half window. */
  #took(bytes: number): void {
    this.#consumed += bytes;
    if (this.#consumed >= WINDOW_BYTES / 2) {
      this.#credit(this.#consumed);
      this.#consumed = 0;
    }
  }

  /** A ReadableStream over the queue; cancelling it calls `onCancel`. */
  stream(onCancel: () => void): ReadableStream<Uint8Array> {
    return new ReadableStream({
      type: "bytes",
      pull: async (controller) => {
        try {
          const chunk = await this.next();
          if (chunk === null) controller.close();
          else controller.enqueue(chunk);
        } catch (error) {
          controller.error(error);
        }
      },
      cancel: () => {
        this.fail(new Error("The body was cancelled"));
        onCancel();
      },
    });
  }
}

/** What `directBody` needs of a Request or a Response. */
interface Message {
  readonly headers: Headers;
  readonly body: ReadableStream<Uint8Array<ArrayBuffer>> | null;
  readonly bodyUsed: boolean;
  arrayBuffer(): Promise<ArrayBuffer>;
  bytes(): Promise<Uint8Array<ArrayBuffer>>;
  text(): Promise<string>;
  json(): Promise<unknown>;
  blob(): Promise<Blob>;
  formData(): Promise<FormData>;
  clone(): Message;
}

/** A Request or Response class. */
// deno-lint-ignore no-explicit-any
type MessageClass = new (...args: any[]) => Message;

/** The largest declared body length that is set aside up front (a longer body grows into more). */
const SIZE_HINT_MAX = 64 * 1024 * 1024;
const decoder = new TextDecoder();

/** The runtime's own getter `name` on `proto` or the prototypes above it. */
export function nativeGetter(proto: object, name: string): (this: unknown) => unknown {
  for (let p: object | null = proto; p !== null; p = Object.getPrototypeOf(p)) {
    const get = Object.getOwnPropertyDescriptor(p, name)?.get;
    if (get !== undefined) return get;
  }
  throw new TypeError(`${name} is not a getter of this class`);
}

/**
 * Gives a Request or Response class a direct way to read a whole body that is still queued in
 * shared memory: `arrayBuffer()`, `bytes()`, `text()` and `json()` copy its buffers straight
 * into one buffer, instead of through the body's ReadableStream (a fresh chunk, a second copy
 * and a few promises per 64 KiB, and one more copy to join the chunks). Once the stream itself
 * was handed out, or the message cloned, the runtime's own methods read the body as usual.
 * Either way a body is read once: `bodyUsed` says so, and a second read rejects.
 */
export function directBody<B extends MessageClass>(Base: B) {
  const bodyOf = nativeGetter(Base.prototype, "body");
  const bodyUsedOf = nativeGetter(Base.prototype, "bodyUsed");
  const headersOf = nativeGetter(Base.prototype, "headers");
  return class DirectBody extends Base {
    #queue: BodyQueue | undefined;
    #declared: number | undefined;
    #used = false;
    #shared = false;
    #completed = false;

    /**
     * What the frames carried beside the message: `queue`, the source of its body stream while
     * the body is still in shared memory, for the read methods to take it from; `declared`, the
     * body's length if the sender declared one.
     */
    attachBody(queue: BodyQueue | undefined, declared: number | undefined): void {
      this.#queue = queue;
      this.#declared = declared;
    }

    /** The headers, completed on first use by `completeHeaders` (most code never looks). */
    override get headers(): Headers {
      const headers = headersOf.call(this) as Headers;
      if (!this.#completed) {
        this.#completed = true;
        this.completeHeaders(headers);
      }
      return headers;
    }

    /**
     * Adds what HTTP/1.1 would carry and the frames sent apart from the header block: the
     * declared body length as content-length, unless the sender gave its own.
     */
    completeHeaders(headers: Headers): void {
      const declared = this.#declared;
      if (declared !== undefined && !headers.has("content-length")) {
        headers.set("content-length", String(declared));
      }
    }

    override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
      this.#shared = true;
      return bodyOf.call(this) as ReadableStream<Uint8Array<ArrayBuffer>> | null;
    }

    override get bodyUsed(): boolean {
      return this.#used || (bodyUsedOf.call(this) as boolean);
    }

    override clone(): this {
      if (this.#used) throw new TypeError("The body has already been read");
      this.#shared = true;
      return super.clone() as this;
    }

    override arrayBuffer(): Promise<ArrayBuffer> {
      return this.#read()?.then((bytes) => bytes.buffer) ?? super.arrayBuffer();
    }

    override bytes(): Promise<Uint8Array<ArrayBuffer>> {
      return this.#read() ?? super.bytes();
    }

    override text(): Promise<string> {
      return this.#read()?.then((bytes) => decoder.decode(bytes)) ?? super.text();
    }

    override json(): Promise<unknown> {
      return this.#read()?.then((bytes) => JSON.parse(decoder.decode(bytes))) ?? super.json();
    }

    override blob(): Promise<Blob> {
      if (this.#used) return Promise.reject(new TypeError("The body has already been read"));
      this.#shared = true;
      return super.blob();
    }

    override formData(): Promise<FormData> {
      if (this.#used) return Promise.reject(new TypeError("The body has already been read"));
      this.#shared = true;
      return super.formData();
    }

    /** The whole body read from the queue, or undefined if the runtime's methods must read it. */
    #read(): Promise<Uint8Array<ArrayBuffer>> | undefined {
      if (this.#used) return Promise.reject(new TypeError("The body has already been read"));
      const queue = this.#queue;
      if (queue === undefined || this.#shared || bodyUsedOf.call(this)) return undefined;
      this.#used = true;
      // The declared length, else the sender's own header. (Not through `headers`: completing
      // them costs a validated header set each, for a hint.)
      const declared = this.#declared ??
        Number((headersOf.call(this) as Headers).get("content-length") ?? 0);
      const hint = Number.isSafeInteger(declared) && declared > 0 ? Math.min(declared, SIZE_HINT_MAX) : 0;
      return queue.readAll(hint);
    }
  };
}

/** Sends a body stream as DATA frames within the stream's window. */
export class BodySender {
  #credit = WINDOW_BYTES;
  #wake: (() => void) | undefined;
  #stopped: Error | undefined;
  #done = false;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;

  grant(bytes: number): void {
    this.#credit += bytes;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Stops the upload: a read waiting on the source is cancelled too (an idle source may never yield). */
  stop(error: Error): void {
    if (this.#done) return;
    this.#stopped ??= error;
    this.#reader?.cancel(error).catch(() => {});
    this.grant(0);
  }

  get stopped(): Error | undefined {
    return this.#stopped;
  }

  /** Whether the whole body was sent (its end included): nothing is left to stop. */
  get done(): boolean {
    return this.#done;
  }

  /** Sends every chunk of `body`, then END. Returns false if the stream was stopped. */
  async send(wire: Wire, stream: number, body: ReadableStream<Uint8Array>): Promise<boolean> {
    const reader = this.#reader = body.getReader();
    if (this.#stopped !== undefined) reader.cancel(this.#stopped).catch(() => {});
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (this.#stopped !== undefined) {
          reader.cancel(this.#stopped).catch(() => {});
          return false;
        }
        if (done) break;
        for (let at = 0; at < value.length; at += DATA_MAX) {
          const chunk = value.subarray(at, Math.min(value.length, at + DATA_MAX));
          if (!(await this.#take(chunk.length + FRAME_CHARGE))) {
            reader.cancel(this.#stopped).catch(() => {});
            return false;
          }
          await wire.sendData(stream, chunk, false);
        }
      }
    } finally {
      this.#reader = undefined;
      reader.releaseLock();
    }
    wire.control(FRAME_END, stream);
    this.#done = true;
    return true;
  }

  /**
   * Sends `bytes` (which the caller no longer changes) as DATA frames, the last one ending the
   * stream. Returns false if the stream was stopped.
   */
  async sendBytes(wire: Wire, stream: number, bytes: Uint8Array): Promise<boolean> {
    for (let at = 0; at < bytes.length; at += DATA_MAX) {
      const end = Math.min(bytes.length, at + DATA_MAX);
      if (!(await this.#take(end - at + FRAME_CHARGE))) return false;
      await wire.sendData(stream, bytes.subarray(at, end), end === bytes.length);
    }
    if (bytes.length === 0) wire.control(FRAME_END, stream);
    this.#done = true;
    return true;
  }

  /** Waits for `bytes` of credit and takes it; false if the stream was stopped meanwhile. */
  async #take(bytes: number): Promise<boolean> {
    while (this.#credit < bytes && this.#stopped === undefined) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    if (this.#stopped !== undefined) return false;
    this.#credit -= bytes;
    return true;
  }
}
