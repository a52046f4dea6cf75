/* libxio: shared-memory channels for processes on one machine.
 *
 * GENERATED from zig/src/abi.zig by zig/src/abi_gen.zig (`zig build abi`): do not edit.
 *
 * Every function returns a status (negative, see XIO_E_*) or a non-negative result. A handle
 * comes from xio_open and is freed by xio_close; everything else that crosses this ABI is
 * checked, and nothing read from shared memory is trusted.
 *
 * Sides: 0 is the client (the connecting side), 1 the server (the accepting side).
 * Buffer ids: (class << XIO_BUFFER_CLASS_SHIFT) | index.
 */
#ifndef XIO_H
#define XIO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XIO_ABI_VERSION 5

/* Status codes. */
#define XIO_OK (0) /* success */
#define XIO_E_WOULD_BLOCK (-1) /* nothing to do now: the ring is full or empty, or the pool is empty */
#define XIO_E_CLOSED (-2) /* the peer closed its sending side and everything was received */
#define XIO_E_RESET (-3) /* the peer died; the channel is reset */
#define XIO_E_CORRUPT (-4) /* a descriptor, ring index or channel slot failed validation; the channel is poisoned */
#define XIO_E_INVALID (-5) /* an argument that is not ours to use (a buffer we do not hold, a channel we are not on) */
#define XIO_E_TOO_BIG (-6) /* larger than the largest buffer class */
#define XIO_E_NOT_FOUND (-7) /* no such domain */
#define XIO_E_IN_USE (-8) /* the service already has a listener */
#define XIO_E_FULL (-9) /* no free slot (node, service or channel) */
#define XIO_E_NOT_DOMAIN (-10) /* the file is not an xio domain */
#define XIO_E_VERSION (-11) /* the domain has another layout version (the detail word says which) */
#define XIO_E_TRUNCATED (-12) /* the domain file is shorter than its layout */
#define XIO_E_LAYOUT (-13) /* the header describes an impossible layout */
#define XIO_E_IO (-14) /* an unexpected system error */
#define XIO_E_NO_SPACE (-15) /* not enough memory in the backing store */
#define XIO_E_BUSY (-16) /* the domain file kept changing under the open */
#define XIO_E_PIPE (-17) /* the peer closed the channel */
#define XIO_E_STATE (-18) /* this side already closed its sending side */
#define XIO_E_PERMISSION (-19) /* permission denied */
#define XIO_E_REFUSED (-20) /* nobody listens on the service */
#define XIO_E_INVALID_NAME (-21) /* a name outside the alphabet, empty or too long */
#define XIO_E_INVALID_CONFIG (-22) /* sizes that no layout allows */
#define XIO_E_HUGEPAGES_UNAVAILABLE (-23) /* huge pages were required but none are free */
#define XIO_E_PATH_TOO_LONG (-24) /* the directory is too long for doorbell socket addresses */
#define XIO_E_NOT_REGULAR (-25) /* a symlink, directory, socket, FIFO or device where a file should be */
#define XIO_E_FOREIGN_OWNER (-26) /* the file or directory belongs to an untrusted user */
#define XIO_E_LOCK_TIMEOUT (-27) /* another process held a lock for longer than the timeout */

/* Words of the `options` array of xio_open. */
enum {
  XIO_OPT_FLAGS = 0, /* bit 0: create the domain if it does not exist */
  XIO_OPT_HUGEPAGES = 1, /* 0 auto, 1 require, 2 never */
  XIO_OPT_MODE = 2, /* the file mode of a created domain, such as 0600 */
  XIO_OPT_RUNTIME = 3, /* informational: 1 Deno, 2 Bun */
  XIO_OPT_NODE_MAX = 4, /* attached processes at most (1-256) */
  XIO_OPT_SERVICE_MAX = 5, /* services at most (1-4096) */
  XIO_OPT_CHANNEL_MAX = 6, /* channels at most: a multiple of 64, at most 4096 */
  XIO_OPT_RING_CAPACITY = 7, /* descriptors per ring: a power of two */
  XIO_OPT_CLASS_COUNT = 8, /* buffer size classes (1-4) */
  XIO_OPT_CLASS_SIZES = 9, /* 4 words: bytes per buffer, ascending multiples of 64 */
  XIO_OPT_CLASS_COUNTS = 13, /* 4 words: buffers per class */
  XIO_OPT_GROUP = 17, /* the gid whose members share domains, or 0xffffffff for none */
  XIO_OPT_LOCK_TIMEOUT_MS = 18, /* the longest a lock wait lasts */
  XIO_OPT_OWNERS = 19, /* owners_max words: further trusted uids, or 0xffffffff */
  XIO_OPT_OWNERS_MAX = 4, /* how many trusted uids the options hold */
  XIO_OPT_WORDS = 23, /* the length of the options array */
};

