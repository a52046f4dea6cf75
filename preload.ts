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
 *   service is registered locally, and over TCP as before when it is not.
 *
 * The library itself never replaces a global. This module exists to do exactly that, for
 * applications that cannot be changed, and only when it is preloaded on purpose: it wraps
 * `Deno.serve`/`Bun.serve` and replaces `globalThis.fetch` with {@linkcode fetch}, which hands
 * every request it does not route to the runtime's own fetch, unchanged.
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
import { fetch, serve } from "./http/mod.ts";

const service = adapter.env("XIO_SERVICE");
if (service !== undefined && service !== "") {
  let served = false;
  adapter.interceptServe((handler) => {
    if (served) return; // one service name, one handler: the first one served
    served = true;
    serve({ name: service }, (request, info) => handler(request, info)).unref();
  });
}
globalThis.fetch = fetch as typeof globalThis.fetch;
