/**
 * Finds and loads libxio with the FFI of the runtime we run on (`deno.ts` or `bun.ts`, picked
 * here); everything else uses {@linkcode native}, {@linkcode arrayBuffer} and the neutral types
 * from `symbols.ts`. What else differs between the runtimes is in `runtime/`.
 *
 * The library is found in this order (see {@linkcode loadLibrary}):
 * 1. the path given to `loadLibrary`, or the `XIO_LIB` environment variable;
 * 2. when this package is a local folder (a clone, Bun's `node_modules`, a vendored `DENO_DIR`):
 *    the clone's own build (`zig/zig-out/lib/libxio.so`), then the shipped library of this
 *    target beside the module (`native/libxio-<target>.so`);
 * 3. the shipped library's bytes, which travel in the module graph (`native/<target>.json`),
 *    written once into the cache directory (`XIO_CACHE_DIR`, else `$XDG_CACHE_HOME/xio`, else
 *    `~/.cache/xio`) under a name made of the version and the hash;
 * 4. otherwise a {@linkcode LibraryNotFoundError} says what was tried.
 *
 * A shipped library is checked against the sha256 recorded in `_targets.ts` before every
 * `dlopen`; every library is checked for its ABI version, and the kernel for the system calls the
 * library needs. Importing this module opens nothing, writes nothing and reads no environment
 * variable it was not granted: the first call to {@linkcode native} does the work. Only when the
 * bytes must come from the graph (a package loaded by URL, or a local one without a library
 * beside it) are they imported with the module, since a synchronous first call cannot wait.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { Buffer } from "node:buffer";
import { gunzipSync } from "node:zlib";
import {
  CacheDirError,
  LibraryIntegrityError,
  LibraryNotFoundError,
  LibraryVersionError,
  UnsupportedKernelError,
} from "../errors.ts";
import { adapter } from "../runtime/mod.ts";
import { modules, type NativeModule } from "./_native.ts";
import { shipped, VERSION } from "./_targets.ts";
import { type Target, targetOf } from "./platform.ts";
import type { Loader, NativeSymbols, Pointer } from "./symbols.ts";
import { ABI_VERSION } from "./symbols.ts";

export type { Bytes, Handle, NativeSymbols, Pointer } from "./symbols.ts";
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
} from "./symbols.ts";

// Each loader is imported by a literal specifier, so that bundlers (`bun build --compile`) carry
// both; only the one of this runtime is evaluated, and Deno never resolves `bun:ffi` itself.
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const loader: Loader = isBun ? (await import("./bun.ts")).loader : (await import("./deno.ts")).loader;

/** An `ArrayBuffer` over `length` bytes of the library's memory at `pointer`. */
export function arrayBuffer(pointer: Pointer, length: number): ArrayBuffer {
  return loader.arrayBuffer(pointer, length);
}

/** Where the loaded library came from. */
export type LibrarySource = "path" | "env" | "build" | "package" | "cache";

/** What {@linkcode loadLibrary} loaded. */
export interface LibraryInfo {
  /** The file that was opened. */
  readonly path: string;
  /**
   * How it was found: the `path` option, `XIO_LIB`, the clone's own `build`, the library shipped
   * in the local `package`, or the `cache` directory it was written to from the module graph.
   */
  readonly source: LibrarySource;
  /** The shipped target, when the library is a shipped one. */
  readonly target?: Target;
  /** Its sha256, when the library is a shipped one (checked before it was opened). */
  readonly sha256?: string;
  /** Milliseconds the loading took (hashing, writing the cache, `dlopen`, the checks). */
  readonly loadMs: number;
}

/** Options of {@linkcode loadLibrary}. */
export interface LoadLibraryOptions {
  /** The library to open, before `XIO_LIB` and anything shipped (not hash-checked: it is yours). */
  path?: string;
}

const local = import.meta.url.startsWith("file:");
const here = (relative: string) => decodeURIComponent(new URL(relative, import.meta.url).pathname);
const buildOutput = local ? here("../zig/zig-out/lib/libxio.so") : undefined;

// The one target this process needs, or why there is none (thrown at first use, not at import).
let target: Target | undefined;
let targetError: unknown;
try {
  target = targetOf(adapter.platform());
} catch (error) {
  targetError = error;
}
const beside = local && target !== undefined ? here(`../native/libxio-${target}.so`) : undefined;

// The graph's bytes, imported now only when nothing else can be found without them.
let graph: NativeModule | undefined;
let graphError: unknown;
const envLib = () => nonEmpty(adapter.env("XIO_LIB"));
const onDisk = (buildOutput !== undefined && adapter.exists(buildOutput)) ||
  (beside !== undefined && adapter.exists(beside));
