/**
 * The package as users get it. The files `deno publish --dry-run` lists are staged and served
 * over HTTP as JSR serves them, or laid out under `node_modules` as JSR's npm compatibility does;
 * a scratch project with an empty cache, no Zig and no XIO_LIB then opens a domain, sends and
 * receives, as separate processes. Also: the loader's typed errors (a damaged library, a
 * read-only or noexec cache, a kernel without statx, another ABI), a single binary, and two
 * services in separate mount namespaces that share only a tmpfs, as two containers of a pod do.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { UnsupportedPlatformError } from "../errors.ts";
import { targetOf, TARGETS } from "../ffi/platform.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const deno = realpathSync(`${root}node_modules/.bin/deno`);
const bun = realpathSync(`${root}node_modules/.bin/bun`);
const deny = `${root}zig/zig-out/bin/xio-deny`;
const asRoot = process.getuid?.() === 0;
const target = process.arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";

interface Outcome {
  source?: string;
  path?: string;
  sha256?: string;
  loadMs?: number;
  importMs?: number;
  sum?: number;
  error?: string;
  code?: string;
  message?: string;
}

/** What a user's program does: load, open a domain, send 1..5 to itself and add them up. */
function app(specifier: string): string {
  return `const started = performance.now();
const xio = await import(${JSON.stringify(specifier)});
const importMs = performance.now() - started;
try {
  const library = xio.loadLibrary();
  const domain = xio.Domain.open({ name: "install-" + Math.random().toString(36).slice(2, 10) });
  const listener = domain.listen("echo");
  const client = await domain.connect("echo");
  const server = await listener.accept();
  const buffer = await client.alloc(5);
  buffer.bytes.set([1, 2, 3, 4, 5]);
  await client.send(buffer);
  const got = await server.recv();
  const sum = got.bytes.subarray(0, 5).reduce((a, b) => a + b, 0);
  got.release();
  client.close();
  server.close();
  listener.close();
  domain.close();
  console.log(JSON.stringify({ ...library, importMs, sum }));
} catch (error) {
  console.log(JSON.stringify({ error: error.name, code: error.code, message: error.message }));
}
`;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return new Promise<Run>((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      // Nothing of this machine's environment: no Zig on the PATH, no XIO_LIB.
      env: { PATH: "/usr/bin:/bin", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => stdout += d);
    child.stderr!.on("data", (d) => stderr += d);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function outcome(result: Run): Outcome {
  const line = result.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`no outcome (exit ${result.code}): ${result.stdout}\n${result.stderr}`);
  }
}

/** The files `deno publish --dry-run` would publish, relative to the root. */
async function publishedFiles(): Promise<string[]> {
  const result = await run(deno, ["publish", "--dry-run", "--allow-dirty"], {
    cwd: root,
    env: { HOME: process.env.HOME ?? "/root", DENO_DIR: process.env.DENO_DIR ?? "", NO_COLOR: "1" },
  });
  assert.equal(result.code, 0, result.stderr);
  const files = [...(result.stdout + result.stderr).matchAll(/file:\/\/(\S+) \(/g)].map((m) =>
    decodeURIComponent(m[1]).slice(root.length)
  );
  assert.ok(files.includes("mod.ts") && files.includes(`native/${target}.json`), files.join(" "));
  return files;
}

let work: string;
let staged: string;
let server: Server;
let base: string;

before(async () => {
  work = mkdtempSync(`${tmpdir()}/xio-install-`);
  staged = `${work}/registry/@xio/core/0.1.0`;
  for (const file of await publishedFiles()) {
    mkdirSync(`${staged}/${file.slice(0, file.lastIndexOf("/") + 1)}`, { recursive: true });
    cpSync(`${root}${file}`, `${staged}/${file}`);
  }
  server = createServer((request, response) => {
    const path = `${work}/registry${decodeURIComponent(new URL(request.url!, "http://x").pathname)}`;
    if (!existsSync(path) || !statSync(path).isFile()) {
      response.writeHead(404).end();
      return;
    }
    const type = path.endsWith(".json") ? "application/json" : "application/typescript";
    response.writeHead(200, { "content-type": type }).end(readFileSync(path));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  base = `http://127.0.0.1:${port}/@xio/core/0.1.0`;
});

after(() => {
  server?.close();
  rmSync(work, { recursive: true, force: true });
});

/** A scratch project: its own cache, domain directory and DENO_DIR, all empty. */
function scratch(name: string) {
  const dir = `${work}/${name}`;
  for (const sub of ["cache", "domains", "deno_dir"]) mkdirSync(`${dir}/${sub}`, { recursive: true });
  return {
    dir,
    cache: `${dir}/cache`,
    env: {
      HOME: dir,
      DENO_DIR: `${dir}/deno_dir`,
      XIO_CACHE_DIR: `${dir}/cache`,
      XIO_DIR: `${dir}/domains`,
      NO_COLOR: "1",
    },
  };
}

/**
 * The least a Deno program needs: the library (ffi), the cache and the domain directory (read,
 * write), the variables read, and net for the doorbells, UNIX sockets that Deno 2.9 asks net
 * access for by exact path (their names vary, so no path can be given).
 */
function denoFlags(project: ReturnType<typeof scratch>, write = [project.cache, `${project.dir}/domains`]) {
  const port = new URL(base).port;
  return [
    "run",
    "--no-prompt",
    "--allow-ffi",
    `--allow-read=${project.dir}`,
    `--allow-write=${write.join(",")}`,
    "--allow-env=XIO_LIB,XIO_CACHE_DIR,XIO_DIR",
    "--allow-net",
    `--allow-import=127.0.0.1:${port}`,
  ];
}

/** A Bun project with the staged files as JSR's npm compatibility lays them out. */
function bunProject(name: string) {
  const project = scratch(name);
  const pkg = `${project.dir}/node_modules/@xio/core`;
  cpSync(staged, pkg, { recursive: true });
  const exports = JSON.parse(readFileSync(`${root}deno.json`, "utf8")).exports;
  writeFileSync(
    `${pkg}/package.json`,
    JSON.stringify({ name: "@xio/core", version: "0.1.0", type: "module", exports }),
  );
  writeFileSync(`${project.dir}/app.ts`, app("@xio/core"));
  return { ...project, pkg };
}

describe(`the package as users install it`, () => {
  test("Deno, by URL from a registry: the library comes from the module graph into the cache, then offline", async () => {
    const project = scratch("deno-url");
    writeFileSync(`${project.dir}/app.ts`, app(`${base}/mod.ts`));
    const first = outcome(
      await run(deno, [...denoFlags(project), "app.ts"], { cwd: project.dir, env: project.env }),
    );
    assert.equal(first.sum, 15, JSON.stringify(first));
    assert.equal(first.source, "cache");
    assert.match(first.path!, new RegExp(`^${project.cache}/libxio-0\\.1\\.0-${target}-[0-9a-f]{16}\\.so$`));
    const written = statSync(first.path!).mtimeMs;

    // The cache is the only copy of the native bytes outside the module graph: a damaged one is
    // written again from the graph, and checked.
    writeFileSync(first.path!, "not a library");
    const repaired = outcome(
      await run(deno, [...denoFlags(project), "app.ts"], { cwd: project.dir, env: project.env }),
    );
    assert.equal(repaired.sum, 15, JSON.stringify(repaired));
    assert.equal(repaired.sha256, first.sha256);

    // Offline: the registry is gone; Deno's cache holds the modules, ours the library.
    const stopped = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await stopped;
    try {
      const offline = outcome(
        await run(deno, [...denoFlags(project), "app.ts"], { cwd: project.dir, env: project.env }),
      );
      assert.equal(offline.sum, 15, JSON.stringify(offline));
      assert.equal(offline.source, "cache");
      assert.notEqual(statSync(first.path!).mtimeMs, written); // rewritten once, by the repair
      console.log(
        `install: Deno by URL, import ${first.importMs!.toFixed(1)} ms, first load ` +
          `${first.loadMs!.toFixed(1)} ms (writes the cache); later import ${
            offline.importMs!.toFixed(1)
          } ms, ` +
          `load ${offline.loadMs!.toFixed(1)} ms`,
      );
    } finally {
      await new Promise<void>((resolve) => server.listen(Number(new URL(base).port), "127.0.0.1", resolve));
    }
  });

  test("Deno: a cache it may not write is a CacheDirError that names the flag", async () => {
    const project = scratch("deno-nowrite");
    writeFileSync(`${project.dir}/app.ts`, app(`${base}/mod.ts`));
    const result = outcome(
      await run(deno, [...denoFlags(project, [`${project.dir}/domains`]), "app.ts"], {
        cwd: project.dir,
        env: project.env,
      }),
    );
    assert.equal(result.error, "CacheDirError", JSON.stringify(result));
    assert.equal(result.code, "EACCES");
    assert.match(result.message!, new RegExp(`--allow-write=${project.cache}`));
  });

  test("Bun, from node_modules: the library shipped beside the module, checked against its hash", async () => {
    const project = bunProject("bun-modules");
    const result = outcome(await run(bun, ["app.ts"], { cwd: project.dir, env: project.env }));
    assert.equal(result.sum, 15, JSON.stringify(result));
    assert.equal(result.source, "package");
    assert.equal(result.path, `${realpathSync(project.pkg)}/native/libxio-${target}.so`);
    console.log(
      `install: Bun from node_modules, import ${result.importMs!.toFixed(1)} ms, load ${
        result.loadMs!.toFixed(1)
      } ms`,
    );
  });

  test("Bun, from node_modules without the .so files: the JSON modules, into the cache", async () => {
    const project = bunProject("bun-json");
    for (const t of TARGETS) {
      rmSync(`${project.pkg}/native/libxio-${t}.so`);
    }
    const result = outcome(await run(bun, ["app.ts"], { cwd: project.dir, env: project.env }));
    assert.equal(result.sum, 15, JSON.stringify(result));
    assert.equal(result.source, "cache");
    assert.ok(result.path!.startsWith(project.cache));
  });

  test("the xio command ships in the package: Deno runs it by URL, Bun from node_modules", async () => {
    const project = bunProject("cli");
    const name = `pkg-${process.pid}`;
    // A service of the user's, running from the package: what the command is to see.
    writeFileSync(
      `${project.dir}/hold.ts`,
      `import { Domain } from "@xio/core";
const domain = Domain.open({ name: "${name}" });
domain.listen("orders");
console.log("ready");
process.stdin.on("end", () => domain.close());
process.stdin.resume();
`,
    );
    const holder = spawn(bun, ["hold.ts"], {
      cwd: project.dir,
      env: { PATH: "/usr/bin:/bin", ...project.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.on("data", (d) => String(d).includes("ready") && resolve());
        holder.on("exit", (code) => reject(new Error(`the holder exited with ${code}`)));
      });
      const viaDeno = await run(deno, ["run", "--allow-all", `${base}/ops/cli.ts`, "stat", name, "--json"], {
        cwd: project.dir,
        env: project.env,
      });
      assert.equal(viaDeno.code, 0, viaDeno.stderr);
      const snapshot = JSON.parse(viaDeno.stdout);
      assert.deepEqual(snapshot.services.map((s: { name: string }) => s.name), ["orders"]);
      assert.equal(snapshot.nodes[0].runtime, "bun");
      const viaBun = await run(bun, [`${project.pkg}/ops/cli.ts`, "ls"], {
        cwd: project.dir,
        env: project.env,
      });
      assert.equal(viaBun.code, 0, viaBun.stderr);
      assert.match(viaBun.stdout, new RegExp(`^${name}\\s.*\\s1\\s+0\\s+orders\\s`, "m"));
    } finally {
      holder.stdin!.end();
      await new Promise((resolve) => holder.on("close", resolve));
    }
  });

  test("importing loads nothing: no cache file and no library until the first use", async () => {
    const project = bunProject("bun-import-only");
    for (const t of TARGETS) rmSync(`${project.pkg}/native/libxio-${t}.so`);
    writeFileSync(
      `${project.dir}/import.ts`,
      `import { readdirSync } from "node:fs";
const xio = await import("@xio/core");
const before = { files: readdirSync(process.env.XIO_CACHE_DIR).length, path: xio.libraryPath() ?? null };
xio.loadLibrary();
console.log(JSON.stringify({ before, after: readdirSync(process.env.XIO_CACHE_DIR).length }));
`,
    );
    const result = await run(bun, ["import.ts"], { cwd: project.dir, env: project.env });
    assert.deepEqual(
      JSON.parse(result.stdout.trim()),
      { before: { files: 0, path: null }, after: 1 },
      result.stderr,
    );
  });

  test("a shipped library that is not the one built is refused (LibraryIntegrityError)", async () => {
    const project = bunProject("bun-tampered");
    const library = `${project.pkg}/native/libxio-${target}.so`;
    const bytes = readFileSync(library);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(library, bytes);
    const result = outcome(await run(bun, ["app.ts"], { cwd: project.dir, env: project.env }));
    assert.equal(result.error, "LibraryIntegrityError", JSON.stringify(result));
    assert.equal(result.code, "EINTEGRITY");
    assert.match(result.message!, /is not the one @xio\/core 0\.1\.0 ships/);

    // The same for bytes in the module graph.
    rmSync(library);
    const module = JSON.parse(readFileSync(`${project.pkg}/native/${target}.json`, "utf8"));
    const other = JSON.parse(
      readFileSync(`${project.pkg}/native/${target.replace("gnu", "musl")}.json`, "utf8"),
    );
    writeFileSync(`${project.pkg}/native/${target}.json`, JSON.stringify({ ...module, gzip: other.gzip }));
    const graph = outcome(await run(bun, ["app.ts"], { cwd: project.dir, env: project.env }));
    assert.equal(graph.code, "EINTEGRITY", JSON.stringify(graph));
    assert.ok(!existsSync(`${project.cache}/libxio-0.1.0-${target}-${module.sha256.slice(0, 16)}.so`));
  });

  // A read-only and a noexec file system at the cache directory, mounted in a mount namespace of
  // the program's own (as root, or in a user namespace otherwise).
  for (
    const [option, code, pattern] of [
      ["ro", "EACCES", /read-only or not yours/],
      ["noexec", "ENOEXEC", /mounted noexec/],
    ] as const
  ) {
    test(`a cache directory on a ${option} file system is a CacheDirError (${code})`, async () => {
      const project = bunProject(`bun-${option}`);
      for (const t of ["x86_64-linux-gnu", "aarch64-linux-gnu"]) {
        rmSync(`${project.pkg}/native/libxio-${t}.so`);
      }
      const script = `mount -t tmpfs -o ${option} none "${project.cache}" && exec "${bun}" app.ts`;
      const result = outcome(
        await run("unshare", [...(asRoot ? ["-m"] : ["-rm"]), "sh", "-c", script], {
          cwd: project.dir,
          env: project.env,
        }),
      );
      assert.equal(result.error, "CacheDirError", JSON.stringify(result));
      assert.equal(result.code, code);
      assert.match(result.message!, pattern);
    });
  }

  for (
    const [errno, pattern, runtime] of [
      [38, /does not have it \(ENOSYS\).*Linux 4\.11/, "bun"],
      [1, /EPERM.*seccomp/, "bun"],
      [38, /does not have it \(ENOSYS\).*Linux 4\.11/, "deno"],
    ] as const
  ) {
    test(`a kernel whose statx fails with errno ${errno} is an UnsupportedKernelError (${runtime})`, async () => {
      const project = bunProject(`${runtime}-statx-${errno}`);
      if (runtime === "deno") writeFileSync(`${project.dir}/app.ts`, app(`${base}/mod.ts`));
      const command = runtime === "deno" ? [deno, ...denoFlags(project), "app.ts"] : [bun, "app.ts"];
      const result = outcome(
        await run(deny, ["statx", String(errno), ...command], { cwd: project.dir, env: project.env }),
      );
      assert.equal(result.error, "UnsupportedKernelError", JSON.stringify(result));
      assert.equal(result.code, "ENOSYS");
      assert.match(result.message!, pattern);
    });
  }

  test("a library of another ABI version is a LibraryVersionError", async () => {
    const project = bunProject("bun-abi");
    const result = outcome(
      await run(bun, ["app.ts"], {
        cwd: project.dir,
        env: { ...project.env, XIO_LIB: `${root}zig/zig-out/lib/testing/libxio-other-abi.so` },
      }),
    );
    assert.equal(result.error, "LibraryVersionError", JSON.stringify(result));
    assert.equal(result.code, "EABI");
    assert.match(result.message!, /ABI version 99, this @xio\/core needs \d+/);
  });

  test("an OS or CPU without a shipped library is an UnsupportedPlatformError", () => {
    assert.equal(targetOf({ os: "linux", arch: "x64", libc: "gnu" }), "x86_64-linux-gnu");
    assert.equal(targetOf({ os: "linux", arch: "aarch64", libc: "musl" }), "aarch64-linux-musl");
    assert.equal(targetOf({ os: "linux", arch: "arm64", libc: undefined }), "aarch64-linux-gnu");
    for (const platform of [{ os: "darwin", arch: "arm64" }, { os: "linux", arch: "riscv64" }]) {
      assert.throws(
        () => targetOf({ ...platform, libc: undefined }),
        (e) =>
          e instanceof UnsupportedPlatformError && e.code === "ENOTSUP" &&
          /build the library/.test(e.message),
      );
    }
  });

  test("bun build --compile: a single binary that runs from another directory with an empty cache", async () => {
    const project = bunProject("bun-compile");
    const built = await run(bun, ["build", "--compile", "app.ts", "--outfile", "service"], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(built.code, 0, built.stderr);
    const elsewhere = scratch("bun-compiled-elsewhere");
    cpSync(`${project.dir}/service`, `${elsewhere.dir}/service`);
    rmSync(project.dir, { recursive: true });
    const result = outcome(
      await run(`${elsewhere.dir}/service`, [], { cwd: elsewhere.dir, env: elsewhere.env }),
    );
    assert.equal(result.sum, 15, JSON.stringify(result));
    assert.equal(result.source, "cache");
  });

  test("deno compile would carry the bytes: every target's module is in the graph of mod.ts", async () => {
    // `deno compile` itself needs denort from dl.deno.land, which this machine cannot reach; what
    // it embeds is the module graph, which this checks.
    const project = scratch("deno-graph");
    const info = await run(deno, [
      "info",
      "--json",
      `--allow-import=127.0.0.1:${new URL(base).port}`,
      `${base}/mod.ts`,
    ], {
      cwd: project.dir,
      env: project.env,
    });
    assert.equal(info.code, 0, info.stderr);
    const modules = (JSON.parse(info.stdout).modules as { specifier: string }[]).map((m) => m.specifier);
    for (const t of TARGETS) {
      assert.ok(modules.includes(`${base}/native/${t}.json`), `${t} in the graph`);
    }
  });
});

describe("deployment: two containers of a pod", () => {
  test("services in separate mount namespaces share a domain through a tmpfs, and nothing else", async () => {
    const project = bunProject("pod");
    const pod = `${project.dir}/pod`;
    mkdirSync(pod);
    writeFileSync(
      `${project.dir}/listener.ts`,
      `import { Domain } from "@xio/core";
const domain = Domain.open({ name: "pod" });
const listener = domain.listen("echo");
console.log("listening");
const channel = await listener.accept();
for await (const message of channel) await channel.send(message);
`,
    );
    writeFileSync(
      `${project.dir}/client.ts`,
      `import { Domain } from "@xio/core";
const domain = Domain.open({ name: "pod" });
const channel = await domain.connect("echo");
const buffer = await channel.alloc(3);
buffer.bytes.set([7, 8, 9]);
await channel.send(buffer);
const reply = await channel.recv();
console.log(JSON.stringify({ sum: reply.bytes.subarray(0, 3).reduce((a, b) => a + b, 0) }));
reply.release();
channel.close();
`,
    );
    // Each "container" gets its own /dev/shm and cache, so that only the pod volume is shared
    // (the code, like a container image, is the same files).
    const container = (script: string) =>
      `mount -t tmpfs none /dev/shm && mount -t tmpfs none "${project.cache}" && ` +
      `exec "${bun}" ${script}`;
    const unshare = asRoot ? ["-m"] : ["-rm"];
    const env = { ...project.env, XIO_DIR: pod };
    const listener = spawn("unshare", [...unshare, "sh", "-c", container("listener.ts")], {
      cwd: project.dir,
      env: { PATH: "/usr/bin:/bin", ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        listener.stdout!.on("data", (d) => String(d).includes("listening") && resolve());
        listener.on("exit", (code) => reject(new Error(`listener exited ${code}`)));
      });
      const client = outcome(
        await run("unshare", [...unshare, "sh", "-c", container("client.ts")], { cwd: project.dir, env }),
      );
      assert.equal(client.sum, 24, JSON.stringify(client));
    } finally {
      listener.kill("SIGKILL");
    }
  });
});
