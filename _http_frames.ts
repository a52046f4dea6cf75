/**
 * The binary frames of the HTTP layer. Every frame is one shared buffer:
 *
 *     0  u8  type          1 HEADERS (request), 2 HEADERS (response), 3 DATA, 4 END, 5 RST, 6 WINDOW
 *     1  u8  flags         bit 0: the stream ends with this frame
 *     2  u16 reserved
 *     4  u32 stream id
 *     8  ... payload
 *
 * Request headers:  u16 method, u16 authority, u32 path, u16 count, then per header u16 name,
 *                   u32 value (every string length-prefixed, UTF-8), then the body bytes if the
 *                   stream ends here (a whole small body travels inside the headers frame).
 * Response headers: u16 status, u16 status text, u16 count, headers as above, then body bytes.
 * DATA: body bytes. END: nothing. RST: u32 reason. WINDOW: u32 bytes the reader consumed.
 *
 * No HTTP/1.1 text is parsed anywhere: lengths are explicit and every one is bounds-checked
 * against the frame, so a malformed frame is a typed error, never an out-of-range read.
 *
 * @module
 */

export const FRAME_REQUEST = 1;
export const FRAME_RESPONSE = 2;
export const FRAME_DATA = 3;
export const FRAME_END = 4;
export const FRAME_RESET = 5;
export const FRAME_WINDOW = 6;
export const FLAG_END = 1;
export const HEADER_BYTES = 8;

export const RESET_CANCEL = 1;
export const RESET_REFUSED = 2;
export const RESET_ERROR = 3;

/** A frame that does not parse. */
export class FrameError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Builds a frame in a growable scratch array; `finish()` returns the bytes to copy out. */
export class FrameWriter {
  #bytes = new Uint8Array(4096);
  #view = new DataView(this.#bytes.buffer);
  #at = 0;

  start(type: number, flags: number, stream: number): this {
    this.#at = 0;
    this.#reserve(HEADER_BYTES);
    this.#bytes[0] = type;
    this.#bytes[1] = flags;
    this.#view.setUint16(2, 0, true);
    this.#view.setUint32(4, stream, true);
    this.#at = HEADER_BYTES;
    return this;
  }

  u16(value: number): this {
    this.#reserve(2);
    this.#view.setUint16(this.#at, value, true);
    this.#at += 2;
    return this;
  }

  u32(value: number): this {
    this.#reserve(4);
    this.#view.setUint32(this.#at, value, true);
    this.#at += 4;
    return this;
  }

  /** A string with a u16 (or u32) length prefix. */
  string(value: string, wide = false): this {
    // UTF-8 is at most 3 bytes per UTF-16 unit.
    this.#reserve((wide ? 4 : 2) + value.length * 3);
    const lengthAt = this.#at;
    this.#at += wide ? 4 : 2;
    const { written } = encoder.encodeInto(value, this.#bytes.subarray(this.#at));
    if (!wide && written > 0xffff) throw new FrameError(`A header field of ${written} bytes is too long`);
    if (wide) this.#view.setUint32(lengthAt, written, true);
    else this.#view.setUint16(lengthAt, written, true);
    this.#at += written;
    return this;
  }

  headers(headers: Headers): this {
    const countAt = this.#at;
    this.u16(0);
    let count = 0;
    for (const [name, value] of headers) {
      this.string(name).string(value, true);
      count++;
    }
    this.#view.setUint16(countAt, count, true);
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
    this.#view = new DataView(next.buffer);
  }
}

/** Reads a frame's fields with bounds checks. */
export class FrameReader {
  #bytes: Uint8Array<ArrayBuffer>;
  #view: DataView;
  #at: number;

  constructor(bytes: Uint8Array<ArrayBuffer>) {
    if (bytes.length < HEADER_BYTES) throw new FrameError(`A frame of ${bytes.length} bytes is too short`);
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#at = HEADER_BYTES;
  }

  get type(): number {
    return this.#bytes[0];
  }

  get flags(): number {
    return this.#bytes[1];
  }

  get stream(): number {
    return this.#view.getUint32(4, true);
  }

  u16(): number {
    this.#need(2);
    const value = this.#view.getUint16(this.#at, true);
    this.#at += 2;
    return value;
  }

  u32(): number {
    this.#need(4);
    const value = this.#view.getUint32(this.#at, true);
    this.#at += 4;
    return value;
  }

  string(wide = false): string {
    const length = wide ? this.u32() : this.u16();
    this.#need(length);
    const value = decoder.decode(this.#bytes.subarray(this.#at, this.#at + length));
    this.#at += length;
    return value;
  }

  headers(): [string, string][] {
    const count = this.u16();
    const out: [string, string][] = [];
    for (let i = 0; i < count; i++) out.push([this.string(), this.string(true)]);
    return out;
  }

  /** The rest of the frame (a copy that outlives the shared buffer). */
  rest(): Uint8Array<ArrayBuffer> {
    return this.#bytes.slice(this.#at);
  }

  #need(n: number): void {
    if (this.#at + n > this.#bytes.length) {
      throw new FrameError(`A frame field runs past the end of its ${this.#bytes.length}-byte frame`);
    }
  }
}
