/**
 * The Bun loader: builds `bun:ffi` definitions from the neutral symbol table. Handles and
 * pointers are numbers here.
 *
 * @module
 */

// Deno type-checks this file too (it is in the graph of mod.ts): `bun:ffi` is left untyped there,
// rather than bringing bun-types' globals into every Deno program that checks this package.
import { dlopen, FFIType, toArrayBuffer } from "bun:ffi";
import { type Loader, type NativeSymbols, type NativeType, type Pointer, symbols } from "./symbols.ts";

function bunType(type: NativeType): FFIType {
  switch (type) {
    case "handle":
    case "pointer":
    case "bytes":
      return FFIType.ptr;
    case "u32":
      return FFIType.u32;
    case "i32":
      return FFIType.i32;
    case "f64":
      return FFIType.f64;
    case "void":
      return FFIType.void;
  }
}

function definitions() {
  const out: Record<string, { args: FFIType[]; returns: FFIType }> = {};
  for (const [name, fn] of Object.entries(symbols)) {
    out[name] = { args: fn.parameters.map(bunType), returns: bunType(fn.result) };
  }
  return out;
}

/** The Bun implementation of {@linkcode Loader}. */
export const loader: Loader = {
  name: "bun",
  abiVersion(path: string): number {
    const library = dlopen(path, { xio_abi_version: { args: [], returns: FFIType.u32 } });
    try {
      return library.symbols.xio_abi_version() as number;
    } finally {
      library.close();
    }
  },
  open(path: string): NativeSymbols {
    return dlopen(path, definitions()).symbols as unknown as NativeSymbols;
  },
  arrayBuffer(pointer: Pointer, length: number): ArrayBuffer {
    return toArrayBuffer(pointer as unknown as number, 0, length) as ArrayBuffer;
  },
};
