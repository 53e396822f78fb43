/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgw-sample: the benchmark's recorder, independent of every daemon under test. Every INTERVAL
 * ms it appends one CSV row: global and session-cgroup memory PSI (totals and avg10),
 * MemAvailable, swap in use, zram use, how many workload processes are stopped or frozen right
 * now, and the daemon's RSS and CPU time. It follows mgw-desktop's event file to learn the
 * workload's pids, and writes every freeze and thaw it sees (SIGSTOP state or a frozen cgroup)
 * to FROZEN_LOG, so "who was frozen" does not rest on the daemon's own word.
 *
 * It locks itself in memory and should run at oom_score_adj -1000: it must keep sampling while
 * the guest thrashes. Rows go through a ring to a writer thread, so a write that stalls (the
 * output is on a 9p share, and every allocation waits for reclaim under pressure) delays the
 * file, never the next sample. Stops on SIGTERM/SIGINT, or after -t seconds.
 *
 *   mgw-sample -o CSV [-i INTERVAL_MS] [-c SESSION_CGROUP_DIR] [-l LAUNCHER_EVENTS]
 *              [-f FROZEN_LOG] [-d DAEMON_PIDFILE] [-t SECONDS]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wl.h"

#define TRACK_MAX 1024

typedef struct Psi {
        double some10, full10;
        uint64_t some_us, full_us;
} Psi;

typedef struct Tracked {
        pid_t pid;
        char name[16];
        char how;                       /* 0 running, 's' stopped (SIGSTOP), 'c' cgroup frozen */
        bool gone;
} Tracked;

enum { OUT_CSV, OUT_FROZEN };

typedef struct Sampler {
        const char *cgroup, *launcher_events, *daemon_pidfile;
        WlLog *log;
        bool frozen_log;
        off_t events_off;
        Tracked t[TRACK_MAX];
        size_t n;
        long clk_tck;
} Sampler;

static volatile sig_atomic_t stop;

static void on_stop(int sig) {
        stop = sig;
}

static ssize_t read_small(const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return n;
}

/* A missing file (no PSI in a cgroup) leaves *p zeroed: the CSV says 0, the analysis knows why. */
static void read_psi(const char *path, Psi *p) {
        char buf[512];
        const char *full;

        *p = (Psi) {};
        if (read_small(path, buf, sizeof buf) <= 0)
                return;
        (void) sscanf(buf, "some avg10=%lf avg60=%*f avg300=%*f total=%" SCNu64, &p->some10, &p->some_us);
        full = strstr(buf, "full ");
        if (full)
                (void) sscanf(full, "full avg10=%lf avg60=%*f avg300=%*f total=%" SCNu64, &p->full10, &p->full_us);
}

static uint64_t field_kb(const char *buf, const char *key) {
        const char *p = strstr(buf, key);
        uint64_t v = 0;

        if (p)
                (void) sscanf(p + strlen(key), " %" SCNu64, &v);
        return v;
}

/* Learn new pids from the launcher's "T start PID UNIT NAME" and "T exit PID STATUS NAME" lines. */
static void follow_launcher(Sampler *s) {
        char buf[8192];
        _cleanup_close_ int fd = s->launcher_events ? open(s->launcher_events, O_RDONLY | O_CLOEXEC) : -1;
        ssize_t n;

        if (fd < 0 || (n = pread(fd, buf, sizeof buf - 1, s->events_off)) <= 0)
                return;
        buf[n] = '\0';
        for (char *line = buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
                int pid = 0, off = 0;
                char kind[8];

                *nl = '\0';
                s->events_off += nl - line + 1;
                if (sscanf(line, "%*u %7s %d %*s %n", kind, &pid, &off) < 2 || off == 0)
                        continue;
                if (!strcmp(kind, "start") && s->n < TRACK_MAX) {
                        s->t[s->n] = (Tracked) { .pid = pid };
                        (void) snprintf(s->t[s->n].name, sizeof s->t[s->n].name, "%s", line + off);
                        s->n++;
                } else if (!strcmp(kind, "exit"))
                        for (size_t k = 0; k < s->n; k++)
                                if (s->t[k].pid == pid)
                                        s->t[k].gone = true;
        }
}

