/**
 * {@linkcode SharedBuffer}: a block of a domain's shared memory, viewed in place.
 *
 * @module
 */

import * as check from "../_check.ts";
import { BufferStateError, InvalidArgumentError } from "../errors.ts";
import { COPY_NATIVE_MIN, type Core } from "./_core.ts";
import { kCore, kCreate, kDisown, kOwn } from "./_internal.ts";

/**
 * A fixed-size block of a domain's shared memory. You get one from `alloc` or `recv`; while you
 * hold it, {@linkcode SharedBuffer.bytes} views its first {@linkcode SharedBuffer.length} bytes
 * in place. Sending it, or calling {@linkcode SharedBuffer.release}, gives it up: any later use
 * throws {@linkcode BufferStateError}.
 *
 * Buffer objects are pooled (one per slot of shared memory), so the hot path allocates no JS
 * objects. A reference kept after giving a buffer up may come back to life if this process is
 * handed the same slot again; do not keep such references.
 */
export class SharedBuffer {
  /** The buffer's id in its domain: size class in the top 8 bits, index below. */
  readonly id: number;
  /** The buffer's size in bytes. */
  readonly capacity: number;
  /** The buffer's byte offset in the domain mapping: the same in every process. */
  readonly offset: number;
  #core: Core;
  #full: Uint8Array;
  #view: Uint8Array;
  #length = 0;
  #owned = false;

  /**
   * @internal The object of buffer `id` of `core`, made once per slot of shared memory (by
   * `Core.adopt`).
   */
  static [kCreate](core: Core, id: number, offset: number, capacity: number): SharedBuffer {
    return new SharedBuffer(core, id, offset, capacity);
  }

  /** @internal This process now holds the buffer, with a message of `length` bytes. */
  [kOwn](length: number): void {
    this.#owned = true;
    this.#length = length;
  }

  /** @internal This process gave the buffer up (it sent or released it). */
  [kDisown](): void {
    this.#owned = false;
  }

  /** @internal The domain handle the buffer belongs to. */
  get [kCore](): Core {
    return this.#core;
  }

  private constructor(core: Core, id: number, offset: number, capacity: number) {
    this.#core = core;
    this.id = id;
    this.offset = offset;
    this.capacity = capacity;
    this.#full = new Uint8Array(core.memory, offset, capacity);
    this.#view = this.#full;
  }

  /** Whether this process holds the buffer. */
  get owned(): boolean {
    return this.#owned;
  }

  /** The message length: what `bytes` shows and what `send` sends. At most `capacity`. */
  get length(): number {
    this.#check();
    return this.#length;
  }

  set length(value: number) {
    this.#check();
    this.#length = check.integer("A buffer's length", value, 0, this.capacity);
  }

  /** The message bytes, in shared memory. Writes go straight to the buffer. */
  get bytes(): Uint8Array {
    this.#check();
    if (this.#view.length !== this.#length) this.#view = this.#full.subarray(0, this.#length);
    return this.#view;
  }

  /**
   * The whole buffer (`capacity` bytes, not just the message), in shared memory: always the
   * same view, so reading through it allocates nothing, whatever the message length.
   */
  get capacityBytes(): Uint8Array {
    this.#check();
    return this.#full;
  }

  /**
   * Copies bytes of the message, starting at `from`, into `target`; returns how many (at most
   * `target.length`). Uses memcpy, which is faster than `target.set(bytes)` in some engines.
   */
  copyTo(target: Uint8Array, from = 0): number {
    this.#check();
    check.bytes("copyTo's target", target);
    check.integer("copyTo's offset", from, 0, this.capacity);
    const n = Math.min(this.#length - from, target.length);
    if (n <= 0) return 0;
    if (n < COPY_NATIVE_MIN) {
      target.set(this.#full.subarray(from, from + n));
      return n;
    }
    const core = this.#core;
    core.sym.xio_copy_out(core.handle, this.id, from, target, n);
    return n;
  }

  /** Copies `source` into the buffer at `at` (default 0); the message length is not changed. */
  copyFrom(source: Uint8Array, at = 0): void {
    this.#check();
    check.bytes("copyFrom's source", source);
    check.integer("copyFrom's offset", at, 0, this.capacity);
    if (source.length > this.capacity - at) {
      throw new InvalidArgumentError(
        `${source.length} bytes at ${at} do not fit in a ${this.capacity}-byte buffer`,
      );
    }
    if (source.length < COPY_NATIVE_MIN) {
      this.#full.set(source, at);
      return;
    }
    const core = this.#core;
    core.sym.xio_copy_in(core.handle, this.id, at, source, source.length);
  }

  /** Gives the buffer back to its pool. */
  release(): void {
    this.#check();
    this.#core.release(this);
  }

  #check(): void {
    if (!this.#owned) {
      throw new BufferStateError(`Buffer ${this.id} was sent or released and can no longer be used`);
    }
  }
}
