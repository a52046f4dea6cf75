/**
 * The UNIX-socket side of the demo, through each runtime's own socket API (Deno.listen and
 * Deno.connect, or Bun.listen and Bun.connect). This is what the pipeline would use without xio.
 */

export interface ByteStream {
  /** Chunks of whole records, as they arrive. */
  records(size: number): AsyncIterable<Uint8Array>;
}

export interface Writer {
  write(bytes: Uint8Array): Promise<void>;
  end(): Promise<void>;
}

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;

/** Re-cuts a stream of chunks into whole `size`-byte records, copying each byte once. */
async function* wholeRecords(chunks: AsyncIterable<Uint8Array>, size: number): AsyncIterable<Uint8Array> {
  let record = new Uint8Array(size);
  let filled = 0;
  for await (const chunk of chunks) {
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(size - filled, chunk.length - at);
      record.set(chunk.subarray(at, at + n), filled);
      filled += n;
      at += n;
      if (filled === size) {
        yield record;
        record = new Uint8Array(size);
        filled = 0;
      }
    }
  }
}

/** A queue of chunks pushed by callbacks and read with `for await`. */
class ChunkQueue implements AsyncIterable<Uint8Array> {
  #chunks: Uint8Array[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#wake?.();
  }
  end(): void {
    this.#ended = true;
    this.#wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const chunk = this.#chunks.shift();
      if (chunk) yield chunk;
      else if (this.#ended) return;
      else await new Promise<void>((r) => (this.#wake = r));
    }
  }
}

export async function listenUnix(
  path: string,
  ready: () => void,
  onConnection: (stream: ByteStream) => Promise<void>,
): Promise<void> {
  if (Bun) {
    let queue: ChunkQueue;
    Bun.listen({
      unix: path,
      socket: {
        open() {
          queue = new ChunkQueue();
          onConnection({ records: (size) => wholeRecords(queue, size) });
        },
        data(_socket: unknown, data: Uint8Array) {
          queue.push(new Uint8Array(data));
        },
        close() {
          queue.end();
        },
        error() {},
      },
    });
    ready();
    return;
  }
  const listener = Deno.listen({ transport: "unix", path });
  ready();
  const conn = await listener.accept();
  async function* chunks(): AsyncIterable<Uint8Array> {
    const buffer = new Uint8Array(1 << 16);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) return;
      yield buffer.subarray(0, n); // consumed before the next read
    }
  }
  await onConnection({ records: (size) => wholeRecords(chunks(), size) });
}

export async function connectUnix(path: string): Promise<Writer> {
  if (Bun) {
    let pending: Uint8Array | undefined;
    let drained: (() => void) | undefined;
    const socket = await Bun.connect({
      unix: path,
      socket: {
        data() {},
        drain(s: { write(b: Uint8Array): number }) {
          if (!pending) return;
          const n = s.write(pending);
          pending = n < pending.length ? pending.subarray(n) : undefined;
          if (!pending) drained?.();
        },
        error() {},
        close() {},
      },
    });
    return {
      async write(bytes) {
        const n = socket.write(bytes);
        if (n < bytes.length) {
          pending = bytes.slice(Math.max(n, 0));
          await new Promise<void>((r) => (drained = r));
        }
      },
      end() {
        socket.end();
        return Promise.resolve();
      },
    };
  }
  const conn = await Deno.connect({ transport: "unix", path });
  return {
    async write(bytes) {
      let done = 0;
      while (done < bytes.length) done += await conn.write(bytes.subarray(done));
    },
    end() {
      conn.close();
      return Promise.resolve();
    },
  };
}
