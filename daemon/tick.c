/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One tick: observe (PSI, meminfo, vmstat, the process scan, what mgd holds), decide with one
 * call of the pure policy_step(), and carry out what it decided, in order. Everything here works
 * on the buffers manager_new() preallocated: no allocation, no fork, no disk I/O but /proc, /sys
 * and the registry's small atomic rewrite.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "daemon/cgroups.h"
#include "daemon/executor.h"
#include "daemon/log.h"
#include "daemon/log-ids.h"
#include "daemon/manager.h"
#include "daemon/privileged.h"
#include "daemon/registry.h"
#include "daemon/sense.h"

/* After a confirmed trigger event: a second look this soon, so two ticks confirm the stall. */
#define CONFIRM_DELAY_USEC (250 * USEC_PER_MSEC)
/* Idle reclaim looks for idle background apps this often at Normal (one scan each time), or at
 * half of idle_reclaim_after if that is shorter. */
#define IDLE_SWEEP_USEC (120 * USEC_PER_SEC)
/* A trigger event is decided on within this (issue 10: mgd itself is never stalled) */
#define DECISION_MAX_USEC (100 * USEC_PER_MSEC)
/*
 * A trigger's tick decides on the last scan when it is at most this old, and scans right after:
 * under real pressure a scan of /proc stalls in the kernel's reclaim with everyone else (0.2-2.2 s
 * measured in the TCG guest), and the decision must not wait for it. Only a scan of this very
 * incident will do (its fast ticks scan every second): an older one misses the runaway that
 * started since, and a guest run spent the incident's first 25 s freezing idle tabs from a scan
 * 2.5 s old while the runaway, not in it, grew to the OOM killer.
 */
#define STALE_SCAN_MAX_USEC (1500 * USEC_PER_MSEC)

_Static_assert(MANAGER_PROCS_MAX <= STEP_CANDS_MAX, "the step's scratch covers every candidate");
_Static_assert(REGISTRY_MAX <= STEP_HELD_MAX, "the step's scratch covers every held process");

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        (void) manager_tick(m);
        return 0;
}

void manager_schedule_tick(Manager *m, usec_t delay) {
        usec_t when = now_usec(CLOCK_MONOTONIC) + delay;
        uint64_t cur;
        int r;

        if (m->exiting)
                return;
        if (m->tick_timer) {
                /* never push an earlier tick back */
                if (sd_event_source_get_enabled(m->tick_timer, NULL) > 0 &&
                    sd_event_source_get_time(m->tick_timer, &cur) >= 0 && cur <= when)
                        return;
                (void) sd_event_source_set_time(m->tick_timer, when);
                (void) sd_event_source_set_enabled(m->tick_timer, SD_EVENT_ONESHOT);
                return;
        }
        r = sd_event_add_time(m->event, &m->tick_timer, CLOCK_MONOTONIC, when, 10 * USEC_PER_MSEC,
                              on_tick, m);
        if (r < 0)
                log_error_errno(r, "Cannot arm the tick timer: %m");
}

void manager_checkpoint_failed(Manager *m, const char *name) {
        for (size_t k = 0; k < m->n_checkpoint_failed; k++)
                if (strcmp(m->checkpoint_failed[k], name) == 0)
                        return;
        if (m->n_checkpoint_failed < ELEMENTSOF(m->checkpoint_failed))
                (void) snprintf(m->checkpoint_failed[m->n_checkpoint_failed++], CAND_NAME_MAX, "%s", name);
}

void sense_trigger_fired(Manager *m, const PsiSource *src) {
        m->triggered = true;
        if (!m->trigger_event_at)
                m->trigger_event_at = now_usec(CLOCK_MONOTONIC);
        if (!m->trigger_at) {
                m->trigger_at = now_usec(CLOCK_MONOTONIC);
                m->trigger_src = src;
        }
        m->confirm_at = now_usec(CLOCK_MONOTONIC) + CONFIRM_DELAY_USEC;
        manager_schedule_tick(m, 0);
}

