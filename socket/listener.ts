/**
 * {@linkcode ConnListener}: accepts connections on a service name.
 *
 * @module
 */

import type { Domain, Listener } from "../zero_copy/mod.ts";
import { kCreate } from "./_internal.ts";
import { Conn } from "./conn.ts";
import type { XioAddr } from "./types.ts";

/** Accepts connections on a service name. Iterate it, or call `accept()`. */
export class ConnListener implements AsyncIterable<Conn>, Disposable {
  /** The address it listens on. */
  readonly addr: XioAddr;
  #listener: Listener;
  #domain: Domain;

  /** @internal The connection listener over `listener`, a listener of `domain`. */
  static [kCreate](domain: Domain, listener: Listener, addr: XioAddr): ConnListener {
    return new ConnListener(domain, listener, addr);
  }

  private constructor(domain: Domain, listener: Listener, addr: XioAddr) {
    this.#domain = domain;
    this.#listener = listener;
    this.addr = addr;
  }

  /** Waits for the next connection. Rejects with {@linkcode ClosedError} once closed. */
  async accept(): Promise<Conn> {
    const channel = await this.#listener.accept();
    return Conn[kCreate](this.#domain, channel, this.addr, { ...this.addr, name: `client-${channel.index}` });
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
      yield Conn[kCreate](this.#domain, channel, this.addr, {
        ...this.addr,
        name: `client-${channel.index}`,
      });
    }
  }
}
