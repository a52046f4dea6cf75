/**
 * The text the `xio` command prints: tables of domains, and the `stat` and `watch` screens.
 *
 * @module
 */

import type { ChannelSnapshot, DomainSnapshot, NodeSnapshot } from "../zero_copy/mod.ts";

/** One row of `xio ls`: a domain file, inspected or not. */
export interface ListEntry {
  name: string;
  path: string;
  snapshot?: DomainSnapshot;
  error?: string;
}

/** Bytes as people read them: 512 B, 4.0 KiB, 60.0 MiB. */
export function bytes(value: number): string {
  if (value < 1024) return `${value} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let scaled = value / 1024;
  let unit = 0;
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit++;
  }
  return `${scaled.toFixed(1)} ${units[unit]}`;
}

/** A count with thousands grouped: 1,234,567. */
function count(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** A rate per second, short: 0, 12, 3.4k, 1.2M. */
function rate(value: number): string {
  if (value < 1000) return value < 10 && value > 0 ? value.toFixed(1) : String(Math.round(value));
  if (value < 1e6) return `${(value / 1e3).toFixed(1)}k`;
  return `${(value / 1e6).toFixed(1)}M`;
}

function mode(value: number): string {
  return "0" + value.toString(8).padStart(3, "0");
}

function time(ms: number): string {
  if (ms === 0) return "-";
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${
    pad(d.getMinutes())
  }:${pad(d.getSeconds())}`;
}

/** Left-aligned columns, two spaces apart; numeric columns (`right`) aligned right. */
export function table(header: string[], rows: string[][], right: Set<number> = new Set()): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The `xio ls` table. */
export function renderList(entries: ListEntry[]): string {
  if (entries.length === 0) return "no domains";
  const rows = entries.map((e) => {
    const s = e.snapshot;
    if (s === undefined) return [e.name, "-", "-", "-", "-", "-", "-", "-", `${e.path}  (${e.error})`];
    const alive = s.nodes.filter((n) => n.alive).length;
    return [
      e.name,
      s.backing,
      bytes(s.size),
      `${s.owner.uid}:${s.owner.gid}`,
      mode(s.owner.mode),
      String(alive),
      String(s.nodes.length - alive),
      s.services.map((v) => v.name).join(",") || "-",
      e.path,
    ];
  });
  return table(
    ["DOMAIN", "BACKING", "SIZE", "OWNER", "MODE", "LIVE", "DEAD", "SERVICES", "PATH"],
    rows,
    new Set([2, 5, 6]),
  )
    .join("\n");
}

function nodeLabel(nodes: Map<number, NodeSnapshot>, index: number): string {
  const node = nodes.get(index);
  return node === undefined ? `${index} (gone)` : `${index} (${node.pid})`;
}

function ring(queued: number, capacity: number): string {
  return `${queued}/${capacity}`;
}

/** Per-channel rates, from the previous snapshot of the same domain. */
export interface Rates {
  seconds: number;
  previous: Map<string, ChannelSnapshot>;
}

function channelKey(c: ChannelSnapshot): string {
  return `${c.index}:${c.client}:${c.server}:${c.service}`;
}

/** The previous channels of a snapshot, for {@linkcode renderStat}'s rates. */
export function channelsOf(s: DomainSnapshot): Map<string, ChannelSnapshot> {
  return new Map(s.channels.map((c) => [channelKey(c), c]));
}

