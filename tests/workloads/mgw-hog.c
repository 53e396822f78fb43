/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgw-hog: the runaway. A paced allocator that grows by RATE MiB/s up to MAX MiB, touching every
 * new page with partly random content, and that keeps re-touching a share of what it already
 * holds (a leaking node process still walks its heap), so the pages it pushed to zram come back
 * and the whole guest stalls, not just the hog. At MAX it holds for HOLD seconds, still
 * re-touching, then exits 0. It never handles SIGTERM: its exit status tells who ended it. With
 * -I it ignores SIGTERM (as a wedged process does), so only SIGKILL ends it.
 *
 *   mgw-hog [-n NAME] -m MAX_MIB [-r RATE_MIB_S] [-H HOLD_S] [-R RANDOM_PCT] [-T RETOUCH_PCT_S]
 *           [-s SEED] [-q] [-I]
 */
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wl.h"

#define TICK_USEC (100 * USEC_PER_MSEC)

typedef struct Hog {
        uint8_t *mem;
        uint64_t max_pages;
        uint64_t filled;
        uint64_t rate_mib_s;
        unsigned random_pct;
        unsigned retouch_pct_s;         /* percent of the held pages re-touched per second */
        WlRng rng;
        bool quiet;
} Hog;

static void hog_grow_to(Hog *h, uint64_t target) {
        for (; h->filled < MIN(target, h->max_pages); h->filled++)
                wl_fill_page(h->mem + h->filled * WL_PAGE, h->random_pct, &h->rng, h->filled);
}

/* One tick's share of re-touching: random pages, one read and one write each. */
static void hog_retouch(Hog *h) {
        uint64_t n = h->filled * h->retouch_pct_s / 100 / (USEC_PER_SEC / TICK_USEC);

        for (uint64_t i = 0; i < n && h->filled > 0; i++) {
                volatile uint64_t *w = (uint64_t *) (h->mem + wl_rng_below(&h->rng, h->filled) * WL_PAGE);
                w[1] = w[0] + 1;
        }
}

static void usage(void) {
        fprintf(stderr, "usage: mgw-hog [-n NAME] -m MAX_MIB [-r RATE_MIB_S] [-H HOLD_S] [-R RANDOM_PCT]\n"
                        "               [-T RETOUCH_PCT_S] [-s SEED] [-q] [-I]\n");
        exit(2);
}

int main(int argc, char **argv) {
        Hog h = { .rate_mib_s = 50, .random_pct = 30, .retouch_pct_s = 10 };
        const char *name = "node";
        uint64_t max_mib = 0, hold_s = 10, seed = 1;
        usec_t start, reached = 0, next;
        int c;

        while ((c = getopt(argc, argv, "n:m:r:H:R:T:s:qI")) >= 0)
                switch (c) {
                case 'n': name = optarg; break;
                case 'm': max_mib = wl_opt_u64("mgw-hog", c, optarg, 1, 1 << 20); break;
                case 'r': h.rate_mib_s = wl_opt_u64("mgw-hog", c, optarg, 1, 1 << 16); break;
                case 'H': hold_s = wl_opt_u64("mgw-hog", c, optarg, 0, 86400); break;
                case 'R': h.random_pct = (unsigned) wl_opt_u64("mgw-hog", c, optarg, 0, 100); break;
                case 'T': h.retouch_pct_s = (unsigned) wl_opt_u64("mgw-hog", c, optarg, 0, 1000); break;
                case 's': seed = wl_opt_u64("mgw-hog", c, optarg, 0, UINT64_MAX); break;
                case 'q': h.quiet = true; break;
                case 'I': (void) signal(SIGTERM, SIG_IGN); break;
                default: usage();
                }
        if (max_mib == 0 || optind != argc)
                usage();
        (void) wl_set_name(name);
        wl_rng_seed(&h.rng, seed);
        h.max_pages = max_mib * (WL_MIB / WL_PAGE);
        h.mem = wl_map(h.max_pages * WL_PAGE);
        if (!h.mem) {
                fprintf(stderr, "mgw-hog: cannot map %" PRIu64 " MiB: %m\n", max_mib);
                return 1;
        }

        start = next = wl_now();
        for (;;) {
                usec_t now = wl_now();
                /* pace by the clock: a stalled hog does not burst to catch up beyond its schedule */
                uint64_t target = (now - start) * h.rate_mib_s * (WL_MIB / WL_PAGE) / USEC_PER_SEC;

                hog_grow_to(&h, target);
                hog_retouch(&h);
                if (h.filled >= h.max_pages && reached == 0) {
                        reached = wl_now();
                        if (!h.quiet)
                                printf("mgw-hog: %s reached %" PRIu64 " MiB after %" PRIu64 " ms\n", name,
                                       max_mib, (reached - start) / USEC_PER_MSEC);
                }
                if (reached > 0 && wl_now() - reached >= hold_s * USEC_PER_SEC)
                        break;
                next += TICK_USEC;
                if (next < wl_now())
                        next = wl_now();
                (void) wl_sleep_until(next);
        }
        if (!h.quiet)
                printf("mgw-hog: %s done after %" PRIu64 " ms\n", name, (wl_now() - start) / USEC_PER_MSEC);
        return 0;
}
