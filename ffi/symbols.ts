/**
 * The one symbol table of libxio, in a vocabulary neutral to the runtime. The Deno and Bun
 * loaders translate it into their own `dlopen` definitions; nothing else in the code base
 * describes the native ABI. Keep it in step with zig/include/xio.h.
 *
 * Types:
 * - `u32`, `i32`, `f64`: numbers;
 * - `handle`: the opaque `xio_domain *` that `xio_open` returns, passed back as received;
 * - `bytes`: a typed array whose memory the call reads or writes;
 * - `pointer`: a raw address returned by the library (only turned into an `ArrayBuffer`).
 *
 * @module
 */

/** A native parameter or result type, in the neutral vocabulary of this table. */
export type NativeType =
  | "u32"
  | "i32"
  | "f64"
  | "void"
  | "handle"
  | "bytes"
  | "pointer";

/** One function of the table. */
export interface NativeFunction {
  readonly parameters: readonly NativeType[];
  readonly result: NativeType;
}

export const symbols = {
  xio_version: { parameters: [], result: "u32" },
  xio_open: {
    parameters: [
      "bytes", // const uint8_t *name
      "u32", // uint32_t name_len
      "bytes", // const uint8_t *dir
      "u32", // uint32_t dir_len
      "bytes", // const uint32_t *options (XIO_OPT_WORDS)
      "bytes", // int32_t status[2]
    ],
    result: "handle", // xio_domain * or NULL
  },
  xio_close: { parameters: ["handle"], result: "void" },
  xio_io: { parameters: ["handle"], result: "pointer" }, // uint32_t *
  xio_events: { parameters: ["handle"], result: "pointer" }, // uint32_t *
  xio_base: { parameters: ["handle"], result: "pointer" }, // uint8_t *
  xio_stats: {
    parameters: [
      "handle",
      "bytes", // double *out
      "u32", // uint32_t len
    ],
    result: "i32",
  },
  xio_listen: { parameters: ["handle", "bytes", "u32"], result: "i32" }, // name, name_len
  xio_unlisten: { parameters: ["handle", "u32"], result: "i32" }, // service
  xio_connect: { parameters: ["handle", "bytes", "u32"], result: "i32" }, // name, name_len
  xio_accept: { parameters: ["handle", "u32"], result: "i32" }, // channel
  xio_refuse: { parameters: ["handle", "u32"], result: "void" }, // channel
  xio_send: {
    parameters: ["handle", "u32", "u32", "u32", "u32"], // channel, side, id, length
    result: "i32",
  },
  xio_send_many: { parameters: ["handle", "u32", "u32", "u32"], result: "i32" }, // channel, side, count
  xio_recv: { parameters: ["handle", "u32", "u32"], result: "i32" }, // channel, side
  xio_recv_many: { parameters: ["handle", "u32", "u32", "u32"], result: "i32" }, // channel, side, max
  xio_arm_recv: { parameters: ["handle", "u32", "u32"], result: "i32" }, // channel, side
  xio_arm_send: { parameters: ["handle", "u32", "u32", "u32"], result: "i32" }, // channel, side, window
  xio_pending: { parameters: ["handle", "u32", "u32"], result: "i32" }, // channel, side
  xio_flags: { parameters: ["handle", "u32", "u32"], result: "i32" }, // channel, side
  xio_close_write: { parameters: ["handle", "u32", "u32"], result: "i32" }, // channel, side
  xio_chan_close: { parameters: ["handle", "u32", "u32"], result: "i32" }, // channel, side
  xio_alloc: { parameters: ["handle", "u32"], result: "i32" }, // size
  xio_alloc_many: { parameters: ["handle", "u32", "u32"], result: "i32" }, // size, count
  xio_release: { parameters: ["handle", "u32"], result: "i32" }, // id
  xio_release_many: { parameters: ["handle", "u32"], result: "i32" }, // count
  xio_arm_alloc: { parameters: ["handle", "u32"], result: "i32" }, // size
  xio_copy_out: {
    parameters: ["handle", "u32", "u32", "bytes", "u32"], // id, from, uint8_t *target, length
    result: "i32",
  },
  xio_copy_in: {
    parameters: ["handle", "u32", "u32", "bytes", "u32"], // id, at, const uint8_t *source, length
    result: "i32",
  },
  xio_take_events: { parameters: ["handle"], result: "i32" },
  xio_park: { parameters: ["handle"], result: "i32" }, // 1: news already waits
  xio_unpark: { parameters: ["handle"], result: "void" },
  xio_has_events: { parameters: ["handle"], result: "i32" },
  xio_bell_path: { parameters: ["handle", "bytes", "u32"], result: "i32" }, // uint8_t *out, len
  xio_bell_ready: { parameters: ["handle"], result: "void" },
  xio_now_ns: { parameters: [], result: "f64" }, // CLOCK_MONOTONIC
  xio_recv_wait: { parameters: ["handle", "u32", "u32", "u32"], result: "i32" }, // channel, side, park
  xio_node_offset: { parameters: ["handle"], result: "f64" },
  xio_ring_offset: { parameters: ["handle", "u32", "u32"], result: "f64" }, // channel, direction
  xio_yield: { parameters: [], result: "void" }, // sched_yield, between busy-poll passes
  xio_probe: { parameters: ["handle"], result: "i32" },
  xio_debug_plant: {
    parameters: ["handle", "u32", "u32", "u32", "u32"], // channel, direction, high, low
    result: "i32",
  },
} as const satisfies Record<string, NativeFunction>;

