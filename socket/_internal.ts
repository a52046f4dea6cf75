/**
 * The keys of the internal members of the socket layer's classes (see zero_copy/_internal.ts).
 *
 * @module
 */

/** A static factory, for classes whose constructor is private. */
export const kCreate: unique symbol = Symbol("xio.socket.create");
