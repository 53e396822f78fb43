/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bench-scan: CPU cost of the process scan. Spawns N idle children (comm "mgd-bench-kid") in a
 * cgroup of their own, scans /proc R times with a filter that matches them, and reports the CPU
 * time (user + sys of this process) per scan: warm cached scans (what the daemon runs every
 * tick), the cold first cached scan, and the uncached proc_scan().
 *
 *   bench-scan [-n N] [-r R] [-x]
 *
 * -x also reads exe and cmdline (what the daemon does when a rule matches on them).
 *
 * If this process already sits in a unified cgroup other than "/", its leaf component is the
 * session pattern (anything else in that cgroup is counted too). Otherwise it creates
 * <cgroup2>/mgd-bench-PID, forks the children inside it and removes it at the end.
 * Exit status: 0 ok, 1 failure (including "not every child was found").
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/procscan.h"

#define KID_COMM "mgd-bench-kid"

typedef struct Bench {
        unsigned n_kids, rounds;
        bool want_names;
        pid_t *kids;
        size_t n_spawned;
        char pattern[64];
        char own_cgroup[PROC_CGROUP_MAX];
        char cg_dir[256];               /* created by us, or "" */
        const char *cg_root;
} Bench;

static double cpu_ms(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int write_str(const char *path, const char *s) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        if (write(fd, s, strlen(s)) < 0)
                return -errno;
        return 0;
}

/* Move this process into cgroup dir (relative to the cgroup2 mount). */
static int move_self(const Bench *b, const char *dir) {
        char path[PATH_MAX], pid[16];

        (void) snprintf(path, sizeof path, "%s%s/cgroup.procs", b->cg_root, dir);
        (void) snprintf(pid, sizeof pid, "%d", (int) getpid());
        return write_str(path, pid);
}

static int setup_cgroup(Bench *b) {
        ProcCgroup cg;
        const char *leaf;
        int r;

        r = proc_cgroup_read("/proc", getpid(), &cg);
        if (r < 0)
                return fprintf(stderr, "Failed to read /proc/self/cgroup: %s\n", strerror(-r)), r;
        if (!cg.has_unified)
                return fprintf(stderr, "No unified cgroup line in /proc/self/cgroup\n"), -ENOENT;
        strcpy(b->own_cgroup, cg.unified);
        leaf = strrchr(cg.unified, '/') + 1;
        if (*leaf) {
                (void) snprintf(b->pattern, sizeof b->pattern, "%s", leaf);
                return 0;
        }
        b->cg_root = access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) == 0 ? "/sys/fs/cgroup/unified"
                                                                                : "/sys/fs/cgroup";
        (void) snprintf(b->pattern, sizeof b->pattern, "mgd-bench-%d", (int) getpid());
        (void) snprintf(b->cg_dir, sizeof b->cg_dir, "%s/%s", b->cg_root, b->pattern);
        if (mkdir(b->cg_dir, 0755) < 0) {
                r = -errno;
                b->cg_dir[0] = '\0';
                return fprintf(stderr, "Failed to create a cgroup: %s\n", strerror(-r)), r;
        }
        return 0;
}

static _noreturn_ void kid(int ready_fd) {
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        (void) prctl(PR_SET_NAME, KID_COMM);
        (void) write(ready_fd, "x", 1);
        (void) close(ready_fd);
        for (;;)
                pause();
}

/* Fork the children (inside our cgroup if we made one) and wait until each has its comm. */
static int spawn_kids(Bench *b) {
        int p[2], r;
        char c;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        if (b->cg_dir[0] && (r = move_self(b, strrchr(b->cg_dir, '/'))) < 0)
                return fprintf(stderr, "Failed to join %s: %s\n", b->cg_dir, strerror(-r)), r;
        for (; b->n_spawned < b->n_kids; b->n_spawned++) {
                pid_t pid = fork();

                if (pid < 0)
                        break;
                if (pid == 0) {
                        (void) close(p[0]);
                        kid(p[1]);
                }
                b->kids[b->n_spawned] = pid;
        }
        r = b->n_spawned < b->n_kids ? -errno : 0;
        /* Back where we came from: the bench itself is not among what it measures. */
        if (b->cg_dir[0])
                (void) move_self(b, b->own_cgroup);
        (void) close(p[1]);
        for (size_t i = 0; i < b->n_spawned; i++)
                if (read(p[0], &c, 1) != 1)
                        r = -EIO;
        (void) close(p[0]);
        return r;
}

static void reap_kids(Bench *b) {
        for (size_t i = 0; i < b->n_spawned; i++)
                (void) kill(b->kids[i], SIGKILL);
        for (size_t i = 0; i < b->n_spawned; i++)
                (void) waitpid(b->kids[i], NULL, 0);
        b->n_spawned = 0;
        /* The last exiting task may leave the cgroup a moment after it is reaped. */
        for (int i = 0; b->cg_dir[0] && i < 100; i++) {
                if (rmdir(b->cg_dir) == 0 || errno != EBUSY)
                        break;
                (void) usleep(10000);
        }
}

static size_t rlimit_fds(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 0;
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
        (void) getrlimit(RLIMIT_NOFILE, &rl);
        return rl.rlim_cur > 128 ? (size_t) rl.rlim_cur - 128 : 0;
}

static void report(const char *what, size_t matched, double ms_per_scan) {
        printf("%s: %zu processes matched, %.2f ms CPU per scan, %.2f ms per 1000 processes\n", what,
               matched, ms_per_scan, matched ? ms_per_scan * 1000.0 / (double) matched : 0.0);
}

