/**
 * The server side of the HTTP benchmark, always a separate process of the same runtime:
 *
 *   http_peer.ts xio  <domain>   serve() on service "bench" over shared memory
 *   http_peer.ts tcp  -          the runtime's own server (Deno.serve / Bun.serve) on 127.0.0.1:0
 *   http_peer.ts unix <path>     the runtime's own server on a UNIX socket
 *
 * GET answers "ok"; POST reads the whole body and answers with its length in bytes. Prints one
 * JSON line once listening: `{ ready: true, port?, path? }`.
 */
import process from "node:process";
import { serve } from "../http/mod.ts";
import { runtimeName } from "./_proc.ts";

const [transport, address] = process.argv.slice(2);
const print = (value: unknown) => console.log(JSON.stringify(value));

async function handler(request: Request): Promise<Response> {
  if (request.method === "POST") {
    const body = await request.arrayBuffer();
    return new Response(String(body.byteLength));
  }
  return new Response("ok");
}

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;

if (transport === "xio") {
  serve({ name: "bench", domain: address }, handler);
  print({ ready: true });
} else if (transport === "tcp") {
  if (runtimeName === "bun") {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handler });
    print({ ready: true, port: server.port as number });
  } else {
    // onListen replaces Deno's own "Listening on" line, which would come before ours.
    Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: (addr) => print({ ready: true, port: (addr as Deno.NetAddr).port }),
    }, handler);
  }
} else if (transport === "unix") {
  if (runtimeName === "bun") {
    Bun.serve({ unix: address, fetch: handler });
    print({ ready: true, path: address });
  } else {
    Deno.serve({ path: address, onListen: () => print({ ready: true, path: address }) }, handler);
  }
} else {
  console.error(`http_peer.ts: unknown transport ${JSON.stringify(transport)}`);
  process.exit(2);
}
