/**
 * The HTTP client: a `fetch` that sends `xio://` URLs, and origins routed to local services,
 * over shared memory, and everything else to the runtime's own fetch.
 *
 * @module
 */

import { adapter } from "../runtime/mod.ts";
import { number } from "../_check.ts";
import { BrokenPipeError, ClosedError, ConnectionRefusedError, ConnectionResetError } from "../errors.ts";
import { type Channel, DEFAULT_POLL_MICROS, type Domain, type SharedBuffer } from "../zero_copy/mod.ts";
import { socketDomain } from "../zero_copy/_default.ts";
import {
  FLAG_END,
  FLAG_LENGTH,
  FLAG_TYPE_SHIFT,
  FRAME_DEFAULTS,
  FRAME_REQUEST,
  FRAME_RESET,
  FRAME_WINDOW,
  FrameError,
  type FrameReader,
  IMPLIED_TYPES,
  RESET_CANCEL,
} from "./_frames.ts";
import { INLINE_MAX, type StreamHandler, Wire } from "./_wire.ts";
import { BodyQueue, BodySender, directBody, NULL_BODY_STATUS, peekBody } from "./_body.ts";

let fetchPollMicros = DEFAULT_POLL_MICROS;

/**
 * Sets how long, in microseconds, this process's fetch sessions keep polling for responses
 * after traffic stops before they sleep (as {@linkcode ServeOptions.pollMicros} does for
 * servers). Applies to sessions opened afterwards.
 *
 * @example
 * ```ts
 * import { setFetchPollMicros } from "@xio/core/http";
 * setFetchPollMicros(0); // sleep at once: least CPU, slower round trips
 * ```
 */
export function setFetchPollMicros(micros: number): void {
  number("setFetchPollMicros's micros", micros, 0, 1e7);
  fetchPollMicros = micros;
}

// The runtime's own fetch, taken before anything (such as the opt-in preload) replaces it.
const runtimeFetch: typeof globalThis.fetch = globalThis.fetch.bind(globalThis);

// ---------------------------------------------------------------------------------------------
// Routing

const routes = new Map<string, string>();
for (const pair of (adapter.env("XIO_ROUTES") ?? "").split(",")) {
  const at = pair.lastIndexOf("=");
  if (at > 0) setRoute(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
}

/**
 * Maps an origin such as `http://orders:8080` to a local service. `fetch` then sends requests for
 * that origin over shared memory while the service is registered, and over TCP otherwise.
 *
 * @example
 * ```ts
 * import { setRoute } from "@xio/core/http";
 * setRoute("http://orders:8080", "orders");
 * ```
 */
export function setRoute(origin: string, service: string): void {
  routes.set(new URL(origin).origin, service);
}

/** Removes a route set with {@linkcode setRoute} or `XIO_ROUTES`. */
export function deleteRoute(origin: string): void {
  routes.delete(new URL(origin).origin);
}

// ---------------------------------------------------------------------------------------------
// Client

/**
 * The reason phrase an HTTP/1.1 server sends for each status (`Deno.serve` and `Bun.serve` send
 * it whatever statusText a handler gave), so that a client sees the `statusText` it sees over TCP.
 */
const REASON_PHRASES: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  102: "Processing",
  103: "Early Hints",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  207: "Multi-Status",
  208: "Already Reported",
  226: "IM Used",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  305: "Use Proxy",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Payload Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  418: "I'm a teapot",
  421: "Misdirected Request",
  422: "Unprocessable Entity",
  423: "Locked",
  424: "Failed Dependency",
  425: "Too Early",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
  506: "Variant Also Negotiates",
  507: "Insufficient Storage",
  508: "Loop Detected",
  510: "Not Extended",
  511: "Network Authentication Required",
};
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

const fetchHeaders = new Headers(adapter.fetchHeaders as [string, string][]);

/** A client's connection to one service: its wire, and the streams open on it. */
export class ClientSession {
  readonly wire: Wire;
  #next = 1;
  #active = 0;