/* 's' if the task is stopped, 'c' if its cgroup is frozen, 0 otherwise (or gone). */
static char frozen_how(pid_t pid) {
        char path[512], buf[1024], state = 0;
        const char *rp, *cg;

        (void) snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        if (read_small(path, buf, sizeof buf) <= 0 || !(rp = strrchr(buf, ')')))
                return 0;
        state = rp[2];
        if (state == 'T' || state == 't')
                return 's';
        (void) snprintf(path, sizeof path, "/proc/%d/cgroup", (int) pid);
        if (read_small(path, buf, sizeof buf) <= 0 || !(cg = strstr(buf, "0::/")))
                return 0;
        buf[strcspn(buf, "\n")] = '\0';
        (void) snprintf(path, sizeof path, "/sys/fs/cgroup%s/cgroup.events", cg + 3);
        if (read_small(path, buf, sizeof buf) <= 0)
                return 0;
        return strstr(buf, "frozen 1") ? 'c' : 0;
}

static unsigned track_frozen(Sampler *s, uint64_t now_ms) {
        unsigned frozen = 0;

        for (size_t k = 0; k < s->n; k++) {
                Tracked *t = &s->t[k];
                char how;

                if (t->gone)
                        continue;
                how = frozen_how(t->pid);
                if (how != t->how && s->frozen_log)
                        wl_log(s->log, OUT_FROZEN, "%" PRIu64 " %s %d %s %s\n", now_ms, how ? "frozen" : "thawed",
                               (int) t->pid, how == 'c' || t->how == 'c' ? "cgroup" : "sigstop", t->name);
                t->how = how;
                frozen += how != 0;
        }
        return frozen;
}

