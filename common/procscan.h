/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * The process scan: which processes mgd may manage. Kept here, not in policy/, because it reads
 * /proc; what it produces is the policy's Candidate (plus the cgroup path the executor needs).
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/readers.h"
#include "policy/policy.h"

#define SCAN_SESSION_PATTERNS_MAX 4

typedef struct ScanFilter {
        uid_t uid;                      /* only this owner */
        pid_t self;                     /* never mgd itself (nor its helpers: exclude_ppid) */
        pid_t exclude_ppid;             /* children of mgd (helpers); 0 = none */
        /*
         * A process is in the session when its unified cgroup path contains one of these
         * components, e.g. "user@1000.service" and "user-1000.slice" (the defaults). Tests
         * point this at their own scope.
         */
        const char *session[SCAN_SESSION_PATTERNS_MAX];
        size_t n_session;
        char session_buf[SCAN_SESSION_PATTERNS_MAX][64];  /* storage for scan_filter_default() */
        bool want_cmdline;              /* a rule matches on the command line */
        bool want_exe;                  /* a rule matches on the exe basename */
        bool want_gpu;                  /* read DRM fdinfo (costly: only at >= Elevated) */
} ScanFilter;

typedef struct ProcEntry {
        Candidate cand;                 /* pid, starttime, name, exe, cmdline, rss, swap, gpu, oom_score_adj */
        char state;
        uint64_t majflt;
        uint64_t cpu_ticks;             /* utime + stime */
        char cgroup[PROC_CGROUP_MAX];   /* unified path ("" when the process has none) */
        int gpu_err;                    /* 0, or why gpu_kb is 0 although want_gpu (-EACCES...) */
} ProcEntry;

/*
 * Fill the default session patterns for uid (the strings live in f's own session_buf, so a
 * copied ScanFilter still points at the original's: fill the copy again instead).
 */
void scan_filter_default(ScanFilter *f, uid_t uid, pid_t self);

/* Whether one of f's session patterns is a whole component of the cgroup path. */
bool scan_cgroup_in_session(const char *path, const ScanFilter *f);

/*
 * Scan proc_root. Skips kernel threads (PF_KTHREAD or no mm), zombies and dead tasks, processes
 * whose real or effective uid is not f->uid (a setuid program is not the user's), processes
 * outside the session, self and children of exclude_ppid. A process that vanishes mid-read
 * (ENOENT/ESRCH), or whose files are malformed or unreadable, is skipped; only ENOMEM, EMFILE and
 * ENFILE end the scan, since every later process would fail the same way. rss_kb comes from stat
 * (the VmRSS counter, in pages), swap_kb from status. Entries come in pid order. Writes at most
 * max entries; *ret_n is the number written, *ret_total (optional) how many matched (may exceed
 * max). -EINVAL for a filter without session patterns or with a pattern that is empty or has '/'.
 */
int proc_scan(const char *proc_root, const ScanFilter *f, ProcEntry *out, size_t max,
              size_t *ret_n, size_t *ret_total);

/*
 * The same scan, for a daemon that scans every tick. Opening a /proc file costs more than
 * reading it, and /proc/PID/status costs more to generate than stat, so the cache keeps, per
 * process (pid + starttime):
 *  - /proc/PID/stat and status open between scans, re-read with pread(): two fds per process,
 *    at most max_fds in all (0 = none; size it from RLIMIT_NOFILE). Each open /proc file pins
 *    its seq_file buffer, about a page of kernel memory;
 *  - the slow facts: uid, swap, oom_score_adj, the unified cgroup path, exe, cmdline.
 * stat is read on every scan, so state, ppid, faults, cpu time, rss and comm are always fresh.
 * status (uid, swap) is re-read whenever that process's rss, minflt or majflt moved since the
 * previous scan: swap cannot change without one of them moving, except for memory unmapped while
 * swapped out. Everything is re-read when comm changes (exec) and in any case every
 * SCAN_CACHE_REFRESH_SCANS scans (staggered by pid). So the uid, oom_score_adj, cgroup path, exe
 * and cmdline of a process that changes them without touching its memory lag by up to that many
 * scans: re-read the cgroup (proc_cgroup_read()) before acting on it. A recycled pid is a new
 * entry. The cache belongs to one thread and one proc_root (another root flushes it).
 */
#define SCAN_CACHE_REFRESH_SCANS 20

typedef struct ScanCache ScanCache;

int scan_cache_new(size_t max_fds, ScanCache **ret);
ScanCache *scan_cache_free(ScanCache *c);
int proc_scan_cached(ScanCache *c, const char *proc_root, const ScanFilter *f, ProcEntry *out,
                     size_t max, size_t *ret_n, size_t *ret_total);
