/** Shared by the benchmark suites: run one variant in a fresh process, and take medians. */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("..", import.meta.url));
export type Json = Record<string, number | string | null | undefined>;
export type RuntimeName = "deno" | "bun";

export function options(): { rounds: number; runtimes: RuntimeName[]; quick: boolean } {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: string) => {
    const at = args.indexOf(`--${name}`);
    return at >= 0 ? args[at + 1] : fallback;
  };
  const quick = args.includes("--quick");
  return {
    quick,
    rounds: Number(option("rounds", quick ? "1" : "3")),
    runtimes: option("runtimes", "deno,bun").split(",") as RuntimeName[],
  };
}

/** Runs `bench/<script>` under `runtime` in a fresh process and returns its last JSON line. */
export function run(
  runtime: RuntimeName,
  script: string,
  params: (string | number)[],
  env: Record<string, string> = {},
): Json {
  const bin = `${root}node_modules/.bin/${runtime}`;
  const flags = runtime === "deno"
    ? ["run", "--allow-all", ...(env.DENO_V8_FLAGS ? [`--v8-flags=${env.DENO_V8_FLAGS}`] : [])]
    : [];
  const result = spawnSync(bin, [...flags, `${root}bench/${script}`, ...params.map(String)], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 180_000,
  });
  const line = result.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`${runtime} ${script} ${params.join(" ")} failed (${result.status}):\n${result.stderr}`);
  }
}

const suiteStarted = performance.now();
/** One line of progress on stderr, with the time since the suite started. */
export function progress(line: string): void {
  const seconds = Math.round((performance.now() - suiteStarted) / 1000);
  process.stderr.write(
    `[${String(Math.floor(seconds / 60)).padStart(2, "0")}:${
      String(seconds % 60).padStart(2, "0")
    }] ${line}\n`,
  );
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export function machine(): Record<string, unknown> {
  return { cpus: cpus().length, model: cpus()[0]?.model, date: new Date().toISOString() };
}

/** Writes bench/results/<name>.json and .md, and prints the table. */
export function report(name: string, text: string, results: unknown): void {
  console.log(text);
  mkdirSync(`${root}bench/results`, { recursive: true });
  writeFileSync(`${root}bench/results/${name}.json`, JSON.stringify(results, null, 2));
  writeFileSync(`${root}bench/results/${name}.md`, text + "\n");
  console.log(
    `\nwrote bench/results/${name}.json and ${name}.md (${cpus().length} CPUs: ${cpus()[0]?.model})`,
  );
}

export interface Target {
  runtime: string;
  target: string;
  measured: string;
  pass: boolean;
}

export function targetTable(title: string, targets: Target[]): string[] {
  const lines = ["", title, "| runtime | target | measured | pass |", "| --- | --- | --- | --- |"];
  for (const t of targets) {
    lines.push(`| ${t.runtime} | ${t.target} | ${t.measured} | ${t.pass ? "yes" : "NO"} |`);
  }
  return lines;
}
