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
} ProcEntry;

/* Fill the default session patterns for uid (the strings live in f's own static storage). */
void scan_filter_default(ScanFilter *f, uid_t uid, pid_t self);

/*
 * Scan proc_root. Skips kernel threads, zombies, other owners, processes outside the session
 * and self; a process that vanishes mid-read is skipped silently. Writes at most max entries;
 * *ret_n is the number written, *ret_total (optional) how many matched (may exceed max).
 */
int proc_scan(const char *proc_root, const ScanFilter *f, ProcEntry *out, size_t max,
              size_t *ret_n, size_t *ret_total);
