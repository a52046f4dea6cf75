/**
 * @xio/core: Deno and Bun services on one machine talk over shared memory instead of the
 * kernel's network stack.
 *
 * - The zero-copy layer ({@linkcode Domain}, {@linkcode Channel}, {@linkcode SharedBuffer}) moves
 *   ownership of shared buffers between processes.
 * - The socket layer ({@linkcode listen}, {@linkcode connect}, {@linkcode Conn}) gives byte
 *   streams shaped like `Deno.Conn`.
 * - The HTTP layer ({@linkcode serve}, {@linkcode fetch}) takes `Deno.serve` handlers and
 *   speaks `xio://service/path` with Web-standard `Request` and `Response`.
 *
 * @example
 * ```ts
 * import { Domain } from "@xio/core";
 * import assert from "node:assert/strict";
 *
 * using domain = Domain.open({ name: "mod-example" });
 * using listener = domain.listen("orders");
 * const channel = await domain.connect("orders");
 * const incoming = await listener.accept();
 * const buf = await channel.alloc(3);
 * buf.bytes.set([1, 2, 3]);
 * await channel.send(buf);
 * const msg = await incoming.recv();
 * assert.deepEqual([...msg!.bytes], [1, 2, 3]);
 * msg!.release();
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export { libraryPath, loadLibrary } from "./ffi/mod.ts";
export type { LibraryInfo, LibrarySource, LoadLibraryOptions } from "./ffi/mod.ts";
export type { Target } from "./ffi/platform.ts";
export * from "./zero_copy/mod.ts";
export * from "./socket/mod.ts";
export {
  deleteRoute,
  fetch,
  serve,
  setFetchPollMicros,
  setRoute,
  upgradeWebSocket,
  WebSocket,
  XioServer,
} from "./http/mod.ts";
export type {
  BinaryType,
  BunWebSocketHandler,
  FetchApp,
  RequestLimits,
  ServeHandler,
  ServeHandlerInfo,
  ServeInit,
  ServeOptions,
  TcpServer,
  UpgradeWebSocketOptions,
  WebSocketEventMap,
  XioServerWebSocket,
} from "./http/mod.ts";
