/**
 * Socket-like byte streams over shared memory, shaped like `Deno.Conn`.
 *
 * {@linkcode connect} and {@linkcode listen} give a {@linkcode Conn} with `read`, `write`,
 * `readable`, `writable`, `closeWrite`, `close`, `localAddr`, `remoteAddr`, `ref`, `unref` and
 * `Symbol.dispose`, so code written against those members of `Deno.Conn` works unchanged. Under
 * the hood each connection is a zero-copy {@linkcode Channel}: a write copies the bytes once into
 * shared buffers, a read copies them once out, and nothing passes through the kernel.
 *
 * @example An echo service and a client
 * ```ts
 * import { connect, listen } from "@xio/core/socket";
 * import assert from "node:assert/strict";
 *
 * using listener = listen({ name: "echo-example" });
 * (async () => {
 *   for await (const conn of listener) conn.readable.pipeTo(conn.writable);
 * })();
 *
 * using conn = await connect({ name: "echo-example" });
 * await conn.write(new TextEncoder().encode("ping"));
 * const reply = new Uint8Array(4);
 * assert.equal(await conn.read(reply), 4);
 * assert.equal(new TextDecoder().decode(reply), "ping");
 * ```
 *
 * @module
 */

import { socketDomain } from "../zero_copy/_default.ts";
import { kCreate } from "./_internal.ts";
import { Conn } from "./conn.ts";
import { ConnListener } from "./listener.ts";
import type { SocketOptions, XioAddr } from "./types.ts";

export { setDefaultDomain, socketDomain } from "../zero_copy/_default.ts";
export { Conn } from "./conn.ts";
export { ConnListener } from "./listener.ts";
export type { SocketOptions, XioAddr } from "./types.ts";

/**
 * Listens on a service name. Throws {@linkcode AddrInUseError} if another process already does.
 *
 * @example
 * ```ts
 * import { listen } from "@xio/core/socket";
 * import assert from "node:assert/strict";
 *
 * using listener = listen({ name: "listen-example" });
 * assert.deepEqual(listener.addr, { transport: "xio", domain: "xio", name: "listen-example" });
 * ```
 */
export function listen(options: SocketOptions): ConnListener {
  const domain = socketDomain(options.domain);
  return ConnListener[kCreate](domain, domain.listen(options.name, { poll: options.poll }), {
    transport: "xio",
    domain: domain.name,
    name: options.name,
  });
}

/**
 * Connects to a service. Rejects at once with {@linkcode ConnectionRefusedError} if nobody
 * listens on it.
 *
 * @example
 * ```ts
 * import { connect, ConnectionRefusedError } from "@xio/core";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(connect({ name: "nobody-here" }), ConnectionRefusedError);
 * ```
 */
export async function connect(options: SocketOptions): Promise<Conn> {
  const domain = socketDomain(options.domain);
  const channel = await domain.connect(options.name, { poll: options.poll });
  const addr: XioAddr = { transport: "xio", domain: domain.name, name: options.name };
  return Conn[kCreate](domain, channel, { ...addr, name: `client-${channel.index}` }, addr);
}
