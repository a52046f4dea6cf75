/**
 * Frameworks that nobody here wrote, from npm, served over shared memory and over the runtime's
 * own server and fetch: every response must be the same (status, statusText, redirected, url,
 * headers and body bytes), save for the differences in ALLOWED, each one where Deno's and Bun's
 * own stacks disagree with each other too (the README lists them with the reasons).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { fetch, serve } from "../mod.ts";
import { app, CASES, differences, type Framework, FRAMEWORKS, seen } from "./fixtures/_frameworks.ts";
import { runtimeName, uniqueName } from "./_helpers.ts";

/**
 * What may differ, by runtime, as "<case>: <field>" prefixes of `differences` lines (any
 * framework). Each is a behaviour of the runtime's own server that a handler's Response does not
 * reveal, and on which the two runtimes differ.
 */
const ALLOWED: Record<string, { what: string; frameworks?: Framework[]; why: string }[]> = {
  deno: [
    {
      what: "streamed text: body",
      frameworks: ["elysia"],
      why:
        "Deno.serve cannot send a stream of strings (Elysia's generators make one); Bun.serve and xio send it",
    },
    {
      what: "server-sent events: body",
      frameworks: ["elysia"],
      why: "the same: Elysia's sse() streams strings",
    },
  ],
  bun: [
    {
      what: "bytes body: header content-type",
      why:
        "Bun.serve labels bytes application/octet-stream and strings text/plain, and nothing tells the two apart",
    },
    {
      what: "1 MiB request echoed: header content-type",
      why: "the same (an ArrayBuffer body)",
    },
    {
      what: "streamed text: header content-type",
      frameworks: ["h3"],
      why:
        "Bun.serve labels a native stream application/octet-stream and a JavaScript one not at all; nothing tells them apart",
    },
  ],
};

describe(`frameworks from npm (${runtimeName})`, () => {
  for (const framework of FRAMEWORKS) {
    test(`${framework}: the same responses over shared memory as over the runtime's own HTTP`, async () => {
      const name = uniqueName(framework);
      await using server = serve({ name, port: 0, hostname: "127.0.0.1", onError }, app(framework));
      const tcp = `http://127.0.0.1:${server.tcp!.addr.port}`;
      const xio = `xio://${name}`;
      const origins = [tcp, xio, `http://${name}.xio.localhost`];
      const unexpected: string[] = [];
      const allowed = (ALLOWED[runtimeName] ?? []).filter((a) => a.frameworks?.includes(framework) ?? true);
      let same = 0;
      let tolerated = 0;
      for (const c of CASES) {
        const overTcp = await seen(await globalThis.fetch(tcp + c.path, c.init?.()), origins);
        const overXio = await seen(await fetch(xio + c.path, c.init?.()), origins);
        const found = differences(overTcp, overXio).map((d) => `${c.name}: ${d}`);
        if (found.length === 0) same++;
        const left = found.filter((line) => !allowed.some((a) => line.startsWith(`${a.what}:`)));
        if (found.length > 0 && left.length === 0) tolerated++;
        unexpected.push(...left);
      }
      console.log(
        `DIAGNOSTIC: ${framework} ${runtimeName}: ${same} of ${CASES.length} cases the same, ` +
          `${tolerated} differ only as the runtimes' own stacks do`,
      );
      assert.deepEqual(unexpected, [], "every other difference from the runtime's own HTTP");
    });
  }
});

/** Errors that handlers throw on purpose are answered by the framework; nothing else is expected. */
function onError(error: unknown): Response {
  return new Response(`unexpected: ${String(error)}`, { status: 500 });
}