  constructor(channel: Channel, onClose: () => void) {
    channel.unref(); // an idle session must not keep the process alive
    this.wire = new Wire(channel, () => {}, onClose);
    // What this runtime's fetch sends with every request, once for the whole connection.
    this.wire.frame(FRAME_DEFAULTS, 0, 0).headers(fetchHeaders);
    this.wire.send()?.catch(() => {}); // a failed wire fails its requests
  }

  open(handler: StreamHandler): number {
    const id = this.#next;
    this.#next += 2;
    this.wire.streams.set(id, handler);
    if (this.#active++ === 0) this.wire.channel.ref();
    return id;
  }

  finish(id: number): void {
    if (!this.wire.streams.delete(id)) return;
    if (--this.#active === 0) this.wire.channel.unref();
  }
}

/** The sessions of each domain handle, by service name. */
const sessions = new WeakMap<Domain, Map<string, ClientSession>>();

/** The session of `domain` to `service`, connected if there is none yet. Throws ConnectionRefusedError. */
export function session(domain: Domain, service: string): ClientSession {
  let byService = sessions.get(domain);
  if (byService === undefined) sessions.set(domain, byService = new Map());
  let s = byService.get(service);
  if (s === undefined || s.wire.failed !== undefined) {
    // Throws ConnectionRefusedError at once.
    const channel = domain.connectSync(service, { pollMicros: fetchPollMicros });
    const all = byService;
    const created: ClientSession = new ClientSession(channel, () => {
      if (all.get(service) === created) all.delete(service);
    });
    s = created;
    byService.set(service, s);
  }
  return s;
}

/**
 * The host a server sees for a request to `xio://<service>/`: `<service>.xio.localhost`, a host
 * like one a TCP server would see (frameworks that find the path by skipping past the shortest
 * origin they expect, as Elysia does, need one), and one that fetch sends back over shared
 * memory, so that a redirect a handler builds from `request.url` stays local. (`*.localhost`
 * names loopback, so such a URL never leaves the machine either way.)
 */
export const LOCAL_HOST_SUFFIX = ".xio.localhost";

/** Where a URL goes: a local service, or (undefined) the runtime's own fetch. */
export function target(url: URL): Target | undefined {
  if (url.protocol === "xio:") {
    const port = url.port === "" ? "" : `:${url.port}`;
    return {
      service: decodeURIComponent(url.hostname),
      authority: url.hostname + LOCAL_HOST_SUFFIX + port,
      routed: false,
    };
  }
  const service = routes.get(url.origin);
  if (service !== undefined) return { service, authority: url.host, routed: true };
  const host = url.hostname;
  if (
    host.endsWith(LOCAL_HOST_SUFFIX) && host.length > LOCAL_HOST_SUFFIX.length && url.protocol === "http:"
  ) {
    return { service: host.slice(0, -LOCAL_HOST_SUFFIX.length), authority: url.host, routed: false };
  }
  return undefined;
}

/** A local destination: the service, the authority its server sees, and whether TCP is the fallback. */
export interface Target {
  service: string;
  authority: string;
  /** A routed origin: while its service is not here, requests go over TCP as they always did. */
  routed: boolean;
}

function networkError(message: string, cause?: unknown): TypeError {
  return new TypeError(message, { cause });
}

/**
 * `fetch` with the signature of the global one. `xio://service/path` URLs, and URLs whose origin
 * is routed to a locally registered service, go over shared memory; everything else goes to the
 * runtime's own fetch unchanged. Rejects with a `TypeError` on network errors (an unknown
 * service, a server that died), as fetch does.
 *
 * @example
 * ```ts
 * import { fetch, serve } from "@xio/core/http";
 * import assert from "node:assert/strict";
 *
 * await using _server = serve({ name: "fetch-example" }, (request) => Response.json({ method: request.method }));
 * const response = await fetch("xio://fetch-example/", { method: "PUT" });
 * assert.deepEqual(await response.json(), { method: "PUT" });
 * // A service nobody serves is a network error, as fetch has it.
 * await assert.rejects(fetch("xio://nobody-serves-this/"), TypeError);
 * // Any other URL (https://example.com/) goes to the runtime's own fetch.
 * ```
 */
export function fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  let quick: boolean;
  try {
    quick = typeof input === "string" && input.startsWith("xio://") && simple(init);
  } catch (error) {
    return Promise.reject(error); // fetch rejects; it never throws
  }
  return quick ? quickFetch(input as string, init) : generalFetch(input, init);
}

/** fetch through a Request: every option, redirects, routed origins. */
async function generalFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const href = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return runtimeFetch(input, init);
  }
  const first = target(url);
  if (first === undefined) return runtimeFetch(input, init);
  let request = new Request(input, init);
  // What a retry or a redirect sends again: bytes as they were at the call, as fetch keeps them.
  const given = init?.body ?? null;
  const originalBody = given instanceof ArrayBuffer || ArrayBuffer.isView(given)
    ? viewOf(given).slice()
    : given;
  let body = originalBody;
  const domain = socketDomain(undefined);
  let retried = false;
  for (let redirects = 0;; redirects++) {
    const where = target(new URL(request.url));
    if (where === undefined) return markRedirected(await runtimeFetch(request), redirects > 0);
    let s: ClientSession;
    try {
      s = session(domain, where.service);
    } catch (error) {
      if (!(error instanceof ConnectionRefusedError)) throw error;
      // A routed origin whose service is not here: the request goes over TCP as it always did.
      if (where.routed) return markRedirected(await runtimeFetch(request), redirects > 0);
      throw networkError(`xio: no service "${where.service}" is listening in domain "${domain.name}"`, error);
    }
    let response: Response;
    try {
      response = await exchange(s, request, where.authority, undefined, sizeOf(body));
    } catch (error) {
      // Sent again once: on a session whose server had gone away before the request was sent
      // (a new session, or TCP); or, for a routed service that went away after it was sent (the
      // connection reset before any byte of the response), an idempotent request that can be
      // sent again goes to its origin over TCP, as the route table promises.
      const stale = error instanceof StaleSession;
      if (
        !stale &&
        (!where.routed || retried || !resetBeforeResponse(error) || !replayable(request, originalBody))
      ) throw error;
      s.wire.close();
      const cause = stale ? error.cause : error;
      if (retried) throw networkError(`xio: the service "${where.service}" closed the connection`, cause);
      retried = true;
      redirects--;
      if (request.body !== null) {
        // The first try read the body; a new Request takes it again from what was given.
        if (body === null || body instanceof ReadableStream) {
          throw networkError(
            "xio: the connection closed before a streamed request body could be sent",
            cause,
          );
        }
        request = new Request(request, { body, duplex: "half" } as RequestInit);
      }
      continue;
    }
    if (!REDIRECT_STATUS.has(response.status) || request.redirect === "manual") {
      return markRedirected(response, redirects > 0);
    }
    if (request.redirect === "error") {
      await response.body?.cancel();
      throw networkError(`Redirect to ${response.headers.get("location")} refused (redirect: "error")`);
    }
    if (redirects >= 20) throw networkError("Too many redirects");
    const location = response.headers.get("location");
    if (location === null) return response;
    await response.body?.cancel();
    const next = new URL(location, request.url);
    const toGet = response.status === 303 ||
      ((response.status === 301 || response.status === 302) && request.method === "POST");
    if (!toGet && request.body !== null && originalBody instanceof ReadableStream) {
      throw networkError("Cannot follow a redirect that needs a streamed request body again");
    }
    body = toGet ? null : originalBody;
    request = new Request(next, {
      method: toGet ? (request.method === "HEAD" ? "HEAD" : "GET") : request.method,
      headers: request.headers,
      body: toGet ? null : originalBody,
      signal: request.signal,
      redirect: request.redirect,
    });
    if (toGet) {
      for (const name of ["content-type", "content-length", "content-encoding", "content-language"]) {
        request.headers.delete(name);
      }
    }
  }
}

