/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "common/macro.h"
#include "daemon/executor.h"

/* Syscalls numbered 424 and up are the same on every architecture but alpha. */
#ifndef __NR_process_mrelease
#define __NR_process_mrelease 448
#endif

typedef struct ExecSlot {
        Executor *x;
        bool used;
        PidRef ref;
        Action action;
        bool killed;
        usec_t started;
        int mrelease_error;
        /* Made once in executor_new() and re-pointed at each pidfd: no allocation per action. */
        sd_event_source *io;
        sd_event_source *timer;
        ExecDoneFn cb;
        void *userdata;
} ExecSlot;

struct Executor {
        sd_event *event;
        char proc_root[PATH_MAX];
        char cgroup2_root[PATH_MAX];
        ProcRoots roots;
        usec_t term_grace;
        unsigned n_busy;
        bool mrelease_enosys;           /* the kernel has no process_mrelease(): stop trying */
        bool mrelease_reported;         /* a tolerated failure was reported once already */
        ExecError last_error;
        ExecSlot slots[EXEC_INFLIGHT_MAX];
};

static usec_t now_monotonic(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

static int exec_fail(Executor *x, pid_t pid, int error, const char *what) {
        x->last_error = (ExecError) { .pid = pid, .what = what ? what : "unknown step", .error = error };
        return error;
}

static int on_pidfd(sd_event_source *src, int fd, uint32_t revents, void *userdata);
static int on_timer(sd_event_source *src, uint64_t usec, void *userdata);

static int slot_sources_new(Executor *x, ExecSlot *s, int placeholder_fd) {
        int r;

        /* sd_event_add_io() needs some pollable fd; each slot gets its pidfd at use time. */
        r = sd_event_add_io(x->event, &s->io, placeholder_fd, EPOLLIN, on_pidfd, s);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(s->io, SD_EVENT_OFF);
        if (r < 0)
                return r;
        /* 1 ms accuracy: the default (250 ms) would stretch a short grace period. */
        r = sd_event_add_time(x->event, &s->timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_timer, s);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
}

static int on_warmup(sd_event_source *src, void *userdata) {
        return 0;
}

/*
 * sd-event keeps its pending sources in a queue that grows on demand and never shrinks. A defer
 * source is pending from birth, so adding `n` of them (and dropping them again before the loop
 * runs) grows that queue now, at start-up, instead of on the first burst of exits under pressure.
 */
static int event_grow_pending_queue(sd_event *e, size_t n) {
        sd_event_source *tmp[2 * EXEC_INFLIGHT_MAX] = {};
        int r = 0;

        n = MIN(n, ELEMENTSOF(tmp));
        for (size_t i = 0; i < n && r >= 0; i++)
                r = sd_event_add_defer(e, &tmp[i], on_warmup, NULL);
        for (size_t i = 0; i < n; i++)
                tmp[i] = sd_event_source_unref(tmp[i]);
        return r < 0 ? r : 0;
}

int executor_new(sd_event *e, const char *proc_root, const char *cgroup2_root, usec_t term_grace,
                 Executor **ret) {
        _cleanup_executor_ Executor *x = NULL;
        _cleanup_close_ int placeholder = -1;
        int r;

        if (!e || !proc_root || !ret || term_grace == 0)
                return -EINVAL;
        if (strlen(proc_root) >= PATH_MAX || (cgroup2_root && strlen(cgroup2_root) >= PATH_MAX))
                return -ENAMETOOLONG;

        x = calloc(1, sizeof(*x));
        if (!x)
                return -ENOMEM;
        x->event = sd_event_ref(e);
        strcpy(x->proc_root, proc_root);
        if (cgroup2_root)
                strcpy(x->cgroup2_root, cgroup2_root);
        x->roots = (ProcRoots) { .proc = x->proc_root, .cgroup2 = cgroup2_root ? x->cgroup2_root : NULL };
        x->term_grace = term_grace;
        for (size_t i = 0; i < EXEC_INFLIGHT_MAX; i++)
                x->slots[i] = (ExecSlot) { .x = x, .ref = PIDREF_NULL };

        placeholder = eventfd(0, EFD_CLOEXEC);
        if (placeholder < 0)
                return -errno;
        for (size_t i = 0; i < EXEC_INFLIGHT_MAX; i++) {
                r = slot_sources_new(x, &x->slots[i], placeholder);
                if (r < 0)
                        return r;
        }
        r = event_grow_pending_queue(e, 2 * EXEC_INFLIGHT_MAX);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(x);
        return 0;
}

static void slot_release(ExecSlot *s) {
        if (!s->used)
                return;
        /* Off first (which takes the pidfd out of epoll), then close it. */
        (void) sd_event_source_set_enabled(s->io, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
        pidref_done(&s->ref);
        s->used = false;
        s->cb = NULL;
        s->userdata = NULL;
        s->x->n_busy--;
}

Executor *executor_free(Executor *x) {
        if (!x)
                return NULL;
        for (size_t i = 0; i < EXEC_INFLIGHT_MAX; i++) {
                ExecSlot *s = &x->slots[i];

                if (s->io)
                        slot_release(s);
                s->io = sd_event_source_disable_unref(s->io);
                s->timer = sd_event_source_disable_unref(s->timer);
        }
        sd_event_unref(x->event);
        free(x);
        return NULL;
}

const ProcRoots *executor_roots(const Executor *x) {
        return &x->roots;
}

const ExecError *executor_last_error(const Executor *x) {
        return &x->last_error;
}

int executor_pin(Executor *x, pid_t pid, uint64_t starttime, int *ret_pidfd) {
        PidRef ref = PIDREF_NULL;
        const char *what = NULL;
        int r;

        if (!x || !ret_pidfd)
                return -EINVAL;
        r = pidref_pin(x->proc_root, pid, starttime, &ref, &what);
        if (r < 0)
                return exec_fail(x, pid, r, what);
        *ret_pidfd = ref.fd;
        return 0;
}

int executor_freeze(Executor *x, pid_t pid, uint64_t starttime, FreezeInfo *ret) {
        return executor_freeze_ahead(x, pid, starttime, NULL, NULL, ret);
}

int executor_freeze_ahead(Executor *x, pid_t pid, uint64_t starttime, FreezeAheadFn ahead, void *userdata,
                          FreezeInfo *ret) {
        _cleanup_(pidref_done) PidRef ref = PIDREF_NULL;
        const char *what = NULL;
        int r;

        if (!x || !ret)
                return -EINVAL;
        if (executor_pid_in_flight(x, pid))
                return exec_fail(x, pid, -EBUSY, "being terminated");
        r = pidref_pin(x->proc_root, pid, starttime, &ref, &what);
        if (r >= 0)
                r = pidref_freeze(&x->roots, &ref, ahead, userdata, ret, &what);
        return r < 0 ? exec_fail(x, pid, r, what) : 0;
}

int executor_thaw(Executor *x, pid_t pid, uint64_t starttime, FreezeMethod method, const char *cgroup) {
        _cleanup_(pidref_done) PidRef ref = PIDREF_NULL;
        const char *what = NULL;
        int r;

        if (!x)
                return -EINVAL;
        r = pidref_pin(x->proc_root, pid, starttime, &ref, &what);
        if (r >= 0)
                r = pidref_thaw(&x->roots, &ref, method, cgroup, &what);
        return r < 0 ? exec_fail(x, pid, r, what) : 0;
}

/* ---- terminate and kill ---- */

unsigned executor_in_flight(const Executor *x) {
        return x ? x->n_busy : 0;
}

bool executor_busy(const Executor *x) {
        return executor_in_flight(x) > 0;
}

bool executor_pid_in_flight(const Executor *x, pid_t pid) {
        if (!x)
                return false;
        for (size_t i = 0; i < EXEC_INFLIGHT_MAX; i++)
                if (x->slots[i].used && x->slots[i].ref.pid == pid)
                        return true;
        return false;
}

/* Hand the memory of a SIGKILLed process back now instead of when its last thread unwinds. */
static void slot_mrelease(ExecSlot *s) {
        Executor *x = s->x;
        int e;

        if (x->mrelease_enosys || syscall(__NR_process_mrelease, s->ref.fd, 0) == 0)
                return;
        e = errno;
        if (e == ESRCH)                 /* already gone: nothing left to release */
                return;
        if (e == ENOSYS)
                x->mrelease_enosys = true;
        if (e == ENOSYS || e == EINVAL) {
                if (x->mrelease_reported)
                        return;
                x->mrelease_reported = true;
        }
        s->mrelease_error = -e;
}

static void slot_finish(ExecSlot *s, bool exited, int error, const char *what) {
        Executor *x = s->x;
        ExecDoneFn cb = s->cb;
        void *userdata = s->userdata;
        ExecResult res = {
                .pid = s->ref.pid,
                .starttime = s->ref.starttime,
                .action = s->action,
                .exited = exited,
                .killed = s->killed,
                .elapsed = now_monotonic() - s->started,
                .error = error,
                .what = what,
                .mrelease_error = s->mrelease_error,
        };

        /* Release before the callback: it may start the next action in this very slot. */
        slot_release(s);
        if (cb)
                cb(x, &res, userdata);
}

static int on_pidfd(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        slot_finish(userdata, true, 0, NULL);
        return 0;
}

static int slot_arm_timer(ExecSlot *s, usec_t after) {
        int r;

        r = sd_event_source_set_time_relative(s->timer, after);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

static void slot_send_kill(ExecSlot *s) {
        int r;

        /* A zombie still takes the signal through its pidfd; -ESRCH means it was reaped, and the
         * pidfd (readable) reports the exit on the next iteration. */
        r = pidref_signal(&s->ref, SIGKILL);
        if (r < 0 && r != -ESRCH) {
                slot_finish(s, false, r, "pidfd_send_signal(SIGKILL)");
                return;
        }
        s->killed = true;
        slot_mrelease(s);
        r = slot_arm_timer(s, EXEC_KILL_WAIT_USEC);
        if (r < 0)
                slot_finish(s, false, r, "arm the exit timer");
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        ExecSlot *s = userdata;

        if (!s->killed)
                slot_send_kill(s);      /* the grace period ran out */
        else
                slot_finish(s, false, -ETIMEDOUT, "still running after SIGKILL");
        return 0;
}

static ExecSlot *slot_find_free(Executor *x) {
        for (size_t i = 0; i < EXEC_INFLIGHT_MAX; i++)
                if (!x->slots[i].used)
                        return &x->slots[i];
        return NULL;
}

/* Watch the pidfd and arm the timer BEFORE signalling: a signalled process is never unwatched. */
static int slot_arm(ExecSlot *s, const PidRef *ref, usec_t timeout) {
        int r;

        r = sd_event_source_set_io_fd(s->io, ref->fd);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->io, SD_EVENT_ON);
        if (r >= 0)
                r = slot_arm_timer(s, timeout);
        if (r < 0) {
                (void) sd_event_source_set_enabled(s->io, SD_EVENT_OFF);
                (void) sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
        }
        return r;
}

static int exec_start(Executor *x, pid_t pid, uint64_t starttime, Action action, ExecDoneFn cb,
                      void *userdata) {
        _cleanup_(pidref_done) PidRef ref = PIDREF_NULL;
        bool kill_now = action == ACTION_KILL;
        const char *what = NULL;
        ExecSlot *s;
        int r;

        if (!x)
                return -EINVAL;
        if (executor_pid_in_flight(x, pid))
                return exec_fail(x, pid, -EALREADY, "already being terminated");
        s = slot_find_free(x);
        if (!s)
                return exec_fail(x, pid, -EBUSY, "too many actions in flight");
        r = pidref_pin(x->proc_root, pid, starttime, &ref, &what);
        if (r < 0)
                return exec_fail(x, pid, r, what);

        r = slot_arm(s, &ref, kill_now ? EXEC_KILL_WAIT_USEC : x->term_grace);
        if (r < 0)
                return exec_fail(x, pid, r, "watch the pidfd");
        s->started = now_monotonic();
        r = pidref_signal(&ref, kill_now ? SIGKILL : SIGTERM);
        if (r < 0) {
                (void) sd_event_source_set_enabled(s->io, SD_EVENT_OFF);
                (void) sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
                return exec_fail(x, pid, r,
                                 kill_now ? "pidfd_send_signal(SIGKILL)" : "pidfd_send_signal(SIGTERM)");
        }

        /* A stopped process cannot run its SIGTERM handler: let it (harmless if it runs). A
         * cgroup freeze is not undone by this; the daemon thaws what it froze first. */
        if (!kill_now)
                (void) pidref_signal(&ref, SIGCONT);

        s->used = true;
        s->ref = ref;
        ref = PIDREF_NULL;
        s->action = action;
        s->killed = kill_now;
        s->mrelease_error = 0;
        s->cb = cb;
        s->userdata = userdata;
        x->n_busy++;
        if (kill_now)
                slot_mrelease(s);
        return 0;
}

int executor_terminate(Executor *x, pid_t pid, uint64_t starttime, ExecDoneFn cb, void *userdata) {
        return exec_start(x, pid, starttime, ACTION_TERMINATE, cb, userdata);
}

int executor_kill(Executor *x, pid_t pid, uint64_t starttime, ExecDoneFn cb, void *userdata) {
        return exec_start(x, pid, starttime, ACTION_KILL, cb, userdata);
}
