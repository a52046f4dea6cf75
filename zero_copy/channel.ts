/**
 * {@linkcode Channel}: one end of a connection, a pair of lock-free rings that carry buffers.
 *
 * @module
 */

import { Const, Flag, PollMode as PollCode, Status } from "../ffi/mod.ts";
import * as check from "../_check.ts";
import { BufferStateError, ClosedError } from "../errors.ts";
import * as wake from "./_wake.ts";
import { type Core, POLITE_AFTER_MS, SIDE_CLIENT, type Waiter } from "./_core.ts";
import { kCore, kCreate, kDisown, kWake } from "./_internal.ts";
import { statusError } from "./_status.ts";
import type { SharedBuffer } from "./buffer.ts";
import type { ChannelOptions, PollMode } from "./types.ts";

const BATCH_MAX = Const.batchMax;

/** A pending `recv()`. */
interface Receiver {
  resolve: (message: SharedBuffer | null) => void;
  reject: (error: unknown) => void;
}

/** Bytes per cache-line pair of a ring header (layout.zig, `RingHeader`). */
const RING_LINE_BYTES = Const.ringLineBytes;
/** The code of each poll mode, as an end records it for inspectors (abi.zig, `PollMode`). */
const POLL_MODES: Record<PollMode, number> = {
  event: PollCode.event,
  adaptive: PollCode.adaptive,
  spin: PollCode.spin,
};
/** The f64 word of a ring header that holds `notified_at` (layout.zig, `RingHeader`). */
const NOTIFIED_AT = Const.ringNotifiedAtOffset / 8;
/** How long a sender waiting for room in its ring polls before it parks, in ms. */
const ROOM_POLL_MS = 0.2;
/** The first poll for an answer, before a channel has learned how soon its answers come, in ms. */
const FIRST_REPLY_POLL_MS = 0.2;
/** The longest an event channel polls for news it did not ask for (no send since), in ms. */
const IDLE_POLL_MAX_MS = 0.1;
/** Polling lasts twice the expected wait, plus this margin, in ms. */
const POLL_SLACK_MS = 0.02;

/**
 * One end of a connection: a pair of lock-free rings in shared memory. Messages are
 * {@linkcode SharedBuffer}s; sending moves ownership, so nothing is copied. A channel is an
 * async iterable of the messages it receives.
 *
 * Non-blocking calls (`tryRecv`, `trySend`, `tryAlloc` and their bulk forms) never allocate JS
 * objects; use them for the hot path. The async forms wait with backpressure.
 */
export class Channel implements AsyncIterable<SharedBuffer>, Disposable {
  /** The service this channel connects to. */
  readonly service: string;
  /** `"client"` for the side that connected, `"server"` for the side that accepted. */
  readonly side: "client" | "server";
  /** How a waiting receiver learns that data arrived. */
  readonly poll: PollMode;
  /** The channel slot index in the domain (the same on both sides). */
  readonly index: number;
  #core: Core;
  #side: number;
  #waiters: Waiter[] = [];
  #closed = false;
  #refed = true;
  #holding = false;
  #waiting = false;
  #failure: Error | undefined;
  #spinMs: number;
  #polite = false;
  // What the channel learns, to poll only while polling pays (see `#pollWindow`).
  /** The cap on a poll window in ms; 0 never polls (and outside event mode). */
  #pollMs: number;
  /** Whether this side sent since it last received: its next wait is for an answer. */
  #sentSinceRecv = false;
  /** Whether this side's last send rang the peer's doorbell (the peer was asleep). */
  #rang = false;
  /** Pending `recv()` calls, served in order. */
  #receivers: Receiver[] = [];
  /** How long answers took to arrive after a send, in ns (moving average; -1: unknown). */
  #replyNs = -1;
  /** How long news took to arrive when none was asked for, in ns (moving average; -1: unknown). */
  #idleNs = -1;
  /** Whether the current wait is for an answer (this side had sent). */
  #expectReply = false;
  /** When the current wait began (CLOCK_MONOTONIC ns), or -1 when nothing is to be learned. */
  #waitFromNs = -1;
  /** The receive ring's header, as u32 words: [0] its tail (producer), [32] its head (consumer). */
  #ring: Uint32Array;
  /** The same header as f64 words: [34] when the peer last woke this side (see `RingHeader`). */
  #timing: Float64Array;
  /** This channel's receive as the poller sees it while it polls the ring unarmed. */
  #polled: wake.PolledReceiver;

