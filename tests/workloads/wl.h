/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Shared bits of the pressure workloads (tests/workloads/mgw-*.c). These programs are the
 * instrument of the real-pressure benchmark, not part of mgd: they run in the qemu guest,
 * statically linked so the busybox initramfs and the Debian rootfs run the same binaries.
 * Everything that varies is seeded, so the same seed gives the same page contents, the same
 * sizes and the same order of events in every arm of the benchmark.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/macro.h"

#define WL_PAGE 4096UL
#define WL_MIB (1024UL * 1024UL)

/* CLOCK_MONOTONIC, the clock the journal's __MONOTONIC_TIMESTAMP uses: marks from every tool line up. */
usec_t wl_now(void);
static inline uint64_t wl_now_ms(void) {
        return wl_now() / USEC_PER_MSEC;
}
/* Sleep until the absolute monotonic time; returns early (-EINTR) if a signal arrives. */
int wl_sleep_until(usec_t t);

typedef struct WlRng {
        uint64_t s;
} WlRng;

void wl_rng_seed(WlRng *r, uint64_t seed);
uint64_t wl_rng_next(WlRng *r);
/* Uniform in [0, n); n > 0. */
uint64_t wl_rng_below(WlRng *r, uint64_t n);

/*
 * Fill one page: random_pct percent random bytes (so zram cannot squeeze the page to nothing;
 * 30 % gives about 3:1 with lzo-rle), the rest a repeating pattern, and one distinct word so no
 * two pages are identical (zram's same-page detection would otherwise store them for free).
 */
void wl_fill_page(uint8_t *page, unsigned random_pct, WlRng *r, uint64_t page_index);

/* Set the process name (comm, at most 15 bytes kept by the kernel) the daemons match on. */
int wl_set_name(const char *name);

/* Parse a whole decimal number within [min, max]: -EINVAL if not a number, -ERANGE if outside. */
int wl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* Parse an option's value or die with "PROG: bad -X 'value': reason" and exit code 2. */
uint64_t wl_opt_u64(const char *prog, char opt, const char *s, uint64_t min, uint64_t max);

/* Write a small string to a file (procfs, sysfs, cgroupfs). Returns 0 or -errno. */
int wl_write_file(const char *path, const char *s);

/* Map an anonymous region of len bytes (not touched yet); NULL on failure with errno set. */
void *wl_map(size_t len);

/*
 * Lines written by a thread of their own: the caller formats into a preallocated ring and goes
 * on, so a write that stalls (a 9p share under memory pressure) never delays the caller's next
 * sample or frame. Up to WL_LOG_STREAMS output fds (-1: drop that stream).
 */
#define WL_LOG_STREAMS 2
#define WL_LOG_LINE_MAX 256
typedef struct WlLog WlLog;
int wl_log_start(WlLog **ret, unsigned lines, int fd0, int fd1);
void wl_log(WlLog *l, unsigned stream, const char *fmt, ...) _printf_(3, 4);
/* Drain, stop the thread, close the fds, free; returns how many lines were lost to a full ring. */
uint64_t wl_log_stop(WlLog *l);
