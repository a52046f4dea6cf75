// An ordinary service: no xio import. It calls the inventory service by its usual URL.
const port = Number(globalThis.process?.env?.PORT ?? 8082);
const inventory = globalThis.process?.env?.INVENTORY_URL ?? "http://inventory:8081";

const handler = async (request: Request): Promise<Response> => {
  const id = new URL(request.url).pathname.split("/").pop()!;
  const stock = await (await fetch(`${inventory}/stock/${id}`)).json();
  return Response.json({ order: id, accepted: stock.inStock > 0, stock });
};

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
if (g.Deno) g.Deno.serve({ port, onListen: () => console.log("orders ready") }, handler);
else {
  g.Bun.serve({ port, fetch: handler });
  console.log("orders ready");
}
