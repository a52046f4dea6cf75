/**
 * The server side of the WebSocket benchmark, a separate process of the same runtime:
 *
 *   ws_peer.ts xio <domain>   serve() on service "bench": `upgradeWebSocket` under Deno, Bun's
 *                             model (`server.upgrade` and `websocket` handlers) under Bun
 *   ws_peer.ts tcp -          the runtime's own: Deno.serve with Deno.upgradeWebSocket, or
 *                             Bun.serve with its websocket handlers, on 127.0.0.1:0
 *
 * Every socket: a binary message whose first byte is 1 is echoed; any other binary message is
 * counted; the text "count?" answers the bytes counted so far (and resets the count). Prints one
 * JSON line once listening: `{ ready: true, port? }`.
 */
import process from "node:process";
import { serve, upgradeWebSocket } from "../http/mod.ts";
import { runtimeName } from "./_proc.ts";

const [transport, address] = process.argv.slice(2);
// A profiled peer (PEER_BUN=--cpu-prof...) is stopped with SIGTERM, and writes its profile as it exits.
process.on("SIGTERM", () => process.exit(0));
const print = (value: unknown) => console.log(JSON.stringify(value));

/** One socket's answers, whatever its API: `send` and the message as text or bytes. */
function answer(send: (data: string | Uint8Array) => void): (data: string | Uint8Array) => void {
  let counted = 0;
  return (data) => {
    if (typeof data === "string") {
      send(String(counted));
      counted = 0;
    } else if (data[0] === 1) send(data);
    else counted += data.length;
  };
}

/** The Deno shape: a socket from upgradeWebSocket (ours or Deno's). */
function denoSocket(upgrade: (request: Request) => { socket: WebSocket; response: Response }) {
  return (request: Request) => {
    const { socket, response } = upgrade(request);
    socket.binaryType = "arraybuffer";
    const on = answer((data) => socket.send(data));
    socket.onmessage = (event) =>
      on(typeof event.data === "string" ? event.data : new Uint8Array(event.data));
    return response;
  };
}

/** Bun's model: the same answers from `websocket` handlers. */
const bunHandlers = {
  open(ws: { data: { on?: (data: string | Uint8Array) => void }; send(data: string | Uint8Array): number }) {
    ws.data = { on: answer((data) => ws.send(data)) };
  },
  message(ws: { data: { on?: (data: string | Uint8Array) => void } }, message: string | Uint8Array) {
    ws.data.on!(message);
  },
};
type BunServer = { upgrade(request: Request, options?: object): boolean };
const bunFetch = (request: Request, server: BunServer) =>
  server.upgrade(request, { data: {} }) ? undefined : new Response("not a websocket", { status: 400 });

if (transport === "xio") {
  process.env.XIO_DOMAIN = address;
  if (runtimeName === "deno") serve({ name: "bench" }, denoSocket(upgradeWebSocket as never));
  else {
    serve({
      name: "bench",
      websocket: bunHandlers as never,
      fetch: (request, info) => bunFetch(request, info as unknown as BunServer) as Response,
    });
  }
  print({ ready: true });
} else if (runtimeName === "deno") {
  Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => print({ ready: true, port }) },
    denoSocket((request) => Deno.upgradeWebSocket(request)),
  );
} else {
  // deno-lint-ignore no-explicit-any
  const server = (globalThis as any).Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: bunFetch,
    websocket: { ...bunHandlers, maxPayloadLength: 64 * 1024 * 1024, backpressureLimit: 64 * 1024 * 1024 },
  });
  print({ ready: true, port: server.port });
}
