/**
 * What the classes of the zero-copy layer share with each other and with no one else: the keys
 * of their internal members. A member keyed by one of these symbols can only be reached by code
 * that imports this module, which no public module re-exports.
 *
 * @module
 */

/** A static factory, for classes whose constructor is private. */
export const kCreate: unique symbol = Symbol("xio.create");
/** `SharedBuffer`: this process now holds the buffer, with a message of a given length. */
export const kOwn: unique symbol = Symbol("xio.own");
/** `SharedBuffer`: this process gave the buffer up. */
export const kDisown: unique symbol = Symbol("xio.disown");
/** `SharedBuffer`: the domain handle it belongs to. */
export const kCore: unique symbol = Symbol("xio.core");
/** `Channel`: the channel has news; serve its waiting calls. */
export const kWake: unique symbol = Symbol("xio.wake");
/** `Listener`: a new channel for it was accepted. */
export const kPush: unique symbol = Symbol("xio.push");
/** `Listener`: the channel options of the channels it accepts. */
export const kOptions: unique symbol = Symbol("xio.options");