/**
 * `response` as fetch returns it after following `redirected` redirects: with `redirected` set
 * (a response from the runtime's own fetch, after redirects followed here first, gets the
 * property on the instance).
 */
function markRedirected(response: Response, redirected: boolean): Response {
  if (!redirected || response.redirected) return response;
  if (response instanceof FetchResponse) response[kRedirected] = true;
  else Object.defineProperty(response, "redirected", { value: true });
  return response;
}

/** Whether a fetch failed because its connection reset before the response began. */
function resetBeforeResponse(error: unknown): boolean {
  const cause = error instanceof TypeError ? error.cause : undefined;
  return cause instanceof ConnectionResetError || cause instanceof BrokenPipeError ||
    cause instanceof ClosedError;
}

/** The methods that a server may be asked twice (RFC 9110 idempotent methods). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/** Whether `request` may be sent again: idempotent, with a body that is still at hand. */
function replayable(request: Request, body: BodyInit | null): boolean {
  return IDEMPOTENT.has(request.method) && (request.body === null || !(body instanceof ReadableStream));
}

/** The bytes of a buffer body, without a copy. */
function viewOf(body: ArrayBuffer | ArrayBufferView): Uint8Array {
  return body instanceof ArrayBuffer
    ? new Uint8Array(body)
    : new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

/** The length of a body whose size is known before it is read (a Blob or bytes). */
function sizeOf(body: BodyInit | null | undefined): number | undefined {
  if (body instanceof Blob) return body.size;
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return body.byteLength;
  return undefined;
}

/** The methods that fetch normalizes to upper case. */
const NORMALIZED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);

