/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One tick: sense, score, move the level machine, then either act (above Normal) or recover
 * (at Normal). Everything here works on the buffers manager_new() preallocated: no allocation,
 * no fork, no disk I/O but /proc, /sys and the registry's small atomic rewrite.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "daemon/cgroups.h"
#include "daemon/executor.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/privileged.h"
#include "daemon/registry.h"
#include "daemon/sense.h"

/* After a confirmed trigger event: a second look this soon, so two ticks confirm the stall. */
#define CONFIRM_DELAY_USEC (250 * USEC_PER_MSEC)
/* Idle reclaim looks for idle background apps this often at Normal (one scan each time), or at
 * half of idle_reclaim_after if that is shorter. */
#define IDLE_SWEEP_USEC (120 * USEC_PER_SEC)
/* After a victim exited: wait this long at most for MemAvailable to move before the next one. */
#define SETTLE_USEC (3 * USEC_PER_SEC)

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
        };
        log_action(&a);
        if (m->trigger_at) {
                log_info("First action %.1f ms after the PSI trigger event (%s trigger on %s)",
                         (double) (now_usec(CLOCK_MONOTONIC) - m->trigger_at) / USEC_PER_MSEC,
                         m->trigger_src->privileged ? "sub-second" : "2 s", m->trigger_src->path);
                m->trigger_at = 0;
        }
}

/* Sort the scan into builds (spike mode) and say when one turns out to build in waves. */
static void manager_feed_builds(Manager *m, usec_t now) {
        if (spike_feed(m->spike, &m->config, m->cands, m->n_procs, now) == 0)
                return;
        for (unsigned k = 1; k <= SPIKE_GROUPS_MAX; k++) {
                const BuildGroup *g = spike_group(m->spike, k);

                if (g && g->waves && g->seen == now && g->track.n > 0 && !g->logged_waves)
                        log_notice("The build '%s' (pid %d, %u processes) allocates in waves: peak %llu MiB,"
                                   " now %llu MiB; keeping %llu MiB free for its next wave",
                                   g->name, (int) g->pid, g->members,
                                   (unsigned long long) (spike_peak_kb(m->spike, &m->config, k, now) / 1024),
                                   (unsigned long long) (g->kb / 1024),
                                   (unsigned long long) (spike_headroom_kb(m->spike, &m->config, now) / 1024));
        }
        for (unsigned k = 0; k < SPIKE_GROUPS_MAX; k++)
                if (m->spike->groups[k].waves)
                        m->spike->groups[k].logged_waves = true;
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
        manager_feed_builds(m, now_usec(CLOCK_MONOTONIC));
        return 0;
}

/* A destructive action is in flight, or the last one has not shown in MemAvailable yet. */
static bool destructive_hold(Manager *m, usec_t now) {
        if (executor_busy(m->executor) || privileged_checkpoint_busy())
                return true;
        if (now >= m->destructive_settle_until)
                return false;
        /* released once MemAvailable rose by a percent of RAM since the victim went */
        return m->mem.mem_available_kb < m->avail_before_destructive + m->mem.mem_total_kb / 100;
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
        m->destructive_settle_until = now_usec(CLOCK_MONOTONIC) + SETTLE_USEC;
        manager_schedule_tick(m, 0);
}

