/**
 * The binary frames of the HTTP layer. Every frame is one shared buffer:
 *
 *     0  u8  type          1 HEADERS (request), 2 HEADERS (response), 3 DATA, 4 END, 5 RST, 6 WINDOW,
 *                          7 DEFAULTS, 8 CLOSE (WebSocket)
 *     1  u8  flags         bit 0: the stream ends with this frame; bit 1 (headers frames): the
 *                          body's length is declared after the headers; bits 2-3 (response
 *                          headers): the content type the server's runtime implies for the body
 *                          (1 text/plain;charset=utf-8, 2 application/octet-stream), for the
 *                          client to add when the block has none; bit 4 (request headers): a
 *                          WebSocket upgrade (the stream carries messages after a 101).
 *                          DATA on a WebSocket stream: bit 1, a text message; bit 2, the message
 *                          goes on in the next DATA frame (the first of several starts with the
 *                          whole length, u32 low and u32 high); bit 3, several small messages,
 *                          each a u32 (length, bit 31 for text) and its bytes
 *     2  u8  version       FRAME_VERSION; a frame of another version ends the connection
 *     3  u8  reserved
 *     4  u32 stream id
 *     8  ... payload
 *
 * Request headers:  u16 method, u16 authority, u32 path, u16 count, then per header u16 name,
 *                   u32 value (every string length-prefixed, UTF-8), then with flag bit 1 the
 *                   body length (u32 low, u32 high), then the body bytes if the stream ends here
 *                   (a whole small body travels inside the headers frame).
 * Response headers: u16 status, u16 status text, u16 count, headers as above, the body length
 *                   as above, then body bytes.
 *
 * The declared length is what HTTP/1.1 carries as content-length. It travels apart from the
 * headers so that a receiver builds its Headers without it (a runtime validates every header
 * it is given, which costs microseconds) and adds it only if the application looks.
 * DATA: body bytes. END: nothing. RST: u32 reason. WINDOW: u32 bytes the reader consumed.
 * CLOSE (WebSocket): u16 code (0: none given), u16-prefixed UTF-8 reason. Each side sends one,
 * the second in answer to the first; the stream is over once both are sent.
 * DEFAULTS (stream 0, a client's first frame): a header block, the headers that the client's
 * fetch sends with every request unless the request has its own (user-agent, accept-encoding):
 * sent once per connection rather than in every request. A server that does not know the type
 * ignores it.
 *
 * No HTTP/1.1 text is parsed anywhere: lengths are explicit and every one is bounds-checked
 * against the frame, so a malformed frame is a typed error, never an out-of-range read.
 *
 * @module
 */

import { FrameError } from "../errors.ts";

export const FRAME_REQUEST = 1;
export const FRAME_RESPONSE = 2;
export const FRAME_DATA = 3;
export const FRAME_END = 4;
export const FRAME_RESET = 5;
export const FRAME_WINDOW = 6;
export const FRAME_DEFAULTS = 7;
export const FRAME_CLOSE = 8;
/**
 * The frame format's version, in every frame header. 1: the first versioned format (with the
 * declared body length); frames before it had 0 there.
 */
export const FRAME_VERSION = 1;
export const FLAG_END = 1;
export const FLAG_LENGTH = 2;
/** Bits 2-3 of a response's flags: the implied content type, an index into IMPLIED_TYPES. */
export const FLAG_TYPE_SHIFT = 2;
/** A request's flag: a WebSocket upgrade. */
export const FLAG_UPGRADE = 16;
/** A WebSocket DATA frame's flags: a text message; the message goes on in the next frame. */
export const FLAG_TEXT = 2;
export const FLAG_MORE = 4;
/** A WebSocket DATA frame's flag: the payload is several small messages (see http/_endpoint.ts). */
export const FLAG_PACKED = 8;
export const IMPLIED_TYPES = [undefined, "text/plain;charset=utf-8", "application/octet-stream"] as const;
export const HEADER_BYTES = 8;

