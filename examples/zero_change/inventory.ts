// An ordinary service: no xio import. It runs on Deno or Bun with the runtime's own server.
const port = Number(globalThis.process?.env?.PORT ?? 8081);
const stock: Record<string, number> = { "42": 7, "43": 0 };

const handler = (request: Request): Response => {
  const id = new URL(request.url).pathname.split("/").pop()!;
  return Response.json({ id, inStock: stock[id] ?? 0 });
};

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
if (g.Deno) g.Deno.serve({ port, onListen: () => console.log("inventory ready") }, handler);
else {
  g.Bun.serve({ port, fetch: handler });
  console.log("inventory ready");
}
