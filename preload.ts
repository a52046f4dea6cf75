/**
 * Zero code change: run an unchanged application over shared memory.
 *
 *     XIO_SERVICE=orders XIO_ROUTES="http://users:8080=users" \
 *       deno run -A --preload jsr:@xio/core/preload app.ts
 *     XIO_SERVICE=orders bun --preload ./preload.ts app.ts
 *
 * With this module preloaded:
 * - the application's own `Deno.serve` or `Bun.serve` handler is also served over shared memory
 *   under the name in `XIO_SERVICE` (its TCP server keeps running as before);
 * - its `fetch` calls to origins routed by `XIO_ROUTES` go over shared memory while the target
 *   service is registered locally, and over TCP as before when it is not; so do its
 *   `new WebSocket(url)` connections;
 * - a WebSocket upgrade over shared memory works as the runtime's own does: `Deno.upgradeWebSocket`,
 *   and Bun's `server.upgrade` with the `websocket` handlers given to `Bun.serve`.
 *
 * The library itself never replaces a global. This module exists to do exactly that, for
 * applications that cannot be changed, and only when it is preloaded on purpose: it wraps
 * `Deno.serve`/`Bun.serve` and `Deno.upgradeWebSocket` (or Bun's `server.upgrade`), and replaces
 * `globalThis.fetch` and `globalThis.WebSocket` with {@linkcode fetch} and {@linkcode WebSocket},
 * which hand every request they do not route to the runtime's own, unchanged.
 *
 * @example
 * ```ts
 * // Nothing to import: the module works by being preloaded.
 * import "@xio/core/preload";
 * ```
 *
 * @module
 */

import { adapter } from "./runtime/mod.ts";
import { fetch, serve, upgradeWebSocket, WebSocket } from "./http/mod.ts";
import { upgradeBun } from "./http/_bun_socket.ts";
import { slotOf } from "./http/_endpoint.ts";
import type { BunWebSocketHandler } from "./http/types.ts";

const service = adapter.env("XIO_SERVICE");
if (service !== undefined && service !== "") {
  let served = false;
  adapter.interceptServe((handler, websocket) => {
    if (served) return; // one service name, one handler: the first one served
    served = true;
    serve(
      { name: service, websocket: websocket as BunWebSocketHandler | undefined },
      (request, info) => handler(request, info),
    ).unref();
  });
  adapter.interceptUpgrade({
    owns: (request) => slotOf(request) !== undefined,
    deno: (request, options) => upgradeWebSocket(request, options),
    bun: (request, options) => upgradeBun(request, options),
  });
}
globalThis.fetch = fetch as typeof globalThis.fetch;
globalThis.WebSocket = WebSocket as unknown as typeof globalThis.WebSocket;