/* Slots of the array filled by xio_stats (doubles). */
enum {
  XIO_STAT_VERSION = 0, /* the layout version */
  XIO_STAT_SIZE = 1, /* the mapping's size in bytes */
  XIO_STAT_BACKING = 2, /* 1 hugetlbfs, 2 /dev/shm with THP, 3 /dev/shm, 4 plain file */
  XIO_STAT_NODE = 3, /* this handle's node index */
  XIO_STAT_NODE_MAX = 4, /* node slots */
  XIO_STAT_NODES = 5, /* nodes attached now */
  XIO_STAT_CHANNEL_MAX = 6, /* channel slots */
  XIO_STAT_CHANNELS = 7, /* channels open now */
  XIO_STAT_SERVICE_MAX = 8, /* service slots */
  XIO_STAT_SERVICES = 9, /* services registered now */
  XIO_STAT_RING_CAPACITY = 10, /* descriptors per ring */
  XIO_STAT_CLASS_COUNT = 11, /* buffer size classes */
  XIO_STAT_CORRUPT = 12, /* descriptors that failed validation since creation */
  XIO_STAT_RECLAIMED = 13, /* dead nodes reclaimed since creation */
  XIO_STAT_CHANNELS_OPENED = 14, /* channels opened since creation */
  XIO_STAT_CREATOR_PID = 15, /* the pid of the creator */
  XIO_STAT_CLASS = 24, /* the first per-class slot: then per class size, count, free, allocations, data offset, 0 */
  XIO_STAT_CLASS_STRIDE = 6, /* slots per class */
  XIO_STAT_WORDS = 48, /* the length of the stats array */
};

/* Words of the header of a snapshot (doubles), as xio_snapshot writes it. */
enum {
  XIO_SNAP_VERSION = 0, /* the layout version */
  XIO_SNAP_SIZE = 1, /* the file's size in bytes */
  XIO_SNAP_BACKING = 2, /* 1 hugetlbfs, 2 /dev/shm with THP, 3 /dev/shm, 4 plain file */
  XIO_SNAP_NODE_MAX = 3, /* node slots */
  XIO_SNAP_SERVICE_MAX = 4, /* service slots */
  XIO_SNAP_CHANNEL_MAX = 5, /* channel slots */
  XIO_SNAP_RING_CAPACITY = 6, /* descriptors per ring */
  XIO_SNAP_CLASS_COUNT = 7, /* buffer size classes (class records) */
  XIO_SNAP_CORRUPT = 8, /* descriptors that failed validation since creation */
  XIO_SNAP_RECLAIMED = 9, /* dead nodes reclaimed since creation */
  XIO_SNAP_CHANNELS_OPENED = 10, /* channels opened since creation */
  XIO_SNAP_CREATOR_PID = 11, /* the pid of the creator */
  XIO_SNAP_UID = 12, /* the file's owner */
  XIO_SNAP_GID = 13, /* the file's group */
  XIO_SNAP_MODE = 14, /* the file's permission bits */
  XIO_SNAP_INODE = 15, /* the file's inode number */
  XIO_SNAP_NODES = 16, /* node records */
  XIO_SNAP_SERVICES = 17, /* service records */
  XIO_SNAP_CHANNELS = 18, /* channel records */
  XIO_SNAP_TAKEN_MS = 19, /* when the snapshot was taken: CLOCK_REALTIME milliseconds */
  XIO_SNAP_SELF_NODE = 20, /* the node of the handle that took it, or -1 for a read-only inspector */
  XIO_SNAP_LINKS = 21, /* the file's link count: 0 once removed */
  XIO_SNAP_WORDS = 24, /* the length of the header */
};

