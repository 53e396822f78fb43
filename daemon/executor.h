/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * The executor: the only code in mgd that signals processes. It acts on an identity (pid +
 * starttime) that it pins with a pidfd before every action (see daemon/pidref.h), so a pid that
 * was recycled since the scan is refused with -ESRCH and never signalled.
 *
 * Freeze and thaw are synchronous. Terminate and kill are asynchronous: the pidfd is watched in
 * the sd_event loop (it turns readable when the process exits) and the grace period is a timer;
 * nothing sleeps. Their completion is reported through a callback so the daemon can wait for
 * MemAvailable to move before it picks the next victim.
 *
 * Nothing here allocates after executor_new(): the in-flight table and its event sources are
 * made up front, and a slot's sources are re-pointed at each new pidfd. Nothing logs either:
 * errors come back as -errno plus a static description of the failed step, and the daemon logs.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "common/macro.h"
#include "daemon/pidref.h"
#include "policy/policy.h"

#define EXEC_INFLIGHT_MAX 64
#define EXEC_TERM_GRACE_DEFAULT_USEC (3 * USEC_PER_SEC)
/* After SIGKILL, how long to wait for the exit before reporting the process as stuck. */
#define EXEC_KILL_WAIT_USEC (5 * USEC_PER_SEC)

typedef struct Executor Executor;

/* The last synchronous failure, for the caller's log line ("pid N: <what>: <strerror>"). */
typedef struct ExecError {
        pid_t pid;
        const char *what;               /* static string, never NULL after a failure */
        int error;                      /* -errno */
} ExecError;

typedef struct ExecResult {
        pid_t pid;
        uint64_t starttime;
        Action action;                  /* ACTION_TERMINATE or ACTION_KILL */
        bool exited;                    /* the pidfd reported the exit */
        bool killed;                    /* SIGKILL was sent (kill, or terminate past its grace) */
        usec_t elapsed;                 /* first signal -> exit seen (or -> giving up) */
        int error;                      /* 0; -ETIMEDOUT: still alive EXEC_KILL_WAIT_USEC after SIGKILL */
        const char *what;               /* the failed step when error != 0 */
        /*
         * process_mrelease() after SIGKILL: 0, or -errno. The tolerated failures (ENOSYS: old
         * kernel; EINVAL: the mm is shared or not yet exiting) are reported once per executor, so
         * the daemon logs them once; after ENOSYS the call is not tried again.
         */
        int mrelease_error;
} ExecResult;

typedef void (*ExecDoneFn)(Executor *x, const ExecResult *result, void *userdata);

/*
 * proc_root: "/proc" (or a fixture). cgroup2_root: the cgroup2 mount (cgroup2_root_detect()), or
 * NULL to always freeze with SIGSTOP. term_grace: SIGTERM -> SIGKILL delay, > 0.
 */
int executor_new(sd_event *e, const char *proc_root, const char *cgroup2_root, usec_t term_grace,
                 Executor **ret);
/* Drops in-flight actions without calling their callbacks (shutdown). Returns NULL. */
Executor *executor_free(Executor *x);
static inline void executor_freep(Executor **x) {
        if (*x)
                *x = executor_free(*x);
}
#define _cleanup_executor_ _cleanup_(executor_freep)

const ProcRoots *executor_roots(const Executor *x);
const ExecError *executor_last_error(const Executor *x);

/* A pidfd for pid if it still is the process that started at starttime (caller closes it). */
int executor_pin(Executor *x, pid_t pid, uint64_t starttime, int *ret_pidfd);

/* -EBUSY while a terminate or kill of the same pid is in flight; otherwise pidref_freeze(). */
int executor_freeze(Executor *x, pid_t pid, uint64_t starttime, FreezeInfo *ret);
/* The same with a write-ahead hook (pidref_freeze()). */
int executor_freeze_ahead(Executor *x, pid_t pid, uint64_t starttime, FreezeAheadFn ahead, void *userdata,
                          FreezeInfo *ret);
/* pidref_thaw() on a freshly pinned identity: -ESRCH when the process is gone or recycled. */
int executor_thaw(Executor *x, pid_t pid, uint64_t starttime, FreezeMethod method, const char *cgroup);

/*
 * SIGTERM now (then SIGCONT, so a SIGSTOPped process can run its handler), SIGKILL (+
 * process_mrelease) if it has not exited after the grace period. A cgroup-frozen process cannot
 * handle SIGTERM until it is thawed: thaw it first for a graceful end (SIGKILL ends it anyway). On 0
 * the callback runs exactly once, from the event loop, after the slot is released (so it may
 * start the next action). -EBUSY when EXEC_INFLIGHT_MAX actions are in flight, -EALREADY when
 * this pid already is. -ESRCH for a gone or recycled pid: no signal was sent, no callback.
 */
int executor_terminate(Executor *x, pid_t pid, uint64_t starttime, ExecDoneFn cb, void *userdata);
/* SIGKILL + process_mrelease now; otherwise as executor_terminate(). */
int executor_kill(Executor *x, pid_t pid, uint64_t starttime, ExecDoneFn cb, void *userdata);

/* Destructive actions in flight (the daemon picks no new victim while any is). */
unsigned executor_in_flight(const Executor *x);
bool executor_busy(const Executor *x);
bool executor_pid_in_flight(const Executor *x, pid_t pid);