static const char *method_name(FreezeMethod f) {
        return f == FREEZE_CGROUP ? "cgroup" : f == FREEZE_SIGSTOP ? "sigstop" : NULL;
}

void manager_record(Manager *m, const char *action, const Candidate *c, int priority,
                          uint64_t footprint, const char *method, const char *result, const char *reason) {
        ActionRecord a = {
                .action = action, .pid = c->pid, .comm = c->name, .priority = priority,
                .level = level_to_string(m->level), .score = m->score.p, .footprint_kb = footprint,
                .method = method, .result = result, .reason = reason,
                .would = result && strcmp(result, "dry-run") == 0,
        };
        log_action(&a);
        if (m->trigger_at) {
                log_info("First action %.1f ms after the PSI trigger event (%s trigger on %s)",
                         (double) (now_usec(CLOCK_MONOTONIC) - m->trigger_at) / USEC_PER_MSEC,
                         m->trigger_src->privileged ? "sub-second" : "2 s", m->trigger_src->path);
                m->trigger_at = 0;
        }
}

/* spike_feed() (in the step) found builds that allocate in waves: say so, once per build. */
static void manager_log_builds(Manager *m, usec_t now) {
        SpikeTracker *t = &m->ps->spike;

        for (unsigned k = 1; k <= SPIKE_GROUPS_MAX; k++) {
                const BuildGroup *g = spike_group(t, k);

                if (g && g->waves && g->seen == now && g->track.n > 0 && !g->logged_waves)
                        log_notice("The build '%s' (pid %d, %u processes) allocates in waves: peak %llu MiB,"
                                   " now %llu MiB; keeping %llu MiB free for its next wave",
                                   g->name, (int) g->pid, g->members,
                                   (unsigned long long) (spike_peak_kb(t, &m->config, k, now) / 1024),
                                   (unsigned long long) (g->kb / 1024),
                                   (unsigned long long) (spike_headroom_kb(t, &m->config, now) / 1024));
        }
        /* a logging flag only: no decision reads it */
        for (unsigned k = 0; k < SPIKE_GROUPS_MAX; k++)
                if (t->groups[k].waves)
                        t->groups[k].logged_waves = true;
}

/* The age of a process from its starttime (clock ticks after boot); 0 if the clock disagrees. */
static usec_t process_age(uint64_t starttime, usec_t boot_now, long tck) {
        usec_t started;

        if (tck <= 0 || starttime > UINT64_MAX / USEC_PER_SEC)
                return 0;
        started = starttime * USEC_PER_SEC / (uint64_t) tck;
        return boot_now > started ? boot_now - started : 0;
}

int manager_scan(Manager *m) {
        usec_t boot_now = now_usec(CLOCK_BOOTTIME);
        long tck = sysconf(_SC_CLK_TCK);
        size_t n = 0, total = 0;
        uint64_t gpu = 0;
        int r;

        r = proc_scan_cached(m->scan_cache, m->opt.proc_root, &m->filter, m->procs, MANAGER_PROCS_MAX, &n, &total);
        if (r < 0)
                return log_error_errno(r, "Process scan of %s failed: %m", m->opt.proc_root);
        if (total > n)
                log_warning("%zu managed processes, only the first %zu are considered", total, n);
        m->n_procs = n;
        m->scans++;
        m->scanned_at = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < n; i++) {
                Candidate *c = &m->cands[i];
                RegistryEntry *e;

                *c = m->procs[i].cand;
                gpu += c->gpu_kb;
                e = registry_find_pid(m->registry, c->pid);
                if (e && e->starttime == c->starttime)
                        c->frozen = registry_how_freeze_method(e->how);
                c->majflt = m->procs[i].majflt;
                /* a fixture /proc has made-up start times: ages only for the real one */
                c->age_usec = m->real_proc ? process_age(c->starttime, boot_now, tck) : 0;
                for (size_t k = 0; k < m->n_checkpoint_failed; k++)
                        if (strcmp(m->checkpoint_failed[k], c->name) == 0)
                                c->checkpoint_failed = true;
        }
        if (m->filter.want_gpu)
                m->gpu_uma_kb = gpu;
        return 0;
}

