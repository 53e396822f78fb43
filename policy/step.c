/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * policy_step(): the whole tick's decision, in the order the tick makes it: score every PSI
 * source, move the level machine, feed the trackers from the scan, then either act (above
 * Normal: the plan, spike mode's pause) or recover (at Normal: spike mode's headroom, thaws and
 * restores), and say when to look again. Pure: the observation and the state in, actions out.
 */
#include <errno.h>
#include <string.h>

#include "policy/step.h"

/* After a victim exited: wait this long at most for MemAvailable to move before the next one. */
#define SETTLE_USEC (3 * USEC_PER_SEC)

const char *step_why_to_string(StepWhy w) {
        static const char *const names[_WHY_MAX] = {
                [WHY_PRIORITY] = "priority",
                [WHY_AGGRESSOR] = "aggressor",
                [WHY_SPIKE_HEADROOM] = "spike headroom",
                [WHY_SPIKE_PAUSE] = "spike pause",
                [WHY_SPIKE_RELEASE] = "spike release",
                [WHY_RECOVERY] = "recovery",
        };

        return (unsigned) w < _WHY_MAX ? names[w] : NULL;
}

void policy_state_init(PolicyState *s, const PolicyConfig *c, usec_t now) {
        for (size_t i = 0; i < POLICY_PSI_SOURCES; i++)
                score_state_init(&s->score_state[i], c);
        memset(&s->score, 0, sizeof(s->score));
        level_machine_init(&s->lm, now);
        s->level = s->target = LEVEL_NORMAL;
        s->active_scans = 0;
}

void policy_state_reconfigure(PolicyState *s, const PolicyConfig *c) {
        for (size_t i = 0; i < POLICY_PSI_SOURCES; i++)
                s->score_state[i].swapio_full_scale_kbs = c->swapio_full_scale_kbs;
}

size_t policy_held_frozen(const Observation *o) {
        size_t n = 0;

        for (size_t i = 0; i < o->n_held; i++)
                n += o->held[i].kind == HELD_FROZEN;
        return n;
}

static PressureSample step_sample(const Observation *o, const PsiReading *p) {
        return (PressureSample) {
                .now = o->now,
                .some_avg10 = p->some_avg10, .full_avg10 = p->full_avg10,
                .some_total_usec = p->some_total_usec, .full_total_usec = p->full_total_usec,
                .mem_total_kb = o->mem.mem_total_kb, .mem_available_kb = o->mem.mem_available_kb,
                .swap_total_kb = o->mem.swap_total_kb, .swap_free_kb = o->mem.swap_free_kb,
                .pswpin = o->pswpin, .pswpout = o->pswpout,
                .gpu_uma_kb = o->gpu_uma_kb, .page_size_kb = o->page_size_kb,
        };
}

/* Score every source into its state (scores[]); the source under the most pressure wins. */
static int step_score(ScoreState *states, const Observation *o, Score *ret) {
        bool any = false;

        for (size_t i = 0; i < o->n_psi && i < POLICY_PSI_SOURCES; i++) {
                PressureSample x;
                Score sc;

                if (!o->psi[i].valid)
                        continue;
                x = step_sample(o, &o->psi[i]);
                sc = score_update(&states[i], &x);
                if (!any || sc.p > ret->p)
                        *ret = sc;
                any = true;
        }
        return any ? 0 : -ENODATA;
}

/* The level after this tick's target (a trigger event counts as one observation of it). */
static Level step_level(LevelMachine *lm, const PolicyConfig *c, const Observation *o, Level target,
                        double trend) {
        if (o->triggered && target > lm->current)
                (void) level_machine_update(lm, c, target, trend, o->now);
        return level_machine_update(lm, c, target, trend, o->now);
}

/* Whether this tick's scan feeds the trackers: the pressure is on, a build is watched, a setting holds. */
static bool step_active(const PolicyState *s, const Observation *o, Level level, Level target) {
        return level > LEVEL_NORMAL || target > LEVEL_NORMAL || spike_active(&s->spike) || o->cgroup_pending;
}

