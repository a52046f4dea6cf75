/**
 * {@linkcode Listener}: accepts the channels that clients open to a service.
 *
 * @module
 */

import { ClosedError } from "../errors.ts";
import * as wake from "./_wake.ts";
import type { Core } from "./_core.ts";
import { kCreate, kOptions, kPush } from "./_internal.ts";
import type { Channel } from "./channel.ts";
import type { ChannelOptions } from "./types.ts";

/** Accepts the channels that clients open to a service. Iterate it, or call `accept()`. */
export class Listener implements AsyncIterable<Channel>, Disposable {
  /** The service name. */
  readonly service: string;
  #core: Core;
  #index: number;
  #poll: Required<ChannelOptions>;
  #queue: Channel[] = [];
  #waiters: { resolve: (channel: Channel) => void; reject: (error: Error) => void }[] = [];
  #closed = false;
  #refed = true;

  /** @internal The listener of service slot `index`. */
  static [kCreate](core: Core, index: number, service: string, poll: Required<ChannelOptions>): Listener {
    return new Listener(core, index, service, poll);
  }

  /** @internal A channel to this service was accepted: hands it to a waiting `accept()`. */
  [kPush](channel: Channel): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter.resolve(channel);
    else this.#queue.push(channel);
  }

  /** @internal The options of the channels it accepts. */
  get [kOptions](): Required<ChannelOptions> {
    return this.#poll;
  }

  private constructor(core: Core, index: number, service: string, poll: Required<ChannelOptions>) {
    this.#core = core;
    this.#index = index;
    this.service = service;
    this.#poll = poll;
  }

  /** Waits for the next connection. Rejects with {@linkcode ClosedError} once closed. */
  accept(): Promise<Channel> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    this.#core.drain();
    const drained = this.#queue.shift();
    if (drained !== undefined) return Promise.resolve(drained);
    return new Promise((resolve, reject) => {
      const refed = this.#refed;
      const core = this.#core;
      this.#waiters.push({
        resolve: (channel) => {
          core.waitEnded();
          if (refed) wake.unhold();
          resolve(channel);
        },
        reject: (error) => {
          core.waitEnded();
          if (refed) wake.unhold();
          reject(error);
        },
      });
      if (refed) wake.hold();
      core.waitBegan();
    });
  }

  /** Lets the process exit while `accept()` waits (by default a pending accept keeps it alive). */
  unref(): void {
    this.#refed = false;
  }

  /** Undoes {@linkcode Listener.unref}. */
  ref(): void {
    this.#refed = true;
  }

  /** Stops listening. Pending `accept()` calls reject; queued connections are closed. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const core = this.#core;
    core.sym.xio_unlisten(core.handle, this.#index);
    core.listeners[this.#index] = undefined;
    for (const channel of this.#queue) channel.close();
    this.#queue = [];
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(this.#closedError());
  }

  /** Stops listening. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Yields each accepted channel until the listener is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<Channel> {
    while (!this.#closed) {
      try {
        yield await this.accept();
      } catch (error) {
        if (error instanceof ClosedError && this.#closed) return;
        throw error;
      }
    }
  }

  #closedError(): ClosedError {
    return new ClosedError(`Listener on "${this.service}" is closed`);
  }
}
