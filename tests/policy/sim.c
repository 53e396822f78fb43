/* SPDX-License-Identifier: GPL-2.0-only */
/* The closed-loop model of tests/policy/sim.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tests/policy/sim.h"

#define DT_USEC (50 * USEC_PER_MSEC)
/* daemon/tick.c's: a trigger's tick decides on a scan at most this old, then scans */
#define STALE_SCAN_MAX_USEC (1500 * USEC_PER_MSEC)
#define TRIGGER_WINDOW_USEC (2 * USEC_PER_SEC)
#define TRIGGER_STALL_USEC (100 * USEC_PER_MSEC)
#define TERM_EXIT_USEC (200 * USEC_PER_MSEC)    /* a process that handles SIGTERM is gone this soon */
#define KILL_EXIT_USEC (50 * USEC_PER_MSEC)
#define CHECKPOINT_USEC (1 * USEC_PER_SEC)
#define IDLE_SWEEP_USEC (120 * USEC_PER_SEC)

void sim_init(Sim *s, const SimParams *p, PolicyConfig *cfg, PolicyState *state) {
        memset(s, 0, sizeof(*s));
        s->p = *p;
        s->config = cfg;
        s->state = state;
        s->now = 10 * USEC_PER_SEC;
        s->file_kb = p->file_kb;
        s->window_start = s->now;
        s->next_tick = s->now;
        memset(state, 0, sizeof(*state));
        policy_state_init(state, cfg, s->now);
}

SimProc *sim_add(Sim *s, const char *name, int priority, bool protect, double kb, double target_kb,
                 double rate_kbs, double hot, usec_t start_at, usec_t life_usec) {
        SimProc *x;

        if (s->n >= SIM_PROCS_MAX)
                return NULL;
        x = &s->procs[s->n];
        memset(x, 0, sizeof(*x));
        x->pid = (pid_t) (1000 + s->n);
        x->ppid = 1;
        x->starttime = 100 + s->n;
        (void) snprintf(x->name, sizeof(x->name), "%s", name);
        x->priority = priority;
        x->protect = protect;
        x->rss_kb = kb;
        x->target_kb = MAX(kb, target_kb);
        x->rate_kbs = rate_kbs;
        x->hot = hot;
        x->start_at = start_at ? s->now + start_at : 0;
        x->life_usec = life_usec;
        x->started = start_at == 0;
        x->end = SIM_ALIVE;
        s->n++;
        return x;
}

static bool present(const SimProc *x) {
        return x->started && x->end == SIM_ALIVE;
}

size_t sim_alive(const Sim *s) {
        size_t n = 0;

        for (size_t i = 0; i < s->n; i++)
                n += present(&s->procs[i]);
        return n;
}

/* ---- memory ------------------------------------------------------------------------------------ */

static double sim_swapped(const Sim *s) {
        double t = 0;

        for (size_t i = 0; i < s->n; i++)
                if (present(&s->procs[i]))
                        t += s->procs[i].swap_kb;
        return t;
}

static double sim_resident(const Sim *s) {
        double t = 0;

        for (size_t i = 0; i < s->n; i++)
                if (present(&s->procs[i]))
                        t += s->procs[i].rss_kb;
        return t;
}

static double zram_pool(const Sim *s) {
        return s->p.zram_ratio > 0 ? sim_swapped(s) / s->p.zram_ratio : 0;
}

static double reserve_kb(const Sim *s) {
        return s->p.ram_kb * 0.03;
}

static double free_kb(const Sim *s) {
        return s->p.ram_kb - reserve_kb(s) - sim_resident(s) - s->file_kb - zram_pool(s);
}

static double mem_available(const Sim *s) {
        double reclaimable = MAX(0.0, s->file_kb - s->p.file_ws_kb * 0.5);

        return MAX(0.0, free_kb(s) + reclaimable);
}

/* Swap out up to kb of the coldest anonymous memory; returns the RAM it freed. */
static double swap_out(Sim *s, double kb, double *moved) {
        double room = s->p.swap_kb - sim_swapped(s), gain = s->p.zram_ratio > 0 ? 1 - 1 / s->p.zram_ratio : 1;
        double cold_total = 0, want, freed = 0;

        if (room <= 0 || kb <= 0 || gain <= 0)
                return 0;
        for (size_t i = 0; i < s->n; i++) {
                SimProc *x = &s->procs[i];

                if (present(x))
                        cold_total += x->rss_kb * (x->frozen ? 1.0 : 1.0 - x->hot) * (x->frozen ? 4 : 1);
        }
        if (cold_total <= 0)
                return 0;
        want = MIN(room, kb / gain);
        for (size_t i = 0; i < s->n; i++) {
                SimProc *x = &s->procs[i];
                double cold, take;

                if (!present(x))
                        continue;
                cold = x->rss_kb * (x->frozen ? 1.0 : 1.0 - x->hot) * (x->frozen ? 4 : 1);
                take = MIN(x->rss_kb * (x->frozen ? 1.0 : 1.0 - x->hot), want * cold / cold_total);
                x->rss_kb -= take;
                x->swap_kb += take;
                *moved += take;
                freed += take * gain;
        }
        s->pswpout += (uint64_t) (*moved / 4);
        return freed;
}

