/**
 * The one place where a status code of the native library becomes a typed error. Every status
 * has its own error class and code here; the test of this module fails when a status of the ABI
 * is missing, so that a new one cannot fall through to a generic error unnoticed.
 *
 * @module
 */

import { native, Status } from "../ffi/mod.ts";
import {
  AddrInUseError,
  BrokenPipeError,
  BufferStateError,
  CapacityError,
  ClosedError,
  ConnectionRefusedError,
  ConnectionResetError,
  CorruptDescriptorError,
  DomainError,
  InvalidNameError,
  MessageTooLargeError,
  XioError,
} from "../errors.ts";

/** One maker per status but `ok`: the type makes a status of the ABI without one a compile error. */
type Makers = { [K in Exclude<keyof typeof Status, "ok">]: (what: string, detail: number) => XioError };

const MAKERS: Makers = {
  wouldBlock: (what) => new XioError(`${what}: it would have to wait`, "EAGAIN"),
  closed: (what) => new ClosedError(`${what}: it is closed`),
  reset: (what) => new ConnectionResetError(`${what}: the peer died; the channel is reset`),
  corrupt: (what) =>
    new CorruptDescriptorError(
      `${what}: its shared state failed validation (a descriptor, a ring index or the slot itself ` +
        `was corrupted); the channel is closed`,
    ),
  invalid: (what) => new BufferStateError(`${what}: the buffer is not held by this process`),
  tooBig: (what) => new MessageTooLargeError(`${what}: larger than the largest buffer class`),
  notFound: (what) => new DomainError(`${what}: it does not exist`, "ENOENT"),
  inUse: (what) => new AddrInUseError(`${what}: the service already has a listener`),
  full: (what) => new CapacityError(`${what}: no free slot is left`),
  notDomain: (what) => new DomainError(`${what}: the file exists but is not an xio domain`, "ENOTDOMAIN"),
  version: (what, detail) =>
    new DomainError(
      `${what}: layout version ${native().xio_version()} expected, found ${detail}`,
      "EVERSION",
    ),
  truncated: (what) => new DomainError(`${what}: the file is truncated`, "ETRUNCATED"),
  layout: (what) => new DomainError(`${what}: the header describes an impossible layout`, "ELAYOUT"),
  io: (what) => new XioError(`${what}: an unexpected system error`, "EIO"),
  noSpace: (what) => new DomainError(`${what}: not enough shared memory for it`, "ENOSPC"),
  busy: (what) => new DomainError(`${what}: the domain file is busy`, "EBUSY"),
  pipe: (what) => new BrokenPipeError(`${what}: the peer closed it`),
  state: (what) => new ClosedError(`${what}: its sending side was closed with closeWrite()`),
  permission: (what) => new DomainError(`${what}: permission denied`, "EACCES"),
  refused: (what) => new ConnectionRefusedError(`${what}: nobody listens on it`),
  invalidName: (what) => new InvalidNameError(`${what}: invalid name`),
  invalidConfig: (what) =>
    new DomainError(
      `${what}: invalid sizes (channels must be a multiple of 64 up to 4096, ring capacity a ` +
        `power of two, classes ascending multiples of 64)`,
      "EINVAL",
    ),
  hugepagesUnavailable: (what) =>
    new DomainError(`${what}: huge pages were required but none are available`, "ENOHUGEPAGES"),
  pathTooLong: (what) =>
    new DomainError(
      `${what}: its directory's path is too long for the doorbell sockets (a socket address holds ` +
        `108 bytes with the file name)`,
      "ENAMETOOLONG",
    ),
  notRegular: (what) =>
    new DomainError(
      `${what}: a symlink, directory, socket, FIFO or device is where its file (or its lock file or ` +
        `directory) should be`,
      "ENOTREG",
    ),
  foreignOwner: (what) =>
    new DomainError(
      `${what}: its file, lock file or directory belongs to another user (or is open to others); ` +
        `a domain is a trust boundary, so it is joined only when its owner is trusted (the trust option)`,
      "EOWNER",
    ),
  lockTimeout: (what) =>
    new DomainError(
      `${what}: another process held its lock for longer than lockTimeoutMs`,
      "ELOCKTIMEOUT",
    ),
};

const BY_CODE = new Map<number, (what: string, detail: number) => XioError>(
  Object.entries(MAKERS).map(([name, make]) => [Status[name as keyof Makers], make]),
);

/**
 * The typed error for status `code` (negative), with a message `<what>: <what went wrong>`.
 * `detail` is the second status word of `xio_open` (the version found, for `version`). A code
 * that no status of the ABI has (a library newer than the loader checked) is an `EIO`.
 */
export function statusError(code: number, what: string, detail = 0): XioError {
  const make = BY_CODE.get(code);
  return make === undefined ? new XioError(`${what}: unexpected status ${code}`, "EIO") : make(what, detail);
}
