/**
 * The address and option types of the socket layer.
 *
 * @module
 */

import type { Domain, PollMode } from "../zero_copy/mod.ts";

/** The address of a shared-memory endpoint: a service name in a domain. */
export interface XioAddr {
  /** Always `"xio"`. */
  transport: "xio";
  /** The domain name. */
  domain: string;
  /** The service name. */
  name: string;
}

/** Options of {@linkcode listen} and {@linkcode connect}. */
export interface SocketOptions {
  /** The service name. */
  name: string;
  /**
   * The domain: a handle, or a name to open (shared by every call in this process). Default: the
   * `XIO_DOMAIN` environment variable, or `"xio"`.
   */
  domain?: Domain | string;
  /** How a waiting read learns that data arrived (default: the domain's, `"event"`). */
  poll?: PollMode;
}
