/**
 * HTTP over shared memory: a `Deno.serve`-compatible {@linkcode serve} and a `fetch`-compatible
 * {@linkcode fetch}, with Web-standard `Request` and `Response`. Existing handlers (a Hono app's
 * `fetch`, a `deno serve` default export, a `Bun.serve` options object) move over unchanged.
 *
 * Requests travel as compact binary frames (no HTTP/1.1 text), multiplexed with stream ids over
 * one channel per client process and service, each stream with its own flow control, so a slow
 * handler or a slow reader holds up nobody else. Bodies stay in shared memory until read.
 *
 * `fetch("xio://orders/path")` goes over shared memory. Other URLs go to the runtime's own fetch,
 * unless the route table maps their origin (`XIO_ROUTES="http://orders:8080=orders"`, or
 * {@linkcode setRoute}) to a service that is registered locally; then they go over shared memory
 * too, and over TCP as before when it is not.
 *
 * @example
 * ```ts
 * import { fetch, serve } from "@xio/core/http";
 * import assert from "node:assert/strict";
 *
 * await using server = serve({ name: "hello" }, (request) =>
 *   new Response(`Hello from ${new URL(request.url).pathname}`));
 *
 * const response = await fetch("xio://hello/world");
 * assert.equal(await response.text(), "Hello from /world");
 * ```
 *
 * @module
 */

export { deleteRoute, fetch, setFetchPollMicros, setRoute } from "./client.ts";
export { serve, XioServer } from "./server.ts";
export { upgradeWebSocket, WebSocket } from "./websocket.ts";
export type { BinaryType, UpgradeWebSocketOptions, WebSocketEventMap } from "./websocket.ts";
export type { XioServerWebSocket } from "./_bun_socket.ts";
export { FrameError } from "../errors.ts";
export { DEFAULT_POLL_MICROS } from "../zero_copy/mod.ts";
export type {
  BunWebSocketHandler,
  FetchApp,
  RequestLimits,
  ServeHandler,
  ServeHandlerInfo,
  ServeInit,
  ServeOptions,
} from "./types.ts";
export type { TcpServer } from "../runtime/mod.ts";