static void on_exec_done(Executor *x, const ExecResult *res, void *userdata) {
        Manager *m = userdata;
        RegistryEntry *e = registry_find_pid(m->registry, res->pid);
        ActionRecord a = {
                .action = res->action == ACTION_KILL ? "kill" : "terminate", .pid = res->pid,
                .level = level_to_string(m->level), .score = m->score.p, .comm = "",
        };
        char result[160];

        if (res->error == 0)
                (void) snprintf(result, sizeof result, "exited after %llu ms%s",
                                (unsigned long long) (res->elapsed / USEC_PER_MSEC),
                                res->killed && res->action == ACTION_TERMINATE ? " (SIGKILL after the grace period)" : "");
        else
                (void) snprintf(result, sizeof result, "%s: %s", res->what ?: "wait", strerror(-res->error));
        a.result = result;
        for (size_t i = 0; i < ELEMENTSOF(m->victims); i++)
                if (m->victims[i].pid == res->pid) {
                        a.comm = m->victims[i].name;
                        a.priority = m->victims[i].priority;
                        a.footprint_kb = m->victims[i].footprint_kb;
                        m->victims[i].pid = 0;
                }
        log_action(&a);
        if (res->mrelease_error == -ENOSYS)
                log_info("process_mrelease() is not available on this kernel: a killed process's "
                         "memory is freed by the kernel's own exit path");
        else if (res->mrelease_error < 0)
                log_debug_errno(res->mrelease_error, "process_mrelease() of pid %d failed, ignoring: %m",
                                (int) res->pid);
        if (e && e->starttime == res->starttime) {
                (void) registry_remove(m->registry, res->pid, res->starttime);
                (void) registry_persist(m->registry);
        }
        m->victim_exited_at = now_usec(CLOCK_MONOTONIC);
        manager_schedule_tick(m, 0);
}

typedef struct FreezeAhead {
        Manager *m;
        const Decision *d;
        const Candidate *c;
        const char *reason;
        bool written;           /* an entry for this freeze is in the registry */
} FreezeAhead;

/*
 * The write-ahead record of a freeze: the registry entry is on file before the process is
 * stopped, so a crash of mgd between the two leaves an entry for a running process (whose thaw
 * is a no-op), never a frozen process without one. Called again with SIGSTOP if the cgroup write
 * was refused. Refusing the freeze when the record cannot be written is the price of that
 * guarantee.
 */
static int freeze_write_ahead(const FreezeInfo *planned, void *userdata) {
        FreezeAhead *a = userdata;
        RegistryEntry e = {
                .pid = a->c->pid, .starttime = a->c->starttime, .priority = a->d->priority,
                .footprint_kb = a->d->footprint_kb,
                .how = planned->method == FREEZE_CGROUP ? REGISTRY_CGROUP : REGISTRY_SIGSTOP,
                .since_realtime = now_usec(CLOCK_REALTIME) / USEC_PER_SEC, .since = now_usec(CLOCK_MONOTONIC),
        };
        int r;

        (void) snprintf(e.name, sizeof e.name, "%s", a->c->name);
        (void) snprintf(e.why, sizeof e.why, "%s", a->reason);
        (void) snprintf(e.cgroup, sizeof e.cgroup, "%s", planned->cgroup);
        if (a->written)
                (void) registry_remove(a->m->registry, e.pid, e.starttime);
        r = registry_add(a->m->registry, &e);
        if (r < 0)
                return r;
        a->written = true;
        r = registry_persist_ahead(a->m->registry);
        return r < 0 ? r : 0;
}

/*
 * --dry-run: the freeze is logged and held in the registry's memory only (never persisted, the
 * process never stopped), so the later decisions (a kill of what is frozen, the thaw on calm)
 * are made and logged as they would be.
 */
