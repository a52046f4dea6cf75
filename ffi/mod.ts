/**
 * Finds and loads libxio with the FFI of the runtime we run on (`deno.ts` or `bun.ts`, picked
 * here); everything else uses {@linkcode native}, {@linkcode arrayBuffer} and the neutral types
 * from `symbols.ts`. What else differs between the runtimes is in `runtime/`.
 *
 * The library is found in this order:
 * 1. the path in the `XIO_LIB` environment variable;
 * 2. the build output, `zig/zig-out/lib/libxio.so` next to this package;
 * 3. otherwise a {@linkcode LibraryNotFoundError} says how to build it.
 *
 * @module
 */

import { LibraryNotFoundError } from "../errors.ts";
import { adapter } from "../runtime/mod.ts";
import type { Loader, NativeSymbols, Pointer } from "./symbols.ts";

export type { Bytes, Handle, NativeSymbols, Pointer } from "./symbols.ts";
export { ABI_VERSION, Const, Flag, Opt, Stat, Status } from "./symbols.ts";
import { ABI_VERSION } from "./symbols.ts";

// Importing the loader module is not loading the library: that waits for the first call to
// `native()`. The specifier is computed so that Deno does not try to resolve `bun:ffi`.
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const loaderPath = isBun ? "./bun.ts" : "./deno.ts";

const loader: Loader = (await import(loaderPath)).loader;

/** An `ArrayBuffer` over `length` bytes of the library's memory at `pointer`. */
export function arrayBuffer(pointer: Pointer, length: number): ArrayBuffer {
  return loader.arrayBuffer(pointer, length);
}

let loaded: NativeSymbols | undefined;
let loadedPath: string | undefined;

function buildOutput(): string | undefined {
  const url = new URL("../zig/zig-out/lib/libxio.so", import.meta.url);
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : undefined;
}

/** Where the library was loaded from, once it has been. */
export function libraryPath(): string | undefined {
  return loadedPath;
}

/** The library's symbols, loading it on first use. */
export function native(): NativeSymbols {
  if (loaded !== undefined) return loaded;
  const fromEnv = adapter.env("XIO_LIB");
  const built = buildOutput();
  const path = fromEnv !== undefined && fromEnv !== "" ? fromEnv : built;
  if (path === undefined || (fromEnv === undefined && !adapter.exists(path))) {
    throw new LibraryNotFoundError(
      `Cannot find libxio: set XIO_LIB to its path, or build it with "deno task build" ` +
        `(looked for ${built ?? "a local build, but this module is not a local file"})`,
    );
  }
  let symbols: NativeSymbols;
  try {
    symbols = loader.open(path);
  } catch (cause) {
    // A library of another ABI usually lacks a symbol, which fails the whole dlopen.
    throw new LibraryNotFoundError(
      `Cannot load libxio from "${path}": ${cause} (a library built from another version of ` +
        `@xio/core lacks symbols: rebuild it with "deno task build")`,
      { cause },
    );
  }
  const found = symbols.xio_abi_version();
  if (found !== ABI_VERSION) {
    throw new LibraryNotFoundError(
      `libxio at "${path}" has ABI version ${found}, this @xio/core needs ${ABI_VERSION}: ` +
        `rebuild it with "deno task build"`,
    );
  }
  loaded = symbols;
  loadedPath = path;
  return loaded;
}
