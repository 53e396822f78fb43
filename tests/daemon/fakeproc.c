/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A stand-in for a desktop process in the daemon's integration tests:
 *   fakeproc NAME MIB [GROW_MIB_PER_S [MAX_MIB]] [--ignore-term]
 * Sets its comm to NAME (spaces allowed), touches MIB of anonymous memory, optionally grows by
 * GROW_MIB_PER_S up to MAX_MIB, and otherwise sleeps. Prints "ready" on stdout once the initial
 * memory is touched. Exits on SIGTERM unless --ignore-term.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)

static void touch(char *p, size_t len) {
        for (size_t i = 0; i < len; i += 4096)
                p[i] = (char) (i / 4096 + 1);
}

int main(int argc, char **argv) {
        unsigned long mib, grow = 0, max = 0, have;
        bool ignore_term = false;
        char *p;
        int n = argc;

        if (argc > 1 && strcmp(argv[argc - 1], "--ignore-term") == 0) {
                ignore_term = true;
                n--;
        }
        if (n < 3) {
                fprintf(stderr, "usage: fakeproc NAME MIB [GROW_MIB_PER_S [MAX_MIB]] [--ignore-term]\n");
                return 2;
        }
        mib = strtoul(argv[2], NULL, 10);
        if (n > 3)
                grow = strtoul(argv[3], NULL, 10);
        max = n > 4 ? strtoul(argv[4], NULL, 10) : mib + 64 * grow;
        if (max < mib)
                max = mib;
        if (prctl(PR_SET_NAME, argv[1]) < 0)
                return 1;
        if (ignore_term)
                signal(SIGTERM, SIG_IGN);
        p = mmap(NULL, max * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
                return 1;
        touch(p, mib * MIB);
        have = mib;
        printf("ready\n");
        fflush(stdout);
        for (;;) {
                struct timespec ts = { 0, 100 * 1000 * 1000 };
                nanosleep(&ts, NULL);
                if (grow && have < max) {
                        unsigned long step = grow / 10 ?: 1;
                        if (have + step > max)
                                step = max - have;
                        touch(p + have * MIB, step * MIB);
                        have += step;
                }
        }
}