/* Words of a node record of a snapshot. */
enum {
  XIO_SNAP_NODE_INDEX = 0,
  XIO_SNAP_NODE_STATE = 1,
  XIO_SNAP_NODE_GENERATION = 2,
  XIO_SNAP_NODE_PID = 3,
  XIO_SNAP_NODE_RUNTIME = 4,
  XIO_SNAP_NODE_STARTED_MS = 5,
  XIO_SNAP_NODE_ALIVE = 6,
  XIO_SNAP_NODE_PARKED = 7,
  XIO_SNAP_NODE_WORDS = 8,
};

/* Words of a service record of a snapshot. */
enum {
  XIO_SNAP_SERVICE_INDEX = 0,
  XIO_SNAP_SERVICE_NODE = 1,
  XIO_SNAP_SERVICE_GENERATION = 2,
  XIO_SNAP_SERVICE_NAME_LEN = 3,
  XIO_SNAP_SERVICE_WORDS = 4,
};

/* Words of a channel record of a snapshot. */
enum {
  XIO_SNAP_CHANNEL_INDEX = 0,
  XIO_SNAP_CHANNEL_STATE = 1,
  XIO_SNAP_CHANNEL_GENERATION = 2,
  XIO_SNAP_CHANNEL_SERVICE = 3,
  XIO_SNAP_CHANNEL_CLIENT = 4,
  XIO_SNAP_CHANNEL_SERVER = 5,
  XIO_SNAP_CHANNEL_FLAGS = 6,
  XIO_SNAP_CHANNEL_C2S_MESSAGES = 7,
  XIO_SNAP_CHANNEL_C2S_BYTES = 8,
  XIO_SNAP_CHANNEL_C2S_FILL = 9,
  XIO_SNAP_CHANNEL_S2C_MESSAGES = 10,
  XIO_SNAP_CHANNEL_S2C_BYTES = 11,
  XIO_SNAP_CHANNEL_S2C_FILL = 12,
  XIO_SNAP_CHANNEL_CLIENT_POLL = 13,
  XIO_SNAP_CHANNEL_SERVER_POLL = 14,
  XIO_SNAP_CHANNEL_WORDS = 16,
};

/* Words of a buffer class record of a snapshot. */
enum {
  XIO_SNAP_CLASS_SIZE = 0,
  XIO_SNAP_CLASS_COUNT = 1,
  XIO_SNAP_CLASS_FREE = 2,
  XIO_SNAP_CLASS_HELD = 3,
  XIO_SNAP_CLASS_INFLIGHT = 4,
  XIO_SNAP_CLASS_ALLOCATIONS = 5,
  XIO_SNAP_CLASS_HELD_DEAD = 6,
  XIO_SNAP_CLASS_INVALID = 7,
  XIO_SNAP_CLASS_WORDS = 8,
};

/* Poll modes, as a receiving end records it. */
enum {
  XIO_POLL_UNKNOWN = 0,
  XIO_POLL_EVENT = 1,
  XIO_POLL_ADAPTIVE = 2,
  XIO_POLL_SPIN = 3,
};

/* What xio_gc did. */
enum {
  XIO_GC_NOTHING = 0,
  XIO_GC_REMOVED = 1,
  XIO_GC_RECLAIMED = 2,
  XIO_GC_LOCK_REMOVED = 3,
};

/* Channel flag bits, as xio_flags returns them. */
enum {
  XIO_FLAG_CLIENT_GONE = 1,
  XIO_FLAG_SERVER_GONE = 2,
  XIO_FLAG_EOF_C2S = 4,
  XIO_FLAG_EOF_S2C = 8,
  XIO_FLAG_RESET = 16,
  XIO_FLAG_ACCEPTED = 32,
  XIO_FLAG_CORRUPT = 64,
};