typedef struct FreezeAhead {
        Manager *m;
        const Decision *d;
        const Candidate *c;
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

static int do_freeze(Manager *m, const Decision *d, const Candidate *c, const char *reason) {
        FreezeAhead ahead = { .m = m, .d = d, .c = c };
        const RegistryEntry *held;
        FreezeInfo fi = {};
        int r;

        if (m->opt.dry_run) {
                manager_record(m, "freeze", c, d->priority, d->footprint_kb, NULL, "dry-run", reason);
                return 0;
        }
        held = registry_find_pid(m->registry, c->pid);
        if (held && held->starttime == c->starttime)
                return -EEXIST;         /* already held by mgd */
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

static MemFigures manager_mem(const Manager *m) {
        return (MemFigures) { m->mem.mem_total_kb, m->mem.mem_available_kb, m->mem.swap_total_kb,
                              m->mem.swap_free_kb };
}

/* What every plan of this tick starts from. */
static PlanInput manager_plan_input(const Manager *m) {
        return (PlanInput) {
                .level = m->level,
                .mem = manager_mem(m),
                .cands = m->cands,
                .n_cands = m->n_procs,
                .foreground = m->foreground,
                .checkpoint_available = m->checkpoint_available,
                .aggressor = -1,
        };
}

/* The build to name in the log: the one growing fastest now, else the largest in waves. */
static const BuildGroup *fastest_build(Manager *m, usec_t now) {
        const BuildGroup *best = NULL;
        double rate = 0;

        for (unsigned k = 1; k <= SPIKE_GROUPS_MAX; k++) {
                const BuildGroup *g = spike_group(m->spike, k);
                double r = spike_growth_kbs(m->spike, &m->config, k, now);

                if (g && (r > rate || (rate == 0 && g->waves && (!best || g->kb > best->kb)))) {
                        rate = MAX(rate, r);
                        best = g;
                }
        }
        return best;
}

static void manager_log_blame(Manager *m, usec_t now) {
        Blame b = aggressor_blame(m->aggressor);
        const BuildGroup *g;

        if (b == m->blame_logged)
                return;
        m->blame_logged = b;
        if (b == BLAME_BUILD && (g = fastest_build(m, now)))
                log_notice("The pressure comes from the build '%s' (pid %d, %u processes, %llu MiB): spike mode"
                           " freezes background processes to make room for it and kills nothing",
                           g->name, (int) g->pid, g->members, (unsigned long long) (g->kb / 1024));
        else if (b == BLAME_OTHER && m->config.spike_mode)
                log_info("The pressure comes from a process outside any build: builds are not shielded"
                         " until this incident is over");
}

/*
 * Spike mode between waves: a build in waves will climb back to its peak, so keep that room free
 * now, by freezing background processes ahead of the wave instead of stalling in it.
 */
static void manager_spike_headroom(Manager *m, usec_t now) {
        PlanInput in = manager_plan_input(m);
        uint64_t room = spike_headroom_kb(m->spike, &m->config, now);
        uint64_t want = policy_thaw_reserve_kb(&m->config, m->mem.mem_total_kb) + room;
        size_t n;

        if (room == 0 || m->mem.mem_available_kb >= want || m->n_procs == 0)
                return;
        n = policy_plan_headroom(&m->config, &in, want - m->mem.mem_available_kb, m->decisions,
                                 MANAGER_PROCS_MAX);
        for (size_t i = 0; i < n; i++)
                (void) do_freeze(m, &m->decisions[i], &m->cands[m->decisions[i].index], "spike headroom");
        if (n > 0 && !m->opt.dry_run)
                (void) registry_persist(m->registry);
}

/* A build's own wave reached Critical: pause one of its workers (one per tick) instead of killing. */
static void manager_spike_pause(Manager *m, usec_t now) {
        ssize_t i = aggressor_pick_pause(m->aggressor, &m->config, m->cands, m->n_procs, m->foreground, now);
        const Candidate *c;
        Decision d;

        if (i < 0) {
                if (aggressor_blame(m->aggressor) == BLAME_OTHER)
                        log_notice("A process of a build was paused %d times and keeps the memory at the brink:"
                                   " it is treated as a runaway from now on", SPIKE_PAUSES_MAX);
                return;
        }
        c = &m->cands[i];
        d = (Decision) {
                .index = (size_t) i, .pid = c->pid, .starttime = c->starttime, .action = ACTION_FREEZE,
                .priority = policy_priority(&m->config, c, m->foreground), .footprint_kb = c->rss_kb + c->swap_kb,
        };
        if (do_freeze(m, &d, c, "spike pause") >= 0)
                aggressor_note_pause(m->aggressor, c->pid, c->starttime);
}

/*
 * Resume a paused worker of a build, one per tick, as soon as the stall is down again (this tick's
 * target at most Elevated) and MemAvailable covers the thaw reserve: a paused worker holds its
 * memory and stalls its whole build, so it does not wait for the calm period recovery waits for.
 */
static void manager_spike_release(Manager *m) {
        if (!m->config.spike_mode || aggressor_blame(m->aggressor) == BLAME_OTHER ||
            m->target > LEVEL_ELEVATED ||
            m->mem.mem_available_kb < policy_thaw_reserve_kb(&m->config, m->mem.mem_total_kb))
                return;
        for (size_t i = 0; i < m->n_procs; i++) {
                const Candidate *c = &m->cands[i];
                RegistryEntry *e;

                if (c->build == 0 || c->frozen == FREEZE_NONE)
                        continue;
                e = registry_find_pid(m->registry, c->pid);
                if (!e || e->starttime != c->starttime || e->how == REGISTRY_CHECKPOINT)
                        continue;
                if (manager_thaw(m, e, "spike release") >= 0 && !m->opt.dry_run)
                        (void) registry_persist(m->registry);
                return;
        }
}

static void manager_act(Manager *m, usec_t now) {
        PlanInput in = manager_plan_input(m);
        bool hold;
        size_t n;

        aggressor_note_stall(m->aggressor, m->score.stall_now_pct);
        in.aggressor = aggressor_pick(m->aggressor, &m->config, m->cands, m->n_procs, m->foreground,
                                      m->level, m->score.trend, now, m->spike);
        in.shield_builds = spike_shield(&m->config, aggressor_blame(m->aggressor));
        in.spare_all = in.shield_builds && aggressor_blame(m->aggressor) == BLAME_BUILD;
        manager_log_blame(m, now);
        /*
         * The first scans of an incident have little history, so the runaway may not be told
         * yet and the plan's first victim would be picked by tier alone: freeze now, and kill
         * only once the aggressor is known, or after a few scans without one (a pressure that no
         * single process causes), or at once at Emergency.
         */
        hold = destructive_hold(m, now) || m->active_scans < 2 ||
                (in.aggressor < 0 && m->active_scans < 5 && m->level < LEVEL_EMERGENCY);
        n = policy_plan(&m->config, &in, m->decisions, MANAGER_PROCS_MAX);
        for (size_t i = 0; i < n; i++) {
                const Decision *d = &m->decisions[i];
                const Candidate *c = &m->cands[d->index];
                const char *reason = d->aggressor ? "aggressor" : "priority";

                switch (d->action) {
                case ACTION_FREEZE:
                        (void) do_freeze(m, d, c, reason);
                        break;
                case ACTION_TERMINATE:
                case ACTION_KILL:
                case ACTION_CHECKPOINT:
                        if (hold) {
                                log_debug("Holding back %s of pid %d (%s): the last victim has not settled",
                                          action_to_string(d->action), (int) c->pid, c->name);
                                break;
                        }
                        if (d->action == ACTION_CHECKPOINT) {
                                if (m->opt.dry_run)
                                        manager_record(m, "checkpoint", c, d->priority, d->footprint_kb, NULL, "dry-run", reason);
                                else if (privileged_checkpoint(m, d, c) < 0) {
                                        /* no helper, or it is busy: a kill frees the memory now */
                                        Decision k = *d;
                                        k.action = ACTION_KILL;
                                        (void) manager_destroy(m, &k, c, "checkpoint unavailable");
                                }
                        } else
                                (void) manager_destroy(m, d, c, reason);
                        aggressor_note_freed(m->aggressor, now);
                        hold = true;
                        break;
                default:
                        break;
                }
        }
        if (in.spare_all && m->target >= LEVEL_CRITICAL)
                manager_spike_pause(m, now);
        if (!m->opt.dry_run)
                (void) registry_persist(m->registry);
}

static void manager_recover(Manager *m, usec_t now) {
        RecoveryInput in = {
                .level = m->level, .now = now, .level_since = m->lm.entered_at,
                .mem = manager_mem(m),
                .held = m->held,
        };
        struct { pid_t pid; uint64_t starttime; } ids[REGISTRY_MAX];
        size_t n, k = 0;

        in.n_held = registry_to_held(m->registry, m->held, REGISTRY_MAX);
        if (in.n_held == 0)
                return;
        in.extra_reserve_kb = spike_reserve_kb(m->spike, &m->config);
        n = policy_recover(&m->config, &in, m->picks, REGISTRY_MAX);
        for (size_t i = 0; i < n; i++) {
                const HeldProcess *h = &m->held[m->picks[i]];

                if (h->kind == HELD_CHECKPOINTED) {
                        RegistryEntry *e = registry_find_pid(m->registry, h->pid);
                        if (e && e->starttime == h->starttime && !m->opt.dry_run)
                                (void) privileged_restore(m, e);
                        continue;
                }
                ids[k].pid = h->pid;
                ids[k++].starttime = h->starttime;
        }
        for (size_t i = 0; i < k; i++) {
                RegistryEntry *e = registry_find_pid(m->registry, ids[i].pid);
                if (e && e->starttime == ids[i].starttime)
                        (void) manager_thaw(m, e, "recovery");
        }
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
        r = executor_thaw(m->executor, e->pid, e->starttime, registry_how_freeze_method(e->how), e->cgroup);
        if (r < 0 && r != -ESRCH && r != -ENOENT) {
                (void) snprintf(res, sizeof res, "failed: %s", strerror(-r));
                a.result = res;
                log_action(&a);
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

        if (m->level != prev)
                log_notice("Pressure level %s -> %s: score %.3f (psi %.2f swap %.2f gpu %.2f swapio %.2f), "
                           "stall %.1f%%, trend %+.3f/s, MemAvailable %llu MiB",
                           level_to_string(prev), level_to_string(m->level), m->score.p, m->score.s_psi,
                           m->score.s_swap, m->score.s_gpu, m->score.s_swapio, m->score.stall_pct,
                           m->score.trend, (unsigned long long) (m->mem.mem_available_kb / 1024));
        (void) sd_notifyf(0, "STATUS=level %s, score %.2f, %zu frozen, %zu checkpointed",
                          level_to_string(m->level), m->score.p, fr, cp);
}

/*
 * Whether the next tick must come at the fast rate: while the pressure is on (this tick's target
 * above Normal), anything is held, a destructive action is in flight, or a build in waves is
 * watched. Calming down after a blip needs no fast ticks: the level machine counts the calm in
 * wall time, a new stall wakes mgd through the trigger at once, and on a machine whose kernel
 * reclaims proactively (DAMON) such blips come every few minutes with nothing to do.
 */
static bool manager_urgent(Manager *m, size_t *cp) {
        return m->target > LEVEL_NORMAL || count_frozen(m, cp) > 0 || executor_busy(m->executor) ||
                spike_active(m->spike);
}

int manager_tick(Manager *m) {
        usec_t now = now_usec(CLOCK_MONOTONIC), next;
        Level prev = m->level;
        size_t cp;
        bool active, idle;
        int r;

        m->ticks++;
        m->last_tick = now;
        r = sense_sample(m, now);
        if (r < 0) {
                manager_schedule_tick(m, m->config.fast_tick_usec);
                return r;
        }
        m->target = level_target(&m->config, &m->score);
        /*
         * A trigger event is the kernel's own measurement that stall stayed above the trigger over
         * its whole window: it counts as one observation of the target, this tick's sample as the
         * next, so the first action follows the event instead of waiting for another tick.
         */
        if (m->triggered && m->target > m->level)
                (void) level_machine_update(&m->lm, &m->config, m->target, m->score.trend, now);
        m->triggered = false;
        m->level = level_machine_update(&m->lm, &m->config, m->target, m->score.trend, now);
        /* a build in waves is watched between its waves too, to make room before the next one;
         * a cgroup setting still in force is watched until it is undone */
        active = m->level > LEVEL_NORMAL || m->target > LEVEL_NORMAL || spike_active(m->spike) ||
                cgacts_pending(m->cgacts);
        idle = !active && m->level == LEVEL_NORMAL && now >= m->idle_sweep_next;
        if (active || idle) {
                m->filter.want_gpu = m->level >= LEVEL_ELEVATED;
                if (manager_scan(m) >= 0 && active) {
                        aggressor_feed(m->aggressor, m->cands, m->n_procs, now);
                        m->active_scans++;
                }
        }
        if (!active)
                m->active_scans = 0;
        if (active && m->n_procs > 0)
                cgacts_update(m->cgacts, &m->config, m->level, m->procs, m->cands, m->n_procs, m->foreground);
        if (idle) {
                MemFigures mem = manager_mem(m);

                cgacts_idle(m->cgacts, &m->config, m->level, m->procs, m->cands, m->n_procs, m->foreground, &mem, now);
                m->idle_sweep_next = now + MIN((usec_t) IDLE_SWEEP_USEC, m->config.idle_reclaim_after_usec / 2);
        }
        if (active && m->n_procs > 0)
                manager_spike_release(m);
        if (m->level > LEVEL_NORMAL)
                privileged_zram_compact(m, now);
        if (m->level > LEVEL_NORMAL && m->n_procs > 0)
                manager_act(m, now);
        else if (m->level == LEVEL_NORMAL) {
                if (prev > LEVEL_NORMAL)
                        aggressor_reset(m->aggressor);
                if (m->target == LEVEL_NORMAL)
                        m->trigger_at = 0;      /* a trigger that led to nothing */
                if (active && m->n_procs > 0)
                        manager_spike_headroom(m, now);
                manager_recover(m, now);
                privileged_swap_reclaim(m, now);
        }
        manager_history_tick(m, now);
        manager_hibernate_tick(m, now);
        manager_notify(m, prev);

        next = manager_urgent(m, &cp) ? m->config.fast_tick_usec : m->config.slow_tick_usec;
        if (m->confirm_at > now) {
                next = MIN(next, m->confirm_at - now);
                m->confirm_at = 0;
        }
        manager_schedule_tick(m, next);
        return 0;
}
