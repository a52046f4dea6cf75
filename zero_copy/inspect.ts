/**
 * Snapshots of a domain: who is attached, which services listen, what each channel carried and
 * how full its rings and pools are. {@linkcode Inspector} takes them from outside, read-only and
 * without joining, so that a busy domain (or one whose creator is gone) is seen undisturbed;
 * `Domain.metrics()` takes the same from inside. The `xio` command (`@xio/core/cli`) and the
 * Prometheus helpers (`@xio/core/ops`) are built on them.
 *
 * @example Inspect a running domain from another process
 * ```ts
 * import { Domain, Inspector } from "@xio/core";
 * import assert from "node:assert/strict";
 *
 * using domain = Domain.open({ name: "inspect-example" });
 * using _listener = domain.listen("orders");
 * using inspector = Inspector.open(domain.path);
 * const snapshot = inspector.snapshot();
 * assert.equal(snapshot.nodes.length, 1);
 * assert.deepEqual(snapshot.services.map((s) => s.name), ["orders"]);
 * ```
 *
 * @module
 */

import {
  Flag,
  native,
  PollMode as PollCode,
  Snap,
  SnapChannel,
  SnapClass,
  SnapNode,
  SnapService,
} from "../ffi/mod.ts";
import type { Handle, NativeSymbols } from "../ffi/mod.ts";
import { InvalidArgumentError } from "../errors.ts";
import { BACKINGS, encoder } from "./_core.ts";
import { statusError } from "./_status.ts";
import type { Backing, PollMode } from "./types.ts";

const decoder = new TextDecoder();

/** One attached process, as a snapshot sees it. */
export interface NodeSnapshot {
  /** The node slot. */
  index: number;
  /** The process id, as the process wrote it when it joined. */
  pid: number;
  /** The runtime it runs on. */
  runtime: "deno" | "bun" | "other";
  /** When it joined, in ms since the epoch. */
  startedAt: number;
  /**
   * Whether its process lives (holds its liveness lock). A dead node is reclaimed by the next
   * process that probes, or by `xio gc`.
   */
  alive: boolean;
  /** Whether its event loop sleeps, waiting to be woken. */
  parked: boolean;
  /** `"cleaning"` while a survivor reclaims what it held. */
  state: "active" | "cleaning";
  /** The slot's generation: it grows each time the slot is taken again. */
  generation: number;
}

/** A registered service. */
export interface ServiceSnapshot {
  /** The service name. */
  name: string;
  /** The service slot. */
  index: number;
  /** The node that listens on it. */
  node: number;
  /** That node's pid, if the node is attached. */
  pid: number | undefined;
}

/** What one side of a channel sent. */
export interface TrafficSnapshot {
  /** Messages sent since the channel opened. */
  messages: number;
  /** Payload bytes sent since the channel opened. */
  bytes: number;
  /** Messages sent and not yet received: the fill of the ring toward the other side. */
  queued: number;
}

/** One channel: a connection between a client node and the node that serves it. */
export interface ChannelSnapshot {
  /** The channel slot. */
  index: number;
  /** The service it connects to, if still registered. */
  service: string | undefined;
  /** The connecting node. */
  client: number;
  /** The accepting node. */
  server: number;
  /**
   * `"connecting"` until accepted, then `"open"`; `"half-closed"` once a side closed its writes,
   * `"closing"` once a side left, `"reset"` when a side died, `"corrupt"` when validation failed.
   */
  state: "connecting" | "open" | "half-closed" | "closing" | "reset" | "corrupt";
  /** How each end waits for messages (`"unknown"` before it opened its end). */
  poll: { client: PollMode | "unknown"; server: PollMode | "unknown" };
  /** Client to server. */
  toServer: TrafficSnapshot;
  /** Server to client. */
  toClient: TrafficSnapshot;
  /** Descriptors each ring holds at most. */
  ringCapacity: number;
}

/** One buffer size class: where each of its buffers is. */
export interface ClassSnapshot {
  /** Bytes per buffer. */
  size: number;
  /** Buffers in the class. */
  count: number;
  /** Free buffers. */
  free: number;
  /** Held by a live process: allocated, or received and not yet released. */
  held: number;
  /** On a channel's ring, sent and not yet received. */
  inFlight: number;
  /** Held by a dead process, until it is reclaimed. */
  heldByDead: number;
  /** Labelled with an owner that does not exist: corruption, or a leak. */
  invalid: number;
  /** Allocations since the domain was created. */
  allocations: number;
}

