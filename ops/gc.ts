/**
 * `collect()`: what `xio gc` does. It removes the files of domains that no live process holds
 * and reclaims the dead nodes of live ones. Each domain is collected under its lock file, the
 * way `Domain.open` and `close` work, so a domain that a process is joining is never removed.
 * Running it twice is harmless.
 *
 * @module
 */

import { Gc, native } from "../ffi/mod.ts";
import { EMPTY, encoder, openWords } from "../zero_copy/_core.ts";
import { statusError } from "../zero_copy/_status.ts";
import { envDir, type FindOptions, namesIn, ownDirs } from "./_find.ts";

/** What collecting one domain did, or with `dryRun` would do. */
export interface CollectResult {
  /** The domain name. */
  name: string;
  /**
   * `"removed"`: no live process held it, and its files went. `"reclaimed"`: it is live, and
   * `reclaimed` dead nodes in it were cleaned up. `"lock-removed"`: only a stale lock file was
   * left. `"nothing"`: live, nothing dead. `"error"`: see `error`.
   */
  action: "removed" | "reclaimed" | "lock-removed" | "nothing" | "error";
  /** Dead nodes reclaimed (or that would be). */
  reclaimed: number;
  /** Why it could not be collected (another layout version, another owner, a lock held...). */
  error?: string;
}

/** Options of {@linkcode collect}. */
export interface CollectOptions extends FindOptions {
  /** Report what would be done, and do nothing. */
  dryRun?: boolean;
  /** Collect only these domains (default: every domain of this user, or in `dir`). */
  names?: string[];
  /** The longest to wait for a domain's lock, in ms (default 1000). */
  lockTimeoutMs?: number;
}

const ACTIONS: Record<number, CollectResult["action"]> = {
  [Gc.nothing]: "nothing",
  [Gc.removed]: "removed",
  [Gc.reclaimed]: "reclaimed",
  [Gc.lockRemoved]: "lock-removed",
};

/**
 * Collects this user's domains (or those in `dir`): see the module documentation. Domains it
 * cannot collect are reported with `action: "error"`, and the others are collected regardless.
 */
export function collect(options: CollectOptions = {}): CollectResult[] {
  const sym = native();
  const dirs = ownDirs(options);
  const names = options.names ?? [...new Set(dirs.flatMap((dir) => namesIn(dir.path, true)))].sort();
  const given = options.dir ?? envDir();
  const dir = given === undefined ? EMPTY : encoder.encode(given);
  const results: CollectResult[] = [];
  for (const name of names) {
    const words = openWords({
      name,
      create: false,
      trust: options.group === undefined ? undefined : { group: options.group },
      lockTimeoutMs: options.lockTimeoutMs,
    });
    const bytes = encoder.encode(name);
    const result = new Int32Array(2);
    const status = sym.xio_gc(bytes, bytes.length, dir, dir.length, words, options.dryRun ? 1 : 0, result);
    if (status < 0) {
      const error = statusError(status, `domain "${name}"`);
      // Gone meanwhile (its last process left): nothing to collect.
      if (error.code === "ENOENT") continue;
      results.push({ name, action: "error", reclaimed: 0, error: error.message });
      continue;
    }
    results.push({ name, action: ACTIONS[result[0]] ?? "nothing", reclaimed: result[1] });
  }
  return results;
}
