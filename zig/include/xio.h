/* libxio: shared-memory channels for processes on one machine.
 *
 * Every function returns a status (negative, see XIO_E_*) or a non-negative result. A handle
 * comes from xio_open and is freed by xio_close; everything else that crosses this ABI is
 * checked, and nothing read from shared memory is trusted.
 *
 * Sides: 0 is the client (the connecting side), 1 the server (the accepting side).
 * Buffer ids: (class << 24) | index. The bytes of buffer `index` of class `c` start at
 * stats[XIO_STAT_CLASS + 6*c + 4] + index * stats[XIO_STAT_CLASS + 6*c] from xio_base().
 */
#ifndef XIO_H
#define XIO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XIO_OK 0
#define XIO_E_WOULD_BLOCK (-1)
#define XIO_E_CLOSED (-2)
#define XIO_E_RESET (-3)
#define XIO_E_CORRUPT (-4)
#define XIO_E_INVALID (-5)
#define XIO_E_TOO_BIG (-6)
#define XIO_E_NOT_FOUND (-7)
#define XIO_E_IN_USE (-8)
#define XIO_E_FULL (-9)
#define XIO_E_NOT_DOMAIN (-10)
#define XIO_E_VERSION (-11)
#define XIO_E_TRUNCATED (-12)
#define XIO_E_LAYOUT (-13)
#define XIO_E_IO (-14)
#define XIO_E_NO_SPACE (-15)
#define XIO_E_BUSY (-16)
#define XIO_E_PIPE (-17)
#define XIO_E_STATE (-18)
#define XIO_E_PERMISSION (-19)
#define XIO_E_REFUSED (-20)
#define XIO_E_INVALID_NAME (-21)
#define XIO_E_INVALID_CONFIG (-22)
#define XIO_E_HUGEPAGES_UNAVAILABLE (-23)

/* Words of the `options` array of xio_open. */
enum {
  XIO_OPT_FLAGS = 0,       /* bit 0: create if missing */
  XIO_OPT_HUGEPAGES = 1,   /* 0 auto, 1 require, 2 never */
  XIO_OPT_MODE = 2,        /* file mode, such as 0600 */
  XIO_OPT_RUNTIME = 3,     /* informational: 1 Deno, 2 Bun */
  XIO_OPT_NODE_MAX = 4,
  XIO_OPT_SERVICE_MAX = 5,
  XIO_OPT_CHANNEL_MAX = 6, /* a multiple of 64, at most 4096 */
  XIO_OPT_RING_CAPACITY = 7,
  XIO_OPT_CLASS_COUNT = 8,
  XIO_OPT_CLASS_SIZES = 9,   /* 4 words, ascending */
  XIO_OPT_CLASS_COUNTS = 13, /* 4 words */
  XIO_OPT_WORDS = 17
};

/* Slots of the array filled by xio_stats (doubles). */
enum {
  XIO_STAT_VERSION = 0,
  XIO_STAT_SIZE = 1,
  XIO_STAT_BACKING = 2, /* 1 hugetlbfs, 2 /dev/shm with THP, 3 /dev/shm, 4 plain file */
  XIO_STAT_NODE = 3,
  XIO_STAT_NODE_MAX = 4,
  XIO_STAT_NODES = 5,
  XIO_STAT_CHANNEL_MAX = 6,
  XIO_STAT_CHANNELS = 7,
  XIO_STAT_SERVICE_MAX = 8,
  XIO_STAT_SERVICES = 9,
  XIO_STAT_RING_CAPACITY = 10,
  XIO_STAT_CLASS_COUNT = 11,
  XIO_STAT_CORRUPT = 12,
  XIO_STAT_RECLAIMED = 13,
  XIO_STAT_CHANNELS_OPENED = 14,
  XIO_STAT_CREATOR_PID = 15,
  XIO_STAT_CLASS = 24, /* then per class: size, count, free, allocations, data offset, 0 */
  XIO_STAT_WORDS = 48
};

typedef struct xio_domain xio_domain;
typedef void (*xio_callback)(uint32_t domain_mask);

uint32_t xio_version(void);
xio_domain *xio_open(const uint8_t *name, uint32_t name_len, const uint8_t *dir, uint32_t dir_len,
                     const uint32_t *options, int32_t status[2]);
void xio_close(xio_domain *d);
uint32_t *xio_io(xio_domain *d);     /* [0] last length, [1] extra, then (id, length) pairs */
uint32_t *xio_events(xio_domain *d); /* channel indices written by xio_take_events */
uint8_t *xio_base(xio_domain *d);
int32_t xio_stats(xio_domain *d, double *out, uint32_t len);

int32_t xio_listen(xio_domain *d, const uint8_t *name, uint32_t name_len);
int32_t xio_unlisten(xio_domain *d, uint32_t service);
int32_t xio_connect(xio_domain *d, const uint8_t *name, uint32_t name_len);
int32_t xio_accept(xio_domain *d, uint32_t channel);
void xio_refuse(xio_domain *d, uint32_t channel);

int32_t xio_send(xio_domain *d, uint32_t channel, uint32_t side, uint32_t id, uint32_t length);
int32_t xio_send_many(xio_domain *d, uint32_t channel, uint32_t side, uint32_t count);
int32_t xio_recv(xio_domain *d, uint32_t channel, uint32_t side);
int32_t xio_recv_many(xio_domain *d, uint32_t channel, uint32_t side, uint32_t max);
int32_t xio_arm_recv(xio_domain *d, uint32_t channel, uint32_t side);
int32_t xio_arm_send(xio_domain *d, uint32_t channel, uint32_t side, uint32_t window);
int32_t xio_pending(xio_domain *d, uint32_t channel, uint32_t side);
int32_t xio_flags(xio_domain *d, uint32_t channel, uint32_t side);
int32_t xio_close_write(xio_domain *d, uint32_t channel, uint32_t side);
int32_t xio_chan_close(xio_domain *d, uint32_t channel, uint32_t side);

int32_t xio_alloc(xio_domain *d, uint32_t size);
int32_t xio_alloc_many(xio_domain *d, uint32_t size, uint32_t count);
int32_t xio_release(xio_domain *d, uint32_t id);
int32_t xio_release_many(xio_domain *d, uint32_t count);
int32_t xio_arm_alloc(xio_domain *d, uint32_t size);
int32_t xio_copy_out(xio_domain *d, uint32_t id, uint32_t from, uint8_t *target, uint32_t length);
int32_t xio_copy_in(xio_domain *d, uint32_t id, uint32_t at, const uint8_t *source, uint32_t length);

int32_t xio_take_events(xio_domain *d);
int32_t xio_watch(xio_domain *d, xio_callback callback, uint32_t spin_ns);
void xio_unwatch(xio_domain *d);
void xio_ack(void);
void xio_want(uint32_t on);
/* Gives the core to another runnable thread, if any (sched_yield): for busy-polling loops. */
void xio_yield(void);
int32_t xio_probe(xio_domain *d);
int32_t xio_debug_plant(xio_domain *d, uint32_t channel, uint32_t direction, uint32_t high,
                        uint32_t low);

#ifdef __cplusplus
}
#endif

#endif
