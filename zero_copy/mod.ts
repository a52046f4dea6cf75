/**
 * The zero-copy layer: domains, channels and shared buffers.
 *
 * A {@linkcode Domain} is a shared-memory file that cooperating processes map. A process listens
 * on a service name or connects to one and gets a {@linkcode Channel}: two lock-free rings, one
 * per direction, that carry buffer descriptors. A {@linkcode SharedBuffer} is a block of the
 * domain's memory; sending it moves ownership to the peer and copies no bytes, and forwarding a
 * received buffer to another channel copies nothing either.
 *
 * @example A round trip inside one process
 * ```ts
 * import { Domain } from "@xio/core";
 * import assert from "node:assert/strict";
 *
 * using domain = Domain.open({ name: "zero-copy-example" });
 * using listener = domain.listen("echo");
 * const client = await domain.connect("echo");
 * const server = await listener.accept();
 *
 * const buf = await client.alloc(5);
 * buf.bytes.set(new TextEncoder().encode("hello"));
 * await client.send(buf); // ownership moves; `buf` is no longer usable here
 *
 * const msg = await server.recv();
 * assert.equal(new TextDecoder().decode(msg!.bytes), "hello");
 * msg!.release();
 * ```
 *
 * @module
 */

export { Domain } from "./domain.ts";
export { Channel } from "./channel.ts";
export { Listener } from "./listener.ts";
export { SharedBuffer } from "./buffer.ts";
export { DEFAULT_POLL_MICROS } from "./_core.ts";
export { inspect, Inspector } from "./inspect.ts";
export type {
  ChannelSnapshot,
  ClassSnapshot,
  DomainSnapshot,
  NodeSnapshot,
  ServiceSnapshot,
  TrafficSnapshot,
} from "./inspect.ts";
export type {
  Backing,
  ChannelOptions,
  ClassStats,
  DomainOptions,
  DomainStats,
  PollMode,
  SizeClass,
} from "./types.ts";