/* Constants. */
enum {
  XIO_BATCH_MAX = 256,
  XIO_IO_WORDS = 514,
  XIO_EVENTS_MAX = 4096,
  XIO_NAME_BYTES_MAX = 64,
  XIO_BUFFER_CLASS_SHIFT = 24,
  XIO_NODE_WAKE_OFFSET = 128,
  XIO_RING_LINE_BYTES = 128,
  XIO_RING_NOTIFIED_AT_OFFSET = 264,
  XIO_RING_POLL_MODE_OFFSET = 136,
  XIO_OPTION_NONE = 4294967295,
};

typedef struct xio_domain xio_domain;

/* The layout version of domains this library makes. */
uint32_t xio_version(void);
/* The version of this ABI (abi.zig, `version`). */
uint32_t xio_abi_version(void);
/* Opens (or creates) and joins a domain. Null on failure, with the status in status[0] and a detail (such as the version found) in status[1]. */
xio_domain * xio_open(const uint8_t * name, uint32_t name_len, const uint8_t * dir, uint32_t dir_len, const uint32_t * options, int32_t * status);
/* Leaves the domain and frees the handle. */
void xio_close(xio_domain * d);
/* The handle's io array (Const.io_words words). */
uint32_t * xio_io(xio_domain * d);
/* The handle's events array (Const.events_max words). */
uint32_t * xio_events(xio_domain * d);
/* The base of the mapping. */
uint8_t * xio_base(xio_domain * d);
/* Writes the Stat slots to out (len >= Stat.words). */
int32_t xio_stats(xio_domain * d, double * out, uint32_t len);
/* Registers a service; returns its index. */
int32_t xio_listen(xio_domain * d, const uint8_t * name, uint32_t name_len);
/* Unregisters a service of this node. */
int32_t xio_unlisten(xio_domain * d, uint32_t service);
/* Opens a channel to a service; returns its index (this node is side 0). */
int32_t xio_connect(xio_domain * d, const uint8_t * name, uint32_t name_len);
/* Accepts a new channel this node heard of; returns the service index. */
int32_t xio_accept(xio_domain * d, uint32_t chan);
/* Refuses a channel nobody listens for. */
void xio_refuse(xio_domain * d, uint32_t chan);
/* Sends one message: 1 if that rang the sleeping peer's doorbell, 0 if the peer was awake. */
int32_t xio_send(xio_domain * d, uint32_t chan, uint32_t side, uint32_t id, uint32_t length);
/* Sends the (id, length) pairs at io[2..]; returns how many went. */
int32_t xio_send_many(xio_domain * d, uint32_t chan, uint32_t side, uint32_t count);
/* Receives one message: its buffer id, its length in io[0]. */
int32_t xio_recv(xio_domain * d, uint32_t chan, uint32_t side);
/* Receives up to max messages as pairs at io[2..]; returns how many. */
int32_t xio_recv_many(xio_domain * d, uint32_t chan, uint32_t side, uint32_t max);
/* Receives one message, or arms the ring (and with park, parks the node): would_block then, with io[1] = 1 if news came meanwhile. */
int32_t xio_recv_wait(xio_domain * d, uint32_t chan, uint32_t side, uint32_t park);
/* Asks to be notified of the next message: 1 if one is there already. */
int32_t xio_arm_recv(xio_domain * d, uint32_t chan, uint32_t side);
/* Asks to be notified when fewer than window messages wait: 1 if so already. */
int32_t xio_arm_send(xio_domain * d, uint32_t chan, uint32_t side, uint32_t window);
/* Messages this side sent that the peer has not received. */
int32_t xio_pending(xio_domain * d, uint32_t chan, uint32_t side);
/* The channel's Flag bits. */
int32_t xio_flags(xio_domain * d, uint32_t chan, uint32_t side);
/* Half-closes this side. */
int32_t xio_close_write(xio_domain * d, uint32_t chan, uint32_t side);
/* Closes this side; the last side out frees the channel. */
int32_t xio_chan_close(xio_domain * d, uint32_t chan, uint32_t side);
/* Allocates a buffer of at least size bytes; returns its id. */
int32_t xio_alloc(xio_domain * d, uint32_t size);
/* Allocates up to count buffers; their ids go to io[2..] (one per pair). */
int32_t xio_alloc_many(xio_domain * d, uint32_t size, uint32_t count);
/* Gives a held buffer back. */
int32_t xio_release(xio_domain * d, uint32_t id);
/* Gives back the ids at io[2], io[4], ...; returns how many were ours. */
int32_t xio_release_many(xio_domain * d, uint32_t count);
/* Copies bytes of a held buffer out. */
int32_t xio_copy_out(xio_domain * d, uint32_t id, uint32_t from, uint8_t * target, uint32_t length);
/* Copies bytes into a held buffer. */
int32_t xio_copy_in(xio_domain * d, uint32_t id, uint32_t at, const uint8_t * source, uint32_t length);
/* Asks to be notified when a buffer of that size is released. */
int32_t xio_arm_alloc(xio_domain * d, uint32_t size);
/* Moves pending events into the events array; returns how many. io[1] = 1 if a buffer waited for was released. */
int32_t xio_take_events(xio_domain * d);
/* Parks this node (notifiers ring its doorbell); 1 if news already waits. */
int32_t xio_park(xio_domain * d);
/* Clears this node's parked flag while it polls. */
void xio_unpark(xio_domain * d);
/* 1 if this node has news. */
int32_t xio_has_events(xio_domain * d);
/* Writes the path of this node's doorbell socket; returns its length. */
int32_t xio_bell_path(xio_domain * d, uint8_t * out, uint32_t len);
/* Tells notifiers that this node listens on its doorbell. */
void xio_bell_ready(xio_domain * d);
/* Tries the system calls the core needs (statx, OFD locks, shared futexes): 0 if all work, else which failed first (1 statx, 2 OFD locks, 3 futex) with its errno in errno_out[0]. */
int32_t xio_kernel_check(int32_t * errno_out);
/* CLOCK_MONOTONIC in nanoseconds. */
double xio_now_ns(void);
/* The byte offset of this node's slot in the mapping. */
double xio_node_offset(xio_domain * d);
/* The byte offset of a ring's header in the mapping. */
double xio_ring_offset(xio_domain * d, uint32_t chan, uint32_t direction);
/* Gives the core to another runnable thread, if any (sched_yield). */
void xio_yield(void);
/* Checks the other nodes' liveness now; returns how many dead ones were reclaimed. */
int32_t xio_probe(xio_domain * d);
/* Opens a domain file read-only, to inspect it: no node slot, no lock taken, nothing written. Null on failure, with the status in status[0] and a detail in status[1] (as xio_open). Only xio_snapshot and xio_close take the handle. */
xio_domain * xio_inspect(const uint8_t * path, uint32_t path_len, int32_t * status);
/* Writes a snapshot (Snap and its records) to out and the service names to names; returns the words written, or invalid if either is too small, with the words needed in out[0] and the name bytes in out[1], or truncated if the file is shorter than its layout now. */
int32_t xio_snapshot(xio_domain * d, double * out, uint32_t len, uint8_t * names, uint32_t names_len);
/* The most words a snapshot of this domain takes. */
int32_t xio_snapshot_words(xio_domain * d);
/* Collects domain name as xio_open would find it: removes its files if no live process holds it, else reclaims its dead nodes; with dry_run, only says what it would do. Writes a Gc code to result[0] and a count to result[1]; returns 0 or a status. */
int32_t xio_gc(const uint8_t * name, uint32_t name_len, const uint8_t * dir, uint32_t dir_len, const uint32_t * options, uint32_t dry_run, int32_t * result);
/* Writes the path of the domain file; returns its length. */
int32_t xio_domain_path(xio_domain * d, uint8_t * out, uint32_t len);
/* Tests only: pushes a raw descriptor into a ring, as a hostile peer would. */
int32_t xio_debug_plant(xio_domain * d, uint32_t chan, uint32_t direction, uint32_t high, uint32_t low);

#ifdef __cplusplus
}
#endif

#endif /* XIO_H */
