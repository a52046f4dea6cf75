// An ordinary Bun service with no xio import and no fetch handler: only `Bun.serve({ routes })`,
// with a static response, params, a per-method route, and `server.requestIP()`.
const port = Number(globalThis.process?.env?.PORT ?? 8083);
type RouteRequest = Request & { params: Record<string, string> };

// deno-lint-ignore no-explicit-any
const server = (globalThis as any).Bun.serve({
  port,
  routes: {
    "/": new Response("catalog"),
    "/items/:id": (request: RouteRequest) =>
      Response.json({ id: request.params.id, addressed: server.requestIP(request) !== null }),
    "/items": {
      GET: () => Response.json(["a", "b"]),
      POST: async (request: Request) => Response.json({ created: await request.text() }, { status: 201 }),
    },
  },
});
console.log("catalog ready");
