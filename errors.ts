/**
 * The errors of @xio/core. Each sets `name` and carries a `code`; catch them with `instanceof`.
 *
 * @example Telling a refused connection apart
 * ```ts
 * import { ConnectionRefusedError, Domain, XioError } from "@xio/core";
 * import assert from "node:assert/strict";
 *
 * using domain = Domain.open({ name: "errors-example" });
 * const error = await domain.connect("nobody-listens").catch((e) => e);
 * assert.ok(error instanceof ConnectionRefusedError && error instanceof XioError);
 * assert.equal(error.code, "ECONNREFUSED");
 * ```
 *
 * @module
 */

/** The base class of every error this package throws on purpose. */
export class XioError extends Error {
  /** A short machine-readable code, such as `"ECONNRESET"`. */
  readonly code: string;

  /** Creates an error with a message and a code. */
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "XioError";
    this.code = code;
  }
}

/** A domain file could not be created or attached: foreign, truncated, another version, full. */
export class DomainError extends XioError {
  /** Creates a domain error. */
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, code, options);
    this.name = "DomainError";
  }
}

/** A domain, service or channel name is empty, too long, or has characters outside the alphabet. */
export class InvalidNameError extends XioError {
  /** Creates an invalid-name error. */
  constructor(message: string) {
    super(message, "EINVAL");
    this.name = "InvalidNameError";
  }
}

/** Nobody listens on the service name. */
export class ConnectionRefusedError extends XioError {
  /** Creates a connection-refused error. */
  constructor(message: string) {
    super(message, "ECONNREFUSED");
    this.name = "ConnectionRefusedError";
  }
}

/** The peer died, or broke the protocol, while the connection was open. */
export class ConnectionResetError extends XioError {
  /** Creates a connection-reset error. */
  constructor(message: string) {
    super(message, "ECONNRESET");
    this.name = "ConnectionResetError";
  }
}

/** The peer closed its side, so there is nobody to send to. */
export class BrokenPipeError extends XioError {
  /** Creates a broken-pipe error. */
  constructor(message: string) {
    super(message, "EPIPE");
    this.name = "BrokenPipeError";
  }
}

/** Another node already listens on the service name. */
export class AddrInUseError extends XioError {
  /** Creates an address-in-use error. */
  constructor(message: string) {
    super(message, "EADDRINUSE");
    this.name = "AddrInUseError";
  }
}

/** The resource (domain, channel, listener or connection) was closed by this process. */
export class ClosedError extends XioError {
  /** Creates a closed-resource error. */
  constructor(message: string) {
    super(message, "EBADF");
    this.name = "ClosedError";
  }
}

/** A buffer was used after it was sent or released. */
export class BufferStateError extends XioError {
  /** Creates a buffer-state error. */
  constructor(message: string) {
    super(message, "EBUFSTATE");
    this.name = "BufferStateError";
  }
}

/** An allocation asked for more than the largest size class holds. */
export class MessageTooLargeError extends XioError {
  /** Creates a message-too-large error. */
  constructor(message: string) {
    super(message, "EMSGSIZE");
    this.name = "MessageTooLargeError";
  }
}

/** A descriptor read from shared memory failed validation; the channel is closed. */
export class CorruptDescriptorError extends XioError {
  /** Creates a corrupt-descriptor error. */
  constructor(message: string) {
    super(message, "EBADMSG");
    this.name = "CorruptDescriptorError";
  }
}

/** The domain has no free slot of some kind (nodes, services or channels). */
export class CapacityError extends XioError {
  /** Creates a capacity error. */
  constructor(message: string) {
    super(message, "ENOSPC");
    this.name = "CapacityError";
  }
}

/**
 * An argument is not what the call takes: a size that is not a non-negative integer in range,
 * an option of the wrong type. Thrown the same way in every runtime, before anything native runs.
 */
export class InvalidArgumentError extends XioError {
  /** Creates an invalid-argument error. */
  constructor(message: string) {
    super(message, "EINVAL");
    this.name = "InvalidArgumentError";
  }
}

/**
 * libxio cannot be found or loaded. The subclasses say why when the cause is known: no library for
 * this platform, a kernel without the system calls it needs, a library that is not the one
 * shipped, one of another ABI, or a cache directory it cannot be written to or run from.
 */
export class LibraryNotFoundError extends XioError {
  /** Creates the error; `options.cause` carries the loader's own error. */
  constructor(message: string, options?: ErrorOptions, code = "ENOLIB") {
    super(message, code, options);
    this.name = "LibraryNotFoundError";
  }
}

/** No library is shipped for this OS, CPU or C library: build one from source. */
export class UnsupportedPlatformError extends LibraryNotFoundError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, undefined, "ENOTSUP");
    this.name = "UnsupportedPlatformError";
  }
}

/**
 * The kernel lacks a system call the library needs (ENOSYS), or a seccomp filter refuses it
 * (EPERM), as the default profiles of older container runtimes do for `statx`.
 */
export class UnsupportedKernelError extends LibraryNotFoundError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, undefined, "ENOSYS");
    this.name = "UnsupportedKernelError";
  }
}

/** A library's bytes do not have the sha256 recorded for them: it is not the one shipped. */
export class LibraryIntegrityError extends LibraryNotFoundError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, undefined, "EINTEGRITY");
    this.name = "LibraryIntegrityError";
  }
}

/** The library was built from another version of @xio/core: its ABI version is not ours. */
export class LibraryVersionError extends LibraryNotFoundError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, undefined, "EABI");
    this.name = "LibraryVersionError";
  }
}

/**
 * The cache directory the library is written to cannot be used: it is read-only or not ours
 * (`code` "EACCES"), or its file system does not let programs run from it (`noexec`, "ENOEXEC").
 */
export class CacheDirError extends LibraryNotFoundError {
  /** The directory. */
  readonly dir: string;

  /** Creates the error. */
  constructor(message: string, dir: string, code: "EACCES" | "ENOEXEC", options?: ErrorOptions) {
    super(message, options, code);
    this.name = "CacheDirError";
    this.dir = dir;
  }
}

/** A frame of the HTTP wire does not parse: the peer is not a compatible @xio/core. */
export class FrameError extends XioError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, "EFRAME");
    this.name = "FrameError";
  }
}