/* Every child must be found, with its comm. */
static int check_found(const Bench *b, const ProcEntry *out, size_t n) {
        size_t found = 0;

        for (size_t i = 0; i < n; i++)
                if (strcmp(out[i].cand.name, KID_COMM) == 0)
                        found++;
        if (found != b->n_spawned) {
                fprintf(stderr, "Found %zu of %zu children\n", found, b->n_spawned);
                return -ESRCH;
        }
        return 0;
}

typedef struct Runs {
        double warm_ms, warm_median_ms, cold_ms, uncached_ms;
        size_t matched, max_fds;
} Runs;

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return (x > y) - (x < y);
}

/* R warm cached scans, each timed on its own: the mean is the figure, the median shows noise. */
static int warm_scans(const Bench *b, ScanCache *cache, const ScanFilter *f, ProcEntry *out,
                      size_t max, Runs *ret) {
        _cleanup_free_ double *t = calloc(b->rounds, sizeof *t);
        size_t n = 0, total = 0;
        double sum = 0;
        int r = 0;

        if (!t)
                return -ENOMEM;
        for (unsigned i = 0; r >= 0 && i < b->rounds; i++) {
                double t0 = cpu_ms();

                r = proc_scan_cached(cache, "/proc", f, out, max, &n, &total);
                t[i] = cpu_ms() - t0;
                sum += t[i];
        }
        if (r < 0)
                return r;
        qsort(t, b->rounds, sizeof *t, cmp_double);
        ret->warm_ms = sum / b->rounds;
        ret->warm_median_ms = t[b->rounds / 2];
        ret->matched = total;
        return check_found(b, out, n);
}

static int run_scans(const Bench *b, const ScanFilter *f, ProcEntry *out, size_t max, Runs *ret) {
        ScanCache *cache = NULL;
        size_t n = 0, total = 0;
        double t0;
        int r;

        ret->max_fds = MIN(rlimit_fds(), 2 * max + 64);
        r = scan_cache_new(ret->max_fds, &cache);
        if (r < 0)
                return r;
        t0 = cpu_ms();
        r = proc_scan_cached(cache, "/proc", f, out, max, &n, &total);
        ret->cold_ms = cpu_ms() - t0;
        if (r >= 0)
                r = check_found(b, out, n);
        if (r >= 0)
                r = warm_scans(b, cache, f, out, max, ret);
        cache = scan_cache_free(cache);
        t0 = cpu_ms();
        for (unsigned i = 0; r >= 0 && i < b->rounds; i++)
                r = proc_scan("/proc", f, out, max, &n, &total);
        ret->uncached_ms = (cpu_ms() - t0) / b->rounds;
        if (r >= 0)
                r = check_found(b, out, n);
        return r;
}

static int parse_args(int argc, char **argv, Bench *b) {
        int c;

        while ((c = getopt(argc, argv, "n:r:xh")) >= 0) {
                char *end;
                unsigned long v;

                if (c == 'x') {
                        b->want_names = true;
                        continue;
                }
                if (c != 'n' && c != 'r') {
                        fprintf(stderr, "Usage: %s [-n PROCESSES] [-r ROUNDS] [-x]\n", argv[0]);
                        return c == 'h' ? 0 : -EINVAL;
                }
                errno = 0;
                v = strtoul(optarg, &end, 10);
                if (errno || *end || end == optarg || v == 0 || v > 100000 || optarg[0] == '-')
                        return fprintf(stderr, "Bad number for -%c: %s\n", c, optarg), -EINVAL;
                if (c == 'n')
                        b->n_kids = (unsigned) v;
                else
                        b->rounds = (unsigned) v;
        }
        return 1;
}

int main(int argc, char **argv) {
        Bench b = { .n_kids = 1000, .rounds = 50, .cg_root = "" };
        _cleanup_free_ ProcEntry *out = NULL;
        ScanFilter f;
        struct rusage ru;
        Runs runs = {};
        size_t max;
        int r;

        r = parse_args(argc, argv, &b);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        max = b.n_kids + 1024;
        b.kids = calloc(b.n_kids, sizeof *b.kids);
        out = calloc(max, sizeof *out);
        if (!b.kids || !out)
                return fprintf(stderr, "Out of memory\n"), EXIT_FAILURE;
        r = setup_cgroup(&b);
        if (r >= 0)
                r = spawn_kids(&b);
        if (r >= 0) {
                scan_filter_default(&f, getuid(), getpid());
                f.session[0] = b.pattern;
                f.n_session = 1;
                f.want_exe = f.want_cmdline = b.want_names;
                r = run_scans(&b, &f, out, max, &runs);
        }
        reap_kids(&b);
        free(b.kids);
        if (r < 0)
                return fprintf(stderr, "bench-scan failed: %s\n", strerror(-r)), EXIT_FAILURE;
        (void) getrusage(RUSAGE_SELF, &ru);
        printf("%u children in %s, %u scans each, cache holding up to %zu fds%s\n", b.n_kids, b.pattern,
               b.rounds, runs.max_fds, b.want_names ? ", with exe and cmdline" : "");
        report("scan", runs.matched, runs.warm_ms);
        report("scan (median)", runs.matched, runs.warm_median_ms);
        report("scan (first, cold cache)", runs.matched, runs.cold_ms);
        report("scan (uncached proc_scan)", runs.matched, runs.uncached_ms);
        printf("rusage of the whole run: user %.2f s, sys %.2f s\n",
               (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6,
               (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6);
        return EXIT_SUCCESS;
}
