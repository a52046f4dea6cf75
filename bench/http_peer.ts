/**
 * The server side of the HTTP benchmark, always a separate process of the same runtime:
 *
 *   http_peer.ts xio  <domain>   serve() on service "bench" over shared memory
 *   http_peer.ts tcp  -          the runtime's own server (Deno.serve / Bun.serve) on 127.0.0.1:0
 *   http_peer.ts unix <path>     the runtime's own server on a UNIX socket
 *
 * GET answers "ok"; POST reads the whole body and answers with its length in bytes (BENCH_APP=hono
 * or elysia: the same from a framework app, below). Prints one
 * JSON line once listening: `{ ready: true, port?, path? }`.
 */
import process from "node:process";
import { Hono } from "hono";
import { Elysia } from "elysia";
import { serve } from "../http/mod.ts";
import { runtimeName } from "./_proc.ts";

const [transport, address] = process.argv.slice(2);
const print = (value: unknown) => console.log(JSON.stringify(value));

async function plain(request: Request): Promise<Response> {
  if (request.method === "POST") {
    const body = await request.arrayBuffer();
    return new Response(String(body.byteLength));
  }
  return new Response("ok");
}

/**
 * The same answers from a framework app, as users serve them (BENCH_APP): Hono with one
 * middleware, or Elysia.
 */
function app(kind: string | undefined): (request: Request) => Response | Promise<Response> {
  if (kind === "hono") {
    const hono = new Hono();
    hono.use("*", async (c, next) => {
      await next();
      c.header("x-served-by", "bench");
    });
    hono.get("/", (c) => c.text("ok"));
    hono.post("/", async (c) => c.text(String((await c.req.arrayBuffer()).byteLength)));
    return (request) => hono.fetch(request);
  }
  if (kind === "elysia") {
    const elysia = new Elysia()
      .get("/", () => "ok")
      .post("/", async ({ request }) => String((await request.arrayBuffer()).byteLength), { parse: "none" });
    return (request) => elysia.handle(request);
  }
  return plain;
}
const handler = app(process.env.BENCH_APP);

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
