/**
 * Pure-TypeScript tests of the HTTP layer's frame codec and credit accounting: no library, no
 * domain, no other process. Malformed frames are generated from a seed (FRAMES_SEED replays one).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import {
  FLAG_END,
  FLAG_LENGTH,
  FRAME_REQUEST,
  FRAME_RESPONSE,
  FRAME_VERSION,
  FrameError,
  FrameReader,
  FrameWriter,
  HEADER_BYTES,
} from "../http/_frames.ts";
import { DATA_MAX, FRAME_CHARGE, WINDOW_BYTES, type Wire } from "../http/_wire.ts";
import { BodyQueue, BodySender } from "../http/_body.ts";
import type { SharedBuffer } from "../zero_copy/mod.ts";
import { XioError } from "../errors.ts";
import { runtimeName } from "./_helpers.ts";

const SEED = Number(process.env.FRAMES_SEED ?? Date.now() % 1_000_000);

/** A small seeded generator (mulberry32): the same seed gives the same frames. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}

interface RequestFields {
  stream: number;
  method: string;
  authority: string;
  path: string;
  headers: [string, string][];
  length?: number;
  body: Uint8Array;
}

function writeRequest(fields: RequestFields): Uint8Array {
  const flags = FLAG_END | (fields.length === undefined ? 0 : FLAG_LENGTH);
  const writer = new FrameWriter().start(FRAME_REQUEST, flags, fields.stream)
    .string(fields.method).string(fields.authority).string(fields.path, true)
    .headers(new Headers(fields.headers));
  if (fields.length !== undefined) writer.bodyLength(fields.length);
  return writer.bytes(fields.body).finish().slice();
}

/** Reads every field of a request frame, as the server does. */
function readRequest(bytes: Uint8Array, length = bytes.length): RequestFields {
  const reader = new FrameReader(bytes, length);
  const stream = reader.stream;
  const method = reader.string();
  const authority = reader.string();
  const path = reader.string(true);
  const headers = reader.headers();
  const declared = reader.bodyLength();
  const body = reader.rest();
  return { stream, method, authority, path, headers, length: declared, body };
}

const sample: RequestFields = {
  stream: 0xffff_fffe,
  method: "POST",
  authority: "users",
  path: "/users/7?q=" + "é".repeat(40) + "&x=1",
  headers: [["content-type", "application/json; charset=utf-8"], ["x-name", "Zoë"], ["x-empty", ""]],
  length: 2 ** 40 + 3,
  body: new Uint8Array([1, 2, 3, 250, 0, 7]),
};

