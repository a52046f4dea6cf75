/**
 * The chaos trials shared by tests/chaos_test.ts and bench/chaos.ts: a survivor in this process
 * serves (and drives) checked traffic on every layer while peers in other processes, of either
 * runtime and any poll mode, are killed with SIGKILL at random moments.
 */
import { type Domain, listen, type PollMode, serve, XioError } from "../mod.ts";
import {
  ClosedCleanly,
  drive,
  echoChannels,
  echoConns,
  echoSockets,
  type Layer,
  STOPPED,
} from "./fixtures/_traffic.ts";
import { delay, Fixture, otherRuntime, type RuntimeName, runtimeName, within } from "./_helpers.ts";

export { ClosedCleanly, drive, type Layer, STOPPED };

/** A small seeded PRNG (xorshift32), so that a failing run can be replayed with CHAOS_SEED. */
export function prng(seed: number): (n: number) => number {
  let x = (seed >>> 0) || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

export const LAYERS: Layer[] = ["zc", "conn", "http", "ws"];
export const POLLS: PollMode[] = ["event", "adaptive", "spin"];

/** Whether `error` is what a dead peer may give: a typed error (fetch's are TypeErrors). */
export function typed(error: unknown): boolean {
  return error instanceof XioError || error instanceof TypeError;
}

export function freeAll(domain: Domain): boolean {
  return domain.stats().classes.every((c) => c.free === c.total);
}

/** What a run of kills found. */
export interface KillReport {
  kills: number;
  /** Milliseconds from each kill of a serving peer to the survivor's typed error. */
  detection: number[];
  mixed: string[];
  untyped: string[];
  /** Trials in which the survivor did not notice within the bound. */
  hangs: string[];
}

/**
 * The survivor: serves every layer in `domain` under the services "zc", "conn", "http" and "ws", and
 * records each failure that is not typed. Returns a function that stops serving.
 */
export function survive(domain: Domain, untyped: string[]): () => Promise<void> {
  const onError = (error: unknown) => {
    if (!typed(error)) untyped.push(String(error));
  };
  const zcListener = domain.listen("zc");
  echoChannels(zcListener, onError);
  const connListener = listen({ name: "conn", domain });
  echoConns(connListener, onError);
  const server = serve(
    { name: "http", domain },
    async (request) => new Response(await request.arrayBuffer()),
  );
  const sockets = echoSockets(domain, "ws", onError);
  return async () => {
    zcListener.close();
    connListener.close();
    await Promise.all([server.shutdown(), sockets.shutdown()]);
  };
}

/**
 * Runs `kills` trials, `parallel` at a time: each starts a peer (a random layer, runtime and poll
 * mode) that either serves (the survivor drives checked traffic to it) or drives checked traffic
 * to the survivor, and kills it after 5-155 ms. `bound` is how long the survivor may take to
 * notice a dead server before the trial counts as a hang.
 */
export async function killPeers(
  domain: Domain,
  options: { kills: number; parallel: number; seed: number; bound?: number; untyped: string[] },
): Promise<KillReport> {
  const random = prng(options.seed);
  const bound = options.bound ?? 2000;
  const report: KillReport = {
    kills: options.kills,
    detection: [],
    mixed: [],
    untyped: options.untyped,
    hangs: [],
  };
  let next = 0;
  const trial = async (k: number) => {
    const layer = LAYERS[random(LAYERS.length)];
    const runtime: RuntimeName = random(2) === 0 ? runtimeName : otherRuntime;
    const poll = POLLS[random(3)];
    const peerServes = random(2) === 0;
    const service = peerServes ? `peer-${k}` : layer;
    const peer = new Fixture(
      "chaos_peer.ts",
      [peerServes ? "server" : "client", layer, domain.name, service, poll],
      runtime,
    );
    await peer.waitFor("ready", 30_000);
    const wait = 5 + random(150);
    if (peerServes) {
      const outcome = drive(layer, domain, service, poll, (wrong) => report.mixed.push(wrong));
      await delay(wait);
      const killed = performance.now();
      peer.child.kill("SIGKILL");
      try {
        const error = await within(bound, outcome, `trial ${k}`);
        report.detection.push(performance.now() - killed);
        if (!typed(error)) report.untyped.push(`trial ${k}: ${String(error)}`);
      } catch {
        report.hangs.push(`trial ${k}: ${layer} ${runtime} ${poll}`);
      }
      await peer.exited;
    } else {
      await delay(wait);
      await peer.kill();
    }
    for (const line of peer.stdout()) {
      if (line.includes("mixed")) report.mixed.push(`trial ${k} (peer): ${line}`);
    }
  };
  await Promise.all(Array.from({ length: options.parallel }, async () => {
    while (next < options.kills) await trial(next++);
  }));
  return report;
}

/** The p-th quantile of sorted `values`. */
export function quantile(values: number[], p: number): number {
  return values[Math.min(values.length - 1, Math.floor(values.length * p))];
}