/** Everything a snapshot holds. */
export interface DomainSnapshot {
  /** The domain name. */
  name: string;
  /** The path of its file. */
  path: string;
  /** Its layout version. */
  version: number;
  /** Where its memory lives. */
  backing: Backing;
  /** The size of its file in bytes. */
  size: number;
  /** The file's owner, group and permission bits. */
  owner: { uid: number; gid: number; mode: number };
  /** The file's inode: another one at the same path is another domain. */
  inode: number;
  /** Whether the file was removed from its directory (the last process left). */
  removed: boolean;
  /** The pid of the process that created it. */
  creatorPid: number;
  /** When the snapshot was taken, in ms since the epoch. */
  takenAt: number;
  /** The node of the handle that took it, or `undefined` for an {@linkcode Inspector}. */
  self: number | undefined;
  /** The slots of each kind. */
  limits: { nodes: number; services: number; channels: number; ringCapacity: number };
  /** Attached processes, live or dead. */
  nodes: NodeSnapshot[];
  /** Registered services. */
  services: ServiceSnapshot[];
  /** Channels in use. */
  channels: ChannelSnapshot[];
  /** Buffer pools, per size class. */
  classes: ClassSnapshot[];
  /** Descriptors that failed validation since the domain was created. */
  corruptDescriptors: number;
  /** Dead processes reclaimed since the domain was created. */
  reclaimedNodes: number;
  /** Channels opened since the domain was created. */
  channelsOpened: number;
}

const RUNTIMES: Record<number, NodeSnapshot["runtime"]> = { 1: "deno", 2: "bun" };
const POLLS: Record<number, PollMode> = {
  [PollCode.event]: "event",
  [PollCode.adaptive]: "adaptive",
  [PollCode.spin]: "spin",
};

/** @internal The buffers a snapshot of one domain is written into, reused between snapshots. */
export class SnapshotBuffers {
  #out: Float64Array;
  #names: Uint8Array;

