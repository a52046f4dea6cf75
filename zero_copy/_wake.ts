/**
 * How this process waits for news from its peers: parked on doorbell sockets that the runtime's
 * own event loop listens on, or polling for a short while when news is expected soon.
 *
 * A waiting process costs one kernel wake-up per hop, that of the thread that runs its
 * JavaScript, as a socket does. Each domain handle listens on a UNIX socket (its doorbell) with
 * the runtime's own API. While it has waiters and does not poll, it is *parked* (a flag in
 * shared memory); a peer that publishes news for it and finds it parked writes one byte to the
 * doorbell, which wakes the event loop straight from its epoll wait. The protocol that makes
 * this race-free is written once, above `Domain.notify` in zig/src/domain.zig.
 *
 * A wake-up still costs tens of microseconds (hundreds from an idle VM), so a side that expects
 * news soon polls instead: the poller checks every domain of the process for news on each pass,
 * yields the core between passes (`sched_yield`) so that it never starves the peer it waits for,
 * and gives the event loop a turn every POLL_SLICE_MS. How long it polls is decided by the
 * channels that wait (see `Channel` in zero_copy.ts): each learns how soon its answers come and
 * asks for a window only while polling pays for itself.
 *
 * A doorbell connection that closes means a peer left or died: the domain then checks its peers'
 * liveness locks at once (the lock stays the proof). A slow timer does the same as a backstop,
 * drains, and looks at every waiting channel again, so that a wake-up lost to a peer's crash or to
 * a scribble over shared memory costs a delay (or a typed error), never a hang.
 *
 * @module
 */

import { clearInterval, setImmediate, setInterval, setTimeout } from "node:timers";

/** What the wake-up machinery needs of a domain handle. */
export interface Wakeable {
  /** Whether the handle was closed. */
  readonly closed: boolean;
  /** How many waiters (of channels, allocations and listeners) it has right now. */
  readonly waiters: number;
  /** Whether the node is parked, as far as this process knows; a ring clears it. */
  parked: boolean;
  /** Takes every pending event and wakes the waiters it concerns. */
  drain(): void;
  /** Marks the node parked; true if news already waits (then drain instead of sleeping). */
  park(): boolean;
  /** Clears the parked flag while polling. */
  unpark(): void;
  /** Whether news waits. */
  hasEvents(): boolean;
  /** Checks the peers' liveness now and reclaims the dead; returns how many. */
  probe(): number;
  /** Gives the core to another runnable thread, if any (sched_yield). */
  yieldCore(): void;
  /** Looks at every waiting channel again, whether or not an event said so. */
  recheck(): void;
}

/**
 * A receive that polls its channel's ring directly, without arming it: while it polls, its peer
 * pushes messages with no notification at all (no shared bitmaps to update, no system call).
 */
export interface PolledReceiver {
  /** The domain handle of its channel. */
  readonly handle: Wakeable;
  /** Whether it still waits (false once delivered or closed: the poller drops it). */
  readonly waiting: boolean;
  /** Whether its ring holds a message. */
  ready(): boolean;
  /** Hands the message (or the channel's new state) to the waiting receive. */
  deliver(): void;
  /** The poll window ended: arm the ring, so that the peer notifies from now on. */
  arm(): void;
}

/** The receivers the poller polls, in the order they began to wait. */
const polled: PolledReceiver[] = [];

/** How long one poller pass polls before it lets the event loop run, in ms. */
const POLL_SLICE_MS = 0.025;
/**
 * How long the poller polls at full speed after it last found news, before it yields the core
 * between checks, in ms: while traffic flows, news comes within microseconds and a system call per
 * check would slow both sides; after a quiet spell, a peer that needs this very core gets it.
 */
const POLITE_AFTER_MS = 0.02;
let lastFound = 0;
/**
 * How many times a receive that expects its answer yields the core and looks before it returns
 * to the event loop. A peer woken by our send is usually placed on this very core (the kernel
 * expects a waker to sleep), and then runs its whole turn before the yield returns, so that its
 * answer is there at once, with no event-loop turn in between (which costs more than the rest of
 * the round trip from an idle VM). A peer on another core is left to the poller, so that a busy
 * process does not stall its other work here.
 */
