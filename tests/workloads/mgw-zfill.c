/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgw-zfill: puts real pages into zram and leaves its pool fragmented, so that compaction has
 * something to do. Run it inside a memory cgroup whose limit is far below MIB: filling MIB of
 * partly random pages (-R, default 30 %: lzo-rle makes about 1.5 KiB of each, several to a
 * zspage; at 40 % zram already stored every page whole on 6.18, and a pool of whole pages has
 * nothing to compact) pushes most of them out to the zram swap. Then every FREE_EVERY-th page is dropped
 * (MADV_DONTNEED), which frees its zram slot in the middle of a zspage: the pool keeps its size
 * until it is compacted. It prints "ready" once that is done and then sleeps until killed,
 * touching nothing, so the rest stays in swap for the swap-reclaim test to bring back.
 *
 *   mgw-zfill -m MIB [-R RANDOM_PCT] [-F FREE_EVERY] [-n NAME] [-s SEED]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wl.h"

static void usage(void) {
        fprintf(stderr, "usage: mgw-zfill -m MIB [-R RANDOM_PCT] [-F FREE_EVERY] [-n NAME] [-s SEED]\n");
        exit(2);
}

int main(int argc, char **argv) {
        uint64_t mib = 0, free_every = 4, seed = 1, pages;
        unsigned random_pct = 30;
        const char *name = "mgw-zfill";
        uint8_t *mem;
        WlRng rng;
        int c;

        while ((c = getopt(argc, argv, "m:R:F:n:s:")) >= 0)
                switch (c) {
                case 'm': mib = wl_opt_u64("mgw-zfill", c, optarg, 1, 1 << 20); break;
                case 'R': random_pct = (unsigned) wl_opt_u64("mgw-zfill", c, optarg, 0, 100); break;
                case 'F': free_every = wl_opt_u64("mgw-zfill", c, optarg, 0, 1 << 20); break;
                case 'n': name = optarg; break;
                case 's': seed = wl_opt_u64("mgw-zfill", c, optarg, 0, UINT64_MAX); break;
                default: usage();
                }
        if (mib == 0 || optind != argc)
                usage();
        (void) wl_set_name(name);
        wl_rng_seed(&rng, seed);
        pages = mib * (WL_MIB / WL_PAGE);
        mem = wl_map(pages * WL_PAGE);
        if (!mem) {
                fprintf(stderr, "mgw-zfill: cannot map %" PRIu64 " MiB: %m\n", mib);
                return 1;
        }
        for (uint64_t i = 0; i < pages; i++)
                wl_fill_page(mem + i * WL_PAGE, random_pct, &rng, i);
        for (uint64_t i = 0; free_every > 0 && i < pages; i += free_every)
                if (madvise(mem + i * WL_PAGE, WL_PAGE, MADV_DONTNEED) < 0) {
                        fprintf(stderr, "mgw-zfill: madvise: %m\n");
                        return 1;
                }
        printf("ready\n");
        fflush(stdout);
        for (;;)
                pause();
}