static void end_proc(Sim *s, SimProc *x, SimEnd how);

/* The OOM killer: the largest badness, footprint share plus oom_score_adj. */
static void oom_kill(Sim *s) {
        SimProc *victim = NULL;
        double best = -1e9;
        bool expendable = false;

        for (size_t i = 0; i < s->n; i++) {
                SimProc *x = &s->procs[i];
                double badness;

                if (!present(x))
                        continue;
                expendable |= !x->protect && x->priority >= PRIORITY_FREEZABLE_MIN;
                badness = (x->rss_kb + x->swap_kb) / s->p.ram_kb * 1000 + x->oom_adj;
                if (badness > best) {
                        best = badness;
                        victim = x;
                }
        }
        if (!victim)
                return;
        s->st.kernel_kills++;
        s->st.kernel_kills_protected += victim->protect || victim->pid == s->foreground;
        s->st.kernel_kills_while_expendable += expendable;
        end_proc(s, victim, SIM_KILLED_KERNEL);
}

/* ---- processes --------------------------------------------------------------------------------- */

static int sim_priority(const Sim *s, const SimProc *x) {
        return x->protect || x->pid == s->foreground ? -1 : x->priority;
}

/*
 * A kill of x while a less important process lives breaks the contract, unless x is the scenario's
 * runaway: whom mgd names the aggressor does not matter, the ground truth does.
 */
static void check_inversion(Sim *s, const SimProc *x) {
        int px = sim_priority(s, x);

        if (x->culprit || px < 0)
                return;
        for (size_t i = 0; i < s->n; i++) {
                const SimProc *y = &s->procs[i];

                if (y == x || !present(y) || y->kill_at || y->term_at || y->ckpt_done_at ||
                    y->rss_kb + y->swap_kb < MAX((double) RELEASE_MIN_FOOTPRINT_KB, (double) s->config->min_footprint_kb))
                        continue;
                if (sim_priority(s, y) > px) {
                        if (s->st.inversions++ == 0)
                                (void) snprintf(s->st.inversion, sizeof(s->st.inversion),
                                                "%s (prio %d) died at %.1f s while %s (prio %d) lived", x->name, px,
                                                (double) s->now / USEC_PER_SEC, y->name, sim_priority(s, y));
                        return;
                }
        }
}

static void held_remove(Sim *s, pid_t pid) {
        for (size_t i = 0; i < s->n_held; i++)
                if (s->held[i].pid == pid) {
                        s->held[i] = s->held[--s->n_held];
                        return;
                }
}

static void unfreeze(Sim *s, SimProc *x) {
        if (!x->frozen)
                return;
        x->frozen = false;
        x->frozen_longest = MAX(x->frozen_longest, s->now - x->frozen_at);
        s->st.frozen_longest = MAX(s->st.frozen_longest, x->frozen_longest);
}

static void end_proc(Sim *s, SimProc *x, SimEnd how) {
        if (how == SIM_KILLED_KERNEL)
                check_inversion(s, x);
        unfreeze(s, x);
        x->end = how;
        x->end_at = s->now;
        if (how != SIM_CHECKPOINTED) {
                x->rss_kb = x->swap_kb = 0;
                held_remove(s, x->pid);
        }
        if (how == SIM_KILLED_MGD || how == SIM_CHECKPOINTED) {
                s->victim_exited_at = s->now;
                x->kill_at = x->term_at = x->ckpt_done_at = 0;
        }
}

static void signals(Sim *s) {
        for (size_t i = 0; i < s->n; i++) {
                SimProc *x = &s->procs[i];

                if (!present(x))
                        continue;
                if (x->ckpt_done_at && s->now >= x->ckpt_done_at)
                        end_proc(s, x, SIM_CHECKPOINTED);
                else if (x->kill_at && s->now >= x->kill_at)
                        end_proc(s, x, SIM_KILLED_MGD);
                else if (x->term_at && !x->ignores_term && !x->frozen && s->now >= x->term_at + TERM_EXIT_USEC)
                        end_proc(s, x, SIM_KILLED_MGD);
        }
}

