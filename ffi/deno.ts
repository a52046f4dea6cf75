/**
 * The Deno loader: builds `Deno.dlopen` definitions from the neutral symbol table. Handles and
 * pointers are Deno pointer objects here.
 *
 * @module
 */

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

function denoType(type: NativeType): Deno.NativeResultType {
  switch (type) {
    case "handle":
    case "pointer":
    case "callback":
      return "pointer";
    case "bytes":
      return "buffer";
    default:
      return type;
  }
}

function definitions(): Deno.ForeignLibraryInterface {
  const out: Record<string, Deno.ForeignFunction> = {};
  for (const [name, fn] of Object.entries(symbols)) {
    out[name] = {
      parameters: fn.parameters.map(denoType) as Deno.NativeType[],
      result: denoType(fn.result),
    };
  }
  return out;
}

/** The Deno implementation of {@linkcode Runtime}. */
export const runtime: Runtime = {
  name: "deno",
  open(path: string): NativeSymbols {
    return Deno.dlopen(path, definitions()).symbols as unknown as NativeSymbols;
  },
  arrayBuffer(pointer: Pointer, length: number): ArrayBuffer {
    return Deno.UnsafePointerView.getArrayBuffer(pointer as unknown as Deno.PointerObject, length);
  },
  watchCallback(onEvents: (mask: number) => void): WatchCallback {
    const callback = Deno.UnsafeCallback.threadSafe(
      { parameters: ["u32"], result: "void" } as const,
      onEvents,
    );
    // A thread-safe callback starts referenced; we only want it to hold the process open while
    // something waits on it.
    callback.unref();
    return {
      pointer: callback.pointer as unknown as Pointer,
      ref: () => void callback.ref(),
      unref: () => void callback.unref(),
    };
  },
  env(name: string): string | undefined {
    try {
      return Deno.env.get(name);
    } catch {
      return undefined;
    }
  },
  exists(path: string): boolean {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
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
  interceptServe(onServe) {
    const original = Deno.serve;
    // deno-lint-ignore no-explicit-any
    const wrapped = (...args: any[]) => {
      const handler = args.find((a) => typeof a === "function") ??
        args.find((a) => a && typeof a === "object" && typeof a.handler === "function")?.handler ??
        args.find((a) => a && typeof a === "object" && typeof a.fetch === "function")?.fetch;
      if (handler) onServe(handler);
      // deno-lint-ignore no-explicit-any
      return (original as any).apply(Deno, args);
    };
    Object.defineProperty(Deno, "serve", { value: wrapped, configurable: true, writable: true });
  },
};
