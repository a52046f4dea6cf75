/**
 * Socket-like byte streams over shared memory, shaped like `Deno.Conn`.
 *
 * {@linkcode connect} and {@linkcode listen} give a {@linkcode Conn} with `read`, `write`,
 * `readable`, `writable`, `closeWrite`, `close`, `localAddr`, `remoteAddr`, `ref`, `unref` and
 * `Symbol.dispose`, so code written against those members of `Deno.Conn` works unchanged. Under
 * the hood each connection is a zero-copy {@linkcode Channel}: a write copies the bytes once into
 * shared buffers, a read copies them once out, and nothing passes through the kernel.
 *
 * @example An echo service and a client
 * ```ts
 * import { connect, listen } from "@xio/core/socket";
 *
 * using listener = listen({ name: "echo-example" });
 * (async () => {
 *   for await (const conn of listener) conn.readable.pipeTo(conn.writable);
 * })();
 *
 * using conn = await connect({ name: "echo-example" });
 * await conn.write(new TextEncoder().encode("ping"));
 * const reply = new Uint8Array(4);
 * await conn.read(reply);
 * console.log(new TextDecoder().decode(reply)); // "ping"
 * ```
 *
 * @module
 */

import { runtime } from "./ffi/mod.ts";
import { ClosedError } from "./errors.ts";
import { type Channel, Domain, type Listener, type PollMode, type SharedBuffer } from "./zero_copy.ts";

/** The address of a shared-memory endpoint: a service name in a domain. */
export interface XioAddr {
  /** Always `"xio"`. */
  transport: "xio";
  /** The domain name. */
  domain: string;
  /** The service name. */
  name: string;
}

/** Options of {@linkcode listen} and {@linkcode connect}. */
export interface SocketOptions {
  /** The service name. */
  name: string;
  /**
   * The domain: a handle, or a name to open (shared by every call in this process). Default: the
   * `XIO_DOMAIN` environment variable, or `"xio"`.
   */
  domain?: Domain | string;
  /** How a waiting read learns that data arrived (default: the domain's, `"event"`). */
  poll?: PollMode;
}

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

const shared = new Map<string, Domain>();
let defaultDomain: Domain | string | undefined;
/** `XIO_DOMAIN`, read once on first use: each read is a permission-checked op in Deno. */
let envDomain: string | undefined;

/**
 * Sets the domain that {@linkcode listen}, {@linkcode connect}, `serve` and `fetch` use when
 * they are not given one. Without it they use the `XIO_DOMAIN` environment variable (read once, on
 * first use), or `"xio"`.
 *
 * @example
 * ```ts
 * import { setDefaultDomain } from "@xio/core";
 * setDefaultDomain("shop");
 * ```
 */
export function setDefaultDomain(domain: Domain | string | undefined): void {
  defaultDomain = domain;
}

/** The domain handle for `domain`, opening a shared one by name if needed. */
export function socketDomain(domain?: Domain | string): Domain {
  domain ??= defaultDomain;
  if (domain instanceof Domain) return domain;
  const name = domain ?? (envDomain ??= runtime.env("XIO_DOMAIN") ?? "xio");
  let handle = shared.get(name);
  if (handle === undefined || handle.closed) {
    handle = Domain.open({ name });
    shared.set(name, handle);
  }
  return handle;
}

/**
 * Listens on a service name. Throws {@linkcode AddrInUseError} if another process already does.
 *
 * @example
 * ```ts
 * import { listen } from "@xio/core/socket";
 * using listener = listen({ name: "listen-example" });
 * console.log(listener.addr); // { transport: "xio", domain: "xio", name: "listen-example" }
 * ```
 */
export function listen(options: SocketOptions): ConnListener {
  const domain = socketDomain(options.domain);
  return createConnListener(domain, domain.listen(options.name, { poll: options.poll }), {
    transport: "xio",
    domain: domain.name,
    name: options.name,
  });
}

/**
 * Connects to a service. Rejects at once with {@linkcode ConnectionRefusedError} if nobody
 * listens on it.
 *
 * @example
 * ```ts
 * import { connect, ConnectionRefusedError } from "@xio/core";
 * try {
 *   await connect({ name: "nobody-here" });
 * } catch (error) {
 *   console.log(error instanceof ConnectionRefusedError); // true
 * }
 * ```
 */