/* What the running processes want this tick: growth, and the swapped pages they touch. */
static double demand(Sim *s, double dt_s) {
        double want = 0;

        for (size_t i = 0; i < s->n; i++) {
                SimProc *x = &s->procs[i];

                if (!x->started && x->start_at && s->now >= x->start_at)
                        x->started = true;
                if (!present(x) || x->frozen || x->ckpt_done_at)
                        continue;
                x->ran_usec += DT_USEC;
                if (x->life_usec && x->ran_usec >= x->life_usec) {
                        end_proc(s, x, SIM_EXITED);
                        continue;
                }
                want += MIN(x->rate_kbs * dt_s, MAX(0.0, x->target_kb - x->rss_kb - x->swap_kb));
                want += x->swap_kb * MIN(1.0, x->hot * 3 * dt_s);
        }
        return want;
}

/* Give each running process what it wanted, as far as the memory got; the refaults move swap to RAM. */
static void grant(Sim *s, double dt_s, double share) {
        for (size_t i = 0; i < s->n; i++) {
                SimProc *x = &s->procs[i];
                double grow, back;

                if (!present(x) || x->frozen || x->ckpt_done_at)
                        continue;
                grow = MIN(x->rate_kbs * dt_s, MAX(0.0, x->target_kb - x->rss_kb - x->swap_kb)) * share;
                back = x->swap_kb * MIN(1.0, x->hot * 3 * dt_s) * share;
                x->rss_kb += grow + back;
                x->swap_kb -= back;
                x->majflt += (uint64_t) (back / 4);
                s->pswpin += (uint64_t) (back / 4);
        }
}

static void stall(Sim *s, double frac, double probe_frac) {
        double us = frac * DT_USEC;

        s->some_usec += us;
        s->full_usec += us * 0.8;
        s->window_stall += us;
        s->st.probe_stall_usec += probe_frac * DT_USEC;
        s->avg10 += (frac * 100 - s->avg10) * ((double) DT_USEC / (10.0 * USEC_PER_SEC));
        s->full_avg10 += (frac * 80 - s->full_avg10) * ((double) DT_USEC / (10.0 * USEC_PER_SEC));
        s->stall_1s[0] += us;
}

/* Drop page cache down to floor_kb, at most kb of it; returns what it freed. */
static double reclaim_cache(Sim *s, double kb, double floor_kb) {
        double take = MIN(MAX(0.0, s->file_kb - floor_kb), MAX(0.0, kb));

        s->file_kb -= take;
        return take;
}

/* One DT of the kernel: demand, reclaim (cache, then swap), the OOM killer, and the stall it costs. */
static void physics(Sim *s) {
        double dt_s = (double) DT_USEC / USEC_PER_SEC, want, have, moved = 0, work, frac, ws_short;

        signals(s);
        want = demand(s, dt_s);
        /* kswapd keeps a low watermark free: reclaim starts before free memory is gone */
        have = free_kb(s) - s->p.ram_kb * 0.02;
        if (want > have)
                have += reclaim_cache(s, want - have, s->p.file_ws_kb);
        if (want > have) {
                /* below the cache's working set, anonymous pages go to swap first (swappiness) */
                double anon = swap_out(s, (want - have) * 0.8, &moved);

                have += anon;
                have += reclaim_cache(s, want - have - swap_out(s, want - have, &moved), s->p.file_ws_kb * 0.25);
        }
        have += s->p.ram_kb * 0.02;             /* the watermark itself is the last to go */
        /*
         * Nothing left to reclaim: the kernel retries reclaim, every task stalls, and only after
         * that livelock has lasted does the OOM killer run (seconds with swap to thrash through,
         * a fraction of one without).
         */
        if (want > have + 1) {
                s->starving += DT_USEC;
                if (s->starving >= (s->p.swap_kb > 0 ? s->p.oom_delay_usec : s->p.oom_delay_usec / 8)) {
                        oom_kill(s);
                        s->starving = 0;
                        have = free_kb(s);
                }
        } else
                s->starving = 0;
        grant(s, dt_s, want > 0 ? MIN(1.0, MAX(0.0, have) / want) : 1.0);
        /* the page cache grows back into free memory */
        if (free_kb(s) > 0)
                s->file_kb = MIN(s->p.file_kb, s->file_kb + MIN(free_kb(s), s->p.file_kb * 0.02));
        /* stall: the swap traffic over the device's bandwidth, and a cache below its working set */
        work = moved + want * 0.3;
        ws_short = s->file_kb < s->p.file_ws_kb ? (s->p.file_ws_kb - s->file_kb) / s->p.file_ws_kb : 0;
        frac = MIN(1.0, (moved > 0 ? work / (s->p.reclaim_kbs * dt_s) : 0) + ws_short + (s->starving ? 1.0 : 0));
        stall(s, frac, moved > 0 || ws_short > 0 || s->starving ? frac : 0);
}