bool policy_scan_wanted(const PolicyState *s, const PolicyConfig *c, const Observation *o, Level *ret_level) {
        ScoreState states[POLICY_PSI_SOURCES];
        LevelMachine lm = s->lm;
        Score sc = {};
        Level target, level;

        if (ret_level)
                *ret_level = s->level;
        memcpy(states, s->score_state, sizeof(states));
        if (step_score(states, o, &sc) < 0)
                return false;
        target = level_target(c, &sc);
        level = step_level(&lm, c, o, target, sc.trend);
        if (ret_level)
                *ret_level = level;
        return step_active(s, o, level, target);
}

static StepAction *step_push(StepOutput *out, Action a, StepWhy why, size_t index, pid_t pid,
                             uint64_t starttime, int priority, uint64_t footprint_kb, bool aggressor) {
        StepAction *x;

        if (out->n_acts >= out->max_acts || !out->acts)
                return NULL;
        x = &out->acts[out->n_acts++];
        *x = (StepAction) {
                .action = a, .why = why, .index = index, .pid = pid, .starttime = starttime,
                .priority = priority, .footprint_kb = footprint_kb, .aggressor = aggressor,
        };
        return x;
}

static void step_push_decision(StepOutput *out, const Decision *d, StepWhy why) {
        (void) step_push(out, d->action, why, d->index, d->pid, d->starttime, d->priority, d->footprint_kb,
                         d->aggressor);
}

static PlanInput step_plan_input(const PolicyState *s, const Observation *o) {
        return (PlanInput) {
                .level = s->level,
                .mem = o->mem,
                .cands = o->cands,
                .n_cands = o->n_cands,
                .foreground = o->foreground,
                .checkpoint_available = o->checkpoint_available,
                .aggressor = -1,
        };
}

/* A destructive action is in flight, or the last one has not shown in MemAvailable yet. */
static bool step_destructive_hold(const Observation *o) {
        if (o->destructive_busy)
                return true;
        if (o->victim_exited_at == 0 || o->now >= o->victim_exited_at + SETTLE_USEC)
                return false;
        /* released once MemAvailable rose by a percent of RAM since the victim went */
        return o->mem.mem_available_kb < o->avail_before_victim + o->mem.mem_total_kb / 100;
}

/* A build's own wave reached Critical: pause one of its workers (one per tick) instead of killing. */
static void step_spike_pause(const PolicyConfig *c, PolicyState *s, const Observation *o, StepOutput *out) {
        ssize_t i = aggressor_pick_pause(&s->aggressor, c, o->cands, o->n_cands, o->foreground, o->now);
        const Candidate *cand;

        if (i < 0)
                return;
        cand = &o->cands[i];
        if (step_push(out, ACTION_FREEZE, WHY_SPIKE_PAUSE, (size_t) i, cand->pid, cand->starttime,
                      policy_priority(c, cand, o->foreground), cand->rss_kb + cand->swap_kb, false))
                aggressor_note_pause(&s->aggressor, cand->pid, cand->starttime);
}

/*
 * Resume a paused worker of a build, one per tick, as soon as the stall is down again (this tick's
 * target at most Elevated) and MemAvailable covers the thaw reserve: a paused worker holds its
 * memory and stalls its whole build, so it does not wait for the calm period recovery waits for.
 */
static void step_spike_release(const PolicyConfig *c, PolicyState *s, const Observation *o, StepOutput *out) {
        if (!c->spike_mode || aggressor_blame(&s->aggressor) == BLAME_OTHER || s->target > LEVEL_ELEVATED ||
            o->mem.mem_available_kb < policy_thaw_reserve_kb(c, o->mem.mem_total_kb))
                return;
        for (size_t i = 0; i < o->n_cands; i++) {
                const Candidate *cand = &o->cands[i];

                if (cand->build == 0 || cand->frozen == FREEZE_NONE)
                        continue;
                for (size_t k = 0; k < o->n_held; k++) {
                        const HeldProcess *h = &o->held[k];

                        if (h->pid != cand->pid || h->starttime != cand->starttime || h->kind != HELD_FROZEN)
                                continue;
                        (void) step_push(out, ACTION_THAW, WHY_SPIKE_RELEASE, k, h->pid, h->starttime, h->priority,
                                         h->footprint_kb, false);
                        return;
                }
        }
}

