/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgw-build: an oscillating allocator shaped like a parallel build. The orchestrator (named
 * like cargo or make) runs WAVES waves of JOBS workers (named like rustc or cc1), started a
 * little apart. Each worker allocates its share (MIB, varied +-30 % by the seed) over the first
 * half of its work, then makes PASSES passes over it, and exits; when a wave is done the memory
 * is gone and the next wave builds it up again. The work is counted in page passes, not in
 * seconds, so the wall time is the measure of how much a daemon slowed the build down.
 *
 * Prints (and with -o appends to FILE) one line:
 *   build name=cargo waves=W workers=N ok=N signalled=N failed=N wall_ms=N
 * Exit status 0 when every worker exited 0, 1 otherwise.
 *
 *   mgw-build [-n NAME] [-w WORKER_NAME] [-j JOBS] [-W WAVES] [-m MIB] [-P PASSES] [-g GAP_MS]
 *             [-R RANDOM_PCT] [-s SEED] [-o FILE]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl.h"

#define STAGGER_USEC (150 * USEC_PER_MSEC)

typedef struct Build {
        const char *name;
        const char *worker;
        uint64_t jobs, waves, mib, passes, gap_ms, random_pct, seed;
        unsigned ok, signalled, failed;
} Build;

static _noreturn_ void worker_run(const Build *b, uint64_t mib, uint64_t seed) {
        size_t npages = mib * (WL_MIB / WL_PAGE);
        uint8_t *mem;
        WlRng rng;

        (void) wl_set_name(b->worker);
        mem = wl_map(npages * WL_PAGE);
        if (!mem)
                _exit(3);
        wl_rng_seed(&rng, seed);
        for (size_t i = 0; i < npages; i++)
                wl_fill_page(mem + i * WL_PAGE, (unsigned) b->random_pct, &rng, i);
        for (uint64_t p = 0; p < b->passes; p++)
                for (size_t i = 0; i < npages; i++) {
                        volatile uint64_t *w = (uint64_t *) (mem + i * WL_PAGE);
                        w[3] = w[p % 3] * 31 + p;
                }
        _exit(0);
}

static void build_reap(Build *b, int status) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                b->ok++;
        else if (WIFSIGNALED(status))
                b->signalled++;
        else
                b->failed++;
}

static int build_wave(Build *b, WlRng *rng, uint64_t wave) {
        uint64_t started = 0;
        int status;

        for (uint64_t j = 0; j < b->jobs; j++) {
                /* 70..130 % of the nominal size, fixed by the seed */
                uint64_t mib = MAX(b->mib * (70 + wl_rng_below(rng, 61)) / 100, (uint64_t) 1);
                uint64_t wseed = wl_rng_next(rng);
                pid_t pid = fork();

                if (pid < 0) {
                        fprintf(stderr, "mgw-build: fork in wave %" PRIu64 ": %m\n", wave);
                        b->failed++;
                        continue;
                }
                if (pid == 0)
                        worker_run(b, mib, wseed);
                started++;
                (void) wl_sleep_until(wl_now() + STAGGER_USEC);
        }
        for (; started > 0; started--) {
                if (waitpid(-1, &status, 0) < 0) {
                        if (errno == EINTR) {
                                started++;
                                continue;
                        }
                        return -errno;
                }
                build_reap(b, status);
        }
        return 0;
}

static void usage(void) {
        fprintf(stderr, "usage: mgw-build [-n NAME] [-w WORKER_NAME] [-j JOBS] [-W WAVES] [-m MIB] [-P PASSES]\n"
                        "                 [-g GAP_MS] [-R RANDOM_PCT] [-s SEED] [-o FILE]\n");
        exit(2);
}

int main(int argc, char **argv) {
        Build b = { .name = "cargo", .worker = "rustc", .jobs = 2, .waves = 3, .mib = 100, .passes = 4,
                    .gap_ms = 1000, .random_pct = 30, .seed = 1 };
        const char *out = NULL;
        char line[256];
        usec_t start;
        WlRng rng;
        int c;

        while ((c = getopt(argc, argv, "n:w:j:W:m:P:g:R:s:o:")) >= 0)
                switch (c) {
                case 'n': b.name = optarg; break;
                case 'w': b.worker = optarg; break;
                case 'j': b.jobs = wl_opt_u64("mgw-build", c, optarg, 1, 256); break;
                case 'W': b.waves = wl_opt_u64("mgw-build", c, optarg, 1, 10000); break;
                case 'm': b.mib = wl_opt_u64("mgw-build", c, optarg, 1, 1 << 16); break;
                case 'P': b.passes = wl_opt_u64("mgw-build", c, optarg, 0, 100000); break;
                case 'g': b.gap_ms = wl_opt_u64("mgw-build", c, optarg, 0, 3600000); break;
                case 'R': b.random_pct = wl_opt_u64("mgw-build", c, optarg, 0, 100); break;
                case 's': b.seed = wl_opt_u64("mgw-build", c, optarg, 0, UINT64_MAX); break;
                case 'o': out = optarg; break;
                default: usage();
                }
        if (optind != argc)
                usage();
        (void) wl_set_name(b.name);
        wl_rng_seed(&rng, b.seed);
        start = wl_now();
        for (uint64_t w = 0; w < b.waves; w++) {
                int r = build_wave(&b, &rng, w);
                if (r < 0) {
                        fprintf(stderr, "mgw-build: waiting for wave %" PRIu64 ": %s\n", w, strerror(-r));
                        return 1;
                }
                if (w + 1 < b.waves)
                        (void) wl_sleep_until(wl_now() + b.gap_ms * USEC_PER_MSEC);
        }
        (void) snprintf(line, sizeof line,
                        "build name=%s waves=%" PRIu64 " workers=%" PRIu64 " ok=%u signalled=%u failed=%u wall_ms=%" PRIu64 "\n",
                        b.name, b.waves, b.waves * b.jobs, b.ok, b.signalled, b.failed,
                        (wl_now() - start) / USEC_PER_MSEC);
        fputs(line, stdout);
        if (out) {
                _cleanup_close_ int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (fd < 0 || write(fd, line, strlen(line)) < 0)
                        fprintf(stderr, "mgw-build: cannot write %s: %m\n", out);
        }
        return b.ok == b.waves * b.jobs ? 0 : 1;
}
