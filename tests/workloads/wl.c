/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "wl.h"

usec_t wl_now(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

int wl_sleep_until(usec_t t) {
        struct timespec ts = {
                .tv_sec = (time_t) (t / USEC_PER_SEC),
                .tv_nsec = (long) ((t % USEC_PER_SEC) * NSEC_PER_USEC),
        };
        int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);

        return -r;      /* clock_nanosleep returns the error number itself */
}

/* splitmix64: tiny, good enough for page contents and sizes, identical on every machine */
void wl_rng_seed(WlRng *r, uint64_t seed) {
        r->s = seed ^ UINT64_C(0x9e3779b97f4a7c15);
}

uint64_t wl_rng_next(WlRng *r) {
        uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

uint64_t wl_rng_below(WlRng *r, uint64_t n) {
        return wl_rng_next(r) % n;
}

void wl_fill_page(uint8_t *page, unsigned random_pct, WlRng *r, uint64_t page_index) {
        size_t nrand = WL_PAGE * MIN(random_pct, 100u) / 100 / 8 * 8;
        uint64_t *w = (uint64_t *) page;

        for (size_t i = 0; i < nrand / 8; i++)
                w[i] = wl_rng_next(r);
        for (size_t i = nrand; i < WL_PAGE; i++)
                page[i] = (uint8_t) (i * 7 + 1);
        /* the last word is unique per page even at 0 % random */
        w[WL_PAGE / 8 - 1] = page_index ^ UINT64_C(0x6d67772d70616765);
}

int wl_set_name(const char *name) {
        return RET_NERRNO(prctl(PR_SET_NAME, (unsigned long) name, 0, 0, 0));
}

int wl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end != '\0')
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

uint64_t wl_opt_u64(const char *prog, char opt, const char *s, uint64_t min, uint64_t max) {
        uint64_t v;
        int r = wl_parse_u64(s, min, max, &v);

        if (r == -EINVAL) {
                fprintf(stderr, "%s: bad -%c '%s': not a whole decimal number\n", prog, opt, s);
                exit(2);
        }
        if (r < 0) {
                fprintf(stderr, "%s: bad -%c '%s': must be within %" PRIu64 "..%" PRIu64 "\n",
                        prog, opt, s, min, max);
                exit(2);
        }
        return v;
}

int wl_write_file(const char *path, const char *s) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        size_t n = strlen(s);
        ssize_t w;

        if (fd < 0)
                return -errno;
        w = write(fd, s, n);
        if (w < 0)
                return -errno;
        return (size_t) w == n ? 0 : -EIO;
}

void *wl_map(size_t len) {
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);

        return p == MAP_FAILED ? NULL : p;
}

struct WlLog {
        pthread_mutex_t lock;
        pthread_cond_t more;
        pthread_t thread;
        bool closing;
        uint64_t head, tail;            /* head: next slot to fill; tail: next to write */
        uint64_t dropped;
        unsigned n;
        int fd[WL_LOG_STREAMS];
        unsigned char *stream;
        char (*line)[WL_LOG_LINE_MAX];
};

static void *wl_log_thread(void *userdata) {
        WlLog *l = userdata;

        (void) pthread_mutex_lock(&l->lock);
        for (;;) {
                while (l->tail == l->head && !l->closing)
                        (void) pthread_cond_wait(&l->more, &l->lock);
                if (l->tail == l->head)
                        break;
                /* the slot is safe unlocked: wl_log() refills it only after tail has passed it */
                const char *line = l->line[l->tail % l->n];
                int fd = l->fd[l->stream[l->tail % l->n]];
                (void) pthread_mutex_unlock(&l->lock);
                if (fd >= 0 && write(fd, line, strlen(line)) < 0)
                        fprintf(stderr, "write: %m\n");
                (void) pthread_mutex_lock(&l->lock);
                l->tail++;
        }
        (void) pthread_mutex_unlock(&l->lock);
        return NULL;
}

int wl_log_start(WlLog **ret, unsigned lines, int fd0, int fd1) {
        WlLog *l = calloc(1, sizeof(WlLog));

        if (!l || !(l->line = calloc(lines, WL_LOG_LINE_MAX)) || !(l->stream = calloc(lines, 1))) {
                if (l)
                        free(l->line);
                free(l);
                return -ENOMEM;
        }
        (void) pthread_mutex_init(&l->lock, NULL);
        (void) pthread_cond_init(&l->more, NULL);
        l->n = lines;
        l->fd[0] = fd0;
        l->fd[1] = fd1;
        if (pthread_create(&l->thread, NULL, wl_log_thread, l) != 0) {
                free(l->stream);
                free(l->line);
                free(l);
                return -EAGAIN;
        }
        *ret = l;
        return 0;
}

void wl_log(WlLog *l, unsigned stream, const char *fmt, ...) {
        va_list ap;

        (void) pthread_mutex_lock(&l->lock);
        if (l->head - l->tail == l->n)
                l->dropped++;           /* the writer is stuck: lose lines, never time */
        else {
                va_start(ap, fmt);
                (void) vsnprintf(l->line[l->head % l->n], WL_LOG_LINE_MAX, fmt, ap);
                va_end(ap);
                l->stream[l->head % l->n] = (unsigned char) MIN(stream, WL_LOG_STREAMS - 1u);
                l->head++;
                (void) pthread_cond_signal(&l->more);
        }
        (void) pthread_mutex_unlock(&l->lock);
}

uint64_t wl_log_stop(WlLog *l) {
        uint64_t dropped;

        (void) pthread_mutex_lock(&l->lock);
        l->closing = true;
        (void) pthread_cond_signal(&l->more);
        (void) pthread_mutex_unlock(&l->lock);
        (void) pthread_join(l->thread, NULL);
        for (unsigned i = 0; i < WL_LOG_STREAMS; i++)
                if (l->fd[i] >= 0)
                        (void) close(l->fd[i]);
        dropped = l->dropped;
        free(l->stream);
        free(l->line);
        free(l);
        return dropped;
}
