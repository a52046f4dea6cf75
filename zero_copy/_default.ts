/**
 * The default domain of the socket and HTTP layers: the one they use when a call names none.
 *
 * @module
 */

import { adapter } from "../runtime/mod.ts";
import { Domain } from "./domain.ts";

const shared = new Map<string, Domain>();
let defaultDomain: Domain | string | undefined;
/** `XIO_DOMAIN`, read once on first use: each read is a permission-checked op in Deno. */
let envDomain: string | undefined;

/**
 * Sets the domain that {@linkcode listen}, {@linkcode connect}, `serve` and `fetch` use when
 * they are not given one. Without it they use the `XIO_DOMAIN` environment variable (read once, on
 * first use), or `"xio"`.
 *
 * @example
 * ```ts
 * import { setDefaultDomain } from "@xio/core";
 * setDefaultDomain("shop");
 * ```
 */
export function setDefaultDomain(domain: Domain | string | undefined): void {
  defaultDomain = domain;
}

/** The domain handle for `domain`, opening a shared one by name if needed. */
export function socketDomain(domain?: Domain | string): Domain {
  domain ??= defaultDomain;
  if (domain instanceof Domain) return domain;
  const name = domain ?? (envDomain ??= adapter.env("XIO_DOMAIN") ?? "xio");
  let handle = shared.get(name);
  if (handle === undefined || handle.closed) {
    handle = Domain.open({ name });
    shared.set(name, handle);
  }
  return handle;
}