static int dry_freeze(Manager *m, const Decision *d, const Candidate *c, const char *reason) {
        RegistryEntry e = {
                .pid = c->pid, .starttime = c->starttime, .priority = d->priority, .footprint_kb = d->footprint_kb,
                .how = REGISTRY_SIGSTOP, .since_realtime = now_usec(CLOCK_REALTIME) / USEC_PER_SEC,
                .since = now_usec(CLOCK_MONOTONIC),
        };
        int r;

        (void) snprintf(e.name, sizeof e.name, "%s", c->name);
        (void) snprintf(e.why, sizeof e.why, "%s", reason);
        r = registry_add(m->registry, &e);
        manager_record(m, "freeze", c, d->priority, d->footprint_kb, NULL, r < 0 ? strerror(-r) : "dry-run", reason);
        return r;
}

static int do_freeze(Manager *m, const Decision *d, const Candidate *c, const char *reason) {
        FreezeAhead ahead = { .m = m, .d = d, .c = c, .reason = reason };
        const RegistryEntry *held;
        FreezeInfo fi = {};
        int r;

        held = registry_find_pid(m->registry, c->pid);
        if (held && held->starttime == c->starttime)
                return -EEXIST;         /* already held by mgd */
        if (m->opt.dry_run)
                return dry_freeze(m, d, c, reason);
        r = executor_freeze_ahead(m->executor, c->pid, c->starttime, freeze_write_ahead, &ahead, &fi);
        if (r < 0) {
                const ExecError *ee = executor_last_error(m->executor);
                char res[160];

                if (ahead.written) {    /* nothing was stopped: the record goes again */
                        (void) registry_remove(m->registry, c->pid, c->starttime);
                        (void) registry_persist_ahead(m->registry);
                }
                (void) snprintf(res, sizeof res, "%s: %s", ee->what ?: "freeze", strerror(-r));
                manager_record(m, "freeze", c, d->priority, d->footprint_kb, NULL, res, reason);
                return r;
        }
        manager_record(m, "freeze", c, d->priority, d->footprint_kb, method_name(fi.method), "ok", reason);
        /*
         * Frozen in its own cgroup: its pages are the first to move to zram, now rather than in the
         * stall. Not the runaway's: its memory is what the kill that comes for it frees, and pushed
         * into zram it would only end the stall it caused and stay frozen, too large to thaw (a
         * guest run left the node hog frozen for good that way). Nor a build's paused worker, which
         * resumes in a moment and would fault it all back.
         */
        if (fi.method == FREEZE_CGROUP && !d->aggressor && strcmp(reason, "spike pause") != 0)
                cgacts_freeze_reclaim(m->cgacts, &m->config, fi.cgroup, c->pid, c->name, d->priority);
        return 0;
}

int manager_destroy(Manager *m, const Decision *d, const Candidate *c, const char *reason) {
        const char *name = d->action == ACTION_KILL ? "kill" : "terminate";
        char res[160];
        int r;

        if (m->opt.dry_run) {
                manager_record(m, name, c, d->priority, d->footprint_kb, NULL, "dry-run", reason);
                return 0;
        }
        m->avail_before_destructive = m->mem.mem_available_kb;
        m->victims[m->next_victim].pid = c->pid;
        (void) snprintf(m->victims[m->next_victim].name, CAND_NAME_MAX, "%s", c->name);
        m->victims[m->next_victim].priority = d->priority;
        m->victims[m->next_victim].footprint_kb = d->footprint_kb;
        m->next_victim = (m->next_victim + 1) % ELEMENTSOF(m->victims);
        if (d->action == ACTION_KILL)
                r = executor_kill(m->executor, c->pid, c->starttime, on_exec_done, m);
        else
                r = executor_terminate(m->executor, c->pid, c->starttime, on_exec_done, m);
        if (r < 0) {
                const ExecError *ee = executor_last_error(m->executor);
                (void) snprintf(res, sizeof res, "%s: %s", ee && ee->what ? ee->what : name, strerror(-r));
                manager_record(m, name, c, d->priority, d->footprint_kb, NULL, res, reason);
                return r;
        }
        manager_record(m, name, c, d->priority, d->footprint_kb,
                      d->action == ACTION_KILL ? "SIGKILL" : "SIGTERM", "signalled", reason);
        return 0;
}