/* RSS, peak RSS and CPU ms of the daemon whose pid is in the pidfile; zeros if none. */
static void daemon_stats(const Sampler *s, uint64_t *rss, uint64_t *hwm, uint64_t *cpu_ms) {
        char path[64], buf[4096];
        unsigned long ut = 0, st = 0;
        const char *rp;
        int pid = 0;

        *rss = *hwm = *cpu_ms = 0;
        if (!s->daemon_pidfile || read_small(s->daemon_pidfile, buf, sizeof buf) <= 0 ||
            sscanf(buf, "%d", &pid) != 1 || pid <= 0)
                return;
        (void) snprintf(path, sizeof path, "/proc/%d/status", pid);
        if (read_small(path, buf, sizeof buf) > 0) {
                *rss = field_kb(buf, "VmRSS:");
                *hwm = field_kb(buf, "VmHWM:");
        }
        (void) snprintf(path, sizeof path, "/proc/%d/stat", pid);
        if (read_small(path, buf, sizeof buf) > 0 && (rp = strrchr(buf, ')')) &&
            sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
                *cpu_ms = (uint64_t) (ut + st) * 1000 / (uint64_t) s->clk_tck;
}

static void sample(Sampler *s) {
        char buf[4096], path[512];
        uint64_t now = wl_now_ms(), avail, swap_used, zorig = 0, zused = 0, rss, hwm, cpu;
        Psi g, c = {};
        unsigned frozen;

        read_psi("/proc/pressure/memory", &g);
        if (s->cgroup) {
                (void) snprintf(path, sizeof path, "%s/memory.pressure", s->cgroup);
                read_psi(path, &c);
        }
        buf[0] = '\0';
        (void) read_small("/proc/meminfo", buf, sizeof buf);
        avail = field_kb(buf, "MemAvailable:");
        swap_used = field_kb(buf, "SwapTotal:") - field_kb(buf, "SwapFree:");
        if (read_small("/sys/block/zram0/mm_stat", buf, sizeof buf) > 0)
                (void) sscanf(buf, "%" SCNu64 " %*u %" SCNu64, &zorig, &zused);
        follow_launcher(s);
        frozen = track_frozen(s, now);
        daemon_stats(s, &rss, &hwm, &cpu);
        wl_log(s->log, OUT_CSV, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.2f,%.2f,%" PRIu64 ",%" PRIu64 ",%.2f,%" PRIu64
             ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
             now, g.some_us, g.full_us, g.some10, g.full10, c.some_us, c.full_us, c.some10, avail,
             swap_used, zorig / 1024, zused / 1024, frozen, rss, hwm, cpu);
}

static int open_out(const char *path) {
        return path ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
}

static void usage(void) {
        fprintf(stderr, "usage: mgw-sample -o CSV [-i INTERVAL_MS] [-c SESSION_CGROUP_DIR] [-l LAUNCHER_EVENTS]\n"
                        "                  [-f FROZEN_LOG] [-d DAEMON_PIDFILE] [-t SECONDS]\n");
        exit(2);
}

int main(int argc, char **argv) {
        static Sampler s;
        const char *out = NULL, *frozen = NULL;
        int fd_csv, fd_frozen;
        uint64_t dropped;
        uint64_t interval_ms = 250, seconds = 0;
        usec_t next, end;
        int c;

        while ((c = getopt(argc, argv, "o:i:c:l:f:d:t:")) >= 0)
                switch (c) {
                case 'o': out = optarg; break;
                case 'i': interval_ms = wl_opt_u64("mgw-sample", c, optarg, 10, 60000); break;
                case 'c': s.cgroup = optarg; break;
                case 'l': s.launcher_events = optarg; break;
                case 'f': frozen = optarg; break;
                case 'd': s.daemon_pidfile = optarg; break;
                case 't': seconds = wl_opt_u64("mgw-sample", c, optarg, 1, 86400 * 7); break;
                default: usage();
                }
        if (!out || optind != argc)
                usage();
        s.clk_tck = sysconf(_SC_CLK_TCK);
        s.frozen_log = frozen;
        fd_csv = open_out(out);
        fd_frozen = open_out(frozen);
        if (fd_csv < 0 || (frozen && fd_frozen < 0)) {
                fprintf(stderr, "mgw-sample: cannot open %s: %m\n", fd_csv < 0 ? out : frozen);
                return 1;
        }
        /* an instrument that swaps out measures its own stalls: stay resident (root in the guest) */
        if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
                fprintf(stderr, "mgw-sample: mlockall: %m (sampling anyway)\n");
        (void) signal(SIGTERM, on_stop);
        (void) signal(SIGINT, on_stop);
        /* over half an hour of rows at 4 per second, should the writes stall that long */
        if (wl_log_start(&s.log, 8192, fd_csv, fd_frozen) < 0) {
                fprintf(stderr, "mgw-sample: cannot start the writer thread\n");
                return 1;
        }
        wl_log(s.log, OUT_CSV, "t_ms,some_us,full_us,some10,full10,cg_some_us,cg_full_us,cg_some10,memavail_kb,"
                               "swapused_kb,zram_orig_kb,zram_used_kb,frozen,daemon_rss_kb,daemon_hwm_kb,daemon_cpu_ms\n");
        next = wl_now();
        end = seconds ? next + seconds * USEC_PER_SEC : USEC_INFINITY;
        while (!stop && wl_now() < end) {
                sample(&s);
                next += interval_ms * USEC_PER_MSEC;
                if (next < wl_now())
                        next = wl_now();
                (void) wl_sleep_until(next);
        }
        sample(&s);
        dropped = wl_log_stop(s.log);
        if (dropped > 0)
                fprintf(stderr, "mgw-sample: %" PRIu64 " rows lost: the writer was stuck\n", dropped);
        return 0;
}
