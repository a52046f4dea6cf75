/**
 * Bodies over the wire: the receiving side (`BodyQueue`, DATA frames queued in shared memory),
 * the sending side (`BodySender`, with credit), Request and Response classes whose bodies are
 * read without a stream (`directBody`), and the look at the start of a body that decides
 * whether it travels inside the headers frame (`peekBody`).
 *
 * @module
 */

import { clearTimeout, setImmediate, setTimeout } from "node:timers";
import type { SharedBuffer } from "../zero_copy/mod.ts";
import { ClosedError } from "../errors.ts";
import { FLAG_END, FRAME_END, HEADER_BYTES } from "./_frames.ts";
import { DATA_MAX, FRAME_CHARGE, INLINE_MAX, WINDOW_BYTES, type Wire } from "./_wire.ts";

/** Statuses whose responses have no body. */
export const NULL_BODY_STATUS: Set<number> = new Set([101, 103, 204, 205, 304]);

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
        this.fail(new ClosedError("The body was cancelled"));
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
        const bytes = chunkBytes(value);
        for (let at = 0; at < bytes.length; at += DATA_MAX) {
          const chunk = bytes.subarray(at, Math.min(bytes.length, at + DATA_MAX));
          if (!(await this.#take(chunk.length + FRAME_CHARGE))) {
            reader.cancel(this.#stopped).catch(() => {});
            return false;
          }
          await wire.sendData(stream, chunk, 0);
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
      await wire.sendData(stream, bytes.subarray(at, end), end === bytes.length ? FLAG_END : 0);
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

/**
 * Looks at the start of a body: a whole body of at most INLINE_MAX bytes that is already
 * available comes back as `inline` (it travels inside the headers frame); otherwise `stream`
 * yields the same bytes in order.
 *
 * `gather` is how a server that buffers what a stream yields at once behaves (Bun's): it waits
 * for the first chunk, takes every chunk that follows at once (up to GATHER_MAX bytes), and
 * declares the length of a body that ended meanwhile. Without it, as Deno's server does, only a
 * body that is one chunk already there is taken whole.
 */
export async function peekBody(body: ReadableStream<Uint8Array>, gather = false): Promise<Peeked> {
  const reader = body.getReader();
  if (gather) return gatherBody(reader);
  // Both reads at once, so that one short wait tells whether the body is one chunk that is
  // already there (as for `new Response("text")`). A body whose bytes are not ready yet (a
  // stream fed later) must not hold the headers back: the peer may be waiting for them.
  const first = reader.read();
  const second = reader.read();
  let a: ReadableStreamReadResult<Uint8Array> | undefined;
  let b: ReadableStreamReadResult<Uint8Array> | undefined;
  let failed = false;
  first.then((result) => (a = result), () => (failed = true));
  second.then((result) => (b = result), () => (failed = true));
  for (let turn = 0; turn < 4 && b === undefined && !failed; turn++) await null;
  if (!failed && a !== undefined) {
    // The reader is not released once the body is consumed: there is nothing left to read,
    // and releaseLock() is surprisingly costly in Deno (it builds an error for pending reads).
    if (a.done) return { inline: EMPTY_BYTES, stream: null, length: 0 };
    if (b !== undefined && b.done) {
      const bytes = chunkBytes(a.value);
      const length = bytes.length;
      if (length <= INLINE_MAX) return { inline: bytes, stream: null, length };
      return { inline: undefined, stream: resume(reader, [first, second]), length };
    }
  }
  return { inline: undefined, stream: resume(reader, [first, second]), length: undefined };
}

/** The most a gathering peek (`peekBody` with `gather`) holds before it sends what it has. */
const GATHER_MAX = 1 << 20;
/**
 * How long a gathering peek waits for a stream's first chunk, in ms. Bun's server waits for it
 * however long it takes, so that a response whose first chunk waits for something (an SSE feed's
 * first event; an echo of a request body that its client sends once it has the headers) never
 * starts; here its headers go after this wait, and its body follows as it comes.
 */
const GATHER_FIRST_MS = 20;

/**
 * What `read` gives within a few microtask turns (or, with `turn`, within one event-loop turn),
 * or undefined if it has not settled by then (or failed: whoever reads it next sees the error).
 */
async function soon(
  read: Promise<ReadableStreamReadResult<Uint8Array>>,
  turn = false,
): Promise<ReadableStreamReadResult<Uint8Array> | undefined> {
  let result: ReadableStreamReadResult<Uint8Array> | undefined;
  let settled = false;
  read.then((r) => {
    result = r;
    settled = true;
  }, () => (settled = true));
  if (turn) await new Promise<void>((resolve) => setImmediate(resolve));
  else for (let i = 0; i < 4 && !settled; i++) await null;
  return result;
}

/** The first read's result, or undefined if it did not settle within GATHER_FIRST_MS. */
function firstChunk(
  read: Promise<ReadableStreamReadResult<Uint8Array>>,
): Promise<ReadableStreamReadResult<Uint8Array> | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((
    resolve,
  ) => (timer = setTimeout(() => resolve(undefined), GATHER_FIRST_MS)));
  return Promise.race([read, late]).finally(() => clearTimeout(timer));
}

async function gatherBody(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<Peeked> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined = reader.read();
  // The first chunk is waited for, a while; each further one only while it comes at once.
  let result: ReadableStreamReadResult<Uint8Array> | undefined = await soon(pending);
  if (result === undefined) result = await firstChunk(pending);
  for (;;) {
    if (result === undefined) break; // not within the wait: the headers go now, the body after
    if (result.done) {
      pending = undefined;
      break;
    }
    const bytes = chunkBytes(result.value);
    chunks.push(bytes);
    total += bytes.length;
    if (total > GATHER_MAX) {
      pending = undefined;
      break;
    }
    pending = reader.read();
    // "At once": within an event-loop turn (a native transform, such as a CompressionStream,
    // hands over its output from outside the microtask queue).
    result = await soon(pending);
    if (result === undefined) result = await soon(pending, true);
    if (result === undefined) break; // not at once (or failed): stream the rest
  }
  const ended = result !== undefined && result.done;
  if (ended && total <= INLINE_MAX) {
    const inline = chunks.length === 1 ? chunks[0] : concat(chunks, total);
    return { inline, stream: null, length: total };
  }
  const started = chunks.map((value) =>
    Promise.resolve({ value, done: false } as ReadableStreamReadResult<Uint8Array>)
  );
  if (pending !== undefined) started.push(pending);
  return { inline: undefined, stream: resume(reader, started), length: ended ? total : undefined };
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** What `peekBody` found: a whole small body, or a stream; the length if the whole is known. */
export type Peeked =
  | { inline: Uint8Array; stream: null; length: number }
  | { inline: undefined; stream: ReadableStream<Uint8Array>; length: number | undefined };

const EMPTY_BYTES = new Uint8Array(0);
const encoder = new TextEncoder();

/**
 * A body chunk as bytes. Streams should yield Uint8Arrays, but Bun's server also sends strings
 * (as UTF-8) and any other buffer, and frameworks rely on it (Elysia streams strings from
 * generators); so do these streams, in both runtimes.
 */
function chunkBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return encoder.encode(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer || chunk instanceof SharedArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError(`A body stream yielded a ${typeof chunk}, not bytes or a string`);
}

/** A stream that yields the results of the reads already started, then the rest of `reader`. */
function resume(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  started: Promise<ReadableStreamReadResult<Uint8Array>>[],
): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await (started.shift() ?? reader.read());
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
