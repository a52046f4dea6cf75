/**
 * {@linkcode Conn}: a byte stream over a zero-copy channel, shaped like `Deno.Conn`.
 *
 * @module
 */

import { ClosedError } from "../errors.ts";
import type { Channel, Domain, SharedBuffer } from "../zero_copy/mod.ts";
import { kCreate } from "./_internal.ts";
import type { XioAddr } from "./types.ts";

/** The most a default reader of `readable` gets in one chunk. */
const READ_CHUNK_MAX = 1 << 20;
/** The largest piece a write is cut into: one 64 KiB buffer. */
const CHUNK_MAX = 65536;
/**
 * How many chunks one connection may have in flight (sent and unread, or queued in this process)
 * before its writer waits: 32 chunks, at most 2 MiB.
 */
const WINDOW_CHUNKS = 32;
/**
 * How many unread bytes one connection may copy out of shared memory when the pool runs dry: at
 * least a full send window, so that a peer's whole window can always be absorbed.
 */
const SPILL_BYTES = WINDOW_CHUNKS * CHUNK_MAX;

/**
 * Sends `buffer` if the ring has room (true), or gives it back (false). A send that throws (the
 * peer closed or died) gives it back too: the buffer is still this process's, and nothing else
 * would ever release it.
 */
function sendOrRelease(channel: Channel, buffer: SharedBuffer): boolean {
  let sent = false;
  try {
    sent = channel.trySend(buffer);
  } finally {
    if (!sent) buffer.release();
  }
  return sent;
}

/** The connection behind each `writable`, for pipes that move buffers instead of bytes. */
const writableConn = new WeakMap<WritableStream<Uint8Array>, Conn>();
/** The open connections of each domain handle, for `spillAll`. */
const open = new WeakMap<Domain, Set<Conn>>();

const chunkClass = new WeakMap<Domain, number>();

/** How many buffers the domain has of the size class that holds a whole chunk. */
function chunkBuffers(domain: Domain): number {
  let count = chunkClass.get(domain);
  if (count === undefined) {
    const fit = domain.stats().classes.find((c) => c.size >= CHUNK_MAX);
    count = fit?.total ?? 0;
    chunkClass.set(domain, count);
  }
  return count;
}

/**
 * A byte stream over shared memory with the shape of `Deno.Conn`. Reads return what is
 * available; writes of any size are cut into shared buffers (one copy in, one copy out), keep
 * their order, and wait while the peer is behind. End of stream follows `closeWrite` or `close`.
 */
export class Conn implements Disposable {
  /** This end's address. */
  readonly localAddr: XioAddr;
  /** The peer's address. */
  readonly remoteAddr: XioAddr;
  #channel: Channel;
  #current: SharedBuffer | null = null;
  #offset = 0;
  #eof = false;
  #closed = false;
  #writing: Promise<void> | undefined;
  #overflow: Uint8Array[] = [];
  #flushWaiters: (() => void)[] = [];
  #flushing: Promise<void> | undefined;
  #failure: Error | undefined;
  #writeClosed = false;
  #eofPending = false;
  #receiving = false;
  #spilled: Uint8Array[] = [];
  #spilledBytes = 0;
  #domain: Domain;
  #reading: Promise<unknown> | undefined;
  #readable: ReadableStream<Uint8Array> | undefined;
  /** Whether `readable` was ever pulled (a fast pipe is only for a stream never read). */
  #streamPulled = false;
  #writable: WritableStream<Uint8Array> | undefined;

  /** @internal A connection over `channel`, a channel of `domain`. */
  static [kCreate](domain: Domain, channel: Channel, localAddr: XioAddr, remoteAddr: XioAddr): Conn {
    return new Conn(domain, channel, localAddr, remoteAddr);
  }

