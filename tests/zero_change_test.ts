import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import process from "node:process";
import { Domain, fetch, setDefaultDomain } from "../mod.ts";
import { otherRuntime, preloaded, type RuntimeName, runtimeName, uniqueName } from "./_helpers.ts";

const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill("SIGKILL");
  setDefaultDomain(undefined);
});

/** Starts an example app, unchanged, with the preload module; resolves once it is serving. */
async function app(runtime: RuntimeName, script: string, env: Record<string, string>): Promise<ChildProcess> {
  const child = await preloaded(runtime, `examples/zero_change/${script}`, [], env);
  children.push(child);
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

/** The status and body of a response, to compare over the two transports. */
async function outcome(response: Promise<Response>): Promise<[number, string]> {
  const r = await response;
  return [r.status, await r.text()];
}

/** Fetches `url` until its service is registered (the preload serves once the app has loaded). */
async function whenServed(url: string): Promise<Response> {
  for (let i = 0;; i++) {
    try {
      return await fetch(url);
    } catch (error) {
      if (i === 200) throw error;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

describe(`the preload serves an app with only routes (${runtimeName})`, () => {
  test("Bun.serve({ routes }): the same answers over shared memory as over TCP", async () => {
    using domain = Domain.open({ name: uniqueName("zero-routes"), hugepages: "never" });
    setDefaultDomain(domain);
    const tcpPort = String(port++);
    const catalog = await app("bun", "catalog_routes.ts", {
      XIO_DOMAIN: domain.name,
      XIO_SERVICE: "catalog",
      PORT: tcpPort,
    });
    try {
      assert.equal(await (await whenServed("xio://catalog/")).text(), "catalog");
      const tcp = `http://127.0.0.1:${tcpPort}`;
      for (
        const [path, init] of [
          ["/", undefined],
          ["/items/42", undefined],
          ["/items/%C3%A9t%C3%A9", undefined],
          ["/items", undefined],
          ["/items", { method: "POST", body: "c" }],
          ["/items", { method: "PUT", body: "c" }],
          ["/nowhere", undefined],
          ["/items/42/", undefined],
        ] as [string, RequestInit | undefined][]
      ) {
        assert.deepEqual(
          await outcome(fetch(`xio://catalog${path}`, init)),
          await outcome(globalThis.fetch(`${tcp}${path}`, init)),
          `${init?.method ?? "GET"} ${path}`,
        );
      }
      assert.deepEqual(await (await fetch("xio://catalog/items/7")).json(), { id: "7", addressed: true });
    } finally {
      catalog.kill("SIGKILL");
    }
  });
});