  constructor(sym: NativeSymbols, handle: Handle) {
    this.#out = new Float64Array(Math.max(2, sym.xio_snapshot_words(handle)));
    // Too small a names buffer: the call says how many bytes the names take.
    sym.xio_snapshot(handle, this.#out, this.#out.length, new Uint8Array(1), 0);
    this.#names = new Uint8Array(this.#out[1]);
  }

  take(sym: NativeSymbols, handle: Handle, name: string, path: string): DomainSnapshot {
    const out = this.#out;
    const written = sym.xio_snapshot(handle, out, out.length, this.#names, this.#names.length);
    if (written < 0) throw statusError(written, `Cannot take a snapshot of domain "${name}"`);
    return decode(out, this.#names, name, path);
  }
}

function decode(out: Float64Array, names: Uint8Array, name: string, path: string): DomainSnapshot {
  let at = Snap.words;
  const nodes: NodeSnapshot[] = [];
  for (let i = 0; i < out[Snap.nodes]; i++, at += SnapNode.words) {
    nodes.push({
      index: out[at + SnapNode.index],
      pid: out[at + SnapNode.pid],
      runtime: RUNTIMES[out[at + SnapNode.runtime]] ?? "other",
      startedAt: out[at + SnapNode.startedMs],
      alive: out[at + SnapNode.alive] === 1,
      parked: out[at + SnapNode.parked] === 1,
      state: out[at + SnapNode.state] === 1 ? "active" : "cleaning",
      generation: out[at + SnapNode.generation],
    });
  }
  const pidOf = new Map(nodes.map((n) => [n.index, n.pid]));
  const services: ServiceSnapshot[] = [];
  for (let i = 0; i < out[Snap.services]; i++, at += SnapService.words) {
    const node = out[at + SnapService.node];
    services.push({
      name: decoder.decode(names.subarray(i * 64, i * 64 + out[at + SnapService.nameLen])),
      index: out[at + SnapService.index],
      node,
      pid: pidOf.get(node),
    });
  }
  const serviceOf = new Map(services.map((s) => [s.index, s.name]));
  const ringCapacity = out[Snap.ringCapacity];
  const channels: ChannelSnapshot[] = [];
  for (let i = 0; i < out[Snap.channels]; i++, at += SnapChannel.words) {
    const flags = out[at + SnapChannel.flags];
    channels.push({
      index: out[at + SnapChannel.index],
      service: serviceOf.get(out[at + SnapChannel.service]),
      client: out[at + SnapChannel.client],
      server: out[at + SnapChannel.server],
      state: channelState(out[at + SnapChannel.state], flags),
      poll: {
        client: POLLS[out[at + SnapChannel.clientPoll]] ?? "unknown",
        server: POLLS[out[at + SnapChannel.serverPoll]] ?? "unknown",
      },
      toServer: {
        messages: out[at + SnapChannel.c2sMessages],
        bytes: out[at + SnapChannel.c2sBytes],
        queued: out[at + SnapChannel.c2sFill],
      },
      toClient: {
        messages: out[at + SnapChannel.s2cMessages],
        bytes: out[at + SnapChannel.s2cBytes],
        queued: out[at + SnapChannel.s2cFill],
      },
      ringCapacity,
    });
  }
  const classes: ClassSnapshot[] = [];
  for (let i = 0; i < out[Snap.classCount]; i++, at += SnapClass.words) {
    classes.push({
      size: out[at + SnapClass.size],
      count: out[at + SnapClass.count],
      free: out[at + SnapClass.free],
      held: out[at + SnapClass.held],
      inFlight: out[at + SnapClass.inflight],
      heldByDead: out[at + SnapClass.heldDead],
      invalid: out[at + SnapClass.invalid],
      allocations: out[at + SnapClass.allocations],
    });
  }
  return {
    name,
    path,
    version: out[Snap.version],
    backing: BACKINGS[out[Snap.backing]] ?? "file",
    size: out[Snap.size],
    owner: { uid: out[Snap.uid], gid: out[Snap.gid], mode: out[Snap.mode] },
    inode: out[Snap.inode],
    removed: out[Snap.links] === 0,
    creatorPid: out[Snap.creatorPid],
    takenAt: out[Snap.takenMs],
    self: out[Snap.selfNode] < 0 ? undefined : out[Snap.selfNode],
    limits: {
      nodes: out[Snap.nodeMax],
      services: out[Snap.serviceMax],
      channels: out[Snap.channelMax],
      ringCapacity,
    },
    nodes,
    services,
    channels,
    classes,
    corruptDescriptors: out[Snap.corrupt],
    reclaimedNodes: out[Snap.reclaimed],
    channelsOpened: out[Snap.channelsOpened],
  };
}

function channelState(state: number, flags: number): ChannelSnapshot["state"] {
  if (flags & Flag.corrupt) return "corrupt";
  if (flags & Flag.reset) return "reset";
  if (flags & (Flag.clientGone | Flag.serverGone)) return "closing";
  if (state === 1) return "connecting";
  if (flags & (Flag.eofC2s | Flag.eofS2c)) return "half-closed";
  return "open";
}

/** The name of the domain whose file is at `path` (`.../xio-<name>`). */
function nameOf(path: string): string {
  const file = path.slice(path.lastIndexOf("/") + 1);
  return file.startsWith("xio-") ? file.slice(4) : file;
}

/**
 * A read-only view of a domain from outside it. It maps the domain file read-only and takes no
 * node slot and no lock, so inspecting never disturbs traffic, works while the domain is busy
 * and after its creator is gone, and cannot fill the domain. Any user's domain that this process
 * can read may be inspected: reading cannot give a domain our data, and everything read is
 * bounded by the layout validated on open.
 */
export class Inspector implements Disposable {
  /** The domain name. */
  readonly name: string;
  /** The path of the domain file. */
  readonly path: string;
  #sym: NativeSymbols;
  #handle: Handle | null;
  #buffers: SnapshotBuffers;

  private constructor(sym: NativeSymbols, handle: Handle, path: string) {
    this.#sym = sym;
    this.#handle = handle;
    this.path = path;
    this.name = nameOf(path);
    this.#buffers = new SnapshotBuffers(sym, handle);
  }

  /**
   * Opens the domain file at `path`. Throws {@linkcode DomainError}: `ENOENT` when there is no
   * such file, `ENOTDOMAIN` for a file that is not a domain, `EVERSION` for another layout
   * version, `EACCES` without read permission, `ENOTREG` for a directory or device.
   */
  static open(path: string): Inspector {
    if (typeof path !== "string" || path === "") {
      throw new InvalidArgumentError("Inspector.open takes the path of a domain file");
    }
    const sym = native();
    const bytes = encoder.encode(path);
    const status = new Int32Array(2);
    const handle = sym.xio_inspect(bytes, bytes.length, status);
    if (!handle) throw statusError(status[0], `Cannot inspect "${path}"`, status[1]);
    try {
      return new Inspector(sym, handle, path);
    } catch (error) {
      sym.xio_close(handle);
      throw error;
    }
  }

  /** A snapshot of the domain now. */
  snapshot(): DomainSnapshot {
    if (this.#handle === null) throw new InvalidArgumentError(`Inspector of "${this.path}" is closed`);
    return this.#buffers.take(this.#sym, this.#handle, this.name, this.path);
  }

  /** Unmaps the domain. Safe to call twice. */
  close(): void {
    if (this.#handle === null) return;
    this.#sym.xio_close(this.#handle);
    this.#handle = null;
  }

  /** Closes the inspector. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** A snapshot of the domain file at `path`, taken by an {@linkcode Inspector} opened for it. */
export function inspect(path: string): DomainSnapshot {
  using inspector = Inspector.open(path);
  return inspector.snapshot();
}
