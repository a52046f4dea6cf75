/**
 * The Bun adapter: doorbells on `Bun.listen`, Bun's HTTP server, response bodies taken whole
 * when Bun can tell they are in memory, and the hook of `Bun.serve` for the preload.
 *
 * @module
 */

// @ts-types="bun-types"
import { estimateShallowMemoryUsageOf } from "bun:jsc";
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import process from "node:process";
import type { Adapter, Doorbell, DoorbellHandlers, TcpServeOptions, TcpServer } from "./mod.ts";

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
  onExit(fn: () => void): void {
    process.on("exit", fn);
  },
  completeBody(response: Response, max: number): Uint8Array | Promise<Uint8Array> | undefined {
    const base = emptyEstimate ??= probeEstimate();
    if (base < 0) return undefined;
    // A subclass may override the getters checked below (the estimate counts the stored
    // values), and a body already read in part reports its whole size: both are streamed.
    if (Object.getPrototypeOf(response) !== Response.prototype || response.bodyUsed) return undefined;
    const size = estimateShallowMemoryUsageOf(response) - base;
    // A url or statusText counts too: a fetched Response (url) may carry a live stream.
    if (size <= 0 || size > max || response.url !== "" || response.statusText !== "") return undefined;
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
  interceptServe(onServe) {
    const original = Bun.serve;
    // deno-lint-ignore no-explicit-any
    const wrapped = (options: any, ...rest: any[]) => {
      if (options && typeof options.fetch === "function") {
        const app = options;
        onServe((request, info) => app.fetch(request, info));
      }
      // deno-lint-ignore no-explicit-any
      return (original as any).call(Bun, options, ...rest);
    };
    // Bun.serve is writable but not configurable.
    Bun.serve = wrapped;
  },
};
