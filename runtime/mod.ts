/**
 * The runtime adapters: what differs between Deno and Bun beyond loading the library (which is
 * `ffi/`'s job). This module picks the adapter of the runtime we run on; everything else imports
 * {@linkcode adapter} from here and never an adapter file itself.
 *
 * @module
 */

import type { Platform } from "../ffi/platform.ts";

/** What a doorbell does when it rings or loses a peer. */
export interface DoorbellHandlers {
  /** A peer wrote to the doorbell: this node has news. */
  onRing(): void;
  /** A peer's connection closed: it left, or died. */
  onHangup(): void;
}

/** A UNIX socket that the runtime's own event loop listens on, to be woken by peers. */
export interface Doorbell {
  /** Stops listening and closes every connection. Safe to call twice. */
  close(): void;
}

/** What differs between Deno and Bun beyond FFI: one adapter per runtime implements it. */
export interface Adapter {
  /** Which runtime this is. */
  readonly name: "deno" | "bun";
  /**
   * Listens on the UNIX socket `path` (mode `mode`) with the runtime's own event loop, replacing
   * a stale socket file. It never keeps the process alive.
   */
  listenDoorbell(path: string, mode: number, handlers: DoorbellHandlers): Doorbell;
  /**
   * The request headers the runtime's own fetch sends unless told otherwise, as its server sees
   * them (`host` and `content-length` aside): what a handler sees from a fetch over TCP.
   */
  readonly fetchHeaders: readonly [string, string][];
  /** An environment variable, or undefined if unset or not permitted (never a prompt). */
  env(name: string): string | undefined;
  /** Whether a file exists and reading it is permitted (never a prompt). */
  exists(path: string): boolean;
  /** Whether writing `path` is permitted: true, false, or undefined if the runtime would ask. */
  mayWrite(path: string): boolean | undefined;
  /** The OS, CPU and C library of this process, for picking the native library to load. */
  platform(): Platform;
  /** Runs `fn` when the process is about to exit normally (Deno's unload, Bun's exit). */
  onExit(fn: () => void): void;
  /**
   * The body of `response` when the runtime can tell, without turning it into a stream, that it
   * is complete in memory (a string, bytes or JSON given to the constructor) and about `max`
   * bytes or fewer (a string's UTF-8 may be up to twice what was measured): its bytes, now or
   * (rarely) soon; the body is then used. Undefined when the runtime cannot tell: the body
   * must be read as a stream, since it may be live.
   */
  completeBody(response: Response, max: number): Uint8Array | Promise<Uint8Array> | undefined;
  /**
   * The runtime's own `Deno.upgradeWebSocket` (taken before any preload replaces it), for
   * requests that did not come over shared memory; Bun has none.
   */
  readonly upgradeWebSocket: ((request: Request, options: object) => unknown) | undefined;
  /**
   * Runs every pending microtask now, where the runtime's own WebSocket does so between two
   * messages that arrived together (Bun: code that awaits one message sees it before the next);
   * undefined where it hands them all out in one go (Deno: a listener added once one message
   * came misses the others).
   */
  readonly drainMicrotasks: (() => void) | undefined;
  /** What the runtime's own HTTP server does that a client can see, for `serve` to do alike. */
  readonly server: ServerHabits;
  /** Serves `handler` over TCP with the runtime's own HTTP server (Deno.serve or Bun.serve). */
  serveTcp(options: TcpServeOptions, handler: (request: Request) => Response | Promise<Response>): TcpServer;
  /**
   * For the opt-in preload module only: wraps the runtime's own serve function so that
   * `onServe` sees every handler the application serves. The library never calls this.
   */
  interceptServe(
    onServe: (
      handler: (request: Request, info: unknown) => Response | Promise<Response>,
      websocket?: object,
    ) => void,
  ): void;
  /**
   * For the opt-in preload module only: makes the runtime's own WebSocket upgrade
   * (`Deno.upgradeWebSocket`, or `upgrade` on every server `Bun.serve` returns) upgrade
   * requests over shared memory with `upgrade`, and hand every other request on unchanged.
   */
  interceptUpgrade(upgrade: UpgradeHooks): void;
}

/** The upgrades over shared memory that {@linkcode Adapter.interceptUpgrade} hands requests to. */
export interface UpgradeHooks {
  /** Whether `request` came over shared memory and asks for a WebSocket. */
  owns(request: Request): boolean;
  /** `Deno.upgradeWebSocket` for such a request. */
  deno(request: Request, options?: object): unknown;
  /** Bun's `server.upgrade` for such a request. */
  bun(request: Request, options?: object): boolean;
}

/** What a runtime's own HTTP server does with a handler's response, as its clients see it. */
export interface ServerHabits {
  /**
   * The content-type it sends for a body that `completeBody` took and whose headers name none
   * (Bun's server adds one; a Deno Response has it in its headers already).
   */
  readonly impliedContentType: "text/plain;charset=utf-8" | undefined;
  /** The content-type it sends for a stream that ended at once and whose headers name none. */
  readonly impliedStreamContentType: "application/octet-stream" | undefined;
  /**
   * Whether it keeps a `transfer-encoding` header that a handler set (and then declares no
   * length), as Deno's does; Bun's drops it.
   */
  readonly keepsTransferEncoding: boolean;
  /**
   * Whether it waits for a stream's first chunk and takes what follows at once, declaring the
   * length of a stream that ended meanwhile (Bun's), or declares only a body of one chunk that
   * is there at once (Deno's). See `peekBody`.
   */
  readonly gathersStreams: boolean;
  /**
   * The bounds of a request's head, and how it refuses a request over them: the status, with
   * `connection: close`, and an empty body of declared length or not.
   */
  readonly limits: { headerCount: number; headBytes: number; status: number; declaresLength: boolean };
}

/** Options of {@linkcode Adapter.serveTcp}. */
export interface TcpServeOptions {
  port: number;
  hostname?: string;
  onListen?: (addr: { hostname: string; port: number }) => void;
}

/** A TCP server started by {@linkcode Adapter.serveTcp}. */
export interface TcpServer {
  /** The address it listens on. */
  readonly addr: { hostname: string; port: number };
  /** Resolves once it has shut down. */
  readonly finished: Promise<void>;
  /** Stops it gracefully. */
  shutdown(): Promise<void>;
  /** Keeps the process alive while it listens (the default). */
  ref(): void;
  /** Lets the process exit while it listens. */
  unref(): void;
}

// Each adapter is imported by a literal specifier, so that bundlers (`bun build --compile`) carry
// both; only the one of this runtime is evaluated.
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/** The adapter of the runtime we run on. */
export const adapter: Adapter = isBun
  ? (await import("./bun.ts")).adapter
  : (await import("./deno.ts")).adapter;