/** The `xio stat` screen; with `rates`, the `xio watch` one. */
export function renderStat(s: DomainSnapshot, rates?: Rates): string {
  const out: string[] = [];
  const alive = s.nodes.filter((n) => n.alive).length;
  out.push(`domain ${s.name}  ${s.path}${s.removed ? "  (removed: its last process left)" : ""}`);
  out.push(
    `  ${s.backing}, ${bytes(s.size)}, owner ${s.owner.uid}:${s.owner.gid} mode ${mode(s.owner.mode)}, ` +
      `layout ${s.version}, created by pid ${s.creatorPid}`,
  );
  out.push(
    `  corrupt descriptors ${count(s.corruptDescriptors)}, nodes reclaimed ${count(s.reclaimedNodes)}, ` +
      `channels opened ${count(s.channelsOpened)}`,
  );
  out.push("");
  out.push(`NODES  ${alive} live, ${s.nodes.length - alive} dead, of ${s.limits.nodes}`);
  out.push(
    ...table(
      ["NODE", "PID", "RUNTIME", "STARTED", "STATE"],
      s.nodes.map((n) => [
        String(n.index),
        String(n.pid),
        n.runtime,
        time(n.startedAt),
        n.alive
          ? (n.state === "cleaning" ? "cleaning" : n.parked ? "alive, asleep" : "alive, awake")
          : "DEAD",
      ]),
      new Set([0, 1]),
    ).map((l) => "  " + l),
  );
  out.push("");
  const nodes = new Map(s.nodes.map((n) => [n.index, n]));
  out.push(`SERVICES  ${s.services.length} of ${s.limits.services}`);
  if (s.services.length > 0) {
    out.push(
      ...table(
        ["SERVICE", "LISTENER"],
        s.services.map((v) => [v.name, nodeLabel(nodes, v.node)]),
      ).map((l) => "  " + l),
    );
  }
  out.push("");
  out.push(`CHANNELS  ${s.channels.length} of ${s.limits.channels}`);
  if (s.channels.length > 0) {
    const header = [
      "CH",
      "SERVICE",
      "CLIENT",
      "SERVER",
      "POLL C/S",
      "STATE",
      "C>S MSGS",
      "C>S BYTES",
      "S>C MSGS",
      "S>C BYTES",
      "RING C>S",
      "RING S>C",
    ];
    const rows = s.channels.map((c) => {
      const before = rates?.previous.get(channelKey(c));
      // With rates (watch), each total is followed by its rate per second since the last frame.
      const total = (now: number, then: number | undefined, text: string, inBytes = false) => {
        if (rates === undefined) return text;
        if (then === undefined || rates.seconds <= 0) return `${text} (-)`;
        const perSecond = Math.max(0, now - then) / rates.seconds;
        return `${text} (${inBytes ? bytes(Math.round(perSecond)) : rate(perSecond)}/s)`;
      };
      return [
        String(c.index),
        c.service ?? "-",
        nodeLabel(nodes, c.client),
        nodeLabel(nodes, c.server),
        `${c.poll.client}/${c.poll.server}`,
        c.state,
        total(c.toServer.messages, before?.toServer.messages, count(c.toServer.messages)),
        total(c.toServer.bytes, before?.toServer.bytes, bytes(c.toServer.bytes), true),
        total(c.toClient.messages, before?.toClient.messages, count(c.toClient.messages)),
        total(c.toClient.bytes, before?.toClient.bytes, bytes(c.toClient.bytes), true),
        ring(c.toServer.queued, c.ringCapacity),
        ring(c.toClient.queued, c.ringCapacity),
      ];
    });
    const right = new Set([0, 6, 7, 8, 9, 10, 11]);
    out.push(...table(header, rows, right).map((l) => "  " + l));
  }
  out.push("");
  out.push("POOLS");
  out.push(
    ...table(
      ["SIZE", "COUNT", "FREE", "HELD", "IN FLIGHT", "HELD BY DEAD", "INVALID", "ALLOCATIONS"],
      s.classes.map((k) => [
        bytes(k.size),
        count(k.count),
        count(k.free),
        count(k.held),
        count(k.inFlight),
        count(k.heldByDead),
        count(k.invalid),
        count(k.allocations),
      ]),
      new Set([0, 1, 2, 3, 4, 5, 6, 7]),
    ).map((l) => "  " + l),
  );
  return out.join("\n");
}
