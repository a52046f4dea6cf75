/**
 * `Bun.serve` options as one handler, for the opt-in preload: the `routes` table (static
 * Responses, handlers, and per-method objects) matched as Bun matches it, then `fetch`, and a
 * `server` argument with what handlers call on it.
 *
 * Bun's rules, as measured against Bun 1.4: an exact path beats one with `:params`, which beats
 * a `/*` wildcard; params are percent-decoded into `request.params`; a trailing slash is another
 * path; a method a per-method object lacks, or a path no route has, goes to `fetch`, or else is
 * a 404 with an empty body.
 *
 * @module
 */

import type { UpgradeHooks } from "./mod.ts";

/** A route's handler, as Bun calls it: the request (with `params`) and the server. */
type Handler = (request: Request, server: object) => Response | Promise<Response>;

/** What a route maps to: a static Response, a handler, or either per method. */
type RouteValue = Response | Handler | Record<string, Response | Handler>;

interface Route {
  /** Path segments; a segment starting with ":" is a param, a last "*" is the wildcard. */
  segments: string[];
  rank: number;
  value: RouteValue;
}

/** What `server.requestIP()` gives for a request over shared memory: a peer on this machine. */
const LOCAL_PEER = { address: "127.0.0.1", family: "IPv4", port: 0 };

/** The upgrades over shared memory (set by the preload), or undefined. */
let hooks: UpgradeHooks | undefined;

/** Sets what `server.upgrade` does with a WebSocket request over shared memory. */
export function setUpgradeHooks(given: UpgradeHooks): void {
  hooks = given;
}

/**
 * Makes Bun's own server answer for requests over shared memory too, since handlers call it on
 * the server they closed over (Elysia's `app.server`), not only on the one they are given:
 * `requestIP` (it knows only its own sockets' requests) and `upgrade` (a WebSocket over shared
 * memory, once the preload set its hooks).
 */
export function teachServer(server: {
  requestIP?: (request: Request) => unknown;
  upgrade?: (request: Request, options?: object) => boolean;
}): void {
  const ownIP = server.requestIP?.bind(server);
  const ownUpgrade = server.upgrade?.bind(server);
  try {
    if (ownIP !== undefined) {
      server.requestIP = (request: Request) => {
        try {
          return ownIP(request) ?? LOCAL_PEER;
        } catch {
          return LOCAL_PEER;
        }
      };
    }
    if (ownUpgrade !== undefined) {
      server.upgrade = (request: Request, options?: object) =>
        hooks?.owns(request) ? hooks.bun(request, options) : ownUpgrade(request, options);
    }
  } catch {
    // A server whose methods cannot be replaced: the facade still answers for the handler's argument.
  }
}

/** The server that handlers get as their second argument: Bun's own, answering for a local peer. */
function serverFacade(real: () => object | undefined): object {
  const own: Record<string, unknown> = {
    requestIP: () => LOCAL_PEER,
    upgrade: (request: Request, options?: object) =>
      hooks?.owns(request) ? hooks.bun(request, options) : false,
  };
  return new Proxy({}, {
    get(_target, name) {
      if (typeof name === "string" && name in own) return own[name];
      const server = real();
      if (server === undefined) return undefined;
      const value = Reflect.get(server, name);
      return typeof value === "function" ? value.bind(server) : value;
    },
  });
}

/**
 * One handler for Bun.serve `options` (`routes` and `fetch`), or undefined if they have neither.
 * `real` gives Bun's own server once it exists.
 */
export function bunServeHandler(
  options: { routes?: Record<string, RouteValue>; fetch?: Handler },
  real: () => object | undefined,
): ((request: Request) => Response | Promise<Response>) | undefined {
  const fetch = typeof options.fetch === "function" ? options.fetch : undefined;
  const table = options.routes !== null && typeof options.routes === "object" ? options.routes : undefined;
  if (fetch === undefined && table === undefined) return undefined;
  const server = serverFacade(real);
  const routes: Route[] = [];
  for (const [path, value] of Object.entries(table ?? {})) {
    const segments = path.split("/").slice(1);
    const wildcard = segments[segments.length - 1] === "*";
    const params = segments.some((s) => s.startsWith(":"));
    routes.push({ segments, rank: wildcard ? 2 : params ? 1 : 0, value });
  }
  routes.sort((a, b) => a.rank - b.rank);
  const fallback = (request: Request) =>
    fetch !== undefined
      ? fetch(request, server)
      : new Response(null, { status: 404, headers: { "content-length": "0" } });
  return (request: Request) => {
    const path = new URL(request.url).pathname.split("/").slice(1);
    for (const route of routes) {
      const params = match(route.segments, path);
      if (params === undefined) continue;
      let value: RouteValue | undefined = route.value;
      if (!(value instanceof Response) && typeof value !== "function") {
        value = value[request.method] ?? (request.method === "HEAD" ? value.GET : undefined);
        if (value === undefined) return fallback(request);
      }
      if (value instanceof Response) return value.clone();
      Object.defineProperty(request, "params", { value: params, configurable: true });
      return value(request, server);
    }
    return fallback(request);
  };
}

/** The params of `path` under `pattern`, or undefined if it does not match. */
function match(pattern: string[], path: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const segment = pattern[i];
    if (segment === "*" && i === pattern.length - 1) return params;
    if (i >= path.length) return undefined;
    if (segment.startsWith(":")) {
      if (path[i] === "") return undefined;
      try {
        params[segment.slice(1)] = decodeURIComponent(path[i]);
      } catch {
        params[segment.slice(1)] = path[i];
      }
    } else if (segment !== path[i]) return undefined;
  }
  return pattern.length === path.length ? params : undefined;
}
