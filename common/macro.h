/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * The small cleanup kit every file in the tree uses. Destructors take NULL or -1 and do nothing,
 * so a _cleanup_ variable may be returned with TAKE_PTR()/TAKE_FD() or left to be freed.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _unused_ __attribute__((unused))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define CLAMP(x, lo, hi) ((x) < (lo) ? (lo) : (x) > (hi) ? (hi) : (x))

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                (void) close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Take ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                  \
        ({                                           \
                __typeof__(p) _tp_ = (p);            \
                (p) = NULL;                          \
                _tp_;                                \
        })
#define TAKE_FD(fd)                                  \
        ({                                           \
                int _tf_ = (fd);                     \
                (fd) = -1;                           \
                _tf_;                                \
        })

/* -errno from a libc call that returns -1 and sets errno; other values pass through. */
#define RET_NERRNO(expr)                             \
        ({                                           \
                __typeof__(expr) _r_ = (expr);       \
                _r_ < 0 ? -errno : _r_;              \
        })

typedef uint64_t usec_t;
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)
#define USEC_INFINITY ((usec_t) UINT64_MAX)
