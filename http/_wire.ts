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
 * expected soon (the channel learns when; see zero_copy/channel.ts) and otherwise sleeps on
 * the process's doorbell, so that a busy connection sees a frame within microseconds and an idle
 * one costs nothing.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import type { Channel, SharedBuffer } from "../zero_copy/mod.ts";
import { ClosedError, ConnectionResetError } from "../errors.ts";
import {
  FLAG_END,
  FRAME_CLOSE,
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
  LENGTH_BYTES,
  RESET_ERROR,
  writeHeader,
  writeLength,
} from "./_frames.ts";

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

/** The bytes of a DATA frame of `chunk`, with a length before it if `total` is given. */
function dataSize(chunk: Uint8Array, total: number | undefined): number {
  return HEADER_BYTES + (total === undefined ? 0 : LENGTH_BYTES) + chunk.length;
}

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
  /** A CLOSE frame (WebSocket streams only; any other stream fails on one). */
  onClose?(frame: FrameReader): void;
}

/** One channel, many streams. */
export class Wire {
  readonly channel: Channel;
  readonly streams: Map<number, StreamHandler> = new Map();
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

  /**
   * Sends a DATA frame of `chunk` directly from the caller's bytes, with `flags` (FLAG_END, or a
   * WebSocket message's). `total`, if given, goes before the chunk as a 64-bit length (the first
   * frame of a WebSocket message of several); the frame holds at most DATA_MAX bytes in all.
   */
  async sendData(stream: number, chunk: Uint8Array, flags: number, total?: number): Promise<void> {
    const channel = this.channel;
    const size = dataSize(chunk, total);
    this.#data(channel.tryAlloc(size) ?? await channel.alloc(size), stream, chunk, flags, total);
    if (this.#pumping !== undefined) await this.#pumping;
  }

  /**
   * Sends a DATA frame as `sendData` does if a buffer is free at once, and says whether it did.
   * (The frame is in order either way; it may still wait in this wire's queue for ring room.)
   */
  trySendData(stream: number, chunk: Uint8Array, flags: number, total?: number): boolean {
    const buffer = this.channel.tryAlloc(dataSize(chunk, total));
    if (buffer === undefined) return false;
    this.#data(buffer, stream, chunk, flags, total);
    return true;
  }

  /** Writes the frame into `buffer` in place (no scratch copy of the header) and ships it. */
  #data(
    buffer: SharedBuffer,
    stream: number,
    chunk: Uint8Array,
    flags: number,
    total: number | undefined,
  ): void {
    const bytes = buffer.capacityBytes;
    writeHeader(bytes, FRAME_DATA, flags, stream);
    let at = HEADER_BYTES;
    if (total !== undefined) {
      writeLength(bytes, at, total);
      at += LENGTH_BYTES;
    }
    buffer.copyFrom(chunk, at);
    this.#ship(buffer);
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
    this.#fail(error ?? new ConnectionResetError("The peer closed the connection"));
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
          handler.onReset(
            new ConnectionResetError(`The peer reset stream ${stream} (reason ${frame.u32()})`),
          );
          break;
        case FRAME_WINDOW:
          handler.onWindow(frame.u32());
          break;
        case FRAME_REQUEST:
        case FRAME_RESPONSE:
          handler.onHeaders(frame, end);
          break;
        case FRAME_CLOSE:
          if (handler.onClose === undefined) throw new FrameError(`Stream ${stream} is not a WebSocket`);
          handler.onClose(frame);
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
    // (The head of the queue may have gone back already, with the send that failed.)
    for (const buffer of this.#queue.splice(0)) if (buffer.owned) buffer.release();
    for (const handler of [...this.streams.values()]) handler.onReset(error);
    this.streams.clear();
  }

  /** Fails every stream and closes the channel. */
  close(error: Error = new ClosedError("The connection was closed")): void {
    this.#fail(error);
    this.channel.close();
  }
}
