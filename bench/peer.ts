/**
 * The far side of a benchmark, always a separate process of the same runtime:
 *
 *   peer.ts echo      xio|xsock|unix|tcp <domain-or-path> [poll]   echo every message (or byte)
 *   peer.ts sink      xio|xsock|unix|tcp <domain-or-path> [poll]   consume what arrives
 *   peer.ts idle      xio <domain>                           one event-mode endpoint waiting
 *   peer.ts pipe      xsock|unix <domain-or-path>            echo with readable.pipeTo(writable)
 *
 * It prints one JSON line when ready (with the address to use), and sink prints one more at EOF.
 */
import process from "node:process";
import { Domain, listen, type PollMode, type SharedBuffer } from "../mod.ts";
import { startEcho, type Transport } from "./_net.ts";
import { runtimeName } from "./_proc.ts";
import net from "node:net";
import { Duplex } from "node:stream";

const [role, transport, where, pollArg] = process.argv.slice(2);
const poll = (pollArg ?? "event") as PollMode;
const print = (value: unknown) => console.log(JSON.stringify(value));

if (role === "pipe" && transport === "unix" && runtimeName === "deno") {
  // The runtime's own socket, echoing through its Web Streams.
  const listener = Deno.listen({ transport: "unix", path: where });
  print({ ready: true, path: where });
  for await (const conn of listener) conn.readable.pipeTo(conn.writable).catch(() => {});
} else if (role === "pipe" && transport === "unix") {
  // Bun's own sockets have no Web Streams: a node:net socket made into them (Duplex.toWeb).
  const server = net.createServer((socket) => {
    const { readable, writable } = Duplex.toWeb(socket);
    readable.pipeTo(writable as WritableStream<Uint8Array>).catch(() => {});
  });
  server.listen(where, () => print({ ready: true, path: where }));
} else if (role === "pipe" && transport === "xsock") {
  const domain = Domain.open({ name: where });
  const listener = listen({ name: "bench", domain, poll });
  print({ ready: true });
  for await (const conn of listener) conn.readable.pipeTo(conn.writable).catch(() => {});
} else if (transport === "xsock") {
  // The socket layer: Conn objects over shared memory.
  const domain = Domain.open({ name: where });
  const listener = listen({ name: "bench", domain, poll });
  print({ ready: true });
  for await (const conn of listener) {
    (async () => {
      const buffer = new Uint8Array(1 << 20);
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        if (role === "echo") await conn.write(buffer.subarray(0, n));
      }
      conn.close();
    })();
  }
} else if (transport === "xio") {
  const domain = Domain.open({ name: where });
  const listener = domain.listen("bench", { poll });
  print({ ready: true });
  if (role === "idle") {
    const channel = await listener.accept();
    await channel.recv(); // parks until the benchmark ends us
  }
  for await (const channel of listener) {
    if (role === "echo") {
      (async () => {
        for (;;) {
          const message = await channel.recv();
          if (message === null) break;
          await channel.send(message); // the same buffer goes back: nothing is copied
        }
        channel.close();
      })();
    } else {
      const batch: SharedBuffer[] = [];
      let messages = 0;
      let first = 0;
      for (;;) {
        const n = channel.tryRecvMany(batch);
        if (n === null) break;
        if (n === 0) {
          const one = await channel.recv();
          if (one === null) break;
          if (messages === 0) first = performance.now();
          messages++;
          one.release();
          continue;
        }
        if (messages === 0) first = performance.now();
        messages += n;
        channel.releaseMany(batch, n);
      }
      print({ messages, seconds: (performance.now() - first) / 1000 });
      channel.close();
      domain.close();
      process.exit(0);
    }
  }
} else {
  if (role === "sink") {
    // A sink counts bytes; the rate is computed by the writer from the bytes it wrote.
    const server = await startEcho(transport as Transport, where, true);
    print({ ready: true, ...server.address });
  } else {
    const server = await startEcho(transport as Transport, where);
    print({ ready: true, ...server.address });
  }
}
