import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Domain, fetch, setDefaultDomain } from "../mod.ts";
import {
  otherRuntime,
  runtimeBinary,
  type RuntimeName,
  runtimeName,
  uniqueName,
  within,
} from "./_helpers.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill("SIGKILL");
  setDefaultDomain(undefined);
});

/** Starts an example app, unchanged, with the preload module; resolves once it is serving. */
async function app(runtime: RuntimeName, script: string, env: Record<string, string>): Promise<ChildProcess> {
  const preload = `${root}preload.ts`;
  const path = `${root}examples/zero_change/${script}`;
  const args = runtime === "deno"
    ? ["run", "--allow-all", "--preload", preload, path]
    : ["--preload", preload, path];
  const child = spawn(runtimeBinary(runtime), args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  await within(
    20_000,
    new Promise<void>((resolve) =>
      createInterface({ input: child.stdout! }).on("line", (line) => line.endsWith("ready") && resolve())
    ),
    `${script} under ${runtime}`,
  );
  return child;
}

let port = 20_000 + (process.pid % 20_000);

describe(`an app with no xio import runs over shared memory with the preload (${runtimeName})`, () => {
  for (
    const [inventoryRuntime, ordersRuntime] of [[runtimeName, otherRuntime], [
      otherRuntime,
      runtimeName,
    ]] as const
  ) {
    test(`inventory under ${inventoryRuntime}, orders under ${ordersRuntime}`, async () => {
      using domain = Domain.open({ name: uniqueName("zero-change"), hugepages: "never" });
      setDefaultDomain(domain);
      const inventoryPort = String(port++);
      const ordersPort = String(port++);
      const inventory = await app(inventoryRuntime, "inventory.ts", {
        XIO_DOMAIN: domain.name,
        XIO_SERVICE: "inventory",
        PORT: inventoryPort,
      });
      // "inventory" does not resolve as a host name: only the route makes this URL work.
      const url = `http://inventory:${inventoryPort}`;
      const orders = await app(ordersRuntime, "orders.ts", {
        XIO_DOMAIN: domain.name,
        XIO_SERVICE: "orders",
        XIO_ROUTES: `${url}=inventory`,
        INVENTORY_URL: url,
        PORT: ordersPort,
      });
      const viaXio = await (await fetch("xio://orders/order/42")).json();
      assert.deepEqual(viaXio, { order: "42", accepted: true, stock: { id: "42", inStock: 7 } });
      // The apps' own TCP servers still answer, and orders' fetch still goes over shared memory.
      const viaTcp = await (await globalThis.fetch(`http://127.0.0.1:${ordersPort}/order/43`)).json();
      assert.deepEqual(viaTcp, { order: "43", accepted: false, stock: { id: "43", inStock: 0 } });
      inventory.kill("SIGKILL");
      orders.kill("SIGKILL");
      await Promise.all(
        [inventory, orders].map((c) => new Promise((r) => c.exitCode !== null ? r(null) : c.on("exit", r))),
      );
    });
  }
});
