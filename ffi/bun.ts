/**
 * The Bun loader: builds `bun:ffi` definitions from the neutral symbol table. Handles and
 * pointers are numbers here.
 *
 * @module
 */

// @ts-types="bun-types"
import { dlopen, FFIType, JSCallback, toArrayBuffer } from "bun:ffi";
import { existsSync } from "node:fs";

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;
import process from "node:process";
import {
  type NativeSymbols,
  type NativeType,
  type Pointer,
  type Runtime,
  symbols,
  type TcpServeOptions,
  type TcpServer,
  type WatchCallback,
} from "./symbols.ts";

function bunType(type: NativeType): FFIType {
  switch (type) {
    case "handle":
    case "pointer":
    case "bytes":
      return FFIType.ptr;
    case "callback":
      return FFIType.function;
    case "u32":
      return FFIType.u32;
    case "i32":
      return FFIType.i32;
    case "f64":
      return FFIType.f64;
    case "void":
      return FFIType.void;
  }
}

function definitions() {
  const out: Record<string, { args: FFIType[]; returns: FFIType }> = {};
  for (const [name, fn] of Object.entries(symbols)) {
    out[name] = { args: fn.parameters.map(bunType), returns: bunType(fn.result) };
  }
  return out;
}

/** The Bun implementation of {@linkcode Runtime}. */
export const runtime: Runtime = {
  name: "bun",
  open(path: string): NativeSymbols {
    return dlopen(path, definitions()).symbols as unknown as NativeSymbols;
  },
  arrayBuffer(pointer: Pointer, length: number): ArrayBuffer {
    return toArrayBuffer(pointer as unknown as number, 0, length) as ArrayBuffer;
  },
  watchCallback(onEvents: (mask: number) => void): WatchCallback {
    const callback = new JSCallback(onEvents, {
      args: [FFIType.u32],
      returns: FFIType.void,
      threadsafe: true,
    });
    // Bun's thread-safe callbacks do not keep the event loop alive, so an idle timer does that
    // while JS waits for one.
    let refs = 0;
    const keepAlive = setInterval(() => {}, 1 << 30);
    keepAlive.unref();
    return {
      pointer: callback.ptr as unknown as Pointer,
      ref() {
        if (refs++ === 0) keepAlive.ref();
      },
      unref() {
        if (--refs === 0) keepAlive.unref();
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