/* The build to name in the log: the one growing fastest now, else the largest in waves. */
static const BuildGroup *fastest_build(Manager *m, usec_t now) {
        const BuildGroup *best = NULL;
        double rate = 0;

        for (unsigned k = 1; k <= SPIKE_GROUPS_MAX; k++) {
                const BuildGroup *g = spike_group(&m->ps->spike, k);
                double r = spike_growth_kbs(&m->ps->spike, &m->config, k, now);

                if (g && (r > rate || (rate == 0 && g->waves && (!best || g->kb > best->kb)))) {
                        rate = MAX(rate, r);
                        best = g;
                }
        }
        return best;
}

static void manager_log_blame(Manager *m, Blame b, usec_t now) {
        const BuildGroup *g;

        if (b == BLAME_BUILD && (g = fastest_build(m, now)))
                log_notice("The pressure comes from the build '%s' (pid %d, %u processes, %llu MiB): spike mode"
                           " freezes background processes to make room for it and kills nothing",
                           g->name, (int) g->pid, g->members, (unsigned long long) (g->kb / 1024));
        else if (b == BLAME_OTHER && m->config.spike_mode)
                log_info("The pressure comes from a process outside any build: builds are not shielded"
                         " until this incident is over");
}

static Decision act_decision(const StepAction *a) {
        return (Decision) {
                .index = a->index, .pid = a->pid, .starttime = a->starttime, .action = a->action,
                .priority = a->priority, .footprint_kb = a->footprint_kb, .aggressor = a->aggressor,
        };
}

/* The registry entry an action on a held process names, if it is still the same process. */
static RegistryEntry *act_entry(Manager *m, const StepAction *a) {
        RegistryEntry *e = registry_find_pid(m->registry, a->pid);

        return e && e->starttime == a->starttime ? e : NULL;
}

static void manager_checkpoint(Manager *m, const StepAction *a, const Candidate *c, const char *reason) {
        Decision d = act_decision(a);

        if (m->opt.dry_run) {
                manager_record(m, "checkpoint", c, d.priority, d.footprint_kb, NULL, "dry-run", reason);
                return;
        }
        if (privileged_checkpoint(m, &d, c, reason) < 0) {
                /* no helper, or it is busy: a kill frees the memory now */
                d.action = ACTION_KILL;
                (void) manager_destroy(m, &d, c, "checkpoint unavailable");
        }
}

/* Carry out one decision of the step. */
static void manager_execute(Manager *m, const Observation *o, const StepAction *a) {
        const char *reason = step_why_to_string(a->why);
        Decision d = act_decision(a);
        RegistryEntry *e;

        switch (a->action) {
        case ACTION_FREEZE:
                (void) do_freeze(m, &d, &o->cands[a->index], reason);
                break;
        case ACTION_TERMINATE:
        case ACTION_KILL:
                (void) manager_destroy(m, &d, &o->cands[a->index], reason);
                break;
        case ACTION_CHECKPOINT:
                manager_checkpoint(m, a, &o->cands[a->index], reason);
                break;
        case ACTION_THAW:
                e = act_entry(m, a);
                if (e)
                        (void) manager_thaw(m, e, reason);
                break;
        case ACTION_RESTORE:
                e = act_entry(m, a);
                if (e && e->how == REGISTRY_CHECKPOINT && !m->opt.dry_run)
                        (void) privileged_restore(m, e);
                break;
        default:
                break;
        }
}

/* The last failed try: forget the entry (and persist that), with one line saying why. */
static void thaw_give_up(Manager *m, RegistryEntry *e, int error) {
        pid_t pid = e->pid;
        uint64_t st = e->starttime;

        log_warning_errno(error, "Giving up on pid %d (%s): %u thaws failed (%m); dropping it from the "
                          "registry, it is no longer counted as frozen", (int) pid, e->name,
                          e->thaw_failures);
        (void) registry_remove(m->registry, pid, st);
        (void) registry_persist(m->registry);
}

