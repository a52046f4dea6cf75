/**
 * The demo's records: 16 KiB frames. Bytes 0-3 hold a sequence number, 8-15 the send time
 * (microseconds on the wall clock, which every process on the machine shares), 16-63 a header
 * that the transform stage rewrites, and the rest a payload that travels untouched.
 */
export const RECORD_BYTES = Number(globalThis.process?.env?.XIO_DEMO_RECORD ?? 16384);
const HEADER_END = 64;

/** Microseconds on the shared wall clock, with sub-millisecond precision. */
export function nowMicros(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

export function stamp(record: Uint8Array, sequence: number): void {
  const view = new DataView(record.buffer, record.byteOffset, RECORD_BYTES);
  view.setUint32(0, sequence, true);
  view.setFloat64(8, nowMicros(), true);
  for (let i = 16; i < HEADER_END; i++) record[i] = 97 + ((sequence + i) % 26); // a-z
  record.fill(sequence & 0xff, HEADER_END);
}

/** The transform: upper-cases the header in place. */
export function transform(record: Uint8Array): void {
  for (let i = 16; i < HEADER_END; i++) record[i] -= 32;
}

export function sequenceOf(record: Uint8Array): number {
  return new DataView(record.buffer, record.byteOffset, RECORD_BYTES).getUint32(0, true);
}

export function latencyOf(record: Uint8Array): number {
  return nowMicros() - new DataView(record.buffer, record.byteOffset, RECORD_BYTES).getFloat64(8, true);
}

export function checkTransformed(record: Uint8Array): boolean {
  const sequence = sequenceOf(record);
  return record[16] >= 65 && record[16] <= 90 && record[RECORD_BYTES - 1] === (sequence & 0xff);
}