/**
 * An init that needs none of Request's machinery: a method, headers, and no body or a body
 * that is already in memory (a string, an ArrayBuffer or a view of one). No signal, no
 * redirect choice.
 */
function simple(init: RequestInit | undefined): boolean {
  if (init === undefined) return true;
  for (const key in init) {
    if (key !== "method" && key !== "headers" && key !== "body") return false;
  }
  const method = init.method === undefined ? "GET" : init.method.toUpperCase();
  if (!NORMALIZED_METHODS.has(method)) return false;
  const body = init.body;
  if (body === undefined || body === null) return true;
  return method !== "GET" && method !== "HEAD" &&
    (typeof body === "string" || body instanceof ArrayBuffer || ArrayBuffer.isView(body));
}

const encoder = new TextEncoder();

/**
 * Copies of large request bodies, taken when fetch is called (fetch sends the bytes as they were
 * then), in memory that is used again: a fresh allocation of a large body's size costs more
 * than the copy itself, since the kernel faults in and zeroes every page (about 0.2 ms per MiB
 * here). A copy comes back once its last byte is in shared memory. Copies of up to 4 MiB are
 * kept, in power-of-two sizes, 16 MiB at most.
 */
class BodyCopies {
  static readonly SMALLEST = 32 * 1024;
  static readonly LARGEST = 4 * 1024 * 1024;
  static readonly KEEP = 16 * 1024 * 1024;
  #free = new Map<number, ArrayBuffer[]>();
  #kept = 0;

  /** A copy of `source`, in kept memory when there is some of its size. */
  take(source: Uint8Array): Uint8Array<ArrayBuffer> {
    const size = source.length;
    if (size > BodyCopies.LARGEST) return source.slice();
    const capacity = Math.max(BodyCopies.SMALLEST, 2 ** Math.ceil(Math.log2(size)));
    let buffer = this.#free.get(capacity)?.pop();
    if (buffer !== undefined) this.#kept -= capacity;
    else buffer = new ArrayBuffer(capacity);
    const copy = new Uint8Array(buffer, 0, size);
    copy.set(source);
    return copy;
  }

  /** Takes back a copy from `take` that nothing reads any more. */
  give(copy: Uint8Array<ArrayBuffer>): void {
    const buffer = copy.buffer;
    const capacity = buffer.byteLength;
    if (capacity > BodyCopies.LARGEST || this.#kept + capacity > BodyCopies.KEEP) return;
    let list = this.#free.get(capacity);
    if (list === undefined) this.#free.set(capacity, list = []);
    list.push(buffer);
    this.#kept += capacity;
  }
}

const bodyCopies = new BodyCopies();

/**
 * A body copy with two holders, the upload and the fetch call (which may have to send it again,
 * after a redirect or to a new session); it goes back to `bodyCopies` when both let go.
 */
class CopyHold {
  readonly bytes: Uint8Array<ArrayBuffer>;
  #holders = 2;

  constructor(bytes: Uint8Array<ArrayBuffer>) {
    this.bytes = bytes;
  }

