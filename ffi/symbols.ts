/**
 * The native ABI of libxio as the loaders see it: the symbol table, in a vocabulary neutral to
 * the runtime, and the types of what crosses it. The Deno and Bun loaders translate the table
 * into their own `dlopen` definitions.
 *
 * The table and the constants come from `_abi.ts`, which `zig build abi` generates from
 * zig/src/abi.zig, the one source of the ABI (zig/include/xio.h is generated from it too).
 *
 * Types:
 * - `u32`, `i32`, `f64`: numbers;
 * - `handle`: the opaque `xio_domain *` that `xio_open` returns, passed back as received;
 * - `bytes`: a typed array whose memory the call reads or writes;
 * - `pointer`: a raw address returned by the library (only turned into an `ArrayBuffer`).
 *
 * @module
 */

import { symbols as table } from "./_abi.ts";

export { ABI_VERSION, Const, Flag, Opt, Stat, Status } from "./_abi.ts";

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

/** The symbol table, checked against the neutral types. */
export const symbols: typeof table = table satisfies Record<string, NativeFunction>;

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