/** The names of the native functions. */
export type SymbolName = keyof typeof symbols;

/** An opaque `xio_domain *`. Its representation differs between runtimes. */
export type Handle = { readonly __xioHandle: unique symbol };
/** A raw address returned by the library. */
export type Pointer = { readonly __xioPointer: unique symbol };

/** Memory the native side reads or writes during a call. */
export type Bytes = Uint8Array | Uint32Array | Int32Array | Float64Array;

type JsParameter<T extends NativeType> = T extends "u32" | "i32" | "f64" ? number
  : T extends "handle" ? Handle
  : T extends "bytes" ? Bytes
  : never;

type JsResult<T extends NativeType> = T extends "u32" | "i32" | "f64" ? number
  : T extends "void" ? void
  : T extends "handle" ? Handle | null
  : T extends "pointer" ? Pointer
  : never;

type JsParameters<P extends readonly NativeType[]> = {
  [K in keyof P]: P[K] extends NativeType ? JsParameter<P[K]> : never;
};

/** The loaded library: one JS function per symbol. */
export type NativeSymbols = {
  [K in SymbolName]: (
    ...args: JsParameters<(typeof symbols)[K]["parameters"]>
  ) => JsResult<(typeof symbols)[K]["result"]>;
};

/** What a doorbell does when it rings or loses a peer. */
export interface DoorbellHandlers {
  /** A peer wrote to the doorbell: this node has news. */
  onRing(): void;
  /** A peer's connection closed: it left, or died. */
  onHangup(): void;
}

/** A UNIX socket that the runtime's own event loop listens on, to be woken by peers. */
export interface Doorbell {
  /** Stops listening and closes every connection. Safe to call twice. */
  close(): void;
}

/** What a runtime loader provides. */
export interface Runtime {
  /** Which runtime this is. */
  readonly name: "deno" | "bun";
  /** Opens the library at `path`. */
  open(path: string): NativeSymbols;
  /** An `ArrayBuffer` over `length` bytes of native memory at `pointer`. */
  arrayBuffer(pointer: Pointer, length: number): ArrayBuffer;
  /**
   * Listens on the UNIX socket `path` (mode `mode`) with the runtime's own event loop, replacing
   * a stale socket file. It never keeps the process alive.
   */
  listenDoorbell(path: string, mode: number, handlers: DoorbellHandlers): Doorbell;
  /** An environment variable, or undefined if unset or not permitted. */
  env(name: string): string | undefined;
  /** Whether a file exists (and is readable). */
  exists(path: string): boolean;
  /** Runs `fn` when the process is about to exit normally (Deno's unload, Bun's exit). */
  onExit(fn: () => void): void;
  /**
   * The body of `response` when the runtime can tell, without turning it into a stream, that it
   * is complete in memory (a string, bytes or JSON given to the constructor) and about `max`
   * bytes or fewer (a string's UTF-8 may be up to twice what was measured): its bytes, now or
   * (rarely) soon; the body is then used. Undefined when the runtime cannot tell: the body
   * must be read as a stream, since it may be live.
   */
  completeBody(response: Response, max: number): Uint8Array | Promise<Uint8Array> | undefined;
  /** Serves `handler` over TCP with the runtime's own HTTP server (Deno.serve or Bun.serve). */
  serveTcp(options: TcpServeOptions, handler: (request: Request) => Response | Promise<Response>): TcpServer;
  /**
   * For the opt-in preload module only: wraps the runtime's own serve function so that
   * `onServe` sees every handler the application serves. The library never calls this.
   */
  interceptServe(
    onServe: (handler: (request: Request, info: unknown) => Response | Promise<Response>) => void,
  ): void;
}

