/**
 * {@linkcode Domain}: a process's handle on a shared-memory domain.
 *
 * @module
 */

import { native, Stat } from "../ffi/mod.ts";
import { InvalidArgumentError } from "../errors.ts";
import { adapter } from "../runtime/mod.ts";
import {
  BACKINGS,
  channelOptions,
  checkMicros,
  checkName,
  Core,
  EMPTY,
  encoder,
  openWords,
  SIDE_CLIENT,
} from "./_core.ts";
import { kCreate } from "./_internal.ts";
import { statusError } from "./_status.ts";
import { type DomainSnapshot, SnapshotBuffers } from "./inspect.ts";
import type { SharedBuffer } from "./buffer.ts";
import { Channel } from "./channel.ts";
import { Listener } from "./listener.ts";
import type { ChannelOptions, ClassStats, DomainOptions, DomainStats } from "./types.ts";

/**
 * A handle on a shared-memory domain: this process's node in it. Open one per process and
 * close it when done (or use `using`), so that peers see a clean end of stream.
 */
export class Domain implements Disposable {
  /** The domain name. */
  readonly name: string;
  #core: Core;
  #path: string | undefined;
  #snapshots: SnapshotBuffers | undefined;

  private constructor(core: Core) {
    this.#core = core;
    this.name = core.name;
  }

  /** The path of the domain file (for `xio stat`, or an {@linkcode Inspector}). */
  get path(): string {
    if (this.#path === undefined) {
      const core = this.#core;
      core.assertOpen();
      const out = new Uint8Array(1024);
      const length = core.sym.xio_domain_path(core.handle, out, out.length);
      if (length < 0) throw statusError(length, `Cannot tell the path of domain "${this.name}"`);
      this.#path = new TextDecoder().decode(out.subarray(0, length));
    }
    return this.#path;
  }

  /**
   * Everything `xio stat` shows about this domain, as seen now: nodes, services, channels with
   * the messages and bytes each side sent and their ring fill, and the pools. The Prometheus
   * helpers of `@xio/core/ops` serve it.
   */
  metrics(): DomainSnapshot {
    const core = this.#core;
    core.assertOpen();
    this.#snapshots ??= new SnapshotBuffers(core.sym, core.handle);
    return this.#snapshots.take(core.sym, core.handle, this.name, this.path);
  }

  /**
   * Creates the domain, or attaches to it if it exists. Throws {@linkcode DomainError} for a
   * file that is not a domain, is truncated, has another layout version or cannot be created.
   */
  static open(options: DomainOptions): Domain {
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError("Domain.open takes an options object with a name");
    }
    const name = checkName("domain", options.name);
    checkMicros("spinMicros", options.spinMicros);
    checkMicros("pollMicros", options.pollMicros);
    if (options.dir !== undefined && typeof options.dir !== "string") {
      throw new InvalidArgumentError(`Domain.open: dir must be a string`);
    }
    const words = openWords(options);
    const sym = native();
    const dirName = options.dir ?? adapter.env("XIO_DIR");
    const dir = dirName === undefined || dirName === "" ? EMPTY : encoder.encode(dirName);
    const status = new Int32Array(2);
    const handle = sym.xio_open(name, name.length, dir, dir.length, words, status);
    if (!handle) throw statusError(status[0], `Cannot open domain "${options.name}"`, status[1]);
    // The Core closes the handle itself if it cannot set up (its doorbell, say).
    return new Domain(new Core(sym, handle, options));
  }

  /** Registers `service` and returns its listener. Throws {@linkcode AddrInUseError} if taken. */
  listen(service: string, options: ChannelOptions = {}): Listener {
    const core = this.#core;
    core.assertOpen();
    const name = checkName("service", service);
    const index = core.sym.xio_listen(core.handle, name, name.length);
    if (index < 0) throw statusError(index, `Cannot listen on "${service}" in domain "${this.name}"`);
    const listener = Listener[kCreate](core, index, service, channelOptions(core, options));
    core.listeners[index] = listener;
    return listener;
  }

  /**
   * Opens a channel to `service`. Rejects at once with {@linkcode ConnectionRefusedError} if
   * nobody listens on it.
   */
  connect(service: string, options: ChannelOptions = {}): Promise<Channel> {
    try {
      return Promise.resolve(this.connectSync(service, options));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Like {@linkcode Domain.connect}, but returns the channel directly. */
  connectSync(service: string, options: ChannelOptions = {}): Channel {
    const core = this.#core;
    core.assertOpen();
    const name = checkName("service", service);
    const index = core.sym.xio_connect(core.handle, name, name.length);
    if (index < 0) throw statusError(index, `Cannot connect to "${service}" in domain "${this.name}"`);
    const channel = Channel[kCreate](core, index, SIDE_CLIENT, service, channelOptions(core, options));
    core.clients[index] = channel;
    return channel;
  }

  /** Allocates a buffer of `size` bytes, waiting while its pool is empty. */
  alloc(size: number): Promise<SharedBuffer> {
    return this.#core.alloc(size);
  }

  /** Allocates a buffer of `size` bytes, or returns `undefined` if its pool is empty. */
  tryAlloc(size: number): SharedBuffer | undefined {
    return this.#core.tryAlloc(size);
  }

  /** Checks the other processes now and reclaims what dead ones held. Returns how many died. */
  reclaimDead(): number {
    const core = this.#core;
    core.assertOpen();
    const reclaimed = core.sym.xio_probe(core.handle);
    core.drain();
    return reclaimed;
  }

  /** A snapshot of the domain: backing store, buffers free per class, nodes, channels. */
  stats(): DomainStats {
    const core = this.#core;
    core.assertOpen();
    const s = core.stats;
    core.sym.xio_stats(core.handle, s, Stat.words);
    const classes: ClassStats[] = [];
    for (let c = 0; c < s[Stat.classCount]; c++) {
      const at = Stat.class + Stat.classStride * c;
      classes.push({ size: s[at], total: s[at + 1], free: s[at + 2], allocations: s[at + 3] });
    }
    return {
      name: this.name,
      backing: BACKINGS[s[Stat.backing]] ?? "file",
      size: s[Stat.size],
      node: s[Stat.node],
      nodes: { active: s[Stat.nodes], max: s[Stat.nodeMax] },
      channels: { open: s[Stat.channels], max: s[Stat.channelMax], opened: s[Stat.channelsOpened] },
      services: { active: s[Stat.services], max: s[Stat.serviceMax] },
      classes,
      corruptDescriptors: s[Stat.corrupt],
      reclaimedNodes: s[Stat.reclaimed],
    };
  }

  /** Whether the domain handle is closed. */
  get closed(): boolean {
    return this.#core.closed;
  }

  /**
   * Leaves the domain: closes this process's channels and listeners (peers see end of stream)
   * and returns its buffers. The last process to leave removes the file. Safe to call twice.
   */
  close(): void {
    this.#core.close();
  }

  /** Closes the domain. */
  [Symbol.dispose](): void {
    this.close();
  }
}