/* Above Normal: the runaway, the blame, the plan, and a build's pause. */
static void step_act(const PolicyConfig *c, PolicyState *s, const Observation *o, StepOutput *out,
                     Decision *scratch, size_t scratch_max) {
        PlanInput in = step_plan_input(s, o);
        Blame before = aggressor_blame(&s->aggressor);
        bool hold;
        size_t n;

        aggressor_note_stall(&s->aggressor, s->score.stall_now_pct);
        in.aggressor = aggressor_pick(&s->aggressor, c, o->cands, o->n_cands, o->foreground, s->level,
                                      s->score.trend, o->now, &s->spike);
        in.shield_builds = spike_shield(c, aggressor_blame(&s->aggressor));
        in.spare_all = in.shield_builds && aggressor_blame(&s->aggressor) == BLAME_BUILD;
        out->blame = aggressor_blame(&s->aggressor);
        out->blame_changed = out->blame != before;
        /*
         * The first scans of an incident have little history, so the runaway may not be told
         * yet and the plan's first victim would be picked by tier alone: freeze now, and kill
         * only once the aggressor is known, or after a few scans without one (a pressure that no
         * single process causes), or at once at Emergency.
         */
        hold = step_destructive_hold(o) || s->active_scans < 2 ||
                (in.aggressor < 0 && s->active_scans < 5 && s->level < LEVEL_EMERGENCY);
        n = policy_plan(c, &in, scratch, scratch_max);
        for (size_t i = 0; i < n; i++) {
                const Decision *d = &scratch[i];
                StepWhy why = d->aggressor ? WHY_AGGRESSOR : WHY_PRIORITY;

                if (d->action == ACTION_FREEZE) {
                        step_push_decision(out, d, why);
                        continue;
                }
                if (hold) {
                        out->held_back++;
                        continue;
                }
                step_push_decision(out, d, why);
                aggressor_note_freed(&s->aggressor, o->now);
                hold = true;
        }
        if (in.spare_all && s->target >= LEVEL_CRITICAL)
                step_spike_pause(c, s, o, out);
}

/*
 * Spike mode between waves: a build in waves will climb back to its peak, so keep that room free
 * now, by freezing background processes ahead of the wave instead of stalling in it.
 */
static void step_spike_headroom(const PolicyConfig *c, PolicyState *s, const Observation *o, StepOutput *out,
                                Decision *scratch, size_t scratch_max) {
        PlanInput in = step_plan_input(s, o);
        uint64_t room = spike_headroom_kb(&s->spike, c, o->now);
        uint64_t want = policy_thaw_reserve_kb(c, o->mem.mem_total_kb) + room;
        size_t n;

        if (room == 0 || o->mem.mem_available_kb >= want || o->n_cands == 0)
                return;
        n = policy_plan_headroom(c, &in, want - o->mem.mem_available_kb, scratch, scratch_max);
        for (size_t i = 0; i < n; i++)
                step_push_decision(out, &scratch[i], WHY_SPIKE_HEADROOM);
}

static void step_recover(const PolicyConfig *c, PolicyState *s, const Observation *o, StepOutput *out,
                         size_t *picks, size_t picks_max) {
        RecoveryInput in = {
                .level = s->level, .now = o->now, .level_since = s->lm.entered_at,
                .mem = o->mem, .held = o->held, .n_held = o->n_held,
                .extra_reserve_kb = spike_reserve_kb(&s->spike, c),
        };
        size_t n;

        if (o->n_held == 0)
                return;
        n = policy_recover(c, &in, picks, picks_max);
        /* restores first, as the tick always asked for them: a restore takes its pid back */
        for (size_t i = 0; i < n; i++) {
                const HeldProcess *h = &o->held[picks[i]];

                if (h->kind == HELD_CHECKPOINTED)
                        (void) step_push(out, ACTION_RESTORE, WHY_RECOVERY, picks[i], h->pid, h->starttime,
                                         h->priority, h->footprint_kb, false);
        }
        for (size_t i = 0; i < n; i++) {
                const HeldProcess *h = &o->held[picks[i]];

                if (h->kind == HELD_FROZEN)
                        (void) step_push(out, ACTION_THAW, WHY_RECOVERY, picks[i], h->pid, h->starttime,
                                         h->priority, h->footprint_kb, false);
        }
}