const FIRST_YIELDS = 2;
/** How often every open domain checks its peers' liveness and drains, as a backstop, in ms. */
const BACKSTOP_MS = 250;
/**
 * After a doorbell connection closes, how long to look for the dead peer between event-loop
 * turns (ms): a runtime with a large heap takes a while to tear its address space down, more so
 * on a busy machine. Finely for the first HANGUP_FINE_MS.
 */
const HANGUP_FAST_MS = 200;
const HANGUP_FINE_MS = 20;
/** How often to look meanwhile (ms): each look is one lock test per node slot. */
const HANGUP_FAST_EVERY_MS = 0.25;
/** Then, the waits between further looks (ms). */
const HANGUP_RECHECKS_MS = [64, 256];

/** Every open handle of the process (an array: the poller walks it on every pass). */
const handles: Wakeable[] = [];
let pollUntil = 0;
let polling = false;
let backstop: ReturnType<typeof setInterval> | undefined;
let keepAlive: ReturnType<typeof setInterval> | undefined;
let holds = 0;

/** Adds a domain handle to the process's set. */
export function register(handle: Wakeable): void {
  handles.push(handle);
  backstop ??= startBackstop();
}

/** Every open handle, for the process's exit (which closes them, as the kernel closes sockets). */
export function openHandles(): readonly Wakeable[] {
  return handles;
}

/** Removes a closed domain handle. */
export function unregister(handle: Wakeable): void {
  const at = handles.indexOf(handle);
  if (at >= 0) handles.splice(at, 1);
  if (handles.length === 0 && backstop !== undefined) {
    clearInterval(backstop);
    backstop = undefined;
  }
}

function startBackstop(): ReturnType<typeof setInterval> {
  const timer = setInterval(() => {
    for (const handle of handles) {
      if (handle.closed) continue;
      handle.probe();
      handle.drain();
      handle.recheck();
      if (!polling && handle.waiters > 0) sleep(handle);
    }
  }, BACKSTOP_MS);
  timer.unref();
  return timer;
}

let refed = false;
let releasing = false;
/** Microtask turns an `unhold` to zero waits before it lets the process exit. */
const RELEASE_TURNS = 4;

/** Keeps the process alive while something it waits for holds it (counted). */
export function hold(): void {
  if (holds++ > 0 || refed) return;
  // An idle interval: it never fires in practice, it only keeps the event loop alive.
  keepAlive ??= setInterval(() => {}, 1 << 30);
  keepAlive.ref();
  refed = true;
}

/**
 * Undoes one `hold`. Letting go waits a few microtask turns: a receiver that got its message
 * usually waits again at once, and toggling the keep-alive costs an operation of the runtime each
 * time (microseconds from idle).
 */
export function unhold(): void {
  if (--holds > 0 || releasing) return;
  releasing = true;
  let turns = 0;
  const release = () => {
    if (holds > 0) {
      releasing = false;
    } else if (++turns < RELEASE_TURNS) {
      queueMicrotask(release);
    } else {
      releasing = false;
      refed = false;
      keepAlive?.unref();
    }
  };
  queueMicrotask(release);
}

/**
 * Called when `handle` got a new waiter: unless the poller runs (and will park the handle at its
 * end), the handle parks now, so that the next news rings its doorbell.
 */
export function waiting(handle: Wakeable): void {
  if (!polling) sleep(handle);
}

/** The doorbell of `handle` rang: drain, then park again if something still waits. */
export function rung(handle: Wakeable): void {
  if (handle.closed) return;
  handle.parked = false; // the notifier that rang swapped the flag
  handle.drain();
  if (!polling && handle.waiters > 0) sleep(handle);
}