/* ---- mgd ------------------------------------------------------------------------------------------- */

static SimProc *by_pid(Sim *s, pid_t pid) {
        for (size_t i = 0; i < s->n; i++)
                if (s->procs[i].pid == pid)
                        return &s->procs[i];
        return NULL;
}

static void observe(Sim *s, Observation *o, bool triggered) {
        double zr = s->p.zram_ratio;

        *o = (Observation) {
                .now = s->now, .n_psi = 1, .page_size_kb = 4, .triggered = triggered,
                .mem = { (uint64_t) s->p.ram_kb, (uint64_t) mem_available(s), (uint64_t) s->p.swap_kb,
                         (uint64_t) MAX(0.0, s->p.swap_kb - sim_swapped(s)) },
                .pswpin = s->pswpin, .pswpout = s->pswpout,
                .zram_orig_kb = zr > 0 ? (uint64_t) sim_swapped(s) : 0,
                .zram_used_kb = zr > 0 ? (uint64_t) zram_pool(s) : 0,
                .cands = s->cands, .held = s->held, .n_held = s->n_held,
                .foreground = s->foreground, .checkpoint_available = false,
                .victim_exited_at = s->victim_exited_at, .avail_before_victim = s->avail_before_victim,
        };
        o->psi[0] = (PsiReading) { .valid = true, .some_avg10 = round(s->avg10 * 100) / 100,
                                   .full_avg10 = round(s->full_avg10 * 100) / 100,
                                   .some_total_usec = (uint64_t) s->some_usec, .full_total_usec = (uint64_t) s->full_usec };
        for (size_t i = 0; i < s->n; i++) {
                const SimProc *x = &s->procs[i];

                o->destructive_busy |= present(x) && (x->kill_at || x->term_at || x->ckpt_done_at);
        }
}

static void scan(Sim *s, Observation *o) {
        o->scanned = true;
        o->n_cands = 0;
        for (size_t i = 0; i < s->n; i++) {
                const SimProc *x = &s->procs[i];
                Candidate *c = &s->cands[o->n_cands];

                if (!present(x))
                        continue;
                memset(c, 0, sizeof(*c));
                c->pid = x->pid;
                c->ppid = x->ppid;
                c->starttime = x->starttime;
                (void) snprintf(c->name, sizeof(c->name), "%s", x->name);
                c->rss_kb = (uint64_t) x->rss_kb;
                c->swap_kb = (uint64_t) x->swap_kb;
                c->majflt = x->majflt;
                c->oom_score_adj = x->oom_adj;
                c->age_usec = s->now - (x->start_at ? x->start_at : 10 * USEC_PER_SEC) + USEC_PER_SEC;
                c->frozen = x->frozen ? FREEZE_CGROUP : FREEZE_NONE;
                o->n_cands++;
        }
}

static void act_destroy(Sim *s, SimProc *x, const StepAction *a) {
        if (x->kill_at || x->term_at || x->ckpt_done_at)
                return;
        check_inversion(s, x);
        s->st.mgd_kills++;
        s->avail_before_victim = (uint64_t) mem_available(s);
        if (a->action == ACTION_KILL || x->frozen)
                x->kill_at = s->now + KILL_EXIT_USEC;
        else if (a->action == ACTION_TERMINATE) {
                x->term_at = s->now;
                x->kill_at = s->now + s->config->term_grace_usec;
        } else
                x->ckpt_done_at = s->now + CHECKPOINT_USEC;
}

static void act_freeze(Sim *s, SimProc *x, const StepAction *a) {
        if (x->frozen)
                return;
        x->frozen = true;
        x->frozen_at = s->now;
        x->freezes++;
        s->st.mgd_freezes++;
        s->held[s->n_held++] = (HeldProcess) { .pid = x->pid, .starttime = x->starttime, .kind = HELD_FROZEN,
                                               .priority = a->priority, .footprint_kb = a->footprint_kb,
                                               .since = s->now };
}