if (target !== undefined && envLib() === undefined && !onDisk) {
  try {
    graph = (await modules[target]()).default;
  } catch (error) {
    graphError = error;
  }
}

let loaded: NativeSymbols | undefined;
let info: LibraryInfo | undefined;

/** Where the library was loaded from, once it has been. */
export function libraryPath(): string | undefined {
  return info?.path;
}

/**
 * Loads libxio now (the first use of the library does it otherwise), from `options.path` if
 * given, and says what it loaded. Loading it again returns what was loaded the first time; a
 * `path` given after that must be the one loaded.
 *
 * @example Loading the library before the first domain, to see where it came from
 * ```ts
 * import { loadLibrary } from "@xio/core";
 *
 * const library = loadLibrary();
 * console.log(`libxio from ${library.source}: ${library.path}`);
 * ```
 */
export function loadLibrary(options: LoadLibraryOptions = {}): LibraryInfo {
  if (info !== undefined) {
    if (options.path !== undefined && options.path !== info.path) {
      throw new LibraryNotFoundError(
        `libxio is already loaded from "${info.path}": it cannot be loaded again from "${options.path}"`,
      );
    }
    return info;
  }
  const started = performance.now();
  const found = find(options.path);
  loaded = open(found.path, found.source);
  info = { ...found, loadMs: performance.now() - started };
  return info;
}

/** The library's symbols, loading it on first use. */
export function native(): NativeSymbols {
  if (loaded === undefined) loadLibrary();
  return loaded!;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

type Found = Omit<LibraryInfo, "loadMs">;

function find(path: string | undefined): Found {
  if (path !== undefined) return { path, source: "path" };
  const fromEnv = envLib();
  if (fromEnv !== undefined) return { path: fromEnv, source: "env" };
  const tried: string[] = [];
  if (buildOutput !== undefined) {
    if (adapter.exists(buildOutput)) return { path: buildOutput, source: "build" };
    tried.push(`the build output ${buildOutput}`);
  }
  if (target === undefined) throw targetError;
  const expected = shipped[target];
  if (beside !== undefined) {
    if (adapter.exists(beside)) {
      verify(readFileSync(beside), beside, target);
      return { path: beside, source: "package", target, sha256: expected.sha256 };
    }
    tried.push(`the shipped library ${beside}`);
  }
  if (graph !== undefined) return fromCache(graph, target);
  tried.push(
    graphError === undefined
      ? `the module graph (not imported: XIO_LIB was set at import)`
      : `the module graph (${graphError})`,
  );
  throw new LibraryNotFoundError(
    `Cannot find libxio for ${target}. Tried ${tried.join("; ")}. Set XIO_LIB to a libxio ` +
      `built by "npm run build" in a clone of @xio/core, or reinstall the package`,
  );
}

function verify(bytes: Uint8Array, where: string, target: Target): void {
  const expected = shipped[target];
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (sha256 !== expected.sha256) {
    throw new LibraryIntegrityError(
      `The library at "${where}" is not the one @xio/core ${VERSION} ships for ${target}: its sha256 ` +
        `is ${sha256}, not ${expected.sha256}. Reinstall the package (or clear the cache directory)`,
    );
  }
}

/** The cache directory: `XIO_CACHE_DIR`, `$XDG_CACHE_HOME/xio`, or `~/.cache/xio`. */
function cacheDir(): string {
  const explicit = nonEmpty(adapter.env("XIO_CACHE_DIR"));
  if (explicit !== undefined) return explicit;
  const xdg = nonEmpty(adapter.env("XDG_CACHE_HOME"));
  if (xdg !== undefined) return `${xdg}/xio`;
  const home = nonEmpty(adapter.env("HOME"));
  if (home !== undefined) return `${home}/.cache/xio`;
  throw new CacheDirError(
    "No cache directory for libxio: set XIO_CACHE_DIR (or XDG_CACHE_HOME or HOME, and allow " +
      "reading it), or XIO_LIB to a libxio you placed",
    "",
    "EACCES",
  );
}

function fromCache(module: NativeModule, target: Target): Found {
  const expected = shipped[target];
  const dir = cacheDir();
  const path = `${dir}/libxio-${VERSION}-${target}-${expected.sha256.slice(0, 16)}.so`;
  let bytes: Uint8Array | undefined;
  try {
    bytes = readFileSync(path);
  } catch {
    // Not there yet (or unreadable: written again below).
  }
  if (bytes !== undefined) {
    try {
      verify(bytes, path, target);
      return { path, source: "cache", target, sha256: expected.sha256 };
    } catch {
      // Damaged or replaced: written again from the graph's bytes, which are checked first.
    }
  }
  const fresh = gunzipSync(Buffer.from(module.gzip, "base64"));
  verify(fresh, `the module native/${target}.json`, target);
  write(dir, path, fresh);
  verify(readFileSync(path), path, target);
  return { path, source: "cache", target, sha256: expected.sha256 };
}

/** Writes `bytes` to `path` atomically: a temporary file beside it, then a rename. */
function write(dir: string, path: string, bytes: Uint8Array): void {
  if (adapter.mayWrite(dir) === false) {
    throw new CacheDirError(
      `Cannot write libxio into the cache directory ${dir}: writing there is not permitted. ` +
        `Run Deno with --allow-write=${dir}, or set XIO_CACHE_DIR to a directory it may write`,
      dir,
      "EACCES",
    );
  }
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(temporary, bytes, { mode: 0o755 });
    renameSync(temporary, path);
  } catch (cause) {
    try {
      unlinkSync(temporary);
    } catch {
      // Never written.
    }
    if ((cause as Error)?.name === "NotCapable") {
      throw new CacheDirError(
        `Cannot write libxio into the cache directory ${dir}: Deno was not allowed to. Run it ` +
          `with --allow-write=${dir}, or set XIO_CACHE_DIR to a directory it may write`,
        dir,
        "EACCES",
        { cause },
      );
    }
    throw new CacheDirError(
      `Cannot write libxio into the cache directory ${dir} (${(cause as Error).message}): it is ` +
        `read-only or not yours. Set XIO_CACHE_DIR to a writable directory, or XIO_LIB to a libxio ` +
        `you placed`,
      dir,
      "EACCES",
      { cause },
    );
  }
}