  /** @internal A channel on slot `index`, on `side` (SIDE_CLIENT or SIDE_SERVER). */
  static [kCreate](
    core: Core,
    index: number,
    side: number,
    service: string,
    options: Required<ChannelOptions>,
  ): Channel {
    return new Channel(core, index, side, service, options);
  }

  /** @internal The channel has news (or closed): serves its waiting receives and sends. */
  [kWake](): void {
    if (this.#receivers.length > 0) this.#deliver();
    const list = this.#waiters;
    if (list.length > 0) {
      this.#waiters = [];
      for (const wake of list) wake();
    }
    this.#hold();
  }

  private constructor(
    core: Core,
    index: number,
    side: number,
    service: string,
    options: Required<ChannelOptions>,
  ) {
    this.#core = core;
    this.index = index;
    this.#side = side;
    this.side = side === SIDE_CLIENT ? "client" : "server";
    this.service = service;
    const poll = options.poll;
    this.poll = poll;
    this.#spinMs = poll === "spin" ? 1 : poll === "adaptive" ? core.spinMs : 0;
    // Every mode polls for news it expects soon before it parks; adaptive and spin spin first.
    this.#pollMs = options.pollMicros / 1000;
    const ring = core.sym.xio_ring_offset(core.handle, index, 1 - side);
    this.#ring = new Uint32Array(core.memory, ring, (3 * RING_LINE_BYTES) / 4);
    this.#timing = new Float64Array(core.memory, ring, (3 * RING_LINE_BYTES) / 8);
    // For inspectors (`xio stat`): how this end waits, in the ring it consumes.
    Atomics.store(this.#ring, Const.ringPollModeOffset / 4, POLL_MODES[poll]);
    const waiting = () => this.#receivers.length > 0 && !this.#closed;
    this.#polled = {
      handle: core,
      get waiting() {
        return waiting();
      },
      ready: () => Atomics.load(this.#ring, 0) !== Atomics.load(this.#ring, RING_LINE_BYTES / 4),
      deliver: () => this[kWake](),
      arm: () => {
        const ready = core.sym.xio_arm_recv(core.handle, this.index, this.#side);
        if (ready !== 0) this[kWake]();
        else wake.waiting(core);
      },
    };
  }

  /** Whether `close()` was called (or the domain closed). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Allocates a buffer of `size` bytes, waiting while the pool is empty. */
  alloc(size: number): Promise<SharedBuffer> {
    return this.#core.alloc(size);
  }

  /** Allocates a buffer of `size` bytes, or returns `undefined` if the pool is empty. */
  tryAlloc(size: number): SharedBuffer | undefined {
    return this.#core.tryAlloc(size);
  }

  /**
   * Allocates up to `count` buffers of `size` bytes into `out` (which grows as needed) without
   * waiting. Returns how many it allocated (0 when the pool is empty).
   */
  tryAllocMany(size: number, out: SharedBuffer[], count: number = BATCH_MAX): number {
    const core = this.#core;
    core.assertOpen();
    check.integer("An allocation's size", size, 0, check.U32_MAX);
    check.integer("tryAllocMany's count", count, 0, 2 ** 31);
    let done = 0;
    while (done < count) {
      const n = core.sym.xio_alloc_many(core.handle, size, Math.min(count - done, BATCH_MAX));
      if (n === Status.wouldBlock) break;
      if (n < 0) throw core.allocError(n, size);
      for (let i = 0; i < n; i++) out[done + i] = core.adopt(core.io[2 + 2 * i], size);
      done += n;
    }
    return done;
  }

  /**
   * Sends `buffer` to the peer, waiting while the ring is full. The buffer is no longer usable
   * afterwards, whatever happens: if the send fails (the peer closed, reset or died), the buffer
   * goes back to the pool before the promise rejects, so that code which only awaits the send
   * never leaks it. Sending a buffer received on another channel forwards it without a copy.
   */
  async send(buffer: SharedBuffer): Promise<void> {
    try {
      if (this.trySend(buffer)) return;
      if (this.#spinMs > 0 && this.#spinSend(buffer)) return;
      while (!this.trySend(buffer)) await this.#wait(false);
    } catch (error) {
      // Ours to give back only if it was ours to send (not a buffer of another handle, say).
      if (buffer.owned && buffer[kCore] === this.#core) buffer.release();
      throw error;
    }
  }

  /**
   * Sends `buffer` if the ring has room; returns false (keeping the buffer) if it is full. If it
   * throws (the channel is gone), the buffer is still the caller's.
   */
  trySend(buffer: SharedBuffer): boolean {
    const core = this.#core;
    this.#checkSendable(buffer);
    const code = core.sym.xio_send(core.handle, this.index, this.#side, buffer.id, buffer.length);
    if (code >= 0) {
      buffer[kDisown]();
      this.#sentSinceRecv = true;
      this.#rang = code === 1;
      if (this.#receivers.length > 0) this.#answerDue();
      return true;
    }
    if (code === Status.wouldBlock) return false;
    throw this.#error(code);
  }

  /**
   * Sends `buffers[0..count)` as far as the ring has room, with one native call per 256. Returns
   * how many were sent; those are no longer usable.
   */
  trySendMany(buffers: readonly SharedBuffer[], count: number = buffers.length): number {
    check.integer("trySendMany's count", count, 0, buffers.length);
    const core = this.#core;
    const io = core.io;
    let done = 0;
    while (done < count) {
      const n = Math.min(count - done, BATCH_MAX);
      for (let i = 0; i < n; i++) {
        const buffer = buffers[done + i];
        this.#checkSendable(buffer);
        io[2 + 2 * i] = buffer.id;
        io[3 + 2 * i] = buffer.length;
      }
      const sent = core.sym.xio_send_many(core.handle, this.index, this.#side, n);
      if (sent === Status.wouldBlock) break;
      if (sent < 0) throw this.#error(sent);
      for (let i = 0; i < sent; i++) buffers[done + i][kDisown]();
      done += sent;
      if (sent < n) break;
    }
    if (done > 0) {
      this.#sentSinceRecv = true;
      if (this.#receivers.length > 0) this.#answerDue();
    }
    return done;
  }

  /**
   * Receives the next message, waiting for one. Resolves to `null` once the peer has closed its
   * sending side and every message before that was received.
   */
  recv(): Promise<SharedBuffer | null> {
    try {
      if (this.#closed) throw this.#closedError();
      // Behind earlier waiting calls, in order.
      if (this.#receivers.length > 0) return this.#enqueue();
      if (this.#spinMs > 0) {
        const message = this.tryRecv() ?? this.#spin();
        if (message !== undefined) return Promise.resolve(message);
      }
      return this.#receiveOrWait();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * One native call receives a message or, if none is ready, arms the ring and parks the process
   * (unless it is to poll): on the path of a process woken from idle every call costs
   * microseconds, so this path makes as few as it can.
   */
  #receiveOrWait(): Promise<SharedBuffer | null> {
    const core = this.#core;
    const reply = this.#sentSinceRecv;
    const window = this.#pollWindow(reply);
    if (window > 0) {
      // Poll the ring itself, unarmed: the peer's sends then cost it no notification.
      const message = this.tryRecv();
      if (message !== undefined) return Promise.resolve(message);
      this.#beginWait(reply);
      const waiting = this.#enqueue();
      // An answer from a peer that this side's last send woke (it rang its doorbell) is taken
      // before the event loop runs, as the peer usually runs on this very core meanwhile; the
      // poller takes the rest.
      if (!(reply && this.#rang && wake.pollNow(this.#polled))) {
        wake.pollRing(this.#polled, performance.now() + window);
      }
      return waiting;
    }
    const park = !wake.pollerRunning() && !core.parked;
    const code = core.sym.xio_recv_wait(core.handle, this.index, this.#side, park ? 1 : 0);
    if (code >= 0) {
      this.#sentSinceRecv = false;
      return Promise.resolve(core.adopt(code, core.io[0]));
    }
    if (code === Status.closed) return Promise.resolve(null);
    if (code !== Status.wouldBlock) throw this.#error(code);
    if (park) core.parked = true;
    this.#beginWait(reply);
    const waiting = this.#enqueue();
    if (core.io[1] !== 0) wake.rung(core); // news arrived as it parked
    return waiting;
  }

  /** A receive begins to wait: for an answer (`reply`), or for news unasked. */
  #beginWait(reply: boolean): void {
    this.#expectReply = reply;
    this.#waitFromNs = this.#pollMs > 0 ? this.#core.sym.xio_now_ns() : -1;
  }

  #enqueue(): Promise<SharedBuffer | null> {
    return new Promise((resolve, reject) => {
      this.#receivers.push({ resolve, reject });
      this.#hold();
    });
  }

  /** The channel has news: hands ready messages to waiting receivers, in order. */
  #deliver(): void {
    const core = this.#core;
    const receivers = this.#receivers;
    while (receivers.length > 0) {
      let message: SharedBuffer | null | undefined;
      try {
        message = this.tryRecv();
        if (message === undefined) {
          // Nothing yet (a spurious event): wait on, armed again.
          const ready = core.sym.xio_arm_recv(core.handle, this.index, this.#side);
          if (ready !== 0) continue; // ready, or an error that tryRecv reports
          return;
        }
      } catch (error) {
        for (const receiver of receivers.splice(0)) receiver.reject(error);
        return;
      }
      if (message === null) {
        for (const receiver of receivers.splice(0)) receiver.resolve(null);
        return;
      }
      this.#learn();
      receivers.shift()!.resolve(message);
    }
  }

  /**
   * Receives a message if one is ready: a buffer, `undefined` if none is ready yet, or `null`
   * once the peer has closed its sending side and everything was received.
   */
  tryRecv(): SharedBuffer | null | undefined {
    const core = this.#core;
    if (this.#closed) throw this.#closedError();
    const id = core.sym.xio_recv(core.handle, this.index, this.#side);
    if (id >= 0) {
      this.#sentSinceRecv = false;
      return core.adopt(id, core.io[0]);
    }
    if (id === Status.wouldBlock) return undefined;
    if (id === Status.closed) return null;
    throw this.#error(id);
  }

  /**
   * Receives up to `max` ready messages into `out` (which grows as needed) without waiting.
   * Returns how many (0 if none is ready), or `null` once the peer has closed its sending side
   * and everything was received.
   */
  tryRecvMany(out: SharedBuffer[], max: number = BATCH_MAX): number | null {
    check.integer("tryRecvMany's max", max, 0, 2 ** 31);
    const core = this.#core;
    if (this.#closed) throw this.#closedError();
    const io = core.io;
    let done = 0;
    while (done < max) {
      const n = core.sym.xio_recv_many(core.handle, this.index, this.#side, Math.min(max - done, BATCH_MAX));
      if (n === Status.wouldBlock) break;
      if (n === Status.closed) return done > 0 ? done : null;
      if (n < 0) throw this.#error(n);
      for (let i = 0; i < n; i++) out[done + i] = core.adopt(io[2 + 2 * i], io[3 + 2 * i]);
      done += n;
    }
    if (done > 0) this.#sentSinceRecv = false;
    return done;
  }

  /** Gives `buffers[0..count)` back to the pool with one native call per 256. */
  releaseMany(buffers: readonly SharedBuffer[], count: number = buffers.length): void {
    check.integer("releaseMany's count", count, 0, buffers.length);
    const core = this.#core;
    const io = core.io;
    for (let done = 0; done < count;) {
      const n = Math.min(count - done, BATCH_MAX);
      for (let i = 0; i < n; i++) {
        const buffer = buffers[done + i];
        if (!buffer.owned) throw new BufferStateError(`Buffer ${buffer.id} was already sent or released`);
        io[2 + 2 * i] = buffer.id;
      }
      core.sym.xio_release_many(core.handle, n);
      for (let i = 0; i < n; i++) buffers[done + i][kDisown]();
      done += n;
    }
  }

  /** Messages sent on this channel that the peer has not received yet. */
  unreceived(): number {
    const core = this.#core;
    if (this.#closed) throw this.#closedError();
    const count = core.sym.xio_pending(core.handle, this.index, this.#side);
    if (count < 0) throw this.#error(count);
    return count;
  }

  /**
   * Waits until fewer than `max` sent messages are still unreceived: flow control for a sender
   * that should not run far ahead of its reader. Rejects if the channel is reset or closed.
   */
  async waitUnreceived(max: number): Promise<void> {
    check.integer("waitUnreceived's max", max, 1, 2 ** 31);
    if (this.unreceived() < max) return;
    if (this.#spinMs > 0) {
      const start = this.#spinStart();
      for (let i = 1; this.#pace(i, start); i++) {
        if (this.unreceived() < max) return;
      }
    }
    while (this.unreceived() >= max) {
      this.#checkPeer();
      await this.#wait(false, max);
    }
  }

  /** Lets the process exit while this channel waits (by default a wait keeps it alive). */
  unref(): void {
    this.#refed = false;
    this.#hold();
  }

  /** Undoes {@linkcode Channel.unref}: waits keep the process alive again. */
  ref(): void {
    this.#refed = true;
    this.#hold();
  }

  /** Half-closes the channel: the peer receives `null` after the messages already sent. */
  closeWrite(): void {
    if (this.#closed) throw this.#closedError();
    const core = this.#core;
    core.sym.xio_close_write(core.handle, this.index, this.#side);
  }

  /**
   * Closes this side. Messages not yet received are returned to the pool; the peer receives
   * `null` after the messages already sent. Safe to call twice.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const core = this.#core;
    core.sym.xio_chan_close(core.handle, this.index, this.#side);
    const table = this.#side === SIDE_CLIENT ? core.clients : core.servers;
    if (table[this.index] === this) table[this.index] = undefined;
    this[kWake]();
  }

  /** Closes the channel. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Yields each received message until the peer closes (or this side is closed). Release (or
   * forward) each one. A reset or corrupt channel throws.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<SharedBuffer> {
    for (;;) {
      let message: SharedBuffer | null;
      try {
        message = await this.recv();
      } catch (error) {
        if (this.#closed && this.#failure === undefined && error instanceof ClosedError) return;
        throw error;
      }
      if (message === null) return;
      yield message;
    }
  }

  /**
   * Busy-polls for a message for up to the spin window. After POLITE_AFTER_MS without one it
   * yields the core between tries, so that a spinning process does not starve the very peer it
   * waits for when processes outnumber cores.
   */
  #spin(): SharedBuffer | null | undefined {
    const start = this.#spinStart();
    for (let i = 1; this.#pace(i, start); i++) {
      const message = this.tryRecv();
      if (message !== undefined) return message;
    }
    return undefined;
  }

  /** Busy-polls for room in the ring, as `#spin` polls for a message. */
  #spinSend(buffer: SharedBuffer): boolean {
    const start = this.#spinStart();
    for (let i = 1; this.#pace(i, start); i++) {
      if (this.trySend(buffer)) return true;
    }
    return false;
  }

  /** Begins a busy-poll: full speed at first. Returns its start time. */
  #spinStart(): number {
    this.#polite = false;
    return performance.now();
  }

  /**
   * Paces the `i`-th try of a busy-poll begun at `start`: false once the spin window is over.
   * After POLITE_AFTER_MS it yields the core before each try; the clock is read every 64 tries.
   */
  #pace(i: number, start: number): boolean {
    if (this.#polite) this.#core.sym.xio_yield();
    if ((i & 63) !== 0) return true;
    const now = performance.now();
    this.#polite = now >= start + POLITE_AFTER_MS;
    return now < start + this.#spinMs;
  }

  #wait(receiving: boolean, window = 0): Promise<void> {
    const core = this.#core;
    if (this.#closed) return Promise.reject(this.#closedError());
    const ready = receiving
      ? core.sym.xio_arm_recv(core.handle, this.index, this.#side)
      : core.sym.xio_arm_send(core.handle, this.index, this.#side, window);
    // Ready, or an error that the retry will report.
    if (ready !== 0) return Promise.resolve();
    core.assertOpen();
    // Room in a ring comes back as soon as the peer reads, which it is busy doing: poll a
    // little before sleeping (the peer notifies, since the ring is armed; the poller sees it).
    if (!receiving && this.#pollMs > 0) {
      wake.pollUntilTime(performance.now() + Math.min(this.#pollMs, ROOM_POLL_MS));
    }
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#hold();
    });
  }

  /**
   * How long a receive that is about to wait should poll first, in ms (0: sleep at once): for as
   * long as news is likely to come sooner than a wake-up would. `reply`: this side has just sent,
   * so an answer is due; otherwise the news would come unasked. Each kind has its own learned
   * wait (`#learn`), and a channel polls only while that wait fits in its cap, for twice the
   * wait plus a margin, so that polling pays for itself: a paced client whose answers come
   * within a few hundred microseconds polls for them, and a service whose requests come a
   * millisecond apart sleeps between them.
   */
  #pollWindow(reply: boolean): number {
    if (this.#pollMs <= 0) return 0;
    const estimate = reply ? this.#replyNs : this.#idleNs;
    if (estimate < 0) return reply ? Math.min(this.#pollMs, FIRST_REPLY_POLL_MS) : 0;
    const cap = reply ? this.#pollMs : Math.min(this.#pollMs, IDLE_POLL_MAX_MS);
    const expected = estimate / 1e6;
    return expected <= cap ? Math.min(cap, 2 * expected + POLL_SLACK_MS) : 0;
  }

  /** This side sent while a receive waits: an answer is due from now, so poll for it. */
  #answerDue(): void {
    this.#expectReply = true;
    if (this.#waitFromNs >= 0) this.#waitFromNs = this.#core.sym.xio_now_ns();
    const window = this.#pollWindow(true);
    if (window > 0) wake.pollUntilTime(performance.now() + window);
  }

  /**
   * A receive that waited got its message: learn how long the news took to arrive, from the
   * stamps in the ring's header (when the wait began, when the peer's message woke it), so that a
   * late wake-up on this side does not make the wait look longer than it was.
   */
  #learn(): void {
    const from = this.#waitFromNs;
    if (from < 0) return;
    this.#waitFromNs = -1;
    const now = this.#core.sym.xio_now_ns();
    // A peer that woke this side stamped when; a message found by polling arrived just now.
    const notified = this.#timing[NOTIFIED_AT];
    const sample = (notified >= from && notified <= now ? notified : now) - from;
    if (!(sample >= 0 && sample < 1e9)) return;
    if (this.#expectReply) {
      this.#replyNs = this.#replyNs < 0 ? sample : this.#replyNs + (sample - this.#replyNs) / 4;
    } else this.#idleNs = this.#idleNs < 0 ? sample : this.#idleNs + (sample - this.#idleNs) / 4;
  }

  /** Holds the process open while this channel has waiters, unless unref'd. */
  #hold(): void {
    const waits = this.#waiters.length > 0 || this.#receivers.length > 0;
    const want = this.#refed && waits;
    if (want !== this.#holding) {
      this.#holding = want;
      if (want) wake.hold();
      else wake.unhold();
    }
    if (waits !== this.#waiting) {
      this.#waiting = waits;
      if (waits) {
        this.#core.waitingChannels.add(this);
        this.#core.waitBegan();
      } else {
        this.#core.waitingChannels.delete(this);
        this.#core.waitEnded();
      }
    }
  }

  /** Throws if the peer died or closed, as a send would. */
  #checkPeer(): void {
    const core = this.#core;
    const flags = core.sym.xio_flags(core.handle, this.index, this.#side);
    if (flags < 0) throw this.#error(flags);
    if ((flags & Flag.reset) !== 0) throw this.#error(Status.reset);
    const peerGone = this.#side === SIDE_CLIENT ? Flag.serverGone : Flag.clientGone;
    if ((flags & peerGone) !== 0) throw this.#error(Status.pipe);
  }

  #checkSendable(buffer: SharedBuffer): void {
    if (this.#closed) throw this.#closedError();
    if (!buffer.owned) throw new BufferStateError(`Buffer ${buffer.id} was already sent or released`);
    if (buffer[kCore] !== this.#core) {
      throw new BufferStateError(`Buffer ${buffer.id} belongs to another domain handle`);
    }
  }

  #closedError(): Error {
    // After a reset, every later call reports the reset, not just the first one.
    return this.#failure ?? new ClosedError(`Channel ${this.index} to "${this.service}" is closed`);
  }

  #error(code: number): Error {
    const core = this.#core;
    const what = `Channel ${this.index} to "${this.service}"`;
    if (code === Status.reset || code === Status.corrupt) {
      // A reset by a peer that poisoned the slot is reported as the corruption it was.
      const flags = core.sym.xio_flags(core.handle, this.index, this.#side);
      const corrupt = code === Status.corrupt || (flags >= 0 && (flags & Flag.corrupt) !== 0);
      this.#failure = statusError(corrupt ? Status.corrupt : Status.reset, what);
      this.close();
      return this.#failure;
    }
    return statusError(code, what);
  }
}
