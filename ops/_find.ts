/**
 * Where domains live on this machine, as the native library puts them (zig/src/file.zig,
 * `Candidates`): `XIO_DIR` (or a directory given), otherwise a private directory per user
 * (`xio-<uid>`) or per trusted group (`xio-g<gid>`) under each hugetlbfs mount, /dev/shm and
 * /tmp. A domain file is `xio-<name>`; its lock file and doorbells are hidden beside it.
 *
 * @module
 */

import { lstatSync, readdirSync, readFileSync } from "node:fs";
import process from "node:process";

/** A directory that holds domain files, and whose it is. */
export interface DomainDir {
  /** The directory. */
  path: string;
  /** The uid (`xio-<uid>`) or gid (`xio-g<gid>`) it belongs to, if it is a private one. */
  uid?: number;
  gid?: number;
}

/** Where to look: a directory given, or the private directories. */
export interface FindOptions {
  /** Look only here (as `Domain.open`'s `dir`). Default: `XIO_DIR`, if set. */
  dir?: string;
  /** Look in this group's shared directories too (as `trust.group`). */
  group?: number;
}

/** The hugetlbfs mount points, in mount order. */
export function hugetlbfsMounts(): string[] {
  let text = "";
  try {
    text = readFileSync("/proc/mounts", "utf8");
  } catch {
    return [];
  }
  const mounts: string[] = [];
  for (const line of text.split("\n")) {
    const [, point, type] = line.split(" ");
    if (type === "hugetlbfs" && point) mounts.push(point.replace(/\\040/g, " "));
  }
  return mounts;
}

/** The stores private directories live under, in the order the library prefers them. */
export function bases(): string[] {
  return [...hugetlbfsMounts(), "/dev/shm", "/tmp"];
}

/** This process's effective uid. */
export function euid(): number {
  return process.geteuid?.() ?? lstatSync("/proc/self").uid;
}

function isDir(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The directories `Domain.open` of this user would use, in its order: the one given or
 * `XIO_DIR`, else this user's (or the group's) under each store.
 */
export function ownDirs(options: FindOptions = {}): DomainDir[] {
  const given = options.dir ?? envDir();
  if (given !== undefined) return [{ path: given }];
  const dirs: DomainDir[] = [];
  for (const base of bases()) {
    const path = options.group === undefined ? `${base}/xio-${euid()}` : `${base}/xio-g${options.group}`;
    if (isDir(path)) {
      dirs.push(options.group === undefined ? { path, uid: euid() } : { path, gid: options.group });
    }
  }
  return dirs;
}

/**
 * Every directory of domains this process can see: only the one given, if one is; otherwise
 * `XIO_DIR` if set, and every user's and group's private directory under each store (other
 * users' are readable only by root).
 */
export function allDirs(options: FindOptions = {}): DomainDir[] {
  if (options.dir !== undefined) return [{ path: options.dir }];
  const given = envDir();
  const dirs: DomainDir[] = given === undefined ? [] : [{ path: given }];
  for (const base of bases()) {
    let entries: string[] = [];
    try {
      entries = readdirSync(base);
    } catch {
      continue;
    }
    for (const entry of entries.sort()) {
      const match = /^xio-(g?)(\d+)$/.exec(entry);
      if (match === null || !isDir(`${base}/${entry}`)) continue;
      const id = Number(match[2]);
      dirs.push(
        match[1] === "g" ? { path: `${base}/${entry}`, gid: id } : { path: `${base}/${entry}`, uid: id },
      );
    }
  }
  return dirs;
}

/** The domain names whose files are in `dir`, sorted; `locks` adds those with only a lock file. */
export function namesIn(dir: string, locks = false): string[] {
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const names = new Set<string>();
  for (const entry of entries) {
    if (entry.startsWith("xio-") && entry.length > 4) names.add(entry.slice(4));
    const lock = /^\.xio-(.+)\.lock$/.exec(entry);
    if (locks && lock !== null) names.add(lock[1]);
  }
  return [...names].sort();
}

/** The path of domain `name` as `Domain.open` would find it, or undefined if none exists. */
export function resolve(name: string, options: FindOptions = {}): { path?: string; looked: string[] } {
  const looked: string[] = [];
  const seen = new Set<string>();
  for (const dir of [...ownDirs(options), ...allDirs(options)]) {
    if (seen.has(dir.path)) continue;
    seen.add(dir.path);
    const path = `${dir.path}/xio-${name}`;
    looked.push(dir.path);
    try {
      lstatSync(path);
      return { path, looked };
    } catch {
      // not here
    }
  }
  return { looked };
}

export function envDir(): string | undefined {
  const value = process.env.XIO_DIR;
  return value === undefined || value === "" ? undefined : value;
}
