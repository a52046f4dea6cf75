/** Starting benchmark peers as separate processes of the same runtime, and reading their JSON. */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import process from "node:process";
import { fileURLToPath } from "node:url";

export const runtimeName: "deno" | "bun" = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? "bun"
  : "deno";

const here = fileURLToPath(new URL(".", import.meta.url));

export class Peer {
  readonly child: ChildProcess;
  #lines: string[] = [];
  #waiters: ((line: string) => void)[] = [];

  constructor(script: string, args: string[]) {
    const path = `${here}${script}`;
    const argv = runtimeName === "deno"
      ? [
        "run",
        "--allow-all",
        ...(process.env.PEER_V8 ? [`--v8-flags=${process.env.PEER_V8}`] : []),
        path,
        ...args,
      ]
      : [...(process.env.PEER_BUN ? process.env.PEER_BUN.split(" ").filter(Boolean) : []), path, ...args];
    this.child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "inherit"] });
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      const waiter = this.#waiters.shift();
      if (waiter) waiter(line);
      else this.#lines.push(line);
    });
  }

  async json<T = Record<string, unknown>>(): Promise<T> {
    const line = this.#lines.shift() ?? await new Promise<string>((resolve) => this.#waiters.push(resolve));
    return JSON.parse(line) as T;
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }
}

export function tempName(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Percentile of a sorted array. */
export function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** The peer's ready line; throws if the peer exits first (instead of waiting forever). */
export function ready<T>(peer: Peer): Promise<T> {
  return Promise.race([
    peer.json<T>(),
    new Promise<never>((_, reject) =>
      peer.child.once(
        "exit",
        (code) => reject(new Error(`${peer.child.spawnargs.join(" ")} exited (${code}) before it answered`)),
      )
    ),
  ]);
}

/** CPU time of every thread of `pid` so far, in ns (from /proc/<pid>/task/<tid>/schedstat). */
export function cpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch { /* the thread ended */ }
  }
  return total;
}
