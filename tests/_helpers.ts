/**
 * Helpers shared by the test files: which runtime runs us, how to start a fixture script as a
 * real separate process under either runtime, and how to read its output line by line.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import process from "node:process";
import { fileURLToPath } from "node:url";

export type RuntimeName = "deno" | "bun";

/** The runtime running this test file. */
export const runtimeName: RuntimeName = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? "bun"
  : "deno";

/** The other runtime, for tests that mix the two. */
export const otherRuntime: RuntimeName = runtimeName === "deno" ? "bun" : "deno";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The path of a runtime's binary: ours, or the pinned one installed next to the project. */
export function runtimeBinary(name: RuntimeName): string {
  if (name === runtimeName) return process.execPath;
  return `${root}node_modules/.bin/${name}`;
}

/** A domain name no other test uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/** A child process running a fixture script, with its stdout as a queue of lines. */
export class Fixture {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  #signal: string | null = null;
  #lines: string[] = [];
  #all: string[] = [];
  #waiters: ((line: string | null) => void)[] = [];
  #ended = false;
  #stderr = "";

  /**
   * Starts `tests/fixtures/<script>` under `runtime`. `options.wrapper` is a command that runs it
   * (such as setpriv, to run it as another user); `options.env` adds to the environment.
   */
  constructor(
    script: string,
    args: string[],
    runtime: RuntimeName = runtimeName,
    options: { wrapper?: string[]; env?: Record<string, string> } = {},
  ) {
    const path = `${root}tests/fixtures/${script}`;
    const argv = runtime === "deno" ? ["run", "--allow-all", path, ...args] : [path, ...args];
    const wrapper = options.wrapper ?? [];
    const command = wrapper.length > 0 ? wrapper[0] : runtimeBinary(runtime);
    const rest = wrapper.length > 0 ? [...wrapper.slice(1), runtimeBinary(runtime), ...argv] : argv;
    this.child = spawn(command, rest, {
      stdio: ["pipe", "pipe", "pipe"],
      env: options.env === undefined ? process.env : { ...process.env, ...options.env },
    });
    this.child.stderr!.on("data", (chunk) => {
      this.#stderr += chunk;
    });
    const lines = createInterface({ input: this.child.stdout! });
    lines.on("line", (line) => {
      this.#all.push(line);
      const waiter = this.#waiters.shift();
      if (waiter) waiter(line);
      else this.#lines.push(line);
    });
    lines.on("close", () => {
      this.#ended = true;
      for (const waiter of this.#waiters.splice(0)) waiter(null);
    });
    this.exited = new Promise((resolve) =>
      this.child.on("exit", (code, signal) => {
        this.#signal = signal;
        resolve(code);
      })
    );
  }

  /** Every line the child wrote to stdout so far, read or not. */
  stdout(): string[] {
    return [...this.#all];
  }

  /** What the child wrote to stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** The next line of output; throws if the child ends first or `timeoutMs` passes. */
  async line(timeoutMs = 20_000): Promise<string> {
    const queued = this.#lines.shift();
    if (queued !== undefined) return queued;
    if (this.#ended) throw new Error(`Fixture ended without output. stderr:\n${this.#stderr}`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const line = await Promise.race([
      new Promise<string | null>((resolve) => this.#waiters.push(resolve)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`No output within ${timeoutMs} ms. stderr:\n${this.#stderr}`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    if (line === null) throw new Error(`Fixture ended without output. stderr:\n${this.#stderr}`);
    return line;
  }

  /** The next line, parsed as JSON. */
  async json<T = Record<string, unknown>>(timeoutMs?: number): Promise<T> {
    return JSON.parse(await this.line(timeoutMs)) as T;
  }

  /** Waits for a line equal to `expected`, skipping others. */
  async waitFor(expected: string, timeoutMs?: number): Promise<void> {
    for (;;) if ((await this.line(timeoutMs)) === expected) return;
  }

  /** Sends a line to the child's stdin. */
  send(line: string): void {
    this.child.stdin!.write(line + "\n");
  }

  /** Kills the child with SIGKILL and waits for it to be gone. */
  async kill(): Promise<void> {
    this.child.kill("SIGKILL");
    await this.exited;
  }

  /** Waits for a clean exit and throws with its stderr otherwise. */
  async done(): Promise<void> {
    const code = await this.exited;
    if (code !== 0) {
      throw new Error(`Fixture exited with ${code ?? this.#signal}. stderr:\n${this.#stderr}`);
    }
  }
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects if `promise` does not settle within `ms`. */
export async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts `path` (relative to the checkout) with `args` under `runtime`, with the preload module,
 * as an unchanged app runs; resolves once it prints a line ending in "ready". The caller kills it.
 */
export async function preloaded(
  runtime: RuntimeName,
  path: string,
  args: string[],
  env: Record<string, string>,
): Promise<ChildProcess> {
  const preload = `${root}preload.ts`;
  const argv = runtime === "deno"
    ? ["run", "--allow-all", "--preload", preload, `${root}${path}`, ...args]
    : ["--preload", preload, `${root}${path}`, ...args];
  const child = spawn(runtimeBinary(runtime), argv, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    await within(
      20_000,
      new Promise<void>((resolve) =>
        createInterface({ input: child.stdout! }).on("line", (line) => line.endsWith("ready") && resolve())
      ),
      `${path} ${args.join(" ")} under ${runtime}`,
    );
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return child;
}