  drop(): void {
    if (--this.#holders === 0) bodyCopies.give(this.bytes);
  }
}

/**
 * The common case without building a Request: a bodiless request to an xio:// URL. The result
 * is the same as through the general path; only the allocations are fewer.
 */
async function quickFetch(input: string, init: RequestInit | undefined): Promise<Response> {
  const slash = input.indexOf("/", 6);
  const service = slash < 0 ? input.slice(6) : input.slice(6, slash);
  let path = slash < 0 ? "/" : input.slice(slash);
  const hash = path.indexOf("#");
  if (hash >= 0) path = path.slice(0, hash);
  if (service === "" || /[\s%@:\[\]]/.test(service) || /[\s#\\]/.test(path)) {
    return generalFetch(input, init); // anything unusual takes the general path
  }
  const authority = service + LOCAL_HOST_SUFFIX;
  const domain = socketDomain(undefined);
  let s: ClientSession;
  try {
    s = session(domain, service);
  } catch (error) {
    if (!(error instanceof ConnectionRefusedError)) throw error;
    throw networkError(`xio: no service "${service}" is listening in domain "${domain.name}"`, error);
  }
  const method = init?.method?.toUpperCase() ?? "GET";
  let headers = init?.headers === undefined ? EMPTY_HEADERS : new Headers(init.headers);
  const body = init?.body;
  let bytes: Uint8Array | undefined;
  let hold: CopyHold | undefined;
  // What a retry (a new session, a redirect) sends: the bytes as they were at the call.
  let again = init;
  if (typeof body === "string") {
    bytes = encoder.encode(body);
    if (!headers.has("content-type")) {
      if (headers === EMPTY_HEADERS) headers = new Headers();
      headers.set("content-type", "text/plain;charset=UTF-8");
    }
  } else if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
    const view = viewOf(body);
    // fetch sends the bytes as they were at the call
    if (view.length > INLINE_MAX) {
      hold = new CopyHold(bodyCopies.take(view));
      bytes = hold.bytes;
    } else bytes = view.slice();
    again = { ...init, body: bytes as Uint8Array<ArrayBuffer> };
  }
  const request: Outgoing = {
    url: input,
    method,
    headers,
    body: null,
    staticBody: bytes,
    hold,
    signal: undefined,
  };
  try {
    const response = await exchange(s, request, authority, path).catch((error) => {
      if (!(error instanceof StaleSession)) throw error;
      s.wire.close();
      return generalFetch(input, again);
    });
    if (REDIRECT_STATUS.has(response.status)) {
      // Redirects follow the general path, which implements them fully.
      await response.body?.cancel();
      return await generalFetch(input, again);
    }
    return response;
  } finally {
    hold?.drop();
  }
}

const EMPTY_HEADERS = new Headers();

/** Whether `error` from sending on `wire` means its channel is gone. */
function isStale(error: unknown, wire: Wire): boolean {
  return error instanceof BrokenPipeError || error instanceof ConnectionResetError ||
    error instanceof ClosedError || (wire.failed !== undefined && error === wire.failed);
}

/** The session's channel was closed by its server before this request was sent. */
class StaleSession extends Error {
  constructor(cause: unknown) {
    super("stale session", { cause });
  }
}

/** What `exchange` needs of a request. */
interface Outgoing {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly body: ReadableStream<Uint8Array> | null;
  /** A body already in memory, sent instead of `body`. */
  readonly staticBody?: Uint8Array;
  /** The hold on `staticBody` when it is a reused copy: the upload drops it once sent. */
  readonly hold?: CopyHold;
  readonly signal: AbortSignal | undefined;
}

const kRedirected = Symbol("redirected");

/**
 * The Response that fetch returns. Only `url` differs from a plain Response, as it does for the
 * runtime's fetch: it is the URL that was fetched.
 */
class FetchResponse extends directBody(Response) {
  #url: string;
  /** Whether fetch followed a redirect to get here (see `markRedirected`). */
  [kRedirected] = false;

  #chunked: boolean;
  #implied: string | undefined;

