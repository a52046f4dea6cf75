/**
 * The Deno loader: builds `Deno.dlopen` definitions from the neutral symbol table. Handles and
 * pointers are Deno pointer objects here.
 *
 * @module
 */

import { type Loader, type NativeSymbols, type NativeType, type Pointer, symbols } from "./symbols.ts";

function denoType(type: NativeType): Deno.NativeResultType {
  switch (type) {
    case "handle":
    case "pointer":
      return "pointer";
    case "bytes":
      return "buffer";
    default:
      return type;
  }
}

function definitions(): Deno.ForeignLibraryInterface {
  const out: Record<string, Deno.ForeignFunction> = {};
  for (const [name, fn] of Object.entries(symbols)) {
    out[name] = {
      parameters: fn.parameters.map(denoType) as Deno.NativeType[],
      result: denoType(fn.result),
    };
  }
  return out;
}

/** The Deno implementation of {@linkcode Loader}. */
export const loader: Loader = {
  name: "deno",
  abiVersion(path: string): number {
    const library = Deno.dlopen(path, { xio_abi_version: { parameters: [], result: "u32" } });
    try {
      return library.symbols.xio_abi_version();
    } finally {
      library.close();
    }
  },
  open(path: string): NativeSymbols {
    return Deno.dlopen(path, definitions()).symbols as unknown as NativeSymbols;
  },
  arrayBuffer(pointer: Pointer, length: number): ArrayBuffer {
    return Deno.UnsafePointerView.getArrayBuffer(pointer as unknown as Deno.PointerObject, length);
  },
};
