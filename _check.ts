/**
 * Argument checks at the API boundary: every number a caller passes is checked here, in
 * TypeScript, before any native call, so that both runtimes refuse the same inputs with the same
 * {@linkcode InvalidArgumentError} (their FFIs would otherwise truncate, wrap or throw their own
 * errors differently: Bun turned `NaN` into 0, Deno threw a TypeError).
 *
 * @module
 */

import { InvalidArgumentError } from "./errors.ts";

/** The largest u32, the widest integer the native calls take. */
export const U32_MAX = 0xffff_ffff;

/** `value` as an integer from `min` to `max`, or an InvalidArgumentError naming `what`. */
export function integer(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(
      `${what} must be an integer from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

/** `value` (or `fallback` when undefined) as an integer from `min` to `max`. */
export function optionalInteger(
  what: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
): number {
  return value === undefined ? fallback : integer(what, value, min, max);
}

/** `value` as a number from `min` to `max` (fractions allowed), or an InvalidArgumentError. */
export function number(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !(value >= min && value <= max)) {
    throw new InvalidArgumentError(`${what} must be a number from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

/** `value` as a Uint8Array, or an InvalidArgumentError naming `what`. */
export function bytes(what: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidArgumentError(`${what} must be a Uint8Array, got ${describe(value)}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") {
    return String(value);
  }
  if (value === null || value === undefined) return String(value);
  return Object.prototype.toString.call(value).slice(8, -1);
}