export async function connect(options: SocketOptions): Promise<Conn> {
  const domain = socketDomain(options.domain);
  const channel = await domain.connect(options.name, { poll: options.poll });
  const addr: XioAddr = { transport: "xio", domain: domain.name, name: options.name };
  return createConn(domain, channel, { ...addr, name: `client-${channel.index}` }, addr);
}

let createConn: (domain: Domain, channel: Channel, local: XioAddr, remote: XioAddr) => Conn;
let spillConn: (conn: Conn) => void;
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

function spillAll(domain: Domain): void {
  for (const conn of open.get(domain) ?? []) spillConn(conn);
}
let createConnListener: (domain: Domain, listener: Listener, addr: XioAddr) => ConnListener;

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
  #writable: WritableStream<Uint8Array> | undefined;

  static {
    createConn = (domain, channel, local, remote) => new Conn(domain, channel, local, remote);
    spillConn = (conn) => conn.#spill();
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
    // Reads are served one at a time, in order, like a socket's.
    const previous = this.#reading;
    const result = previous === undefined
      ? this.#read(p)
      : previous.then(() => this.#read(p), () => this.#read(p));
    const settled = result.then(() => {}, () => {});
    this.#reading = settled;
    settled.then(() => {
      if (this.#reading === settled) this.#reading = undefined;
    });
    return result;
  }

  async #read(p: Uint8Array): Promise<number | null> {
    const ready = this.tryRead(p);
    if (ready !== undefined) return ready;
    this.#receiving = true;
    let message: SharedBuffer | null;
    try {
      message = await this.#channel.recv();
    } finally {
      this.#receiving = false;
    }
    if (message === null) {
      this.#eof = true;
      return this.tryRead(p) ?? null;
    }
    this.#current = message;
    this.#offset = 0;
    return this.tryRead(p) ?? 0;
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
      if (!channel.trySend(buffer)) {
        buffer.release();
        break;
      }
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
          spillAll(this.#domain);
          buffer = await channel.alloc(chunk.length);
        }
        buffer.copyFrom(chunk);
        await channel.send(buffer);
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

  /** The bytes the peer sends, as a byte stream (BYOB readers work). */
  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: CHUNK_MAX,
      pull: async (controller) => {
        const request = controller.byobRequest!;
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

  /** A sink for bytes to send. Closing it half-closes the connection (`closeWrite`). */
  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= new WritableStream({
      write: async (chunk) => {
        await this.write(chunk);
      },
      close: async () => {
        if (!this.#closed && !this.#writeClosed) await this.closeWrite();
      },
      abort: () => this.close(),
    });
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

/** Accepts connections on a service name. Iterate it, or call `accept()`. */
export class ConnListener implements AsyncIterable<Conn>, Disposable {
  /** The address it listens on. */
  readonly addr: XioAddr;
  #listener: Listener;
  #domain: Domain;

  static {
    createConnListener = (domain, listener, addr) => new ConnListener(domain, listener, addr);
  }

  private constructor(domain: Domain, listener: Listener, addr: XioAddr) {
    this.#domain = domain;
    this.#listener = listener;
    this.addr = addr;
  }

  /** Waits for the next connection. Rejects with {@linkcode ClosedError} once closed. */
  async accept(): Promise<Conn> {
    const channel = await this.#listener.accept();
    return createConn(this.#domain, channel, this.addr, { ...this.addr, name: `client-${channel.index}` });
  }

  /** Stops listening. Safe to call twice. */
  close(): void {
    this.#listener.close();
  }

  /** Lets the process exit while `accept()` waits. */
  unref(): void {
    this.#listener.unref();
  }

  /** Undoes {@linkcode ConnListener.unref}. */
  ref(): void {
    this.#listener.ref();
  }

  /** Stops listening. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Yields each accepted connection until the listener is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<Conn> {
    for await (const channel of this.#listener) {
      yield createConn(this.#domain, channel, this.addr, { ...this.addr, name: `client-${channel.index}` });
    }
  }
}