static void execute(Sim *s, const StepAction *a) {
        SimProc *x = by_pid(s, a->pid);

        if (!x || x->starttime != a->starttime)
                return;
        if (a->action != ACTION_THAW && a->action != ACTION_RESTORE && (x->protect || x->pid == s->foreground))
                s->st.mgd_actions_protected++;
        switch (a->action) {
        case ACTION_FREEZE:
                if (present(x))
                        act_freeze(s, x, a);
                break;
        case ACTION_TERMINATE:
        case ACTION_KILL:
        case ACTION_CHECKPOINT:
                if (present(x))
                        act_destroy(s, x, a);
                break;
        case ACTION_THAW:
                if (present(x) && x->frozen) {
                        unfreeze(s, x);
                        held_remove(s, x->pid);
                        x->thaws++;
                        s->st.mgd_thaws++;
                }
                break;
        case ACTION_RESTORE:
                break;
        default:
                break;
        }
}

/* As the daemon does on a trigger's tick: the last scan's candidates, what mgd holds brought up to date. */
static bool scan_stale(Sim *s, Observation *o) {
        if (!o->triggered || s->n_scanned == 0 || s->now > s->scanned_at + STALE_SCAN_MAX_USEC)
                return false;
        for (size_t i = 0; i < s->n_scanned; i++) {
                const SimProc *x = by_pid(s, s->cands[i].pid);

                s->cands[i].frozen = x && x->frozen ? FREEZE_CGROUP : FREEZE_NONE;
        }
        o->scanned = o->stale = true;
        o->n_cands = s->n_scanned;
        return true;
}

static void mgd_tick(Sim *s, bool triggered) {
        static Observation o;
        StepOutput out = { .acts = s->acts, .max_acts = ELEMENTSOF(s->acts) };
        Level level;
        bool want, stale;

        observe(s, &o, triggered);
        want = policy_scan_wanted(s->state, s->config, &o, &level);
        stale = want && scan_stale(s, &o);
        if (!stale && (want || s->st.steps % 12 == 0)) {
                scan(s, &o);
                s->n_scanned = o.n_cands;
                s->scanned_at = s->now;
        }
        if (s->on_observe)
                s->on_observe(s->userdata, &o);
        policy_step(s->config, s->state, &o, &out);
        s->st.steps++;
        if (s->on_step)
                s->on_step(s->userdata, &o, &out);
        for (size_t i = 0; i < out.n_acts; i++)
                execute(s, &out.acts[i]);
        s->next_tick = s->now + (stale ? (usec_t) DT_USEC : MAX(out.next_tick, (usec_t) DT_USEC));
}

/* When the scenario's own processes (all but the first n_desktop) were last alive or still to come. */
static void workload_watch(Sim *s) {
        for (size_t i = s->n_desktop; i < s->n; i++) {
                const SimProc *x = &s->procs[i];

                if (!x->started || x->end == SIM_ALIVE) {
                        s->workload_seen = s->now;
                        return;
                }
        }
}

/* Every second: how long after the pressure was gone (the workload over, no stall) is something frozen. */
static void bookkeeping(Sim *s) {
        bool frozen = false;
        usec_t quiet;

        if (s->now - (usec_t) s->stall_1s[1] < USEC_PER_SEC)
                return;
        if (s->stall_1s[0] >= 0.10 * USEC_PER_SEC)
                s->st.last_stall = s->now;
        s->stall_1s[0] = 0;
        s->stall_1s[1] = (double) s->now;
        workload_watch(s);
        for (size_t i = 0; i < s->n; i++)
                frozen |= present(&s->procs[i]) && s->procs[i].frozen;
        quiet = MAX(s->st.last_stall, s->workload_seen);
        if (frozen && quiet && s->now - quiet > 60 * USEC_PER_SEC)
                s->st.frozen_after_calm = MAX(s->st.frozen_after_calm, s->now - quiet);
}

void sim_run(Sim *s) {
        usec_t end = s->now + s->p.duration;

        s->stall_1s[1] = (double) s->now;
        while (s->now < end) {
                bool triggered = false;

                physics(s);
                s->now += DT_USEC;
                if (s->now - s->window_start >= TRIGGER_WINDOW_USEC) {
                        triggered = s->window_stall >= TRIGGER_STALL_USEC;
                        s->window_stall = 0;
                        s->window_start = s->now;
                }
                if (s->p.mgd && (triggered || s->now >= s->next_tick))
                        mgd_tick(s, triggered);
                bookkeeping(s);
        }
        s->st.some_usec = s->some_usec;
        s->st.full_usec = s->full_usec;
        for (size_t i = 0; i < s->n; i++) {
                SimProc *x = &s->procs[i];

                if (present(x) && x->frozen) {
                        s->st.frozen_at_end++;
                        s->st.frozen_longest = MAX(s->st.frozen_longest, s->now - x->frozen_at);
                }
        }
}
