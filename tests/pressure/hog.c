/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An anonymous-memory hog for real-pressure tests: hog NAME MIB [RANDOM_PCT]
 * Allocates MIB and rewrites it page by page forever, RANDOM_PCT (default 30) percent of each page
 * with pseudo-random bytes so zram cannot compress it to nothing. Deterministic (fixed seed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

int main(int argc, char **argv) {
        size_t len, page = 4096, rnd;
        uint64_t x = 0x9E3779B97F4A7C15ULL;
        unsigned char *p;

        if (argc < 3) {
                fprintf(stderr, "usage: hog NAME MIB [RANDOM_PCT]\n");
                return 2;
        }
        (void) prctl(PR_SET_NAME, argv[1]);
        len = strtoull(argv[2], NULL, 10) << 20;
        rnd = page * (argc > 3 ? strtoul(argv[3], NULL, 10) : 30) / 100;
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return 1;
        for (;;)
                for (size_t off = 0; off < len; off += page) {
                        for (size_t i = 0; i < rnd; i += 8) {
                                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                                memcpy(p + off + i, &x, 8);
                        }
                        memset(p + off + rnd, (int) (off >> 12), page - rnd);
                }
}
