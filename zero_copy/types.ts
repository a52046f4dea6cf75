/**
 * The option and statistics types of the zero-copy layer.
 *
 * @module
 */

/**
 * How a waiting receiver learns that data arrived:
 * - `"event"` (the default) sleeps on the process's doorbell socket, woken by the peer, and
 *   costs no CPU while idle; when it expects an answer soon (it has just sent, and its answers
 *   have come quickly) it polls for about one expected round trip first, at most `pollMicros`;
 * - `"adaptive"` busy-polls for a short window (`spinMicros`, 50 µs by default) before parking;
 * - `"spin"` busy-polls for up to a millisecond per wait, for dedicated cores.
 */
export type PollMode = "event" | "adaptive" | "spin";

/** Where the domain's memory lives. */
export type Backing = "hugetlbfs" | "shm-thp" | "shm" | "file";

/** One buffer size class of a domain. */
export interface SizeClass {
  /** Bytes per buffer: a multiple of 64, strictly larger than the previous class. */
  size: number;
  /** How many buffers of this size. */
  count: number;
}

/** Options of {@linkcode Domain.open}. The sizes apply only when this call creates the domain. */
export interface DomainOptions {
  /** The domain name: 1-64 characters of `A-Z a-z 0-9 . _ - :`, no `..`, no leading `.`. */
  name: string;
  /**
   * The directory of the domain file. By default the `XIO_DIR` environment variable (in a
   * container, a memory-backed volume that the pod's containers share), and otherwise this user's
   * own directory, `xio-<uid>` (mode 0700, created on first use), under the first of: a hugetlbfs
   * mount, /dev/shm, /tmp.
   */
  dir?: string;
  /** Create the domain if it does not exist (default `true`). */
  create?: boolean;
  /**
   * Huge pages: `"auto"` (default) uses a hugetlbfs mount with enough free pages and falls back
   * to /dev/shm; `"require"` fails instead of falling back; `"never"` skips them.
   */
  hugepages?: "auto" | "require" | "never";
  /**
   * The file mode of a created domain (default `0o600`: owner only; `0o660` with a trusted
   * group).
   */
  mode?: number;
  /**
   * Whose domains this process joins besides its own user's. A domain is a trust boundary:
   * whoever created its file can read everything sent through it. So a domain, lock file or
   * directory owned by another user is refused with a {@linkcode DomainError} (`EOWNER`) unless
   * allowed here: `group` (a gid) makes domains live in that group's directory (`xio-g<gid>`,
   * mode 2770) and joins files of any member; `owners` lists further trusted uids.
   */
  trust?: { group?: number; owners?: number[] };
  /**
   * The longest `Domain.open` (and `listen`) waits for a lock that another process holds, in ms
   * (default 1000). Then it fails with a {@linkcode DomainError} (`ELOCKTIMEOUT`), so that a
   * process that holds a domain's lock for good cannot freeze another's event loop.
   */
  lockTimeoutMs?: number;
  /** The default poll mode of channels opened through this handle (default `"event"`). */
  poll?: PollMode;
  /** The busy-poll window of `"adaptive"` channels, in microseconds (default 50). */
  spinMicros?: number;
  /**
   * The longest an `"event"` channel polls for news it expects soon before it sleeps, in
   * microseconds (default {@linkcode DEFAULT_POLL_MICROS}; 0 never polls).
   */
  pollMicros?: number;
  /** Maximum attached processes (default 64, at most 256). */
  nodes?: number;
  /** Maximum services (default 128). */
  services?: number;
  /** Maximum channels: a multiple of 64, at most 4096 (default 1024). */
  channels?: number;
  /** Descriptors per ring: a power of two (default 1024). */
  ringCapacity?: number;
  /**
   * Up to four size classes, ascending (default 8192 x 256 B, 2048 x 4 KiB, 256 x 64 KiB and
   * 16 x 1 MiB: about 42 MiB of buffers).
   */
  classes?: SizeClass[];
}

/** Per-class buffer counts in {@linkcode DomainStats}. */
export interface ClassStats {
  /** Bytes per buffer. */
  size: number;
  /** Buffers in the class. */
  total: number;
  /** Buffers free right now. */
  free: number;
  /** Allocations since the domain was created. */
  allocations: number;
}

/** A snapshot of a domain, from {@linkcode Domain.stats}. */
export interface DomainStats {
  /** The domain name. */
  name: string;
  /** Where its memory lives. */
  backing: Backing;
  /** The size of the mapping in bytes. */
  size: number;
  /** This process's node index. */
  node: number;
  /** Attached processes. */
  nodes: { active: number; max: number };
  /** Channel slots. */
  channels: { open: number; max: number; opened: number };
  /** Registered services. */
  services: { active: number; max: number };
  /** Buffers, per size class. */
  classes: ClassStats[];
  /** Descriptors that failed validation since the domain was created. */
  corruptDescriptors: number;
  /** Dead processes whose resources were reclaimed. */
  reclaimedNodes: number;
}

/** Options of {@linkcode Domain.listen} and {@linkcode Domain.connect}. */
export interface ChannelOptions {
  /** How a waiting receiver learns that data arrived (default: the domain's). */
  poll?: PollMode;
  /**
   * The longest an `"event"` channel polls for news it expects soon, in microseconds (default:
   * the domain's, {@linkcode DEFAULT_POLL_MICROS}; 0 never polls).
   */
  pollMicros?: number;
}