/* Thaw a held process and drop its registry entry; logs the action. */
int manager_thaw(Manager *m, RegistryEntry *e, const char *reason) {
        ActionRecord a;
        char res[160];
        pid_t pid;
        uint64_t st;
        int r;

        if (!e || e->how == REGISTRY_CHECKPOINT)
                return -ENOENT;
        a = (ActionRecord) {
                .action = "thaw", .pid = e->pid, .comm = e->name, .priority = e->priority,
                .level = level_to_string(m->level), .score = m->score.p, .footprint_kb = e->footprint_kb,
                .method = registry_how_to_string(e->how), .reason = reason,
        };
        if (m->opt.dry_run) {           /* held in memory only (dry_freeze()) */
                a.result = "dry-run";
                a.would = true;
                log_action(&a);
                (void) registry_remove(m->registry, e->pid, e->starttime);
                return 0;
        }
        r = executor_thaw(m->executor, e->pid, e->starttime, registry_how_freeze_method(e->how), e->cgroup);
        if (r < 0 && r != -ESRCH && r != -ENOENT) {
                (void) snprintf(res, sizeof res, "failed: %s", strerror(-r));
                a.result = res;
                log_action(&a);
                if (++e->thaw_failures >= REGISTRY_THAW_TRIES)
                        thaw_give_up(m, e, r);
                return r;
        }
        a.result = r == 0 ? "ok" : "gone";
        log_action(&a);
        pid = e->pid;
        st = e->starttime;
        (void) registry_remove(m->registry, pid, st);
        return 0;
}

static size_t count_frozen(Manager *m, size_t *ret_checkpointed) {
        size_t n = registry_size(m->registry), f = 0;

        for (size_t i = 0; i < n; i++)
                f += registry_entry(m->registry, i)->how != REGISTRY_CHECKPOINT;
        *ret_checkpointed = n - f;
        return f;
}

static void manager_notify(Manager *m, Level prev) {
        size_t cp, fr = count_frozen(m, &cp);
        char lv[32], from[40];
        const char *fields[] = { lv, from };

        (void) snprintf(lv, sizeof lv, "MGD_LEVEL=%s", level_to_string(m->level));
        (void) snprintf(from, sizeof from, "MGD_LEVEL_FROM=%s", level_to_string(prev));

        if (m->level != prev)
                log_notice_id(MGD_MESSAGE_LEVEL, fields, ELEMENTSOF(fields), "Pressure level %s -> %s: score %.3f (psi %.2f swap %.2f gpu %.2f swapio %.2f), "
                           "stall %.1f%%, trend %+.3f/s, MemAvailable %llu MiB",
                           level_to_string(prev), level_to_string(m->level), m->score.p, m->score.s_psi,
                           m->score.s_swap, m->score.s_gpu, m->score.s_swapio, m->score.stall_pct,
                           m->score.trend, (unsigned long long) (m->mem.mem_available_kb / 1024));
        (void) sd_notifyf(0, "STATUS=level %s, score %.2f, %zu frozen, %zu checkpointed",
                          level_to_string(m->level), m->score.p, fr, cp);
}

/* The observation's facts beyond the pressure figures: what mgd holds and what is in flight. */
static void manager_observe_state(Manager *m, Observation *o) {
        o->triggered = m->triggered;
        m->triggered = false;
        o->cgroup_pending = cgacts_pending(m->cgacts);
        o->foreground = m->foreground;
        o->checkpoint_available = m->checkpoint_available;
        o->destructive_busy = executor_busy(m->executor) || privileged_checkpoint_busy();
        o->victim_exited_at = m->victim_exited_at;
        o->avail_before_victim = m->avail_before_destructive;
        o->gpu_uma_kb = m->gpu_uma_kb;
        o->held = m->held;
        o->n_held = registry_to_held(m->registry, m->held, REGISTRY_MAX);
        o->scanned = o->stale = false;
        o->cands = m->cands;
        o->n_cands = 0;
}

