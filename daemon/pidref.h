/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Pinned process handles and the actions that need no event loop: pin, signal, freeze and thaw.
 * This is the part of the executor that mgd-thaw and the registry's recovery share; it links
 * libmgcommon only (no libsystemd), so the standalone mgd-thaw stays small.
 *
 * Identity is pid + starttime (/proc/PID/stat field 22). A PidRef is only ever made by
 * pidref_pin(): it opens a pidfd FIRST and reads the starttime AFTER, so a pid that was recycled
 * before the open shows a different starttime and is refused, and one that is recycled after it
 * can never be signalled, because the pidfd keeps naming the old (dead) process. Every signal
 * goes through pidfd_send_signal(); nothing here calls kill(2) with a numeric pid.
 *
 * All functions return 0 (or a documented positive value) or -errno. On failure, the optional
 * ret_what names the step that failed ("pidfd_open", "starttime mismatch (pid recycled)", ...)
 * so the caller can log "pid N: <what>: <errno>" without this code logging anything.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/readers.h"
#include "policy/policy.h"

/* Where the kernel's interfaces live; tests point proc at fixtures, the daemon detects cgroup2. */
typedef struct ProcRoots {
        const char *proc;               /* "/proc" */
        const char *cgroup2;            /* the cgroup2 mount, or NULL: never use cgroup.freeze */
} ProcRoots;

typedef struct PidRef {
        pid_t pid;
        uint64_t starttime;
        int fd;                         /* the pidfd, -1 when not pinned */
} PidRef;

#define PIDREF_NULL ((PidRef) { .pid = 0, .starttime = 0, .fd = -1 })

/*
 * Pin pid if it is still the process that started at starttime. -ESRCH when it is gone, a
 * zombie, or a different process now holds the pid (nothing is signalled in that case).
 */
int pidref_pin(const char *proc_root, pid_t pid, uint64_t starttime, PidRef *ret, const char **ret_what);
/* Close the pidfd; safe on PIDREF_NULL and on an already released ref. */
void pidref_done(PidRef *p);
/* pidfd_send_signal(); sig 0 checks that the pinned process still holds its pid (alive or zombie). */
int pidref_signal(const PidRef *p, int sig);

typedef struct FreezeInfo {
        FreezeMethod method;            /* FREEZE_CGROUP or FREEZE_SIGSTOP */
        /* cgroup: "frozen 1" was seen in cgroup.events within FREEZE_SETTLE_USEC. A freeze that
         * has not settled yet is still in force: the kernel finishes it when the task leaves
         * the kernel (e.g. an uninterruptible sleep). SIGSTOP: always true (not observed). */
        bool settled;
        char cgroup[PROC_CGROUP_MAX];   /* the unified path that was frozen ("" for SIGSTOP) */
} FreezeInfo;

/* The longest the cgroup freeze waits for "frozen 1": the event loop must not stall longer. */
#define FREEZE_SETTLE_USEC (4 * USEC_PER_MSEC)

/*
 * Freeze a pinned process. cgroup v2 freezer when the process is alone in an app scope whose
 * cgroup.freeze mgd may write (see cgroup_leaf_is_app_scope()), SIGSTOP otherwise. "Alone" is
 * checked just before the write: a child the app forks in between is frozen with it, which is
 * what freezing that app means anyway (the thaw releases both).
 * -EALREADY when it is already stopped (job control, a debugger) or its cgroup is already
 * frozen by someone else: mgd must not take over, and later resume, a stop that is not its own.
 */
/*
 * Called with the method (and cgroup) about to be used, just before the kernel is asked to stop
 * the process, and again if a refused cgroup write falls back to SIGSTOP: the caller's write-ahead
 * record. A negative return aborts the freeze (nothing was stopped) and is returned.
 */
typedef int (*FreezeAheadFn)(const FreezeInfo *planned, void *userdata);

int pidref_freeze(const ProcRoots *roots, const PidRef *p, FreezeAheadFn ahead, void *userdata, FreezeInfo *ret,
                  const char **ret_what);
/*
 * Undo pidref_freeze(): SIGCONT, or cgroup.freeze = 0 on `cgroup`, but only while the process
 * is still in that cgroup (-ENOENT when the cgroup is gone, is not an app scope or no longer
 * holds the process: leaving a frozen cgroup thaws a task anyway, and a cgroup that is not ours
 * is never touched). Re-validated first, whatever the record says: -ESRCH unless the process's
 * real and effective uid are still getuid() and, for SIGSTOP, it is still stopped ('T').
 */
int pidref_thaw(const ProcRoots *roots, const PidRef *p, FreezeMethod method, const char *cgroup,
                const char **ret_what);

/* ---- cgroup2 helpers ---- */

/*
 * The cgroup2 mount point from /proc/self/mountinfo text: a "cgroup2" mount of the hierarchy's
 * root ("/"), preferring /sys/fs/cgroup, then /sys/fs/cgroup/unified (hybrid hosts), then the
 * first one listed. -ENOMEDIUM when there is none, -EINVAL for a malformed line, -ENAMETOOLONG
 * if it does not fit.
 */
int cgroup2_root_from_mountinfo(const char *text, char *buf, size_t size);
/* The same for this system: mountinfo first, then statfs() of the two usual places. */
int cgroup2_root_detect(char *buf, size_t size);

/* An absolute cgroup path with no empty, "." or ".." component and no control characters. */
bool cgroup_path_is_valid(const char *path);
/*
 * Whether the leaf looks like one application's own scope: "app-*.scope", the name systemd and
 * the desktops give a launched application (app-<launcher>-<app id>-<random>.scope). Not every
 * *.scope: init.scope holds the user manager itself and session-N.scope a login session, and
 * freezing those through the cgroup would freeze far more than one application.
 */
bool cgroup_leaf_is_app_scope(const char *path);
/* 1 if <root><path>/cgroup.events says "frozen 1", 0 if "frozen 0", -errno otherwise. */
int cgroup_frozen(const char *cgroup2_root, const char *path);
