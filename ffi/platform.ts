/**
 * The targets the package ships a native library for, and which one a process needs.
 *
 * @module
 */

import { UnsupportedPlatformError } from "../errors.ts";

/** A target the package ships a library for: `<arch>-linux-<libc>`. */
export type Target = "x86_64-linux-gnu" | "x86_64-linux-musl" | "aarch64-linux-gnu" | "aarch64-linux-musl";

/** Every target the package ships a library for. */
export const TARGETS: readonly Target[] = [
  "x86_64-linux-gnu",
  "x86_64-linux-musl",
  "aarch64-linux-gnu",
  "aarch64-linux-musl",
];

/** What the runtime says of the machine: its OS, its CPU and the C library it runs on. */
export interface Platform {
  /** `Deno.build.os`, or Node's `process.platform` ("linux", "darwin", ...). */
  readonly os: string;
  /** `Deno.build.arch`, or Node's `process.arch` ("x86_64"/"x64", "aarch64"/"arm64", ...). */
  readonly arch: string;
  /** The C library of the process: "gnu" (glibc), "musl", or undefined if it cannot tell. */
  readonly libc: "gnu" | "musl" | undefined;
}

const ARCHES: Record<string, "x86_64" | "aarch64"> = {
  x86_64: "x86_64",
  x64: "x86_64",
  aarch64: "aarch64",
  arm64: "aarch64",
};

/**
 * The target whose library runs on `platform`, or an {@linkcode UnsupportedPlatformError} that
 * says how to build one from source. A process whose libc is unknown gets the glibc build.
 */
export function targetOf(platform: Platform): Target {
  const arch = ARCHES[platform.arch];
  if (platform.os !== "linux" || arch === undefined) {
    throw new UnsupportedPlatformError(
      `@xio/core ships its native library for Linux on x86_64 and aarch64 (glibc 2.17 or later, or ` +
        `musl), not for ${platform.os} on ${platform.arch}: shared memory, futexes and OFD locks ` +
        `are used as Linux has them. On another Linux CPU, build the library from a clone with ` +
        `"npm run build" and point XIO_LIB at zig/zig-out/lib/libxio.so`,
    );
  }
  return `${arch}-linux-${platform.libc ?? "gnu"}`;
}