/** A doorbell connection of `handle` closed: a peer left or died. */
export function hungUp(handle: Wakeable): void {
  const check = () => {
    if (handle.closed) return true;
    const reclaimed = handle.probe();
    rung(handle);
    return reclaimed > 0;
  };
  if (check()) return;
  // A dying process drops its liveness lock a little after its sockets close (its mapping of the
  // domain file, which also holds the lock, goes with its address space): look again every
  // quarter of a millisecond for a while (event-loop turns, not timers, which have a coarser
  // grain), then on a slower schedule.
  const started = performance.now();
  let last = started;
  const fast = () => {
    const now = performance.now();
    // Finer at first (most locks drop within a few ms), coarser as the wait goes on.
    const every = now - started < HANGUP_FINE_MS ? HANGUP_FAST_EVERY_MS : 4 * HANGUP_FAST_EVERY_MS;
    if (now - last >= every) {
      last = now;
      if (check()) return;
    }
    if (now - started < HANGUP_FAST_MS) setImmediate(fast);
    else slow(0);
  };
  const slow = (at: number) => {
    if (check() || at === HANGUP_RECHECKS_MS.length) return;
    setTimeout(() => slow(at + 1), HANGUP_RECHECKS_MS[at]).unref();
  };
  setImmediate(fast);
}

/** Parks `handle` (unless it is), draining for as long as news keeps arriving meanwhile. */
function sleep(handle: Wakeable): void {
  if (handle.parked) return;
  while (!handle.closed && handle.park()) {
    handle.drain();
    if (handle.waiters === 0) return;
  }
}

/**
 * Asks the poller to poll until `until` (a `performance.now()` time): a waiter expects news
 * before then. The poller runs while any such window is open.
 */
export function pollUntilTime(until: number): void {
  if (until > pollUntil) pollUntil = until;
  if (polling) return;
  polling = true;
  for (const handle of handles) handle.unpark();
  setImmediate(pass);
}

/**
 * Polls `handle` for news right now, FIRST_YIELDS times, before the caller returns to the event
 * loop. Drains what it finds; returns false if nothing came (then the poller goes on; see
 * `pollUntilTime`).
 */
export function pollNow(receiver: PolledReceiver): boolean {
  const handle = receiver.handle;
  for (let i = 0; i < FIRST_YIELDS; i++) {
    handle.yieldCore();
    if (receiver.ready()) {
      receiver.deliver();
      return true;
    }
    if (handle.hasEvents()) {
      handle.drain();
      if (!receiver.waiting) return true;
    }
  }
  return false;
}

/** Polls `receiver`'s ring until it is served or `until` (a `performance.now()` time) passes. */
export function pollRing(receiver: PolledReceiver, until: number): void {
  polled.push(receiver);
  pollUntilTime(until);
}

/** Whether the poller runs now. */
export function pollerRunning(): boolean {
  return polling;
}

/**
 * One pass of the poller: checks every handle with waiters for news until some arrives, the
 * slice ends, or the window closes. It yields the core between checks, so that a peer woken onto
 * this very core (the kernel places a woken thread beside its waker) runs at once.
 */
function pass(): void {
  const start = performance.now();
  const sliceEnd = start + POLL_SLICE_MS;
  let polite = start - lastFound >= POLITE_AFTER_MS;
  for (let i = 1;; i++) {
    let found = false;
    let waiter: Wakeable | undefined;
    for (let r = 0; r < polled.length; r++) {
      const receiver = polled[r];
      if (!receiver.waiting) {
        polled.splice(r--, 1);
        continue;
      }
      waiter = receiver.handle;
      if (!receiver.ready()) continue;
      polled.splice(r--, 1);
      receiver.deliver();
      found = true;
    }
    for (let h = 0; h < handles.length; h++) {
      const handle = handles[h];
      if (handle.closed || handle.waiters === 0) continue;
      waiter = handle;
      if (!handle.hasEvents()) continue;
      handle.drain();
      found = true;
    }
    // Nobody waits any more: the windows were for waiters that have their news.
    if (waiter === undefined) return stop();
    // Whoever was woken runs (in microtasks) before the next pass.
    if (found) {
      lastFound = performance.now();
      break;
    }
    if (polite) waiter.yieldCore();
    if ((i & 7) !== 0) continue;
    const now = performance.now();
    if (now >= pollUntil) return stop();
    if (now >= sliceEnd) break;
    polite = now - lastFound >= POLITE_AFTER_MS;
  }
  setImmediate(pass);
}

function stop(): void {
  polling = false;
  pollUntil = 0;
  // Receivers still waiting are armed now: their peers notify from here on.
  for (const receiver of polled.splice(0)) if (receiver.waiting) receiver.arm();
  for (const handle of handles) {
    if (handle.closed) continue;
    if (handle.waiters > 0) sleep(handle);
  }
}
