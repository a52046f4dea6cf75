#!/usr/bin/env -S deno run --allow-all
/**
 * The `xio` command: see and repair the domains of this machine.
 *
 *     deno run -A jsr:@xio/core/cli ls            every domain: backing, size, owner, nodes, services
 *     deno run -A jsr:@xio/core/cli stat <domain> nodes, services, channels with their traffic, pools
 *     deno run -A jsr:@xio/core/cli watch <domain> the same, live, with rates per second
 *     deno run -A jsr:@xio/core/cli gc [--dry-run] remove dead domains, reclaim dead nodes
 *
 * With Bun, from the npm layout: `bun node_modules/@xio/core/ops/cli.ts ls`. In this repository:
 * `deno task xio ls`. `ls`, `stat` and `watch` only read: they map the domain read-only and take
 * no node slot, so they never disturb traffic. Every subcommand takes `--json`; `stat` takes
 * `--format prometheus`.
 *
 * @module
 */

import { lstatSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import { XioError } from "../errors.ts";
import { libraryPath, native } from "../ffi/mod.ts";
import { VERSION } from "../ffi/_targets.ts";
import { type DomainSnapshot, Inspector } from "../zero_copy/mod.ts";
import { allDirs, type FindOptions, namesIn, resolve } from "./_find.ts";
import { channelsOf, type ListEntry, renderList, renderStat } from "./_render.ts";
import { collect } from "./gc.ts";
import { prometheus } from "./prometheus.ts";

const USAGE = `xio: see and repair shared-memory domains (@xio/core ${VERSION})

usage:
  xio ls [--json]                    every domain on this machine
  xio stat <domain> [--json | --format prometheus]
                                     nodes, services, channels and pools of one domain
  xio watch <domain> [--interval ms] [--count n] [--json]
                                     the same, refreshed live with rates per second (q quits)
  xio gc [--dry-run] [--json]        remove domains no live process holds; reclaim dead nodes
  xio --version

<domain> is a name (found as Domain.open finds it) or the path of a domain file.
options: --dir <path> (where domains live, as XIO_DIR), --group <gid> (a trusted group's domains)
exit status: 0 done, 1 failed (no such domain, not a domain, another version, no permission), 2 usage`;

/** An error of the command's own: its message is all there is to say. */
class CommandError extends Error {
  constructor(message: string, readonly exit = 1) {
    super(message);
  }
}

const write = (text: string) => process.stdout.write(text);

interface Parsed {
  command: string;
  args: string[];
  json: boolean;
  format: string | undefined;
  dryRun: boolean;
  interval: number;
  count: number;
  find: FindOptions;
}

function parse(argv: string[]): Parsed {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: "boolean" },
        format: { type: "string" },
        "dry-run": { type: "boolean" },
        interval: { type: "string" },
        count: { type: "string" },
        dir: { type: "string" },
        group: { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    });
  } catch (error) {
    throw new CommandError(`xio: ${(error as Error).message}\n\n${USAGE}`, 2);
  }
  const { values, positionals } = parsed;
  const command = values.help ? "help" : values.version ? "version" : positionals[0] ?? "help";
  const number = (name: string, text: string | undefined, fallback: number, min: number) => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min) {
      throw new CommandError(`xio: --${name} must be a number >= ${min}`, 2);
    }
    return value;
  };
  const format = values.format;
  if (format !== undefined && format !== "prometheus" && format !== "text") {
    throw new CommandError(`xio: --format must be "prometheus" or "text"`, 2);
  }
  const group = values.group === undefined ? undefined : number("group", values.group, 0, 0);
  return {
    command,
    args: positionals.slice(1),
    json: values.json ?? false,
    format,
    dryRun: values["dry-run"] ?? false,
    interval: number("interval", values.interval, 1000, 50),
    count: number("count", values.count, Infinity, 1),
    find: { dir: values.dir, group },
  };
}