  constructor(
    body: BodyInit | null,
    init: ResponseInit,
    url: string,
    chunked = false,
    implied?: string,
    queue?: BodyQueue,
    length?: number,
  ) {
    super(body, init);
    this.#url = url;
    this.#chunked = chunked;
    this.#implied = implied;
    this.attachBody(queue, length);
  }

  /**
   * Also `transfer-encoding: chunked` for a body of undeclared length, and the content type the
   * server's runtime implies, as over HTTP/1.1.
   */
  override completeHeaders(headers: Headers): void {
    if (this.#chunked && !headers.has("transfer-encoding")) headers.set("transfer-encoding", "chunked");
    if (this.#implied !== undefined && !headers.has("content-type")) {
      headers.set("content-type", this.#implied);
    }
    super.completeHeaders(headers);
  }

  override get url(): string {
    return this.#url;
  }

  override get redirected(): boolean {
    return this[kRedirected];
  }

  /**
   * The reason phrase of the status, as an HTTP/1.1 server sends it: the runtimes' servers send
   * the standard phrase whatever statusText a handler gave (and none for a status without one).
   */
  override get statusText(): string {
    return REASON_PHRASES[this.status] ?? "";
  }

  /** A copy that keeps the URL (a plain Response's clone would not know it). */
  override clone(): this {
    const headers = this.headers;
    const copy = super.clone();
    const init: ResponseInit = { status: copy.status, statusText: this.statusText, headers };
    const clone = new FetchResponse(copy.body, init, this.#url);
    clone[kRedirected] = this[kRedirected];
    return clone as this;
  }
}

/** The DecompressionStream format of each content coding. */
const FORMATS: Record<string, CompressionFormat> = {
  gzip: "gzip",
  "x-gzip": "gzip",
  deflate: "deflate",
  br: "brotli" as CompressionFormat,
  zstd: "zstd" as CompressionFormat,
};

/** The codings this runtime's fetch decodes: those it asks for in `accept-encoding`. */
const DECODERS: Record<string, CompressionFormat> = (() => {
  const accepted = adapter.fetchHeaders.find(([name]) => name === "accept-encoding")?.[1] ?? "";
  const out: Record<string, CompressionFormat> = {};
  for (const token of accepted.split(",")) {
    const name = token.trim();
    if (FORMATS[name] !== undefined) out[name] = FORMATS[name];
  }
  if (out.gzip !== undefined) out["x-gzip"] = "gzip";
  return out;
})();

/**
 * `body` decoded from the codings `coding` lists (the last applied first), or null if it lists
 * none that fetch decodes (identity, or one this runtime cannot decode: the bytes then come as
 * they are, as from a runtime's fetch that does not know the coding).
 */
function decode(body: BodyInit, coding: string): ReadableStream<Uint8Array> | null {
  const formats: CompressionFormat[] = [];
  for (const token of coding.toLowerCase().split(",").reverse()) {
    const name = token.trim();
    if (name === "" || name === "identity") continue;
    const format = DECODERS[name];
    if (format === undefined) return null;
    formats.push(format);
  }
  if (formats.length === 0) return null;
  let streams: DecompressionStream[];
  try {
    streams = formats.map((format) => new DecompressionStream(format));
  } catch {
    return null; // a coding this runtime cannot decode
  }
  let stream = body instanceof ReadableStream
    ? body as ReadableStream<Uint8Array>
    : new Response(body as Uint8Array<ArrayBuffer>).body!;
  for (const decoder of streams) {
    stream = stream.pipeThrough(decoder as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
  }
  return stream;
}

/** Frees what a fetch response holds in shared memory once its body can no longer be read. */
const dropped = new FinalizationRegistry<ClientStream>((stream) => stream.abandon());

/** One request of a client session: the frames of its stream, and its state. */
class ClientStream implements StreamHandler {
  id = 0;
  body: BodyQueue | undefined;
  sender: BodySender | undefined;
  finished = false;
  #headed = false;
  /** Until `exchange` takes it: nothing here may hold the Response once it is out (see `dropped`). */
  #response: Promise<Response> | undefined;
  #resolve: ((response: Response) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;
  #session: ClientSession;
  #url: string;
  #method: string;
  #signal: AbortSignal | undefined;

  constructor(session: ClientSession, url: string, method: string, signal: AbortSignal | undefined) {
    this.#session = session;
    this.#url = url;
    this.#method = method;
    this.#signal = signal;
    this.#response = new Promise<Response>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // The wire may fail before `exchange` awaits this (while it reads a request body, say):
    // that rejection is not unhandled, the exchange takes it (or retries) when it gets there.
    this.#response.catch(() => {});
  }

  /** The response promise, handed over once. */
  takeResponse(): Promise<Response> {
    const response = this.#response!;
    this.#response = undefined;
    return response;
  }

  /** Settles the response promise and lets go of it (its resolvers hold the Response). */
  #settle(response: Response | undefined, error?: unknown): void {
    const resolve = this.#resolve;
    const reject = this.#reject;
    this.#resolve = this.#reject = undefined;
    if (response !== undefined) resolve?.(response);
    else reject?.(error);
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.#signal?.removeEventListener("abort", this);
    // The exchange is over: an upload still going (the server answered without reading all of
    // it) stops, and its source is cancelled rather than left locked.
    // (An Error costs its stack: none is made for an upload already complete.)
    if (this.sender !== undefined && !this.sender.done) {
      this.sender.stop(new ClosedError("The response is complete"));
    }
    this.#session.finish(this.id);
  }

  onHeaders(frame: FrameReader, end: boolean): void {
    if (this.#headed) throw new FrameError(`Stream ${this.id} sent its headers twice`);
    this.#headed = true;
    const status = frame.u16();
    frame.string(); // the handler's statusText: fetch shows the standard phrase, as over HTTP/1.1
    const headers = frame.headersInit();
    const length = frame.bodyLength();
    if (status < 200 || status > 599) throw new FrameError(`A response status of ${status} is not valid`);
    // Only what differs from the defaults: every member given costs a conversion.
    const init: ResponseInit = { status };
    if (headers !== undefined) init.headers = headers;
    const nullBody = this.#method === "HEAD" || NULL_BODY_STATUS.has(status);
    let body: BodyInit | null = null;
    if (end) {
      this.finish();
      if (!nullBody) body = frame.rest();
    } else if (!nullBody) {
      // (A response that may have no body keeps no queue: DATA sent for it anyway is dropped.)
      const wire = this.#session.wire;
      const id = this.id;
      const queue = this.body = new BodyQueue((bytes) => wire.control(FRAME_WINDOW, id, bytes));
      body = queue.stream(() => {
        wire.control(FRAME_RESET, id, RESET_CANCEL);
        this.finish();
      });
      // The Response holds its body stream, and so does whoever reads it: once the stream is
      // collected, nobody can read what is queued in shared memory.
      dropped.register(body, this);
    }
    // A body in a content coding is decoded, as fetch decodes it (headers left as they came).
    const coding = body === null ? null : headers?.get("content-encoding") ?? null;
    const decoded = coding === null ? null : decode(body!, coding);
    let response: Response;
    try {
      // A body of undeclared length came chunked, as fetch's headers say over HTTP/1.1.
      const chunked = !end && length === undefined && !nullBody;
      // The content type the server's runtime implies for the body, added when headers are read.
      const implied = IMPLIED_TYPES[(frame.flags >> FLAG_TYPE_SHIFT) & 3];
      response = decoded === null
        ? new FetchResponse(body, init, this.#url, chunked, implied, this.body, length)
        : new FetchResponse(decoded, init, this.#url, chunked, implied, undefined, length);
    } catch (error) {
      throw new FrameError(`The response cannot be built: ${(error as Error).message}`);
    }
    this.#settle(response);
  }

  onData(buffer: SharedBuffer, end: boolean): void {
    if (this.body === undefined) {
      buffer.release();
      return;
    }
    this.body.push(buffer);
    if (end) this.onEnd();
  }

  onEnd(): void {
    this.body?.end();
    this.finish();
  }

  /**
   * The response was collected with its body unread: its buffers go back to the pool (a
   * dropped response would hold up to a window of them for good), and the server stops sending.
   */
  abandon(): void {
    const queue = this.body;
    if (queue === undefined || queue.readingDirectly) return;
    if (!this.finished) this.#session.wire.control(FRAME_RESET, this.id, RESET_CANCEL);
    queue.fail(new ClosedError("The response was dropped with its body unread"));
    this.finish();
  }

  onReset(error: Error): void {
    this.#fail(networkError(`xio: the request to ${this.#url} failed: ${error.message}`, error));
  }

  onWindow(bytes: number): void {
    (this.sender ??= new BodySender()).grant(bytes);
  }

  /** The request's signal was aborted. */
  handleEvent(): void {
    this.#session.wire.control(FRAME_RESET, this.id, RESET_CANCEL);
    this.#fail(this.#signal!.reason);
  }

  #fail(error: unknown): void {
    (this.sender ??= new BodySender()).stop(error as Error); // stops an upload not begun yet too
    this.body?.fail(error as Error);
    this.#settle(undefined, error);
    this.finish();
  }
}

/** Sends one request on a session and resolves with its response. */
async function exchange(
  s: ClientSession,
  request: Outgoing,
  authority: string,
  path?: string,
  bodyLength?: number,
): Promise<Response> {
  const signal = request.signal;
  if (signal?.aborted) throw signal.reason;
  const wire = s.wire;
  if (path === undefined) {
    const url = new URL(request.url);
    path = url.pathname + url.search;
  }
  const stream = new ClientStream(s, request.url, request.method, signal);
  stream.id = s.open(stream);
  signal?.addEventListener("abort", stream);
  // The upload's hold on a body copy, dropped here unless the upload took it.
  let hold = request.hold;

  try {
    let body: ReadableStream<Uint8Array> | null = null;
    let inline: Uint8Array | undefined;
    let bytes: Uint8Array | undefined;
    // Headers before body: Bun fills in the content type a Blob or form body implies when the
    // headers are first read, but not once the body has been read.
    const headers = request.headers;
    // The length of a body that is known whole, declared as a runtime's fetch declares it.
    let length: number | undefined;
    if (request.staticBody !== undefined) {
      length = request.staticBody.length;
      if (length <= INLINE_MAX) inline = request.staticBody;
      else bytes = request.staticBody;
    } else if (request.body !== null && request.method !== "GET" && request.method !== "HEAD") {
      ({ inline, stream: body, length } = await peekBody(request.body));
      length ??= bodyLength;
    }
    const ends = body === null && bytes === undefined;
    const flags = (ends ? FLAG_END : 0) | (length !== undefined ? FLAG_LENGTH : 0);
    const frame = wire.frame(FRAME_REQUEST, flags, stream.id)
      .string(request.method)
      .string(authority)
      .string(path, true)
      .headers(headers);
    if (length !== undefined) frame.bodyLength(length);
    if (inline !== undefined) frame.bytes(inline);
    try {
      await wire.send();
    } catch (error) {
      // Nothing of this request reached a server: its stream is over either way.
      stream.finish();
      // Only a session whose channel is gone is stale; any other failure (headers too large for
      // any buffer, say) is this request's, and the session goes on serving the others.
      if (!isStale(error, wire)) throw error;
      // The caller may safely try a new session.
      throw new StaleSession(error);
    }
    // The upload goes on beside the response: a server may answer (and stream back) before the
    // request body is complete.
    if (body !== null || bytes !== undefined) {
      const sender = stream.sender ??= new BodySender();
      const onError = (error: Error) => {
        // The upload failed (its source errored, or the wire did): the server must hear of it,
        // or its handler would wait for the rest of the body forever.
        wire.control(FRAME_RESET, stream.id, RESET_CANCEL);
        stream.onReset(error);
      };
      if (body !== null) sender.send(wire, stream.id, body).catch(onError);
      else {
        const upload = sender.sendBytes(wire, stream.id, bytes!);
        const sent = hold;
        hold = undefined;
        // Every byte is in shared memory once the upload settles.
        if (sent !== undefined) upload.finally(() => sent.drop()).catch(onError);
        else upload.catch(onError);
      }
    }
  } catch (error) {
    if (error instanceof StaleSession) throw error;
    stream.onReset(error as Error);
  } finally {
    hold?.drop();
  }
  return stream.takeResponse();
}
