/**
 * Kernel-socket baselines through each runtime's own socket API (Deno.listen/Deno.connect, or
 * Bun.listen/Bun.connect): an echo server and a ping-pong client, over UNIX sockets or TCP.
 * Benchmarks only; the library never uses this.
 */

import net from "node:net";
import { Duplex } from "node:stream";

export type Transport = "unix" | "tcp";

export interface EchoServer {
  /** How to reach it: a socket path or a TCP port. */
  address: { path?: string; port?: number };
  close(): void;
}

export interface PingPongClient {
  /** Writes `payload` and resolves once as many bytes came back. */
  roundTrip(): Promise<void>;
  /** Writes `count` messages of `size` bytes one write each, as fast as the socket takes them. */
  stream(count: number): Promise<void>;
  close(): void;
}

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

export function startEcho(transport: Transport, path: string, sink = false): Promise<EchoServer> {
  return isBun ? bunEcho(transport, path, sink) : denoEcho(transport, path, sink);
}

export function connect(
  transport: Transport,
  address: EchoServer["address"],
  size: number,
): Promise<PingPongClient> {
  return isBun ? bunClient(transport, address, size) : denoClient(transport, address, size);
}

/**
 * Pushes `total` bytes in `chunk`-byte writes through the UNIX-socket echo at `address` and reads
 * them all back at the same time, through Web Streams, as code written for Deno.Conn does: a
 * `Deno.Conn`'s own in Deno, a node:net socket's (Duplex.toWeb) in Bun, whose own sockets have
 * none. Resolves to the seconds it took.
 */
export async function pipeThrough(
  address: EchoServer["address"],
  chunk: number,
  total: number,
): Promise<number> {
  if (!isBun) {
    return await streamThrough(await Deno.connect({ transport: "unix", path: address.path! }), chunk, total);
  }
  const socket = net.connect(address.path!);
  await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const { readable, writable } = Duplex.toWeb(socket);
  const seconds = await streamThrough(
    { readable: readable as ReadableStream<Uint8Array>, writable: writable as WritableStream<Uint8Array> },
    chunk,
    total,
  );
  socket.destroy();
  return seconds;
}

/** Writes and reads back `total` bytes through `conn`'s Web Streams; the seconds it took. */
export async function streamThrough(
  conn: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
  chunk: number,
  total: number,
): Promise<number> {
  const payload = new Uint8Array(chunk).fill(7);
  const started = performance.now();
  const reading = (async () => {
    let got = 0;
    for await (const part of conn.readable) {
      got += part.length;
      if (got >= total) break;
    }
    return got;
  })();
  const writer = conn.writable.getWriter();
  for (let sent = 0; sent < total; sent += chunk) await writer.write(payload);
  const got = await reading;
  const seconds = (performance.now() - started) / 1000;
  if (got < total) throw new Error(`echo returned ${got} of ${total} bytes`);
  writer.releaseLock();
  return seconds;
}

// Deno

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await conn.write(bytes.subarray(done));
}

function denoEcho(transport: Transport, path: string, sink: boolean): Promise<EchoServer> {
  const listener = transport === "unix"
    ? Deno.listen({ transport: "unix", path })
    : Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      if (transport === "tcp") (conn as Deno.TcpConn).setNoDelay(true);
      (async () => {
        const buffer = new Uint8Array(1 << 20);
        try {
          for (;;) {
            const n = await conn.read(buffer);
            if (n === null) break;
            if (!sink) await writeAll(conn, buffer.subarray(0, n));
          }
        } catch { /* peer went away */ }
        conn.close();
      })();
    }
  })().catch(() => {});
  const address = transport === "unix" ? { path } : { port: (listener.addr as Deno.NetAddr).port };
  return Promise.resolve({ address, close: () => listener.close() });
}

async function denoClient(
  transport: Transport,
  address: EchoServer["address"],
  size: number,
): Promise<PingPongClient> {
  const conn = transport === "unix"
    ? await Deno.connect({ transport: "unix", path: address.path! })
    : await Deno.connect({ hostname: "127.0.0.1", port: address.port! });
  if (transport === "tcp") (conn as Deno.TcpConn).setNoDelay(true);
  const payload = new Uint8Array(size).fill(7);
  const back = new Uint8Array(size);
  return {
    async roundTrip() {
      // Read while writing: a large payload would otherwise fill both socket buffers.
      const reading = (async () => {
        let got = 0;
        while (got < size) {
          const n = await conn.read(back.subarray(got));
          if (n === null) throw new Error("echo closed");
          got += n;
        }
      })();
      await writeAll(conn, payload);
      await reading;
    },
    async stream(count: number) {
      for (let i = 0; i < count; i++) await writeAll(conn, payload);
    },
    close: () => conn.close(),
  };
}

// Bun

type BunSocket = {
  write(data: Uint8Array): number;
  end(): void;
  setNoDelay?(on: boolean): void;
  data: { pending: Uint8Array[] };
};

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;

function flush(socket: BunSocket): void {
  const pending = socket.data.pending;
  while (pending.length > 0) {
    const chunk = pending[0];
    const written = socket.write(chunk);
    if (written === chunk.length) pending.shift();
    else {
      pending[0] = chunk.subarray(Math.max(written, 0));
      return;
    }
  }
}

function bunEcho(transport: Transport, path: string, sink: boolean): Promise<EchoServer> {
  const handlers = {
    open(socket: BunSocket) {
      socket.data = { pending: [] };
      socket.setNoDelay?.(true);
    },
    data(socket: BunSocket, data: Uint8Array) {
      if (sink) return;
      socket.data.pending.push(new Uint8Array(data));
      flush(socket);
    },
    drain(socket: BunSocket) {
      flush(socket);
    },
    error() {},
    close() {},
  };
  const server = transport === "unix"
    ? Bun.listen({ unix: path, socket: handlers })
    : Bun.listen({ hostname: "127.0.0.1", port: 0, socket: handlers });
  const address = transport === "unix" ? { path } : { port: server.port as number };
  return Promise.resolve({ address, close: () => server.stop(true) });
}

async function bunClient(
  transport: Transport,
  address: EchoServer["address"],
  size: number,
): Promise<PingPongClient> {
  let expected = 0;
  let got = 0;
  let wake: (() => void) | undefined;
  let drained: (() => void) | undefined;
  const handlers = {
    open(socket: BunSocket) {
      socket.data = { pending: [] };
      socket.setNoDelay?.(true);
    },
    data(_socket: BunSocket, data: Uint8Array) {
      got += data.length;
      if (got >= expected && wake) {
        const w = wake;
        wake = undefined;
        w();
      }
    },
    drain(socket: BunSocket) {
      flush(socket);
      if (socket.data.pending.length === 0 && drained) {
        const d = drained;
        drained = undefined;
        d();
      }
    },
    error() {},
    close() {},
  };
  const socket: BunSocket = transport === "unix"
    ? await Bun.connect({ unix: address.path, socket: handlers })
    : await Bun.connect({ hostname: "127.0.0.1", port: address.port, socket: handlers });
  const payload = new Uint8Array(size).fill(7);
  const send = async () => {
    socket.data.pending.push(payload);
    flush(socket);
    if (socket.data.pending.length > 0) await new Promise<void>((r) => (drained = r));
  };
  return {
    async roundTrip() {
      expected += size;
      const arrived = new Promise<void>((r) => (wake = r));
      await send();
      if (got < expected) await arrived;
      else wake = undefined;
    },
    async stream(count: number) {
      for (let i = 0; i < count; i++) await send();
    },
    close: () => socket.end(),
  };
}