/** The path of `domain`: itself if it names a file, else where `Domain.open` would find it. */
function pathOf(domain: string | undefined, find: FindOptions, command: string): string {
  if (domain === undefined) throw new CommandError(`xio ${command}: which domain? (xio ls lists them)`, 2);
  if (domain.includes("/")) return domain;
  const found = resolve(domain, find);
  if (found.path === undefined) {
    const where = found.looked.length === 0
      ? "no domain directory exists"
      : `looked in ${found.looked.join(", ")}`;
    throw new CommandError(`xio ${command}: no domain "${domain}" (${where})`);
  }
  return found.path;
}

function open(path: string, command: string): Inspector {
  try {
    return Inspector.open(path);
  } catch (error) {
    if (error instanceof XioError) throw new CommandError(`xio ${command}: ${error.message}`);
    throw error;
  }
}

function list(find: FindOptions): ListEntry[] {
  const entries: ListEntry[] = [];
  const seen = new Set<string>();
  for (const dir of allDirs(find)) {
    for (const name of namesIn(dir.path)) {
      const path = `${dir.path}/xio-${name}`;
      if (seen.has(path)) continue;
      seen.add(path);
      try {
        using inspector = Inspector.open(path);
        entries.push({ name, path, snapshot: inspector.snapshot() });
      } catch (error) {
        if (!(error instanceof XioError)) throw error;
        // Gone since the directory was read: its last process left.
        if (error.code === "ENOENT") continue;
        entries.push({ name, path, error: error.message.replace(/^Cannot inspect "[^"]*": /, "") });
      }
    }
  }
  return entries;
}

/** What `ls --json` gives for a domain: the snapshot's summary, not every channel. */
function summary(entry: ListEntry) {
  const s = entry.snapshot;
  if (s === undefined) return { name: entry.name, path: entry.path, error: entry.error };
  return {
    name: s.name,
    path: s.path,
    backing: s.backing,
    size: s.size,
    owner: s.owner,
    nodes: { alive: s.nodes.filter((n) => n.alive).length, dead: s.nodes.filter((n) => !n.alive).length },
    services: s.services.map((v) => v.name),
    channels: s.channels.length,
  };
}

const ESC = "\x1b[";

async function watch(path: string, options: Parsed): Promise<void> {
  const tty = process.stdout.isTTY === true && !options.json;
  let inspector = open(path, "watch");
  let previous: DomainSnapshot | undefined;
  let stop = false;
  let wake: (() => void) | undefined;
  const quit = () => {
    stop = true;
    wake?.();
  };
  const stdin = process.stdin;
  const raw = tty && stdin.isTTY === true && typeof stdin.setRawMode === "function";
  const onKey = (data: Uint8Array | string) => {
    const key = typeof data === "string" ? data : new TextDecoder().decode(data);
    if (key === "q" || key === "Q" || key === "\x03" || key === "\x1b") quit();
  };
  if (raw) {
    stdin.setRawMode(true);
    stdin.on("data", onKey);
    stdin.resume();
  }
  process.on("SIGINT", quit);
  process.on("SIGTERM", quit);
  if (tty) write(`${ESC}?1049h${ESC}?25l`);
  try {
    for (let frame = 0; frame < options.count && !stop; frame++) {
      if (frame > 0) {
        await new Promise<void>((done) => {
          wake = done;
          setTimeout(done, options.interval);
        });
        if (stop) break;
      }
      // Another file at the path (the domain was removed and made again): follow it.
      const now = inodeOf(path);
      if (previous !== undefined && now !== undefined && now !== previous.inode) {
        inspector.close();
        inspector = open(path, "watch");
        previous = undefined;
      }
      const snapshot = inspector.snapshot();
      const seconds = previous === undefined ? 0 : (snapshot.takenAt - previous.takenAt) / 1000;
      const rates = { seconds, previous: previous === undefined ? new Map() : channelsOf(previous) };
      if (options.json) {
        write(JSON.stringify({ ...snapshot, intervalSeconds: seconds }) + "\n");
      } else {
        const screen = renderStat(snapshot, rates);
        const stamp = new Date(snapshot.takenAt).toISOString().slice(11, 19);
        const title = `xio watch ${snapshot.name}  every ${options.interval} ms  ${stamp}` +
          (now === undefined ? "  (the file is gone: its last process left)" : "");
        if (tty) {
          const columns = process.stdout.columns || 120;
          const rows = process.stdout.rows || 40;
          const lines = [title + (raw ? "  (q quits)" : ""), "", ...screen.split("\n")].slice(0, rows)
            .map((l) => l.slice(0, columns));
          write(`${ESC}H${ESC}2J` + lines.join("\r\n"));
        } else {
          write(`${title}\n\n${screen}\n\n`);
        }
      }
      previous = snapshot;
    }
  } finally {
    if (tty) write(`${ESC}?25h${ESC}?1049l`);
    if (raw) {
      stdin.setRawMode(false);
      stdin.off("data", onKey);
      stdin.pause();
    }
    process.off("SIGINT", quit);
    process.off("SIGTERM", quit);
    inspector.close();
  }
}

function inodeOf(path: string): number | undefined {
  try {
    return lstatSync(path).ino;
  } catch {
    return undefined;
  }
}

function gc(options: Parsed): void {
  const results = collect({
    ...options.find,
    dryRun: options.dryRun,
    names: options.args.length ? options.args : undefined,
  });
  if (options.json) {
    write(JSON.stringify(results, null, 2) + "\n");
  } else if (results.length === 0) {
    write("nothing to collect\n");
  } else {
    const would = options.dryRun ? "would " : "";
    for (const r of results) {
      const text = r.action === "removed"
        ? `${would}remove ${r.name}: no live process holds it`
        : r.action === "reclaimed"
        ? `${would}reclaim ${r.reclaimed} dead node${r.reclaimed === 1 ? "" : "s"} in ${r.name}`
        : r.action === "lock-removed"
        ? `${would}remove the stale lock file of ${r.name}`
        : r.action === "error"
        ? `cannot collect ${r.name}: ${r.error}`
        : `${r.name}: live, nothing to do`;
      write(text + "\n");
    }
  }
  if (results.some((r) => r.action === "error")) process.exitCode = 1;
}

/** Runs the command with `argv` (without the program name). Returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  try {
    const options = parse(argv);
    switch (options.command) {
      case "help":
        write(USAGE + "\n");
        return 0;
      case "version":
        write(`xio ${VERSION} (library ${libraryPath()}, layout ${native().xio_version()})\n`);
        return 0;
      case "ls": {
        const entries = list(options.find);
        write(
          options.json ? JSON.stringify(entries.map(summary), null, 2) + "\n" : renderList(entries) + "\n",
        );
        return 0;
      }
      case "stat": {
        using inspector = open(pathOf(options.args[0], options.find, "stat"), "stat");
        const snapshot = inspector.snapshot();
        if (options.json) write(JSON.stringify(snapshot, null, 2) + "\n");
        else if (options.format === "prometheus") write(prometheus(snapshot));
        else write(renderStat(snapshot) + "\n");
        return 0;
      }
      case "watch":
        await watch(pathOf(options.args[0], options.find, "watch"), options);
        return 0;
      case "gc":
        gc(options);
        return Number(process.exitCode ?? 0);
      default:
        throw new CommandError(`xio: no command "${options.command}"\n\n${USAGE}`, 2);
    }
  } catch (error) {
    if (error instanceof CommandError) {
      process.stderr.write(error.message + "\n");
      return error.exit;
    }
    if (error instanceof XioError) {
      process.stderr.write(`xio: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

if (import.meta.main) {
  // Not process.exit(): it can cut short what is still being written to a pipe.
  process.exitCode = await main(process.argv.slice(2));
}
