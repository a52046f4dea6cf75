/**
 * The handler and option types of the HTTP layer.
 *
 * @module
 */

import type { Domain } from "../zero_copy/mod.ts";
import type { XioAddr } from "../socket/mod.ts";
import type { BunWebSocketHandler } from "./_bun_socket.ts";

export type { BunWebSocketHandler };

/** What a handler receives besides the request, as with `Deno.serve`. */
export interface ServeHandlerInfo {
  /** The client's address. */
  remoteAddr: XioAddr;
  /** Resolves once the response has been sent in full; rejects if the client went away. */
  completed: Promise<void>;
  /**
   * Bun's `server.upgrade`: makes `request` a WebSocket served by the serve options'
   * `websocket` handlers once the handler returns. False if it asks for none.
   */
  upgrade?(request: Request, options?: { data?: unknown; headers?: HeadersInit }): boolean;
}

/** A request handler, as `Deno.serve` takes. */
export type ServeHandler = (request: Request, info: ServeHandlerInfo) => Response | Promise<Response>;

/** Anything with a `fetch(request, info)` method: a Hono app, a `deno serve` export, Bun options. */
export interface FetchApp {
  /** Answers one request. */
  fetch(request: Request, info: ServeHandlerInfo): Response | Promise<Response>;
}

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /** The service name clients use (`xio://<name>/...`). Default: `XIO_SERVICE`, or `"http"`. */
  name?: string;
  /** The domain, as for sockets: a handle or a name (default `XIO_DOMAIN` or `"xio"`). */
  domain?: Domain | string;
  /** Aborting it shuts the server down gracefully. */
  signal?: AbortSignal;
  /** Called once listening. */
  onListen?: (addr: XioAddr) => void;
  /** Turns a handler's exception into a response (default: a plain 500). */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** Also serve over TCP on this port with the runtime's own server, for other machines. */
  port?: number;
  /** The TCP host name (with `port`). */
  hostname?: string;
  /**
   * How long, in microseconds, a connection keeps polling for requests after traffic stops
   * before it sleeps on its doorbell (default {@linkcode DEFAULT_POLL_MICROS}). Polling answers
   * in microseconds; waking a sleeping process takes tens. It yields to the event loop every
   * 25 µs and costs nothing while idle; 0 sleeps at once.
   */
  pollMicros?: number;
  /**
   * The most a request may make the server hold before its handler runs. A request over any of
   * them is answered as the runtime's own server answers it (Deno: 400, Bun: 431) and never
   * reaches the handler. The defaults are the runtime's own.
   */
  limits?: RequestLimits;
  /**
   * Bun's WebSocket model: the handlers (`open`, `message`, `close`, `drain`) of every socket
   * that a handler upgrades with `server.upgrade(request, { data, headers })` (the handler's
   * second argument). `upgradeWebSocket` needs none.
   */
  websocket?: BunWebSocketHandler;
}

/** Bounds on a request's head, as an HTTP/1.1 server sets them. See {@linkcode ServeOptions.limits}. */
export interface RequestLimits {
  /** Headers per request, `host` included (Deno 128, Bun 198). */
  headerCount?: number;
  /** Bytes of the whole head as HTTP/1.1 writes it: request line and header lines (Deno 64 KiB, Bun 16 KiB). */
  headBytes?: number;
  /** Bytes of one header line, name and value (default: `headBytes`). */
  headerBytes?: number;
  /** Bytes of the path and query (default: `headBytes`). */
  urlBytes?: number;
}

/** {@linkcode ServeOptions} with the handler inside, as `Deno.serve({ handler })` takes. */
export interface ServeInit extends ServeOptions {
  /** The handler. */
  handler: ServeHandler;
}
