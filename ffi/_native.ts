/**
 * The shipped libraries as modules of the graph (written by scripts/dist.ts): for a package loaded
 * by URL, as from JSR, whose files Deno downloads only when they are modules it imports. Each
 * import names its file literally, so that `deno cache`, `deno install`, vendoring, `deno compile`
 * and `bun build --compile` all carry every target's bytes, while a process imports only its own.
 *
 * @module
 */

import type { Target } from "./platform.ts";

/** A library as a module: its bytes gzipped and base64-encoded, with their hash and size. */
export interface NativeModule {
  readonly target: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly gzip: string;
}

/** Imports the module of one target's library. */
export const modules: Record<Target, () => Promise<{ default: NativeModule }>> = {
  "x86_64-linux-gnu": () => import("../native/x86_64-linux-gnu.json", { with: { type: "json" } }),
  "x86_64-linux-musl": () => import("../native/x86_64-linux-musl.json", { with: { type: "json" } }),
  "aarch64-linux-gnu": () => import("../native/aarch64-linux-gnu.json", { with: { type: "json" } }),
  "aarch64-linux-musl": () => import("../native/aarch64-linux-musl.json", { with: { type: "json" } }),
};