/** Options of {@linkcode Runtime.serveTcp}. */
export interface TcpServeOptions {
  port: number;
  hostname?: string;
  onListen?: (addr: { hostname: string; port: number }) => void;
}

/** A TCP server started by {@linkcode Runtime.serveTcp}. */
export interface TcpServer {
  /** The address it listens on. */
  readonly addr: { hostname: string; port: number };
  /** Resolves once it has shut down. */
  readonly finished: Promise<void>;
  /** Stops it gracefully. */
  shutdown(): Promise<void>;
  /** Keeps the process alive while it listens (the default). */
  ref(): void;
  /** Lets the process exit while it listens. */
  unref(): void;
}

/** Status codes returned by the library (`XIO_E_*` in xio.h). */
export const Status = {
  ok: 0,
  wouldBlock: -1,
  closed: -2,
  reset: -3,
  corrupt: -4,
  invalid: -5,
  tooBig: -6,
  notFound: -7,
  inUse: -8,
  full: -9,
  notDomain: -10,
  version: -11,
  truncated: -12,
  layout: -13,
  io: -14,
  noSpace: -15,
  busy: -16,
  pipe: -17,
  state: -18,
  permission: -19,
  refused: -20,
  invalidName: -21,
  invalidConfig: -22,
  hugepagesUnavailable: -23,
  pathTooLong: -24,
  notRegular: -25,
  foreignOwner: -26,
  lockTimeout: -27,
} as const;

/** Channel flag bits returned by `xio_flags`. */
export const Flag = {
  clientGone: 1 << 0,
  serverGone: 1 << 1,
  eofC2s: 1 << 2,
  eofS2c: 1 << 3,
  reset: 1 << 4,
  accepted: 1 << 5,
  corrupt: 1 << 6,
} as const;

/** Slots of the `xio_stats` array. */
export const Stat = {
  version: 0,
  size: 1,
  backing: 2,
  node: 3,
  nodeMax: 4,
  nodes: 5,
  channelMax: 6,
  channels: 7,
  serviceMax: 8,
  services: 9,
  ringCapacity: 10,
  classCount: 11,
  corrupt: 12,
  reclaimed: 13,
  channelsOpened: 14,
  creatorPid: 15,
  class: 24,
  classStride: 6,
  words: 48,
} as const;

/** Words of the `xio_open` options array. */
export const Opt = {
  flags: 0,
  hugepages: 1,
  mode: 2,
  runtime: 3,
  nodeMax: 4,
  serviceMax: 5,
  channelMax: 6,
  ringCapacity: 7,
  classCount: 8,
  classSizes: 9,
  classCounts: 13,
  /** The gid whose members share domains, or 0xffffffff. */
  group: 17,
  lockTimeoutMs: 18,
  /** Up to four further trusted uids (0xffffffff: none). */
  owners: 19,
  ownersMax: 4,
  words: 23,
} as const;

/** Words of the per-domain `io` array: two header words, then 256 (id, length) pairs. */
export const IO_WORDS = 2 + 2 * 256;
/** The most descriptors one bulk call moves. */
export const BATCH_MAX = 256;
/** The size of the per-domain events array, in channel indices. */
export const EVENTS_MAX = 4096;