  /** Copies out what the connections of `domain` hold unread, so that their buffers go back. */
  static #spillAll(domain: Domain): void {
    for (const conn of open.get(domain) ?? []) conn.#spill();
  }

  private constructor(domain: Domain, channel: Channel, localAddr: XioAddr, remoteAddr: XioAddr) {
    this.#domain = domain;
    this.#channel = channel;
    this.localAddr = localAddr;
    this.remoteAddr = remoteAddr;
    let conns = open.get(domain);
    if (conns === undefined) open.set(domain, conns = new Set());
    conns.add(this);
  }

  /**
   * Reads up to `p.length` bytes into `p`. Resolves to the number read, or `null` at end of
   * stream. Rejects with {@linkcode ConnectionResetError} if the peer died.
   */
  read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.reject(this.#closedError());
    return this.#inOrder(() => this.#read(p));
  }

  /** Runs `read` after the reads before it: reads are served one at a time, like a socket's. */
  #inOrder<T>(read: () => Promise<T>): Promise<T> {
    const previous = this.#reading;
    const result = previous === undefined ? read() : previous.then(read, read);
    const settled = result.then(() => {}, () => {});
    this.#reading = settled;
    settled.then(() => {
      if (this.#reading === settled) this.#reading = undefined;
    });
    return result;
  }

  /**
   * Waits for the next message and makes it the current one, or marks the end of the stream.
   * The read stays marked in progress until the message is stored, so that a spill (which takes
   * messages of connections nobody reads) cannot slip the next message in ahead of it.
   */
  async #receiveCurrent(): Promise<void> {
    this.#receiving = true;
    try {
      const message = await this.#channel.recv();
      if (message === null) this.#eof = true;
      else {
        this.#current = message;
        this.#offset = 0;
      }
    } finally {
      this.#receiving = false;
    }
  }

  async #read(p: Uint8Array): Promise<number | null> {
    const ready = this.tryRead(p);
    if (ready !== undefined) return ready;
    await this.#receiveCurrent();
    return this.tryRead(p) ?? (this.#eof ? null : 0);
  }

  /**
   * Reads what is available without waiting: the number of bytes read, `null` at end of stream,
   * or `undefined` if nothing has arrived yet.
   */
  tryRead(p: Uint8Array): number | null | undefined {
    this.#checkOpen();
    if (p.length === 0) return 0;
    let filled = 0;
    // Bytes spilled out of shared memory while the pool was exhausted come first.
    while (filled < p.length && this.#spilled.length > 0) {
      const head = this.#spilled[0];
      const n = Math.min(head.length, p.length - filled);
      p.set(head.subarray(0, n), filled);
      filled += n;
      this.#spilledBytes -= n;
      if (n === head.length) this.#spilled.shift();
      else this.#spilled[0] = head.subarray(n);
    }
    while (filled < p.length) {
      let current = this.#current;
      if (current === null) {
        if (this.#eof) break;
        const next = this.#channel.tryRecv();
        if (next === undefined) break;
        if (next === null) {
          this.#eof = true;
          break;
        }
        current = this.#current = next;
        this.#offset = 0;
      }
      const n = current.copyTo(filled === 0 ? p : p.subarray(filled), this.#offset);
      filled += n;
      this.#offset += n;
      if (this.#offset === current.length) {
        current.release();
        this.#current = null;
      }
    }
    if (filled > 0) return filled;
    return this.#eof ? null : undefined;
  }

  /**
   * Writes all of `p`, waiting while the peer is behind. Resolves to `p.length`. Rejects with
   * {@linkcode BrokenPipeError} if the peer closed, {@linkcode ConnectionResetError} if it died.
   */
  write(p: Uint8Array): Promise<number> {
    try {
      this.#checkWritable();
      if (this.#writing === undefined && this.#overflow.length === 0) {
        // The common case: nothing queued ahead of us and room for everything right now.
        const done = this.#sendDirect(p, 0);
        if (done === p.length) return Promise.resolve(done);
        return this.#queueWrite(p, done);
      }
      return this.#queueWrite(p, 0);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Writes as much of `p` as fits right now, without waiting. Returns the bytes written. */
  tryWrite(p: Uint8Array): number {
    this.#checkWritable();
    if (this.#writing !== undefined || this.#overflow.length > 0) return 0;
    return this.#sendDirect(p, 0);
  }

  #queueWrite(p: Uint8Array, done: number): Promise<number> {
    const previous = this.#writing;
    const writing = (async () => {
      if (previous !== undefined) await previous;
      await this.#writeRest(p, done);
    })();
    const settled = writing.catch(() => {});
    this.#writing = settled;
    settled.then(() => {
      if (this.#writing === settled) this.#writing = undefined;
    });
    return writing.then(() => p.length);
  }

  /** Sends chunks of `p` straight into shared buffers while the window and the pool allow. */
  #sendDirect(p: Uint8Array, from: number): number {
    const channel = this.#channel;
    let done = from;
    while (done < p.length) {
      const n = Math.min(p.length - done, CHUNK_MAX);
      if (channel.unreceived() >= this.#window()) break;
      const buffer = channel.tryAlloc(n);
      if (buffer === undefined) break;
      buffer.copyFrom(p.subarray(done, done + n));
      if (!sendOrRelease(channel, buffer)) break;
      done += n;
    }
    return done;
  }

  // Flow control works like a socket's send buffer. A writer waits only for its own peer: when
  // this connection has WINDOW_CHUNKS chunks in flight (sent but unread, plus queued here). It
  // never waits for the shared pool: if the pool is empty, the chunk is copied into a bounded
  // queue in this process and sent as buffers come back. Waiting on the pool would couple
  // connections: a server blocked writing on one would stop reading the others, whose unread
  // buffers are exactly what it waits for.
  async #writeRest(p: Uint8Array, from: number): Promise<void> {
    const channel = this.#channel;
    let done = from;
    while (done < p.length) {
      while (channel.unreceived() + this.#overflow.length >= this.#window()) {
        // Wait for whichever frees a slot of the window: the flusher moving a queued chunk into
        // shared memory, or the peer reading.
        if (this.#overflow.length > 0) await this.#flushed();
        else await channel.waitUnreceived(this.#window());
        this.#throwIfFailed();
        this.#checkOpen();
      }
      if (this.#overflow.length === 0) {
        const sent = this.#sendDirect(p, done);
        if (sent > done) {
          done = sent;
          continue;
        }
      }
      const n = Math.min(p.length - done, CHUNK_MAX);
      this.#overflow.push(p.slice(done, done + n));
      done += n;
      this.#flushing ??= this.#flush();
    }
  }

  /** Moves queued chunks into shared buffers as the pool allows; then sends a pending EOF. */
  async #flush(): Promise<void> {
    const channel = this.#channel;
    try {
      while (this.#overflow.length > 0) {
        const chunk = this.#overflow[0];
        let buffer = channel.tryAlloc(chunk.length);
        if (buffer === undefined) {
          // The pool is exhausted. Unread buffers of this process's connections may be what
          // holds it: copy them out so that they go back, then wait for a buffer.
          Conn.#spillAll(this.#domain);
          buffer = await channel.alloc(chunk.length);
        }
        buffer.copyFrom(chunk);
        await channel.send(buffer); // a send that fails gives the buffer back itself
        this.#overflow.shift();
        this.#notifyFlushed();
      }
      if (this.#closed) channel.close();
      else if (this.#eofPending) channel.closeWrite();
    } catch (error) {
      this.#failure ??= error as Error;
      this.#overflow.length = 0;
      if (this.#closed) channel.close();
    } finally {
      this.#flushing = undefined;
      this.#notifyFlushed();
    }
  }

  /** Resolves when the flusher has moved a chunk (or stopped). */
  #flushed(): Promise<void> {
    if (this.#flushing === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  #notifyFlushed(): void {
    const waiters = this.#flushWaiters;
    if (waiters.length === 0) return;
    this.#flushWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Copies unread messages out of shared memory into this process, up to SPILL_BYTES, and
   * releases their buffers. Only done when the pool runs dry (it costs a second copy).
   */
  #spill(): void {
    // A connection with a read in progress is being drained by its reader already; taking its
    // messages here would leave that read waiting for a wake-up that never comes.
    if (this.#closed || this.#eof || this.#receiving) return;
    while (this.#spilledBytes < SPILL_BYTES) {
      let message: SharedBuffer | null | undefined = this.#current;
      let from = this.#offset;
      if (message === null) {
        try {
          message = this.#channel.tryRecv();
        } catch {
          return; // a reset; the next read reports it
        }
        from = 0;
        if (message === undefined || message === null) return;
      }
      const copy = message.bytes.slice(from);
      message.release();
      this.#current = null;
      this.#spilled.push(copy);
      this.#spilledBytes += copy.length;
    }
  }

  /**
   * This connection's window, in chunks: WINDOW_CHUNKS, shrunk when this process has so many
   * connections that their windows would not fit in the domain's pool of 64 KiB buffers.
   */
  #window(): number {
    const fair = Math.floor(chunkBuffers(this.#domain) / (2 * (open.get(this.#domain)?.size ?? 1)));
    return Math.max(2, Math.min(WINDOW_CHUNKS, fair));
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * The bytes the peer sends, as a byte stream. A BYOB reader reads into its own buffers; a
   * default reader (`for await`, `pipeTo`, `pipeThrough`) gets each time what has arrived, up
   * to 1 MiB, as one new chunk: one copy out of shared memory and one chunk for many messages.
   */
  get readable(): ReadableStream<Uint8Array> {
    if (this.#readable !== undefined) return this.#readable;
    const stream = this.#readable = this.#byteStream();
    // `conn.readable.pipeTo(other.writable)` between two connections of one domain handle moves
    // the shared buffers themselves: a proxy or an echo copies nothing. Anything else takes the
    // standard pipe.
    const standard = stream.pipeTo;
    Object.defineProperty(stream, "pipeTo", {
      configurable: true,
      writable: true,
      value: (destination: WritableStream<Uint8Array>, options?: StreamPipeOptions): Promise<void> => {
        const target = writableConn.get(destination);
        // Only a stream that was never read: otherwise its queue may hold bytes already taken.
        if (
          target === undefined || target.#domain !== this.#domain || options?.signal !== undefined ||
          this.#streamPulled
        ) {
          return standard.call(stream, destination, options);
        }
        return this.#pipe(stream, target, destination, options ?? {});
      },
    });
    return stream;
  }

  #byteStream(): ReadableStream<Uint8Array> {
    return new ReadableStream({
      type: "bytes",
      pull: async (controller) => {
        this.#streamPulled = true;
        const request = controller.byobRequest;
        if (request === null) {
          const chunk = await this.#readChunk();
          if (chunk === null) controller.close();
          else controller.enqueue(chunk);
          return;
        }
        const view = request.view!;
        const n = await this.read(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
        if (n === null) {
          controller.close();
          request.respond(0);
        } else {
          request.respond(n);
        }
      },
      cancel: () => this.close(),
    });
  }

  /**
   * What has arrived, up to READ_CHUNK_MAX bytes, in one new buffer; waits for at least one
   * byte. Null at end of stream. Served in order with `read` calls.
   */
  #readChunk(): Promise<Uint8Array<ArrayBuffer> | null> {
    if (this.#closed) return Promise.reject(this.#closedError());
    return this.#inOrder(async () => {
      if (this.#current === null && this.#spilledBytes === 0 && !this.#eof) await this.#receiveCurrent();
      const current = this.#current;
      let size = this.#spilledBytes + (current === null ? 0 : current.length - this.#offset);
      // Every message that is already here joins the chunk, up to the limit.
      const more: SharedBuffer[] = [];
      let next: SharedBuffer | null = null;
      while (size < READ_CHUNK_MAX && !this.#eof) {
        const message = this.#channel.tryRecv();
        if (message === undefined) break;
        if (message === null) {
          this.#eof = true;
          break;
        }
        if (size + message.length > READ_CHUNK_MAX) {
          next = message;
          break;
        }
        more.push(message);
        size += message.length;
      }
      if (size === 0) return null; // end of stream
      const out = new Uint8Array(size);
      let at = 0;
      for (const part of this.#spilled) {
        out.set(part, at);
        at += part.length;
      }
      this.#spilled.length = 0;
      this.#spilledBytes = 0;
      if (current !== null) {
        at += current.copyTo(out.subarray(at), this.#offset);
        current.release();
      }
      for (const message of more) {
        at += message.copyTo(out.subarray(at));
        message.release();
      }
      this.#current = next;
      this.#offset = 0;
      return out;
    });
  }

  /** A sink for bytes to send. Closing it half-closes the connection (`closeWrite`). */
  get writable(): WritableStream<Uint8Array> {
    if (this.#writable !== undefined) return this.#writable;
    const stream = this.#writable = new WritableStream({
      write: async (chunk) => {
        await this.write(chunk);
      },
      close: async () => {
        if (!this.#closed && !this.#writeClosed) await this.closeWrite();
      },
      abort: () => this.close(),
    });
    writableConn.set(stream, this);
    return stream;
  }

  /**
   * `pipeTo` from this connection to `target` (same domain handle): each message received is sent
   * on as it is, with no copy. The streams are locked meanwhile, and the options mean what they
   * mean for any pipe: the end closes `target` (unless `preventClose`), a read error aborts it
   * (unless `preventAbort`), a write error cancels this side (unless `preventCancel`).
   */
  async #pipe(
    source: ReadableStream<Uint8Array>,
    target: Conn,
    destination: WritableStream<Uint8Array>,
    options: StreamPipeOptions,
  ): Promise<void> {
    const reader = source.getReader(); // throws (so the pipe rejects) if locked, as pipeTo does
    let writer: WritableStreamDefaultWriter<Uint8Array>;
    try {
      writer = destination.getWriter();
    } catch (error) {
      reader.releaseLock();
      throw error;
    }
    writer.releaseLock(); // the pipe writes through the connection; the lock is held below
    const held = destination.getWriter();
    try {
      for (;;) {
        let message: SharedBuffer | null;
        try {
          message = await this.#inOrder(() => this.#nextMessage());
        } catch (error) {
          if (!options.preventAbort) await held.abort(error).catch(() => {});
          throw error;
        }
        if (message === null) {
          if (!options.preventClose) await held.close();
          return;
        }
        try {
          await target.#forward(message);
        } catch (error) {
          if (!options.preventCancel) this.close();
          throw error;
        }
      }
    } finally {
      reader.releaseLock();
      held.releaseLock();
    }
  }

  /**
   * The next whole message for a pipe, or null at the end. Bytes this side holds already (spilled,
   * or the rest of a message partly read) come first, as a message of their own.
   */
  async #nextMessage(): Promise<SharedBuffer | null> {
    this.#checkOpen();
    if (this.#spilledBytes > 0 || this.#current !== null) {
      const size = Math.min(CHUNK_MAX, this.#spilledBytes + (this.#current?.length ?? 0) - this.#offset);
      const buffer = await this.#channel.alloc(size);
      const n = this.tryRead(buffer.capacityBytes.subarray(0, size)) ?? 0;
      buffer.length = n;
      return buffer;
    }
    if (this.#eof) return null;
    await this.#receiveCurrent();
    const message = this.#current;
    this.#current = null;
    return message;
  }

  /** Sends a message received on another connection of this domain, after the writes before it. */
  #forward(message: SharedBuffer): Promise<void> {
    try {
      this.#checkWritable();
    } catch (error) {
      message.release();
      return Promise.reject(error);
    }
    const previous = this.#writing;
    const writing = (async () => {
      try {
        if (previous !== undefined) await previous;
        while (this.#overflow.length > 0) await this.#flushed();
        const channel = this.#channel;
        while (channel.unreceived() >= this.#window()) {
          this.#throwIfFailed();
          this.#checkOpen();
          await channel.waitUnreceived(this.#window());
        }
        await channel.send(message);
      } catch (error) {
        if (message.owned) message.release();
        throw error;
      }
    })();
    const settled = writing.catch(() => {});
    this.#writing = settled;
    settled.then(() => {
      if (this.#writing === settled) this.#writing = undefined;
    });
    return writing;
  }

  /**
   * Half-closes: the peer reads end of stream after everything written so far. Reading goes on.
   * Resolves once the end of stream is sent.
   */
  closeWrite(): Promise<void> {
    try {
      this.#checkWritable();
    } catch (error) {
      return Promise.reject(error);
    }
    this.#writeClosed = true;
    this.#eofPending = true;
    return (async () => {
      await this.#writing;
      if (this.#flushing !== undefined) return this.#flushing.then(() => this.#throwIfFailed());
      this.#throwIfFailed();
      this.#channel.closeWrite();
    })();
  }

  /** Closes both directions. Pending reads and writes reject. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#current?.release();
    this.#current = null;
    this.#spilled.length = 0;
    open.get(this.#domain)?.delete(this);
    // Like a socket's close, data already written still goes out: if some waits in this
    // process for shared buffers, the channel closes once the flusher has sent it.
    if (this.#flushing === undefined) this.#channel.close();
  }

  /** Lets the process exit while this connection waits on a read or write. */
  unref(): void {
    this.#channel.unref();
  }

  /** Undoes {@linkcode Conn.unref}. */
  ref(): void {
    this.#channel.ref();
  }

  /** Closes the connection. */
  [Symbol.dispose](): void {
    this.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw this.#closedError();
  }

  #checkWritable(): void {
    this.#checkOpen();
    this.#throwIfFailed();
    if (this.#writeClosed) {
      throw new ClosedError(`Cannot write to "${this.remoteAddr.name}": closeWrite() was called`);
    }
  }

  #closedError(): ClosedError {
    return new ClosedError(`Connection to "${this.remoteAddr.name}" is closed`);
  }
}
