/**
 * A microservice chain: gateway (this process, Deno) -> orders (Deno) -> users (Bun), every hop
 * over shared memory with serve() and fetch(). The gateway also listens on TCP for the world.
 *
 *     deno run -A examples/microservices/main.ts
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Domain, fetch, serve } from "../../mod.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const domainName = `microservices-${process.pid}`;
process.env.XIO_DOMAIN = domainName;
using domain = Domain.open({ name: domainName });

function start(runtime: "deno" | "bun", script: string) {
  const bin = fileURLToPath(new URL(`../../node_modules/.bin/${runtime}`, import.meta.url));
  const args = runtime === "deno" ? ["run", "--allow-all", `${here}${script}`] : [`${here}${script}`];
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "inherit"], env: process.env });
  const ready = new Promise<void>((resolve) =>
    createInterface({ input: child.stdout! }).on("line", () => resolve())
  );
  return { child, ready };
}

const users = start("bun", "users.ts");
const orders = start("deno", "orders.ts");
await Promise.all([users.ready, orders.ready]);

const gateway = serve({ name: "gateway", port: 0, hostname: "127.0.0.1" }, async (request) => {
  const path = new URL(request.url).pathname;
  const upstream = await fetch(`xio://orders${path.replace(/^\/api/, "")}`);
  return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
});

for (const path of ["/api/orders/100", "/api/orders/101", "/api/orders/999"]) {
  const response = await fetch(`xio://gateway${path}`);
  console.log(`xio://gateway${path} -> ${response.status} ${await response.text()}`);
}
const port = gateway.tcp!.addr.port;
const viaTcp = await globalThis.fetch(`http://127.0.0.1:${port}/api/orders/100`);
console.log(
  `http://127.0.0.1:${port}/api/orders/100 (TCP, from outside) -> ${viaTcp.status} ${await viaTcp.text()}`,
);

const rounds = 2000;
const started = performance.now();
await Promise.all(Array.from({ length: 16 }, async () => {
  for (let i = 0; i < rounds / 16; i++) await (await fetch("xio://gateway/api/orders/100")).text();
}));
const seconds = (performance.now() - started) / 1000;
console.log(
  `${rounds} requests through three processes and two hops each: ${(rounds / seconds).toFixed(0)} req/s`,
);

await gateway.shutdown();
users.child.kill();
orders.child.kill();
await Promise.all([users.child, orders.child].map((c) => new Promise((r) => c.on("exit", r))));
domain.close();
