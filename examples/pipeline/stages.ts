/**
 * One stage of the demo pipeline, in either runtime, over either transport:
 *
 *   stages.ts producer  xio|unix <domain-or-dir> <records> <paced>
 *   stages.ts transform xio|unix <domain-or-dir>
 *   stages.ts consumer  xio|unix <domain-or-dir> <records>
 *
 * Over xio the record travels in one shared buffer from producer to consumer: the transform
 * rewrites it in place and forwards the same buffer. Over UNIX sockets every hop copies it
 * through the kernel. Each stage prints "ready"; the consumer then prints one JSON result.
 */
import process from "node:process";
import { Domain } from "../../mod.ts";
import { checkTransformed, latencyOf, RECORD_BYTES, sequenceOf, stamp, transform } from "./_record.ts";
import { type ByteStream, connectUnix, listenUnix } from "./_unix.ts";

const [stage, transport, where, countArg, pacedArg] = process.argv.slice(2);
const count = Number(countArg ?? 0);
const paced = pacedArg === "paced";
const POLL = (process.env.XIO_DEMO_POLL ?? "event") as "event";
const print = (value: unknown) => console.log(typeof value === "string" ? value : JSON.stringify(value));

/** Records per message in the throughput phase, on both transports: one 16 KiB frame each. */
const BATCH = Math.max(1, Math.floor(16384 / RECORD_BYTES));

/** Spaces paced records out (about a millisecond apart), so that latency has no queueing in it. */
function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1));
}

class Stats {
  latencies = new Float64Array(count);
  received = 0;
  first = 0;
  record(bytes: Uint8Array): void {
    if (this.received === 0) this.first = performance.now();
    if (sequenceOf(bytes) !== this.received || !checkTransformed(bytes)) {
      throw new Error(`record ${this.received} arrived out of order or untransformed`);
    }
    this.latencies[this.received++] = latencyOf(bytes);
  }
  report(): void {
    const seconds = (performance.now() - this.first) / 1000;
    const sorted = this.latencies.subarray(0, this.received).sort();
    print({
      records: this.received,
      records_per_s: this.received / seconds,
      p50_us: sorted[Math.floor(sorted.length * 0.5)],
      p99_us: sorted[Math.floor(sorted.length * 0.99)],
    });
  }
}

if (transport === "xio") {
  const domain = Domain.open({ name: where });
  if (stage === "producer") {
    const out = await domain.connect("transform", { poll: POLL });
    print("ready");
    let sent = 0;
    while (sent < count) {
      if (paced) {
        await tick();
        const record = await out.alloc(RECORD_BYTES);
        stamp(record.bytes, sent++);
        await out.send(record);
        continue;
      }
      // A batch of records in one shared buffer: one descriptor moves 256 records.
      const n = Math.min(BATCH, count - sent);
      const buffer = await out.alloc(n * RECORD_BYTES);
      const bytes = buffer.bytes;
      for (let i = 0; i < n; i++) stamp(bytes.subarray(i * RECORD_BYTES, (i + 1) * RECORD_BYTES), sent + i);
      await out.send(buffer);
      sent += n;
    }
    out.closeWrite();
    while ((await out.recv()) !== null); // until the transform is done
  } else if (stage === "transform") {
    const listener = domain.listen("transform", { poll: POLL });
    const out = await domain.connect("consumer", { poll: POLL });
    print("ready");
    const inbound = await listener.accept();
    for await (const buffer of inbound) {
      const bytes = buffer.bytes;
      for (let at = 0; at < bytes.length; at += RECORD_BYTES) {
        transform(bytes.subarray(at, at + RECORD_BYTES));
      }
      await out.send(buffer); // the same buffer goes on: nothing is copied
    }
    out.closeWrite();
    while ((await out.recv()) !== null);
    inbound.close();
  } else {
    const listener = domain.listen("consumer", { poll: POLL });
    print("ready");
    const inbound = await listener.accept();
    const stats = new Stats();
    for await (const buffer of inbound) {
      const bytes = buffer.bytes;
      for (let at = 0; at < bytes.length; at += RECORD_BYTES) {
        stats.record(bytes.subarray(at, at + RECORD_BYTES));
      }
      buffer.release();
    }
    stats.report();
    inbound.close();
  }
  domain.close();
} else {
  if (stage === "producer") {
    const out = await connectUnix(`${where}/transform.sock`);
    print("ready");
    const chunk = new Uint8Array(RECORD_BYTES * BATCH);
    let sent = 0;
    while (sent < count) {
      if (paced) {
        await tick();
        stamp(chunk.subarray(0, RECORD_BYTES), sent++);
        await out.write(chunk.subarray(0, RECORD_BYTES));
        continue;
      }
      const n = Math.min(BATCH, count - sent);
      for (let i = 0; i < n; i++) stamp(chunk.subarray(i * RECORD_BYTES, (i + 1) * RECORD_BYTES), sent + i);
      await out.write(chunk.subarray(0, n * RECORD_BYTES));
      sent += n;
    }
    await out.end();
  } else if (stage === "transform") {
    const out = await connectUnix(`${where}/consumer.sock`);
    await listenUnix(`${where}/transform.sock`, () => print("ready"), async (inbound: ByteStream) => {
      for await (const records of inbound.records(RECORD_BYTES)) {
        for (let at = 0; at < records.length; at += RECORD_BYTES) {
          transform(records.subarray(at, at + RECORD_BYTES));
        }
        await out.write(records);
      }
      await out.end();
      process.exit(0);
    });
  } else {
    const stats = new Stats();
    await listenUnix(`${where}/consumer.sock`, () => print("ready"), async (inbound: ByteStream) => {
      for await (const records of inbound.records(RECORD_BYTES)) {
        for (let at = 0; at < records.length; at += RECORD_BYTES) {
          stats.record(records.subarray(at, at + RECORD_BYTES));
        }
      }
      stats.report();
      process.exit(0);
    });
  }
}
