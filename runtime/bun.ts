/**
 * The Bun adapter: doorbells on `Bun.listen`, Bun's HTTP server, response bodies taken whole
 * when Bun can tell they are in memory, and the hook of `Bun.serve` for the preload.
 *
 * @module
 */

// Deno type-checks this file too (it is in the graph of mod.ts): `bun:jsc` is left untyped there,
// rather than bringing bun-types' globals into every Deno program that checks this package.
import { drainMicrotasks, estimateShallowMemoryUsageOf } from "bun:jsc";
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import process from "node:process";
import type { Platform } from "../ffi/platform.ts";
import type { Adapter, Doorbell, DoorbellHandlers, TcpServeOptions, TcpServer } from "./mod.ts";
import { bunServeHandler, setUpgradeHooks, teachServer } from "./bun_routes.ts";

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;

/**
 * What `estimateShallowMemoryUsageOf` reports for a Response without a body, or -1 if it does
 * not report bodies as this module expects; probed on first use.
 *
 * Why a memory estimate: a Bun Response made from a string, bytes or JSON holds them in memory
 * and reports their size in its estimate (with its url and statusText), while one made from a
 * stream reports none of it (a native stream of known size reports that size). Reading such a
 * body as a stream costs a few microseconds in Bun (starting the lazy native stream, two reads),
 * more than the rest of a small request; `bytes()` hands it over at once. But `bytes()` on a
 * live stream would wait for its end, and no public API tells the two apart without reading
 * the body, so the estimate is the only safe test. The probe checks that this Bun still reports
 * as expected; if not, every body is read as a stream.
 */
let emptyEstimate: number | undefined;

function probeEstimate(): number {
  try {
    const estimate = (response: Response) => estimateShallowMemoryUsageOf(response);
    const base = estimate(new Response(null));
    const live = () => new ReadableStream({ pull() {} });
    const expected = estimate(new Response(live())) === base &&
      estimate(new Response(live(), { status: 201, headers: { "x-probe": "x".repeat(64) } })) === base &&
      estimate(new Response("four")) === base + 4 &&
      estimate(new Response(live(), { statusText: "Made" })) === base + 4 &&
      estimate(new Response("four", { statusText: "Made" })) === base + 8 &&
      estimate(new Response(new Uint8Array(100))) === base + 100 &&
      Bun.peek.status(new Response("four").bytes()) === "fulfilled";
    return expected ? base : -1;
  } catch {
    return -1;
  }
}

/** The Bun implementation of {@linkcode Adapter}. */
export const adapter: Adapter = {
  name: "bun",
  fetchHeaders: [
    ["accept", "*/*"],
    ["accept-encoding", "gzip, deflate, br, zstd"],
    ["connection", "keep-alive"],
    ["user-agent", `Bun/${Bun.version}`],
  ],
  server: {
    // Bun's server labels a string or an untyped Blob "text/plain;charset=utf-8" and bytes
    // "application/octet-stream"; nothing public tells a string body from a bytes body (both are
    // the same in-memory blob to every API), so both get the label of the commoner, a string.
    impliedContentType: "text/plain;charset=utf-8",
    // Likewise a native stream (a body passed on from another Response) gets
    // "application/octet-stream" and a JavaScript one none; the label goes to the commoner.
    impliedStreamContentType: "application/octet-stream",
    keepsTransferEncoding: false,
    gathersStreams: true,
    // Measured against the runtime's server (a request one over is refused).
    limits: { headerCount: 198, headBytes: 16 * 1024, status: 431, declaresLength: false },
  },
  listenDoorbell(path: string, mode: number, handlers: DoorbellHandlers): Doorbell {
    try {
      unlinkSync(path);
    } catch {
      // no stale socket
    }
    let closed = false;
    const listener = Bun.listen({
      unix: path,
      socket: {
        // A peer's doorbell connection must not keep this process alive (the listener's unref
        // does not reach the sockets it accepts).
        open(socket: { unref(): void }) {
          socket.unref();
        },
        data() {
          handlers.onRing();
        },
        close() {
          if (!closed) handlers.onHangup();
        },
        error() {},
      },
    });
    chmodSync(path, mode);
    listener.unref();
    return {
      close() {
        if (closed) return;
        closed = true;
        listener.stop(true);
      },
    };
  },
  env(name: string): string | undefined {
    return process.env[name];
  },
  exists(path: string): boolean {
    return existsSync(path);
  },
  mayWrite(): boolean | undefined {
    return true; // Bun has no permissions
  },
  platform(): Platform {
    // Node's way: a process on glibc reports the version it runs with.
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    const libc = process.platform !== "linux"
      ? undefined
      : report?.header?.glibcVersionRuntime !== undefined
      ? "gnu"
      : "musl";
    return { os: process.platform, arch: process.arch, libc };
  },
  onExit(fn: () => void): void {
    process.on("exit", fn);
  },
  completeBody(response: Response, max: number): Uint8Array | Promise<Uint8Array> | undefined {
    const base = emptyEstimate ??= probeEstimate();
    if (base < 0) return undefined;
    // A subclass may override the getters checked below (the estimate counts the stored
    // values), and a body already read in part reports its whole size: both are streamed.
    if (Object.getPrototypeOf(response) !== Response.prototype || response.bodyUsed) return undefined;
    let size = estimateShallowMemoryUsageOf(response) - base;
    // A statusText counts too, a byte per character when it is ASCII (as the probe checks).
    const statusText = response.statusText;
    if (statusText !== "") {
      if (!/^[\x20-\x7e]+$/.test(statusText)) return undefined;
      size -= statusText.length;
    }
    // A fetched Response (one with a url) may carry a live stream.
    if (size <= 0 || size > max || response.url !== "") return undefined;
    // Fulfilled at once for bytes in memory. A native stream of known size (at most `max`)
    // is read to its end first. (A string is measured as stored, one or two bytes a
    // character: its UTF-8 may be up to twice `size`.)
    const bytes: Promise<Uint8Array> = response.bytes();
    return Bun.peek.status(bytes) === "fulfilled" ? Bun.peek(bytes) as Uint8Array : bytes;
  },
  serveTcp(options: TcpServeOptions, handler: (request: Request) => Response | Promise<Response>): TcpServer {
    const server = Bun.serve({ port: options.port, hostname: options.hostname, fetch: handler });
    const addr = {
      hostname: server.hostname ?? options.hostname ?? "0.0.0.0",
      port: server.port ?? options.port,
    };
    options.onListen?.(addr);
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    return {
      addr,
      finished,
      async shutdown() {
        await server.stop(false);
        done();
      },
      ref: () => server.ref(),
      unref: () => server.unref(),
    };
  },
  drainMicrotasks,
  upgradeWebSocket: undefined,
  interceptUpgrade(hooks) {
    setUpgradeHooks(hooks);
  },
  interceptServe(onServe) {
    const original = Bun.serve;
    // deno-lint-ignore no-explicit-any
    const wrapped = (options: any, ...rest: any[]) => {
      // Its routes and its fetch, with Bun's server (as handlers get it) once it exists.
      const made: { server?: object } = {};
      const handler = options !== null && typeof options === "object"
        ? bunServeHandler(options, () => made.server)
        : undefined;
      if (handler !== undefined) onServe(handler, options.websocket ?? undefined);
      made.server = original.call(Bun, options, ...rest);
      if (handler !== undefined) teachServer(made.server as Parameters<typeof teachServer>[0]);
      return made.server;
    };
    // Bun.serve is writable but not configurable.
    Bun.serve = wrapped;
  },
};