/*
 * Forget frozen processes that exited anyway: a SIGSTOP that reached a process already on its
 * way out, or one SIGKILLed by someone else. Each one absent from the scan is checked through a
 * pidfd before it is dropped, so a scan that missed it (a filter, a race) costs nothing.
 */
static void manager_forget_gone(Manager *m) {
        bool dropped = false;

        for (size_t i = registry_size(m->registry); i-- > 0;) {
                RegistryEntry *e = registry_entry(m->registry, i);
                bool seen = false;
                int fd = -1, r;

                if (e->how == REGISTRY_CHECKPOINT)
                        continue;
                for (size_t k = 0; k < m->n_procs && !seen; k++)
                        seen = m->cands[k].pid == e->pid && m->cands[k].starttime == e->starttime;
                if (seen)
                        continue;
                r = executor_pin(m->executor, e->pid, e->starttime, &fd);
                if (r == 0) {
                        closep(&fd);
                        continue;
                }
                if (r != -ESRCH)
                        continue;
                log_info("Frozen process %s (pid %d) exited while frozen: forgetting it", e->name, (int) e->pid);
                (void) registry_remove(m->registry, e->pid, e->starttime);
                dropped = true;
        }
        if (dropped && !m->opt.dry_run)
                (void) registry_persist(m->registry);
}

/* Scan when the step will need it (policy_scan_wanted()) or the idle sweep is due. */
/* The last scan, as it was, for a trigger's decision: only what mgd holds is brought up to date. */
static bool manager_observe_stale(Manager *m, Observation *o, usec_t now) {
        if (!o->triggered || m->scanned_at == 0 || m->n_procs == 0 || now > m->scanned_at + STALE_SCAN_MAX_USEC)
                return false;
        for (size_t i = 0; i < m->n_procs; i++) {
                Candidate *c = &m->cands[i];
                RegistryEntry *e = registry_find_pid(m->registry, c->pid);

                c->frozen = e && e->starttime == c->starttime ? registry_how_freeze_method(e->how) : FREEZE_NONE;
        }
        o->n_held = registry_to_held(m->registry, m->held, REGISTRY_MAX);
        o->scanned = o->stale = true;
        o->n_cands = m->n_procs;
        o->gpu_uma_kb = m->gpu_uma_kb;
        return true;
}

static void manager_observe_procs(Manager *m, Observation *o, bool want, Level level, bool idle) {
        if (!want && !idle)
                return;
        m->filter.want_gpu = level >= LEVEL_ELEVATED;
        if (manager_scan(m) < 0)
                return;
        manager_forget_gone(m);
        o->n_held = registry_to_held(m->registry, m->held, REGISTRY_MAX);
        o->scanned = true;
        o->n_cands = m->n_procs;
        o->gpu_uma_kb = m->gpu_uma_kb;
}

/* The cgroup actuators, the helpers' work and the bookkeeping around the step's decisions. */
static void manager_apply(Manager *m, const Observation *o, const StepOutput *out, bool want, bool idle,
                          usec_t now) {
        if (out->builds_in_waves > 0)
                manager_log_builds(m, now);
        if (out->blame_changed)
                manager_log_blame(m, out->blame, now);
        if (want && o->scanned && o->n_cands > 0)
                cgacts_update(m->cgacts, &m->config, m->level, m->procs, m->cands, o->n_cands, m->foreground);
        if (idle && o->scanned) {
                cgacts_idle(m->cgacts, &m->config, m->level, m->procs, m->cands, o->n_cands, m->foreground,
                            &o->mem, now);
                m->idle_sweep_next = now + MIN((usec_t) IDLE_SWEEP_USEC, m->config.idle_reclaim_after_usec / 2);
        }
        if (out->held_back > 0)
                log_debug("Holding back %u destructive decision(s): the last victim has not settled",
                          out->held_back);
        for (size_t i = 0; i < out->n_acts; i++)
                manager_execute(m, o, &out->acts[i]);
        if (out->n_acts > 0 && !m->opt.dry_run)
                (void) registry_persist(m->registry);
        if (out->zram_compact)
                privileged_zram_compact(m, now);
        if (out->swap_reclaim)
                privileged_swap_reclaim(m, now);
        if (m->level == LEVEL_NORMAL && m->target == LEVEL_NORMAL)
                m->trigger_at = 0;      /* a trigger that led to nothing */
}

