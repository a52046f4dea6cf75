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

export {
  ABI_VERSION,
  Const,
  Flag,
  Gc,
  Opt,
  PollMode,
  Snap,
  SnapChannel,
  SnapClass,
  SnapNode,
  SnapService,
  Stat,
  Status,
} from "./_abi.ts";

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

/** What a loader provides: the library's symbols, and views of its memory. */
export interface Loader {
  /** Which runtime this is. */
  readonly name: "deno" | "bun";
  /** The ABI version of the library at `path`, opened with that one symbol and closed again. */
  abiVersion(path: string): number;
  /** Opens the library at `path`. */
  open(path: string): NativeSymbols;
  /** An `ArrayBuffer` over `length` bytes of native memory at `pointer`. */
  arrayBuffer(pointer: Pointer, length: number): ArrayBuffer;
}
