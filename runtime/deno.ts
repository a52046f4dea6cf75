/**
 * The Deno adapter: doorbells on `Deno.listen`, Deno's HTTP server, and the hook of `Deno.serve`
 * for the preload.
 *
 * @module
 */

import type { Platform } from "../ffi/platform.ts";
import type { Adapter, Doorbell, DoorbellHandlers, TcpServeOptions, TcpServer } from "./mod.ts";

/** The Deno implementation of {@linkcode Adapter}. */
export const adapter: Adapter = {
  name: "deno",
  fetchHeaders: [
    ["accept", "*/*"],
    ["accept-encoding", "gzip,br"],
    ["accept-language", "*"],
    ["user-agent", `Deno/${Deno.version.deno}`],
  ],
  server: {
    impliedContentType: undefined,
    impliedStreamContentType: undefined,
    keepsTransferEncoding: true,
    gathersStreams: false,
    // Measured against the runtime's server (a request one over is refused).
    limits: { headerCount: 128, headBytes: 64 * 1024, status: 400, declaresLength: true },
  },
  listenDoorbell(path: string, mode: number, handlers: DoorbellHandlers): Doorbell {
    try {
      Deno.removeSync(path);
    } catch {
      // no stale socket
    }
    const listener = Deno.listen({ transport: "unix", path });
    Deno.chmodSync(path, mode);
    listener.unref();
    const conns = new Set<Deno.Conn>();
    let closed = false;
    const serve = async (conn: Deno.Conn) => {
      conn.unref();
      conns.add(conn);
      const scratch = new Uint8Array(256);
      try {
        while ((await conn.read(scratch)) !== null) handlers.onRing();
      } catch {
        // reset by the peer: the same as an end
      }
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // closed by close()
      }
      if (!closed) handlers.onHangup();
    };
    (async () => {
      try {
        for await (const conn of listener) serve(conn);
      } catch {
        // the listener was closed
      }
    })();
    return {
      close() {
        if (closed) return;
        closed = true;
        listener.close();
        for (const conn of conns) conn.close();
        conns.clear();
      },
    };
  },
  env(name: string): string | undefined {
    // Asked first, so that a variable not granted reads as unset instead of prompting.
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return undefined;
    return Deno.env.get(name);
  },
  exists(path: string): boolean {
    if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return false;
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  },
  mayWrite(path: string): boolean | undefined {
    const state = Deno.permissions.querySync({ name: "write", path }).state;
    return state === "granted" ? true : state === "denied" ? false : undefined;
  },
  platform(): Platform {
    const libc = Deno.build.target.endsWith("-musl")
      ? "musl"
      : Deno.build.target.endsWith("-gnu")
      ? "gnu"
      : undefined;
    return { os: Deno.build.os, arch: Deno.build.arch, libc };
  },
  onExit(fn: () => void): void {
    globalThis.addEventListener("unload", fn);
  },
  completeBody(): undefined {
    // Deno's Response keeps its body source private, and its body streams are cheap enough.
    return undefined;
  },
  serveTcp(options: TcpServeOptions, handler: (request: Request) => Response | Promise<Response>): TcpServer {
    const server = Deno.serve({
      port: options.port,
      hostname: options.hostname,
      onListen: (addr) => options.onListen?.({ hostname: addr.hostname, port: addr.port }),
    }, handler);
    return {
      addr: { hostname: server.addr.hostname, port: server.addr.port },
      finished: server.finished,
      shutdown: () => server.shutdown(),
      ref: () => server.ref(),
      unref: () => server.unref(),
    };
  },
  drainMicrotasks: undefined,
  upgradeWebSocket: Deno.upgradeWebSocket.bind(Deno) as (request: Request, options: object) => unknown,
  interceptUpgrade(hooks) {
    const original = Deno.upgradeWebSocket.bind(Deno);
    const wrapped = (request: Request, options?: Deno.UpgradeWebSocketOptions) =>
      hooks.owns(request) ? hooks.deno(request, options) : original(request, options);
    Object.defineProperty(Deno, "upgradeWebSocket", { value: wrapped, configurable: true, writable: true });
  },
  interceptServe(onServe) {
    const original = Deno.serve;
    // deno-lint-ignore no-explicit-any
    const wrapped = (...args: any[]) => {
      const handler = args.find((a) => typeof a === "function") ??
        args.find((a) => a && typeof a === "object" && typeof a.handler === "function")?.handler;
      const app = args.find((a) => a && typeof a === "object" && typeof a.fetch === "function");
      if (handler) onServe(handler);
      // deno-lint-ignore no-explicit-any
      else if (app) onServe((request, info) => app.fetch(request, info as any));
      // deno-lint-ignore no-explicit-any
      return (original as any).apply(Deno, args);
    };
    Object.defineProperty(Deno, "serve", { value: wrapped, configurable: true, writable: true });
  },
};