export const RESET_CANCEL = 1;
export const RESET_REFUSED = 2;
export const RESET_ERROR = 3;

export { FrameError };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Header names, values, methods and authorities repeat from request to request. Strings of up
 * to INTERN_MAX bytes are decoded once and then found again by a hash of their bytes.
 */
const INTERN_MAX = 64;
const INTERN_SLOTS = 1024;
const internBytes: (Uint8Array | undefined)[] = new Array(INTERN_SLOTS);
const internStrings: string[] = new Array(INTERN_SLOTS);

function intern(bytes: Uint8Array, start: number, length: number): string {
  const slot = hashBytes(bytes, start, length) & (INTERN_SLOTS - 1);
  const known = internBytes[slot];
  if (known !== undefined && known.length === length && sameBytes(known, bytes, start)) {
    return internStrings[slot];
  }
  const value = decoder.decode(bytes.subarray(start, start + length));
  internBytes[slot] = bytes.slice(start, start + length);
  internStrings[slot] = value;
  return value;
}

/**
 * Header blocks repeat too (the same content type on every response): a block of up to
 * BLOCK_MAX bytes is turned into a Headers object once, which Request and Response then copy
 * (they never keep the object they are given), and found again by a hash of its bytes.
 */
const BLOCK_MAX = 1024;
const BLOCK_SLOTS = 256;
const blockBytes: (Uint8Array | undefined)[] = new Array(BLOCK_SLOTS);
const blockHeaders: Headers[] = new Array(BLOCK_SLOTS);

function hashBytes(bytes: Uint8Array, start: number, length: number): number {
  let hash = 0x811c9dc5 ^ length;
  for (let i = start; i < start + length; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193);
  return hash >>> 0;
}

function sameBytes(known: Uint8Array, bytes: Uint8Array, start: number): boolean {
  for (let i = 0; i < known.length; i++) if (known[i] !== bytes[start + i]) return false;
  return true;
}

/** Writes a frame header at the start of `bytes` (a shared buffer's, or a scratch array's). */
export function writeHeader(bytes: Uint8Array, type: number, flags: number, stream: number): void {
  bytes[0] = type;
  bytes[1] = flags;
  bytes[2] = FRAME_VERSION;
  bytes[3] = 0;
  bytes[4] = stream;
  bytes[5] = stream >>> 8;
  bytes[6] = stream >>> 16;
  bytes[7] = stream >>> 24;
}

/** Bytes of a 64-bit length (u32 low, u32 high), as a declared body length is written. */
export const LENGTH_BYTES = 8;

/** Writes `value` (a safe integer) as a 64-bit length at `at`. */
export function writeLength(bytes: Uint8Array, at: number, value: number): void {
  const low = value % 2 ** 32;
  const high = Math.floor(value / 2 ** 32);
  bytes[at] = low;
  bytes[at + 1] = low >>> 8;
  bytes[at + 2] = low >>> 16;
  bytes[at + 3] = low >>> 24;
  bytes[at + 4] = high;
  bytes[at + 5] = high >>> 8;
  bytes[at + 6] = high >>> 16;
  bytes[at + 7] = high >>> 24;
}