/*
 * At Normal, with nothing held and the machine quiet, pages left in zram only cost CPU when they
 * fault back one by one: the zram swap may be cycled so they come back in one go (the helper
 * itself refuses unless RAM, and every memory cgroup, has room for them).
 */
#define SWAP_RECLAIM_MIN_USED_PCT 30

static bool step_swap_reclaim(const PolicyConfig *c, const PolicyState *s, const Observation *o) {
        uint64_t used;

        if (s->level != LEVEL_NORMAL || o->n_held > 0 || o->mem.swap_total_kb == 0)
                return false;
        if (s->score.stall_pct >= c->liveness_stall_pct)
                return false;
        used = o->mem.swap_total_kb - MIN(o->mem.swap_free_kb, o->mem.swap_total_kb);
        return used * 100 >= o->mem.swap_total_kb * SWAP_RECLAIM_MIN_USED_PCT;
}

/*
 * The next tick comes at the fast rate while the pressure is on (this tick's target above
 * Normal), anything is held, a destructive action is in flight, or a build in waves is watched.
 * Calming down after a blip needs no fast ticks: the level machine counts the calm in wall time,
 * a new stall wakes mgd through the trigger at once, and on a machine whose kernel reclaims
 * proactively (DAMON) such blips come every few minutes with nothing to do.
 */
static usec_t step_next_tick(const PolicyConfig *c, const PolicyState *s, const Observation *o) {
        bool urgent = s->target > LEVEL_NORMAL || policy_held_frozen(o) > 0 || o->destructive_busy ||
                spike_active(&s->spike);

        return urgent ? c->fast_tick_usec : c->slow_tick_usec;
}

static void step_decide(const PolicyConfig *c, PolicyState *s, Observation *o, StepOutput *out,
                        StepScratch *w) {
        bool active = step_active(s, o, s->level, s->target);

        if (o->scanned) {
                out->builds_in_waves = spike_feed(&s->spike, c, o->cands, o->n_cands, o->now);
                if (active) {
                        aggressor_feed(&s->aggressor, o->cands, o->n_cands, o->now);
                        s->active_scans++;
                }
        }
        if (!active)
                s->active_scans = 0;
        if (active && o->scanned && o->n_cands > 0)
                step_spike_release(c, s, o, out);
        out->zram_compact = s->level > LEVEL_NORMAL;
        if (s->level > LEVEL_NORMAL && o->scanned && o->n_cands > 0)
                step_act(c, s, o, out, w->decisions, ELEMENTSOF(w->decisions));
        else if (s->level == LEVEL_NORMAL) {
                if (out->prev_level > LEVEL_NORMAL) {
                        aggressor_reset(&s->aggressor);
                        out->incident_over = true;
                }
                if (active && o->scanned && o->n_cands > 0)
                        step_spike_headroom(c, s, o, out, w->decisions, ELEMENTSOF(w->decisions));
                step_recover(c, s, o, out, w->picks, ELEMENTSOF(w->picks));
                out->swap_reclaim = step_swap_reclaim(c, s, o);
        }
}

void policy_step(const PolicyConfig *c, PolicyState *s, Observation *o, StepOutput *out) {
        out->error = 0;
        out->n_acts = out->held_back = out->builds_in_waves = 0;
        out->blame_changed = out->incident_over = out->zram_compact = out->swap_reclaim = false;
        out->prev_level = s->level;
        out->blame = aggressor_blame(&s->aggressor);
        if (step_score(s->score_state, o, &s->score) < 0) {
                out->error = -ENODATA;
                out->level = s->level;
                out->target = s->target;
                out->score = s->score;
                out->next_tick = c->fast_tick_usec;
                return;
        }
        s->target = level_target(c, &s->score);
        s->level = step_level(&s->lm, c, o, s->target, s->score.trend);
        step_decide(c, s, o, out, &s->scratch);
        out->level = s->level;
        out->target = s->target;
        out->score = s->score;
        out->next_tick = step_next_tick(c, s, o);
}