/*
 * A trigger event's tick is done: how long it took from the event to the step's decision, in
 * mgd's own time (carrying the actions out is the kernel's time: logged, not counted).
 * Over DECISION_MAX_USEC is logged (something in mgd is slow: a scan, a blocking read); the
 * worst and the count are in STATUS.
 */
static void manager_decided(Manager *m, const usec_t lap[static 5]) {
        usec_t d;

        if (!m->trigger_event_at)
                return;
        d = lap[3] - MIN(lap[3], m->trigger_event_at);      /* to the step's decision */
        m->decisions++;
        m->decision_worst_usec = MAX(m->decision_worst_usec, d);
        if (d > DECISION_MAX_USEC)
                log_warning("Decided %.1f ms after the PSI trigger event, over the %llu ms bound: %.1f ms to the "
                            "tick, reading %.1f ms, scan %.1f ms, step %.1f ms (then the actions %.1f ms)",
                            (double) d / USEC_PER_MSEC, (unsigned long long) (DECISION_MAX_USEC / USEC_PER_MSEC),
                            (double) (lap[0] - MIN(lap[0], m->trigger_event_at)) / USEC_PER_MSEC,
                            (double) (lap[1] - lap[0]) / USEC_PER_MSEC, (double) (lap[2] - lap[1]) / USEC_PER_MSEC,
                            (double) (lap[3] - lap[2]) / USEC_PER_MSEC, (double) (lap[4] - lap[3]) / USEC_PER_MSEC);
        m->trigger_event_at = 0;
}

int manager_tick(Manager *m) {
        usec_t now = now_usec(CLOCK_MONOTONIC), next;
        Observation *o = &m->obs;
        StepOutput out = { .acts = m->acts, .max_acts = MANAGER_ACTS_MAX };
        Level prev = m->level, level;
        usec_t lap[5];          /* tick start, read, scanned, decided, carried out */
        bool want, idle, stale;
        int r;

        m->ticks++;
        m->last_tick = now;
        lap[0] = now;
        r = sense_observe(m, now, o);
        if (r < 0) {
                manager_schedule_tick(m, m->config.fast_tick_usec);
                return r;
        }
        manager_observe_state(m, o);
        want = policy_scan_wanted(m->ps, &m->config, o, &level);
        idle = !want && now >= m->idle_sweep_next;
        lap[1] = now_usec(CLOCK_MONOTONIC);
        stale = want && manager_observe_stale(m, o, now);
        if (!stale)
                manager_observe_procs(m, o, want, level, idle);

        manager_trace_observation(m, o);
        lap[2] = now_usec(CLOCK_MONOTONIC);
        policy_step(&m->config, m->ps, o, &out);
        lap[3] = now_usec(CLOCK_MONOTONIC);
        manager_trace_output(m, &out);
        m->level = out.level;
        m->target = out.target;
        m->score = out.score;
        if (out.error < 0) {
                log_warning("No PSI source could be read this tick: nothing decided");
                manager_schedule_tick(m, out.next_tick);
                return out.error;
        }
        m->memm = out.mem;
        manager_apply(m, o, &out, want, idle, now);
        lap[4] = now_usec(CLOCK_MONOTONIC);
        if (o->triggered)
                manager_decided(m, lap);
        manager_history_tick(m, now);
        manager_hibernate_tick(m, now);
        manager_notify(m, prev);

        next = stale ? 0 : out.next_tick;        /* decided on the last scan: now the fresh one */
        if (m->confirm_at > now) {
                next = MIN(next, m->confirm_at - now);
                m->confirm_at = 0;
        }
        manager_schedule_tick(m, next);
        return 0;
}