describe(`HTTP frames and credit (${runtimeName})`, () => {
  test("a request frame reads back field for field, wide lengths and UTF-8 included", () => {
    const bytes = writeRequest(sample);
    assert.equal(bytes[0], FRAME_REQUEST);
    assert.equal(bytes[2], FRAME_VERSION);
    const read = readRequest(bytes);
    assert.equal(read.stream, sample.stream);
    assert.equal(read.method, sample.method);
    assert.equal(read.authority, sample.authority);
    assert.equal(read.path, sample.path);
    // Headers sort and lower-case their names, as the runtimes' own do.
    assert.deepEqual(read.headers, [...new Headers(sample.headers)]);
    assert.equal(read.length, sample.length);
    assert.deepEqual([...read.body], [...sample.body]);
    // The same bytes a second time decode to the same strings and the same cached Headers.
    const a = new FrameReader(writeResponse(200, "OK"));
    const b = new FrameReader(writeResponse(200, "OK"));
    for (const reader of [a, b]) reader.u16(), reader.string();
    assert.equal(a.headersInit(), b.headersInit());
  });

  test("every truncation of a frame is a FrameError, never a wrong value or another error", () => {
    const bytes = writeRequest(sample);
    for (let length = 0; length < bytes.length - sample.body.length; length++) {
      assert.throws(() => readRequest(bytes, length), FrameError, `a frame cut to ${length} bytes`);
    }
  });

  test(`scribbled frames give typed errors or values within the frame (seed ${SEED})`, () => {
    const random = prng(SEED);
    const clean = writeRequest(sample);
    const outcomes = { read: 0, refused: 0 };
    for (let trial = 0; trial < 3000; trial++) {
      const bytes = clean.slice();
      for (let k = 1 + random(4); k > 0; k--) {
        bytes[HEADER_BYTES + random(bytes.length - HEADER_BYTES)] = random(256);
      }
      const length = random(4) === 0 ? random(bytes.length + 1) : bytes.length;
      try {
        const read = readRequest(bytes, length);
        // Whatever was read came from inside the frame's `length` bytes.
        const strings = read.method.length + read.authority.length + read.path.length;
        assert.ok(strings <= length, `trial ${trial} (seed ${SEED})`);
        assert.ok(read.body.length <= length - HEADER_BYTES, `trial ${trial} (seed ${SEED})`);
        outcomes.read++;
      } catch (error) {
        assert.ok(error instanceof FrameError, `trial ${trial} (seed ${SEED}): ${error}`);
        assert.ok(error instanceof XioError);
        assert.equal((error as FrameError).code, "EFRAME");
        outcomes.refused++;
      }
    }
    assert.ok(outcomes.refused > 0 && outcomes.read > 0, JSON.stringify(outcomes));
  });

  test("fields that cannot be framed are refused when written", () => {
    assert.throws(() => new FrameWriter().start(FRAME_REQUEST, 0, 1).string("x".repeat(0x10000)), FrameError);
    // A value may be long: it has a u32 length.
    const long = new FrameWriter().start(FRAME_REQUEST, 0, 1).string("v".repeat(0x10000), true).finish();
    assert.equal(new FrameReader(long).string(true).length, 0x10000);
    const tooLong = new FrameWriter().start(FRAME_RESPONSE, FLAG_LENGTH, 1).u32(0xffff_ffff).u32(0xffff_ffff)
      .finish();
    assert.throws(() => new FrameReader(tooLong).bodyLength(), FrameError);
    assert.throws(() => new FrameReader(new Uint8Array(HEADER_BYTES - 1)), FrameError);
    const badName = new FrameWriter().start(FRAME_RESPONSE, 0, 1).u16(1).string("bad name").string("v", true)
      .finish();
    assert.throws(() => new FrameReader(badName).headersInit(), FrameError);
  });

  test("a body sender never has more than its window unacknowledged, frames charged", async () => {
    const sent: number[] = [];
    let outstanding = 0;
    let most = 0;
    const wire = {
      sendData(_stream: number, chunk: Uint8Array, _end: boolean) {
        sent.push(chunk.length);
        outstanding += chunk.length + FRAME_CHARGE;
        most = Math.max(most, outstanding);
        return Promise.resolve();
      },
      control() {},
    } as unknown as Wire;
    const sender = new BodySender();
    const total = 3 * WINDOW_BYTES + 12345;
    let done = false;
    const sending = sender.sendBytes(wire, 1, new Uint8Array(total)).then((ok) => (done = ok));
    // With no credit back it stops within one window.
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(done, false);
    assert.ok(outstanding <= WINDOW_BYTES && outstanding > WINDOW_BYTES - DATA_MAX - FRAME_CHARGE);
    // Credit comes back as a reader would return it; the sender goes on until the end.
    while (!done) {
      const back = outstanding;
      outstanding = 0;
      sender.grant(back);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await sending;
    assert.equal(sent.reduce((a, b) => a + b, 0), total);
    assert.ok(sent.every((n) => n <= DATA_MAX));
    assert.ok(most <= WINDOW_BYTES, `at most ${most} of ${WINDOW_BYTES} in flight`);
    assert.ok(sender.done);
    // A stopped sender gives up instead of waiting for credit forever.
    const stopped = new BodySender();
    const stalled = stopped.sendBytes(wire, 2, new Uint8Array(2 * WINDOW_BYTES));
    await new Promise((resolve) => setTimeout(resolve, 5));
    stopped.stop(new Error("gone"));
    assert.equal(await stalled, false);
  });

  test("a body queue returns credit for what was read, every frame charged", async () => {
    let credited = 0;
    const queue = new BodyQueue((bytes) => (credited += bytes));
    const frames = 40;
    const size = 10_000;
    let released = 0;
    for (let i = 0; i < frames; i++) queue.push(fakeBuffer(size, i, () => released++));
    queue.end();
    let read = 0;
    for (let chunk = await queue.next(4096); chunk !== null; chunk = await queue.next(4096)) {
      assert.ok(chunk.every((byte) => byte === (read / size | 0) % 256), "bytes in order");
      read += chunk.length;
    }
    assert.equal(read, frames * size);
    assert.equal(released, frames);
    // Credit goes back in half windows; what is still owed is less than half a window.
    const charged = frames * (size + FRAME_CHARGE);
    assert.ok(credited <= charged && charged - credited < WINDOW_BYTES / 2, `${credited} of ${charged}`);
    assert.equal(credited % 1, 0);
    assert.ok(queue.drained);
  });
});

function writeResponse(status: number, text: string): Uint8Array {
  return new FrameWriter().start(FRAME_RESPONSE, FLAG_END, 3).u16(status).string(text)
    .headers(new Headers([["content-type", "text/plain"]])).finish().slice();
}

/** A stand-in for a received DATA frame: `size` payload bytes of value `fill` after the header. */
function fakeBuffer(size: number, fill: number, onRelease: () => void): SharedBuffer {
  const bytes = new Uint8Array(HEADER_BYTES + size).fill(fill % 256, HEADER_BYTES);
  return {
    length: bytes.length,
    capacity: 65536,
    copyTo(target: Uint8Array, from: number) {
      target.set(bytes.subarray(from, from + Math.min(target.length, bytes.length - from)));
      return Math.min(target.length, bytes.length - from);
    },
    release: onRelease,
  } as unknown as SharedBuffer;
}