/** Reads a 64-bit length written by `writeLength`. */
export function readLength(bytes: Uint8Array, at: number): number {
  const low = (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
  const high = (bytes[at + 4] | (bytes[at + 5] << 8) | (bytes[at + 6] << 16) | (bytes[at + 7] << 24)) >>> 0;
  return low + high * 2 ** 32;
}

/** Builds a frame in a growable scratch array; `finish()` returns the bytes to copy out. */
export class FrameWriter {
  #bytes = new Uint8Array(4096);
  #at = 0;

  start(type: number, flags: number, stream: number): this {
    writeHeader(this.#bytes, type, flags, stream);
    this.#at = HEADER_BYTES;
    return this;
  }

  u16(value: number): this {
    this.#reserve(2);
    const at = this.#at;
    this.#bytes[at] = value;
    this.#bytes[at + 1] = value >>> 8;
    this.#at = at + 2;
    return this;
  }

  /** A declared body length (the frame must have flag bit 1). */
  bodyLength(length: number): this {
    return this.u32(length % 2 ** 32).u32(Math.floor(length / 2 ** 32));
  }

  u32(value: number): this {
    this.#reserve(4);
    const at = this.#at;
    const bytes = this.#bytes;
    bytes[at] = value;
    bytes[at + 1] = value >>> 8;
    bytes[at + 2] = value >>> 16;
    bytes[at + 3] = value >>> 24;
    this.#at = at + 4;
    return this;
  }

  /** A string with a u16 (or u32) length prefix. */
  string(value: string, wide = false): this {
    // UTF-8 is at most 3 bytes per UTF-16 unit.
    this.#reserve((wide ? 4 : 2) + value.length * 3);
    const lengthAt = this.#at;
    const bytes = this.#bytes;
    let at = lengthAt + (wide ? 4 : 2);
    let written = 0;
    // Most header text is ASCII: copy it byte by byte, which is far cheaper than encodeInto
    // for short strings; anything else goes through the encoder.
    const n = value.length;
    let i = 0;
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) break;
      bytes[at + i] = c;
    }
    if (i === n) written = n;
    else written = encoder.encodeInto(value, bytes.subarray(at)).written;
    if (!wide && written > 0xffff) throw new FrameError(`A header field of ${written} bytes is too long`);
    bytes[lengthAt] = written;
    bytes[lengthAt + 1] = written >>> 8;
    if (wide) {
      bytes[lengthAt + 2] = written >>> 16;
      bytes[lengthAt + 3] = written >>> 24;
    }
    at += written;
    this.#at = at;
    return this;
  }

  /** The header block: `headers`, without the one named `skip` if given. */
  headers(headers: Headers, skip?: string): this {
    const countAt = this.#at;
    this.u16(0);
    let count = 0;
    headers.forEach((value, name) => {
      if (name === skip) return;
      this.string(name).string(value, true);
      count++;
    });
    this.#bytes[countAt] = count;
    this.#bytes[countAt + 1] = count >>> 8;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.#reserve(value.length);
    this.#bytes.set(value, this.#at);
    this.#at += value.length;
    return this;
  }

  /** The frame built so far. Valid until the next `start`. */
  finish(): Uint8Array {
    return this.#bytes.subarray(0, this.#at);
  }

  #reserve(n: number): void {
    if (this.#at + n <= this.#bytes.length) return;
    let size = this.#bytes.length * 2;
    while (size < this.#at + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#bytes.subarray(0, this.#at));
    this.#bytes = next;
  }
}

/**
 * Reads a frame's fields with bounds checks. It reads `bytes` in place (they may be shared
 * memory): use it only while the frame's buffer is held.
 */
export class FrameReader {
  #bytes: Uint8Array;
  #end: number;
  #at: number;

  /** Reads the first `length` bytes of `bytes` (by default all of them). */
  constructor(bytes: Uint8Array, length: number = bytes.length) {
    if (length < HEADER_BYTES) throw new FrameError(`A frame of ${length} bytes is too short`);
    this.#bytes = bytes;
    this.#end = length;
    this.#at = HEADER_BYTES;
  }

  get type(): number {
    return this.#bytes[0];
  }

  get flags(): number {
    return this.#bytes[1];
  }

  get stream(): number {
    const b = this.#bytes;
    return (b[4] | (b[5] << 8) | (b[6] << 16) | (b[7] << 24)) >>> 0;
  }

  u16(): number {
    this.#need(2);
    const b = this.#bytes;
    const at = this.#at;
    this.#at = at + 2;
    return b[at] | (b[at + 1] << 8);
  }

  u32(): number {
    this.#need(4);
    const b = this.#bytes;
    const at = this.#at;
    this.#at = at + 4;
    return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
  }

  /** Bytes of the frame not read yet. */
  get left(): number {
    return this.#end - this.#at;
  }

  /** How many headers the header block that comes next holds, without reading it. */
  peekHeaderCount(): number {
    this.#need(2);
    return this.#bytes[this.#at] | (this.#bytes[this.#at + 1] << 8);
  }

  /**
   * The size of the header block that comes next, as HTTP/1.1 would write it, without reading
   * past it: the bytes of all its lines (`name: value` and CRLF), and of the longest one. (The
   * count is `peekHeaderCount`.)
   */
  headerBlockSize(): { bytes: number; longest: number } {
    const start = this.#at;
    const count = this.u16();
    let bytes = 0;
    let longest = 0;
    for (let i = 0; i < count; i++) {
      const name = this.u16();
      this.#at += name;
      const value = this.u32();
      this.#at += value;
      const line = name + value + 4;
      bytes += line;
      if (line > longest) longest = line;
    }
    this.#need(0);
    this.#at = start;
    return { bytes, longest };
  }

  /** A declared body length, if the frame has one (flag bit 1). */
  bodyLength(): number | undefined {
    if ((this.flags & FLAG_LENGTH) === 0) return undefined;
    const length = this.u32() + this.u32() * 2 ** 32;
    if (!Number.isSafeInteger(length)) {
      throw new FrameError(`A declared body length of ${length} is not valid`);
    }
    return length;
  }

  string(wide = false): string {
    const length = wide ? this.u32() : this.u16();
    this.#need(length);
    const at = this.#at;
    this.#at = at + length;
    if (length === 0) return "";
    if (length <= INTERN_MAX) return intern(this.#bytes, at, length);
    return decoder.decode(this.#bytes.subarray(at, at + length));
  }

  headers(): [string, string][] {
    const count = this.u16();
    const out: [string, string][] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = [this.string(), this.string(true)];
    return out;
  }

  /**
   * The header block as a Headers object to hand to a Request or Response constructor (which
   * copy it; never change it), or undefined if there are no headers.
   */
  headersInit(): Headers | undefined {
    const start = this.#at;
    const bytes = this.#bytes;
    const count = this.u16();
    if (count === 0) return undefined;
    // Find the end of the block without decoding it.
    for (let i = 0; i < count; i++) {
      const name = this.u16(); // (read first: `this.#at += this.u16()` would lose the 2 bytes)
      this.#at += name;
      const value = this.u32();
      this.#at += value;
    }
    this.#need(0);
    const end = this.#at;
    const length = end - start;
    if (length > BLOCK_MAX) {
      this.#at = start;
      return this.#newHeaders();
    }
    const slot = hashBytes(bytes, start, length) & (BLOCK_SLOTS - 1);
    const known = blockBytes[slot];
    if (known !== undefined && known.length === length && sameBytes(known, bytes, start)) {
      return blockHeaders[slot];
    }
    this.#at = start;
    const headers = this.#newHeaders();
    blockBytes[slot] = bytes.slice(start, end);
    blockHeaders[slot] = headers;
    return headers;
  }

  /** The rest of the frame (a copy that outlives the buffer). */
  rest(): Uint8Array<ArrayBuffer> {
    const at = this.#at;
    const n = this.#end - at;
    const out = new Uint8Array(n);
    // A short copy in a loop beats slice() of a view on shared memory.
    if (n <= 64) { for (let i = 0; i < n; i++) out[i] = this.#bytes[at + i]; }
    else out.set(this.#bytes.subarray(at, this.#end));
    return out;
  }

  #newHeaders(): Headers {
    const pairs = this.headers();
    try {
      return new Headers(pairs);
    } catch (error) {
      throw new FrameError(`A header is not valid: ${(error as Error).message}`);
    }
  }

  #need(n: number): void {
    if (this.#at + n > this.#end) {
      throw new FrameError(`A frame field runs past the end of its ${this.#end}-byte frame`);
    }
  }
}
