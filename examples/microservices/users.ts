// The users service: one of three processes in the chain (run under Bun by main.ts).
import { serve } from "../../mod.ts";

const users: Record<string, { name: string }> = { "1": { name: "Ada" }, "2": { name: "Linus" } };
serve({ name: "users" }, (request) => {
  const id = new URL(request.url).pathname.split("/").pop()!;
  const user = users[id];
  return user ? Response.json({ id, ...user }) : Response.json({ error: "no such user" }, { status: 404 });
});
console.log("users ready");
