/**
 * WebSocket apps that nobody here wrote, unchanged, with the preload: the runtime's own API,
 * Hono's upgradeWebSocket helper and Elysia's .ws(), each answered message by message over
 * shared memory as over TCP through the runtime's own server and WebSocket.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import process from "node:process";
import { Domain, fetch, setDefaultDomain, WebSocket } from "../mod.ts";
import { preloaded, runtimeName, uniqueName, within } from "./_helpers.ts";

const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill("SIGKILL");
  setDefaultDomain(undefined);
});

/** Starts tests/fixtures/ws_app.ts <kind> with the preload; resolves once it serves. */
async function app(kind: string, env: Record<string, string>): Promise<ChildProcess> {
  const child = await preloaded(runtimeName, "tests/fixtures/ws_app.ts", [kind], env);
  children.push(child);
  return child;
}

/**
 * One conversation: the welcome, a text, a binary message and a close request, with what each
 * side saw, in order.
 */
async function converse(ws: globalThis.WebSocket | WebSocket): Promise<string[]> {
  const log: string[] = [];
  let seen = 0;
  let wake: (() => void) | undefined;
  const push = (entry: string) => {
    log.push(entry);
    wake?.();
  };
  ws.binaryType = "arraybuffer";
  ws.addEventListener("open", () => push("open"));
  ws.addEventListener("error", () => push("error"));
  ws.addEventListener("message", (event) => push(`message ${String((event as MessageEvent).data)}`));
  ws.addEventListener("close", (event) => {
    const e = event as CloseEvent;
    push(`close ${e.code} ${e.reason} ${e.wasClean}`);
  });
  const entries = async (n: number) => {
    while (log.length < seen + n) {
      await within(10_000, new Promise<void>((r) => (wake = r)), `event ${seen + n}`);
    }
    seen += n;
  };
  await entries(2); // open, welcome
  ws.send("hello");
  await entries(1);
  ws.send(new Uint8Array([1, 2, 3]));
  await entries(1);
  ws.send("close");
  await entries(1);
  return log;
}

const kinds = runtimeName === "deno" ? ["plain", "hono"] : ["plain", "hono", "elysia"];
let port = 30_000 + (process.pid % 20_000);

describe(`WebSocket apps with no xio import run over shared memory with the preload (${runtimeName})`, () => {
  for (const kind of kinds) {
    test(`${kind}: the same conversation over shared memory as over TCP`, async () => {
      using domain = Domain.open({ name: uniqueName("ws-apps"), hugepages: "never" });
      setDefaultDomain(domain);
      const service = `ws-${kind}`;
      const appPort = port++;
      const child = await app(kind, { XIO_DOMAIN: domain.name, XIO_SERVICE: service, PORT: String(appPort) });
      try {
        const overTcp = await converse(new globalThis.WebSocket(`ws://127.0.0.1:${appPort}/ws`));
        const local = new WebSocket(`xio://${service}/ws`);
        assert.ok(local instanceof WebSocket, "over shared memory");
        const overXio = await converse(local);
        assert.equal(overTcp[0], "open");
        assert.equal(overTcp[1], "message welcome");
        assert.ok(overTcp[2].endsWith(": hello"), overTcp[2]);
        assert.equal(overTcp.at(-1), "close 4000 bye true");
        assert.deepEqual(overXio, overTcp);
      } finally {
        child.kill("SIGKILL");
        setDefaultDomain(undefined);
      }
    });
  }

  test("the app's own global WebSocket goes over shared memory to a routed origin", async () => {
    using domain = Domain.open({ name: uniqueName("ws-relay"), hugepages: "never" });
    setDefaultDomain(domain);
    const targetPort = port++;
    const relayPort = port++;
    // "relay-target" does not resolve as a host name: only the route makes this URL work.
    const origin = `http://relay-target:${targetPort}`;
    const target = await app("plain", {
      XIO_DOMAIN: domain.name,
      XIO_SERVICE: "target",
      PORT: String(targetPort),
    });
    const relay = await app("plain", {
      XIO_DOMAIN: domain.name,
      XIO_SERVICE: "relay",
      XIO_ROUTES: `${origin}=target`,
      RELAY_URL: `ws://relay-target:${targetPort}/ws`,
      PORT: String(relayPort),
    });
    try {
      const answer = await (await fetch(`xio://relay/relay?say=through`)).text();
      assert.equal(answer, "plain: through");
      // The same route through the app's TCP server.
      const overTcp = await (await globalThis.fetch(`http://127.0.0.1:${relayPort}/relay?say=again`)).text();
      assert.equal(overTcp, "plain: again");
    } finally {
      target.kill("SIGKILL");
      relay.kill("SIGKILL");
      setDefaultDomain(undefined);
    }
  });
});
