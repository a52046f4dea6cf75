// The orders service: asks the users service for each order's customer, over shared memory.
import { fetch, serve } from "../../mod.ts";

const orders: Record<string, { user: string; total: number }> = {
  "100": { user: "1", total: 42 },
  "101": { user: "2", total: 7 },
};
serve({ name: "orders" }, async (request) => {
  const id = new URL(request.url).pathname.split("/").pop()!;
  const order = orders[id];
  if (!order) return Response.json({ error: "no such order" }, { status: 404 });
  const user = await (await fetch(`xio://users/users/${order.user}`)).json();
  return Response.json({ id, total: order.total, customer: user.name });
});
console.log("orders ready");