/** Opens `path` after checking its ABI version, then checks the kernel. */
function open(path: string, source: LibrarySource): NativeSymbols {
  let version: number;
  try {
    version = loader.abiVersion(path);
  } catch (cause) {
    const message = String((cause as Error)?.message ?? cause);
    const dir = path.slice(0, path.lastIndexOf("/"));
    if (source === "cache" && /failed to map segment|operation not permitted/i.test(message)) {
      throw new CacheDirError(
        `Cannot run libxio from ${dir}: its file system is mounted noexec (${message}). Set ` +
          `XIO_CACHE_DIR to a directory on a file system that allows running programs`,
        dir,
        "ENOEXEC",
        { cause },
      );
    }
    throw new LibraryNotFoundError(
      `Cannot load libxio from "${path}": ${message}. Point XIO_LIB at a libxio built by ` +
        `"npm run build" in a clone of @xio/core (rebuild it if it is stale)`,
      { cause },
    );
  }
  if (version !== ABI_VERSION) {
    throw new LibraryVersionError(
      `libxio at "${path}" has ABI version ${version}, this @xio/core needs ${ABI_VERSION}: it was ` +
        `built from another version of @xio/core (rebuild it with "npm run build", or unset XIO_LIB)`,
    );
  }
  let symbols: NativeSymbols;
  try {
    symbols = loader.open(path);
  } catch (cause) {
    throw new LibraryVersionError(
      `Cannot load libxio from "${path}": ${cause} (its ABI version is ours, but a symbol is ` +
        `missing: it was built from another revision; rebuild it)`,
    );
  }
  const errno = new Int32Array(1);
  const gap = symbols.xio_kernel_check(errno);
  if (gap !== 0) throw kernelError(gap, errno[0]);
  return symbols;
}

const KERNEL_CALLS: Record<number, { call: string; since: string }> = {
  1: { call: "statx", since: "Linux 4.11" },
  2: { call: "fcntl(F_OFD_SETLK)", since: "Linux 3.15" },
  3: { call: "futex", since: "Linux 2.6" },
};

function kernelError(gap: number, errno: number): UnsupportedKernelError {
  const { call, since } = KERNEL_CALLS[gap] ?? { call: `system call #${gap}`, since: "a newer kernel" };
  const why = errno === 38
    ? `this kernel does not have it (ENOSYS): @xio/core needs ${since} or later`
    : errno === 1 || errno === 13
    ? `it was refused (${errno === 1 ? "EPERM" : "EACCES"}), as a container's seccomp profile does: ` +
      `allow ${call} in the profile (Docker 18.04 and later allow it by default)`
    : `it failed with errno ${errno}`;
  return new UnsupportedKernelError(`libxio cannot work here: the system call ${call} ${why}`);
}
