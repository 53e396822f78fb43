/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgw-app: one process of the desktop set. It holds MIB of memory (partly random, so zram has
 * real work) and wakes every PERIOD ms to touch TOUCH KiB of it: a moving window for ordinary
 * apps (over time every page is used again, as an app's heap is), a fixed working set for the
 * probe.
 *
 * With -o FILE it is the responsiveness probe: every wake-up is a "frame" whose latency is the
 * time from the frame's deadline to the end of touching its working set. That is what a user
 * feels: scheduling delay plus the page faults of a working set pushed out to swap. Once a
 * second it appends "T_MS FRAMES WORST_US" to FILE (so the series survives a kill), through a
 * writer thread so that a stalled write never delays a frame; on SIGINT
 * (the harness's clean stop) it appends every frame as "F T_MS LAT_US" and a summary line, then
 * exits 0. SIGTERM keeps its default action on purpose: a daemon's SIGTERM must show in the wait
 * status as a kill, not as a clean exit.
 *
 *   mgw-app [-n NAME] [-m MIB] [-p PERIOD_MS] [-w TOUCH_KIB] [-R RANDOM_PCT] [-s SEED]
 *           [-o PROBE_FILE] [-t SECONDS]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wl.h"

#define PROBE_FRAMES_MAX (200u * 3600u)         /* an hour at 5 ms */

typedef struct Frame {
        uint32_t t_ms;                          /* since the probe started */
        uint32_t lat_us;
} Frame;

typedef struct Probe {
        int fd;
        WlLog *log;                     /* the per-second lines, written off the frame loop */
        usec_t start;
        Frame *frames;
        size_t n;
        usec_t second_start;
        unsigned second_frames;
        uint32_t second_worst;
} Probe;

static volatile sig_atomic_t stop;

static void on_stop(int sig) {
        stop = sig;
}

static void probe_record(Probe *p, usec_t deadline, usec_t done) {
        uint32_t lat = (uint32_t) MIN(done - deadline, (usec_t) UINT32_MAX);

        if (p->n < PROBE_FRAMES_MAX)
                p->frames[p->n++] = (Frame) { (uint32_t) ((deadline - p->start) / USEC_PER_MSEC), lat };
        p->second_frames++;
        p->second_worst = MAX(p->second_worst, lat);
        if (done - p->second_start >= USEC_PER_SEC) {
                wl_log(p->log, 0, "%" PRIu64 " %u %" PRIu32 "\n", done / USEC_PER_MSEC, p->second_frames,
                       p->second_worst);
                p->second_start = done;
                p->second_frames = 0;
                p->second_worst = 0;
        }
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

        return x < y ? -1 : x > y;
}

/* The raw frames (absolute monotonic ms) and "S frames=N worst_us=N p99_us=N p50_us=N". */
static void probe_finish(Probe *p) {
        _cleanup_free_ uint32_t *lat = calloc(MAX(p->n, (size_t) 1), sizeof(uint32_t));
        _cleanup_fclose_ FILE *f = fdopen(p->fd, "a");
        uint64_t base_ms = p->start / USEC_PER_MSEC;

        (void) wl_log_stop(p->log);
        if (!f)
                return;
        /* one large write instead of one per frame: the file may sit on a slow 9p share */
        (void) setvbuf(f, NULL, _IOFBF, 1 << 20);
        for (size_t i = 0; i < p->n; i++) {
                fprintf(f, "F %" PRIu64 " %" PRIu32 "\n", base_ms + p->frames[i].t_ms, p->frames[i].lat_us);
                if (lat)
                        lat[i] = p->frames[i].lat_us;
        }
        if (!lat || p->n == 0) {
                fprintf(f, "S frames=0\n");
                return;
        }
        qsort(lat, p->n, sizeof(uint32_t), cmp_u32);
        fprintf(f, "S frames=%zu worst_us=%" PRIu32 " p99_us=%" PRIu32 " p50_us=%" PRIu32 "\n", p->n,
                lat[p->n - 1], lat[(p->n * 99) / 100], lat[p->n / 2]);
}

static void touch(uint8_t *mem, size_t npages, size_t first, size_t count) {
        for (size_t i = 0; i < count; i++) {
                volatile uint64_t *w = (uint64_t *) (mem + ((first + i) % npages) * WL_PAGE);
                w[2] = w[0] + w[1] + 1;
        }
}

static void usage(void) {
        fprintf(stderr, "usage: mgw-app [-n NAME] [-m MIB] [-p PERIOD_MS] [-w TOUCH_KIB] [-R RANDOM_PCT]\n"
                        "               [-s SEED] [-o PROBE_FILE] [-t SECONDS]\n");
        exit(2);
}

int main(int argc, char **argv) {
        uint64_t mib = 16, period_ms = 1000, touch_kib = 256, random_pct = 30, seed = 1, seconds = 0;
        const char *name = NULL, *probe_path = NULL;
        Probe probe = { .fd = -1 };
        size_t npages, ntouch, window = 0;
        uint8_t *mem;
        usec_t deadline, end;
        WlRng rng;
        int c;

        while ((c = getopt(argc, argv, "n:m:p:w:R:s:o:t:")) >= 0)
                switch (c) {
                case 'n': name = optarg; break;
                case 'm': mib = wl_opt_u64("mgw-app", c, optarg, 1, 1 << 16); break;
                case 'p': period_ms = wl_opt_u64("mgw-app", c, optarg, 1, 3600000); break;
                case 'w': touch_kib = wl_opt_u64("mgw-app", c, optarg, 4, 1 << 26); break;
                case 'R': random_pct = wl_opt_u64("mgw-app", c, optarg, 0, 100); break;
                case 's': seed = wl_opt_u64("mgw-app", c, optarg, 0, UINT64_MAX); break;
                case 'o': probe_path = optarg; break;
                case 't': seconds = wl_opt_u64("mgw-app", c, optarg, 0, 86400 * 7); break;
                default: usage();
                }
        if (optind != argc)
                usage();
        if (name)
                (void) wl_set_name(name);
        npages = mib * (WL_MIB / WL_PAGE);
        ntouch = MIN(touch_kib / 4, npages);
        mem = wl_map(npages * WL_PAGE);
        if (!mem) {
                fprintf(stderr, "mgw-app: cannot map %" PRIu64 " MiB: %m\n", mib);
                return 1;
        }
        wl_rng_seed(&rng, seed);
        for (size_t i = 0; i < npages; i++)
                wl_fill_page(mem + i * WL_PAGE, (unsigned) random_pct, &rng, i);

        if (probe_path) {
                probe.fd = open(probe_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                probe.frames = calloc(PROBE_FRAMES_MAX, sizeof(Frame));
                if (probe.fd < 0 || !probe.frames || wl_log_start(&probe.log, 512, dup(probe.fd), -1) < 0) {
                        fprintf(stderr, "mgw-app: cannot set up the probe file %s: %m\n", probe_path);
                        return 1;
                }
        }
        (void) signal(SIGINT, on_stop);

        deadline = probe.start = probe.second_start = wl_now();
        end = seconds ? deadline + seconds * USEC_PER_SEC : USEC_INFINITY;
        while (!stop && deadline < end) {
                deadline += period_ms * USEC_PER_MSEC;
                if (wl_sleep_until(deadline) < 0 && stop)
                        break;
                /* the probe's working set is fixed; an app's moves through its whole heap */
                touch(mem, npages, probe_path ? 0 : window, ntouch);
                window = (window + ntouch) % npages;
                if (probe_path)
                        probe_record(&probe, deadline, wl_now());
                /* after a long stall, skip the missed frames instead of bursting through them */
                if (wl_now() > deadline + period_ms * USEC_PER_MSEC)
                        deadline = wl_now();
        }
        if (probe_path)
                probe_finish(&probe);
        return 0;
}
