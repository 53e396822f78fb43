/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * policy_step(): the whole tick's decision. In order:
 *   1. score every PSI source (the frozen processes' own swap is not pressure) and move the level;
 *   2. the memory model (policy/release.h): headroom, its decline, the time left;
 *   3. feed the trackers from the scan;
 *   4. act: above Normal the level's plan (freezes, and kills held back until the runaway is
 *      known) and spike mode's pause; near exhaustion at any level, the runaway frozen and, when
 *      memory must be released, the victims that cover it, least important first;
 *   5. recover once the stall has been gone long enough, whatever the level, in batches that back
 *      off when they bring the stall back; and resolve what stays frozen too long: thawed, or its
 *      memory released;
 *   6. say when to look again: sooner the closer memory is to running out.
 * Pure: the observation and the state in, actions out.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "policy/step.h"

/* After a victim exited: wait this long at most for MemAvailable to move before the next one. */
#define SETTLE_USEC (3 * USEC_PER_SEC)
/* Memory is in danger when it would run out within this many horizons and less than this share of
 * RAM is left above the floor: the runaway is frozen. */
#define DANGER_HORIZONS 3
#define DANGER_HEADROOM_DIV 4
/* A frozen process still frozen this long after recovery could start is resolved. */
#define RESOLVE_GRACE_USEC (30 * USEC_PER_SEC)
/* How long a thaw batch is watched, and the first and longest backoff when it brought the stall back. */
#define BATCH_WATCH_USEC (10 * USEC_PER_SEC)
#define BACKOFF_MIN_USEC (10 * USEC_PER_SEC)
#define BACKOFF_MAX_USEC (30 * USEC_PER_SEC)
/* How fast memory could go at the worst (a runaway of half a GiB per second): the poll keeps up. */
#define WORST_GROWTH_KBS (512.0 * 1024)
#define POLL_MIN_USEC (100 * USEC_PER_MSEC)
/* Swap with less room than this (after compression) keeps nobody's frozen pages. */
#define SWAP_ROOM_MIN_PCT 5
/* A runaway that may die out of turn holds at least this fraction (1/N) of RAM. */
#define RUNAWAY_RAM_DIV 4
/* ... or at least this many times the footprint of any other process that may die */
#define RUNAWAY_LEAD 4
/* ... or, once it grew again on probation, this many times */
#define RUNAWAY_LEAD_RELAPSED 4

const char *step_why_to_string(StepWhy w) {
        static const char *const names[_WHY_MAX] = {
                [WHY_PRIORITY] = "priority",
                [WHY_AGGRESSOR] = "aggressor",
                [WHY_SPIKE_HEADROOM] = "spike headroom",
                [WHY_SPIKE_PAUSE] = "spike pause",
                [WHY_SPIKE_RELEASE] = "spike release",
                [WHY_RECOVERY] = "recovery",
                [WHY_RELEASE] = "release",
                [WHY_BOUND] = "bound",
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
        memset(&s->headroom, 0, sizeof(s->headroom));
        memset(s->inflight, 0, sizeof(s->inflight));
        s->frozen_swap_kb = s->anon_kb = 0;
        s->calm_since = s->batch_at = s->backoff_until = 0;
        s->backoff_usec = BACKOFF_MIN_USEC;
        memset(s->probation, 0, sizeof(s->probation));
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

/* ---- sensing: score, level, memory ------------------------------------------------------------ */

/*
 * The sample one source scores. The swap the frozen processes hold is theirs, not pressure:
 * counted as used, it kept the level at High after an incident with no stall at all, and the
 * level kept them frozen (a dead end the guest matrix found).
 */
static PressureSample step_sample(const Observation *o, const PsiReading *p, uint64_t frozen_swap_kb) {
        uint64_t free_kb = MIN(o->mem.swap_free_kb + frozen_swap_kb, o->mem.swap_total_kb);

        return (PressureSample) {
                .now = o->now,
                .some_avg10 = p->some_avg10, .full_avg10 = p->full_avg10,
                .some_total_usec = p->some_total_usec, .full_total_usec = p->full_total_usec,
                .mem_total_kb = o->mem.mem_total_kb, .mem_available_kb = o->mem.mem_available_kb,
                .swap_total_kb = o->mem.swap_total_kb, .swap_free_kb = free_kb,
                .pswpin = o->pswpin, .pswpout = o->pswpout,
                .gpu_uma_kb = o->gpu_uma_kb, .page_size_kb = o->page_size_kb,
        };
}

/* Score every source into its state; the source under the most pressure wins. */
static int step_score(ScoreState *states, const Observation *o, uint64_t frozen_swap_kb, Score *ret) {
        bool any = false;

        for (size_t i = 0; i < o->n_psi && i < POLICY_PSI_SOURCES; i++) {
                PressureSample x;
                Score sc;

                if (!o->psi[i].valid)
                        continue;
                x = step_sample(o, &o->psi[i], frozen_swap_kb);
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

static MemModel step_memory(const PolicyConfig *c, HeadroomTrack *track, const PolicyState *s,
                            const Observation *o, uint64_t inflight_kb) {
        double gain = release_swap_gain(o->zram_orig_kb, o->zram_used_kb);

        headroom_feed(track, o->now, release_headroom_kb(&o->mem, gain, s->anon_kb));
        return release_model(c, track, &o->mem, gain, s->anon_kb, inflight_kb, o->now);
}

/*
 * Memory would run out within a few horizons, and little is left: the runaway is frozen now,
 * whatever the level. (Far from the floor, a fast decline is a wave that ends long before it.)
 */
static bool step_danger(const PolicyConfig *c, const MemModel *m, uint64_t mem_total_kb) {
        return m->need_kb > 0 || (m->left_usec < DANGER_HORIZONS * (double) c->release_horizon_usec &&
                                  m->headroom_kb < m->floor_kb + mem_total_kb / DANGER_HEADROOM_DIV);
}

/* Whether this tick's scan feeds the trackers: the pressure is on, a build is watched, a setting
 * holds, memory is in danger, or something is held (recovery needs its figures). */
static bool step_active(const PolicyConfig *c, const PolicyState *s, const Observation *o, Level level,
                        Level target, const MemModel *m) {
        return level > LEVEL_NORMAL || target > LEVEL_NORMAL || spike_active(&s->spike) || o->cgroup_pending ||
                step_danger(c, m, o->mem.mem_total_kb) || o->n_held > 0;
}

bool policy_scan_wanted(const PolicyState *s, const PolicyConfig *c, const Observation *o, Level *ret_level) {
        ScoreState states[POLICY_PSI_SOURCES];
        LevelMachine lm = s->lm;
        HeadroomTrack track = s->headroom;
        Score sc = {};
        Level target, level;
        MemModel m;

        if (ret_level)
                *ret_level = s->level;
        memcpy(states, s->score_state, sizeof(states));
        if (step_score(states, o, s->frozen_swap_kb, &sc) < 0)
                return false;
        target = level_target(c, &sc);
        level = step_level(&lm, c, o, target, sc.trend);
        if (ret_level)
                *ret_level = level;
        m = step_memory(c, &track, s, o, 0);
        return step_active(c, s, o, level, target, &m);
}

/* ---- output ------------------------------------------------------------------------------------- */

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

static bool step_victim_decided(const StepOutput *out, pid_t pid, uint64_t starttime) {
        for (size_t i = 0; i < out->n_acts; i++) {
                const StepAction *a = &out->acts[i];

                if (a->pid == pid && a->starttime == starttime &&
                    (a->action == ACTION_TERMINATE || a->action == ACTION_KILL || a->action == ACTION_CHECKPOINT))
                        return true;
        }
        return false;
}

/* Least important first among those that may die: priority, then frozen, then footprint. */
static bool least_before(const Candidate *a, int pa, const Candidate *b, int pb) {
        if (pa != pb)
                return pa > pb;
        if ((a->frozen != FREEZE_NONE) != (b->frozen != FREEZE_NONE))
                return a->frozen != FREEZE_NONE;
        return a->rss_kb + a->swap_kb > b->rss_kb + b->swap_kb;
}

/* The least important process that may still die this tick (not on its way already). */
static ssize_t step_least_important(const PolicyConfig *c, const PolicyState *s, const Observation *o,
                                    const StepOutput *out, int *ret_prio) {
        ssize_t best = -1;
        int best_prio = -1;

        for (size_t i = 0; i < o->n_cands; i++) {
                const Candidate *cand = &o->cands[i];
                int prio;

                /* a tiny process (under min_footprint) is no one's substitute: it frees nothing */
                if (cand->rss_kb + cand->swap_kb < MAX((uint64_t) RELEASE_MIN_FOOTPRINT_KB, c->min_footprint_kb) ||
                    (o->foreground > 0 && cand->pid == o->foreground) ||
                    inflight_has(s->inflight, cand->pid, cand->starttime) ||
                    step_victim_decided(out, cand->pid, cand->starttime))
                        continue;
                prio = policy_priority(c, cand, o->foreground);
                if (prio < 0 || (best >= 0 && !least_before(cand, prio, &o->cands[best], best_prio)))
                        continue;
                best = (ssize_t) i;
                best_prio = prio;
        }
        *ret_prio = best_prio;
        return best;
}

/*
 * May the aggressor die before processes less important than it? Only a runaway beyond doubt: it
 * holds more than everything less important together, so that ending all of them would give
 * back less than it alone holds, and either a large share of RAM (RUNAWAY_RAM_DIV) or, outside
 * any build, RUNAWAY_LEAD times any other process that may die (on a large machine a runaway is
 * killed long before it holds a quarter of RAM). A compiler
 * of a burst, a build's worker or a browser faulting hard is the fastest grower of its moment,
 * not such a runaway: it waits its turn like anyone.
 */
static bool step_out_of_turn(const PolicyConfig *c, const PolicyState *s, const Observation *o,
                             const StepOutput *out, const Decision *d, bool relapsed) {
        uint64_t below = 0, next = 0;

        if (!d->aggressor)
                return false;
        for (size_t i = 0; i < o->n_cands; i++) {
                const Candidate *cand = &o->cands[i];
                uint64_t kb = cand->rss_kb + cand->swap_kb;
                int prio;

                if (i == d->index || kb < MAX((uint64_t) RELEASE_MIN_FOOTPRINT_KB, c->min_footprint_kb) ||
                    (o->foreground > 0 && cand->pid == o->foreground) ||
                    inflight_has(s->inflight, cand->pid, cand->starttime) ||
                    step_victim_decided(out, cand->pid, cand->starttime))
                        continue;
                prio = policy_priority(c, cand, o->foreground);
                if (prio < 0)
                        continue;
                next = MAX(next, kb);
                if (prio > d->priority)
                        below += kb;
        }
        /* one that grew again on probation has shown what it is: the biggest by far will do */
        if (relapsed && d->footprint_kb >= RUNAWAY_LEAD_RELAPSED * next && o->cands[d->index].build == 0)
                return true;
        return d->footprint_kb > below &&
                (d->footprint_kb * RUNAWAY_RAM_DIV >= o->mem.mem_total_kb ||
                 (d->footprint_kb >= RUNAWAY_LEAD * next && o->cands[d->index].build == 0));
}

/*
 * A destructive decision goes out, and its memory counts as on its way back. The contract first:
 * nothing dies while a less important process lives, so a victim (a runaway beyond doubt
 * excepted) with a less important process still alive gives its place to that one. The level's
 * plan picks the frozen heavy at High, for instance, and a running notifier of a higher number
 * must go first.
 */
static void step_push_victim(const PolicyConfig *c, PolicyState *s, const Observation *o, StepOutput *out,
                             const Decision *d, StepWhy why) {
        Decision x = *d;
        const Candidate *cand;
        int lp;
        ssize_t l;

        /*
         * On the last scan's candidates no one dies: a process that started since is not among
         * them, and it may be the less important one. The fresh scan follows at once.
         */
        if (o->stale) {
                out->held_back++;
                return;
        }
        l = step_out_of_turn(c, s, o, out, &x, false) ? -1 : step_least_important(c, s, o, out, &lp);

        if (l >= 0 && lp > x.priority) {
                const Candidate *lc = &o->cands[l];
                bool ckpt = policy_wants_checkpoint(c, lc, lp, o->checkpoint_available);

                x.index = (size_t) l;
                x.pid = lc->pid;
                x.starttime = lc->starttime;
                x.priority = lp;
                x.footprint_kb = lc->rss_kb + lc->swap_kb;
                x.aggressor = false;
                x.action = lc->frozen != FREEZE_NONE ? ACTION_KILL :
                        d->action == ACTION_CHECKPOINT ? (ckpt ? ACTION_CHECKPOINT : ACTION_TERMINATE) : d->action;
        }
        if (step_victim_decided(out, x.pid, x.starttime))
                return;         /* a substitute chosen for an earlier decision of this tick */
        cand = &o->cands[x.index];
        step_push_decision(out, &x, why);
        inflight_add(s->inflight, x.pid, x.starttime, cand->rss_kb + cand->swap_kb, o->now);
        aggressor_note_freed(&s->aggressor, o->now);
}

/* ---- acting ------------------------------------------------------------------------------------ */

/* Swap that can still take a frozen process's pages: else a freeze only keeps memory from everyone. */
static bool step_freeze_useless(const Observation *o, const MemModel *m) {
        uint64_t room = (uint64_t) ((double) (o->mem.swap_total_kb > 0 ? MIN(o->mem.swap_free_kb, o->mem.swap_total_kb) : 0) *
                                    m->swap_gain);

        return room * 100 < o->mem.mem_total_kb * SWAP_ROOM_MIN_PCT;
}

static PlanInput step_plan_input(const PolicyConfig *c, const PolicyState *s, const Observation *o,
                                 const MemModel *m) {
        bool stalling = s->score.stall_now_pct >= c->recover_stall_pct;
        bool useless = step_freeze_useless(o, m);

        return (PlanInput) {
                .level = s->level,
                .mem = o->mem,
                .cands = o->cands,
                .n_cands = o->n_cands,
                .foreground = o->foreground,
                .checkpoint_available = o->checkpoint_available,
                .aggressor = -1,
                /*
                 * Freeze for priority only while the stall is there this very tick: the level lags it
                 * by the calm period, recovery thaws after that much calm, and a freeze then would
                 * only undo it. Memory running out is not a freeze's job: release() ends processes
                 * for that. (Without room in swap a freeze still stops a tab's CPU and growth and
                 * lets its file pages go; what it keeps, release() and the bounds take back.)
                 */
                .no_priority_freeze = !stalling,
                .freeze_useless = useless,
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

/* Above Normal: the runaway, the blame, the plan, and a build's pause. Returns the aggressor. */
static ssize_t step_act(const PolicyConfig *c, PolicyState *s, const Observation *o, StepOutput *out,
                        const MemModel *m, bool danger) {
        PlanInput in = step_plan_input(c, s, o, m);
        Decision *scratch = s->scratch.decisions;
        /*
         * With no stall this tick and memory not in danger the level's plan acts no more: the
         * level lags the stall by its calm period. Growth alone is no reason to freeze or kill the
         * fastest grower then (a burst's compiler frozen would hold its memory instead of
         * finishing and giving it back), and memory running out is release()'s job.
         */
        bool quiet = s->score.stall_now_pct < c->recover_stall_pct && !danger;
        bool hold;
        size_t n;

        aggressor_note_stall(&s->aggressor, s->score.stall_now_pct);
        in.aggressor = aggressor_pick(&s->aggressor, c, o->cands, o->n_cands, o->foreground, s->level,
                                      s->score.trend, o->now, &s->spike);
        in.shield_builds = spike_shield(c, aggressor_blame(&s->aggressor));
        in.spare_all = in.shield_builds && aggressor_blame(&s->aggressor) == BLAME_BUILD;
        /*
         * The first scans of an incident have little history, so the runaway may not be told
         * yet and the plan's first victim would be picked by tier alone: freeze now, and kill
         * only once the aggressor is known, or after a few scans without one (a pressure that no
         * single process causes), or at once at Emergency.
         */
        hold = step_destructive_hold(o) || s->active_scans < 2 ||
                (in.aggressor < 0 && s->active_scans < 5 && s->level < LEVEL_EMERGENCY);
        n = policy_plan(c, &in, scratch, STEP_CANDS_MAX);
        for (size_t i = 0; i < n; i++) {
                const Decision *d = &scratch[i];
                StepWhy why = d->aggressor ? WHY_AGGRESSOR : WHY_PRIORITY;

                if (d->action == ACTION_FREEZE) {
                        if (!(d->aggressor && quiet))
                                step_push_decision(out, d, why);
                        continue;
                }
                if (hold || quiet || inflight_has(s->inflight, d->pid, d->starttime)) {
                        out->held_back++;
                        continue;
                }
                step_push_victim(c, s, o, out, d, why);
                hold = true;
        }
        if (in.spare_all && s->target >= LEVEL_CRITICAL)
                step_spike_pause(c, s, o, out);
        return in.aggressor;
}

/* At Normal with memory in danger: the runaway is frozen before the kernel notices anything. */
static ssize_t step_guard(const PolicyConfig *c, PolicyState *s, const Observation *o, StepOutput *out) {
        ssize_t a = aggressor_pick(&s->aggressor, c, o->cands, o->n_cands, o->foreground, LEVEL_ELEVATED,
                                   s->score.trend, o->now, &s->spike);
        const Candidate *cand;

        if (a < 0)
                return a;
        cand = &o->cands[a];
        if (cand->frozen == FREEZE_NONE && !(o->foreground > 0 && cand->pid == o->foreground))
                (void) step_push(out, ACTION_FREEZE, WHY_AGGRESSOR, (size_t) a, cand->pid, cand->starttime,
                                 policy_priority(c, cand, o->foreground), cand->rss_kb + cand->swap_kb, true);
        return a;
}

/* Memory must really be released: the victims that cover it, the runaway first. */
static void step_release(const PolicyConfig *c, PolicyState *s, const Observation *o, StepOutput *out,
                         ssize_t aggressor, int64_t need_kb, double left_usec, StepWhy why) {
        Decision *v = s->scratch.decisions;
        ReleaseInput in = {
                .cands = o->cands, .n_cands = o->n_cands, .foreground = o->foreground, .aggressor = aggressor,
                .need_kb = need_kb, .left_usec = left_usec, .checkpoint_available = o->checkpoint_available,
                .inflight = s->inflight,
        };
        size_t n = policy_release(c, &in, v, STEP_CANDS_MAX);

        /* a victim frozen earlier in this tick is killed after its freeze: both go out, in order */
        for (size_t i = 0; i < n; i++)
                step_push_victim(c, s, o, out, &v[i], why);
}

/*
 * Spike mode between waves: a build in waves will climb back to its peak, so keep that room free
 * now, by freezing background processes ahead of the wave instead of stalling in it.
 */
static void step_spike_headroom(const PolicyConfig *c, PolicyState *s, const Observation *o, StepOutput *out,
                                const MemModel *m) {
        PlanInput in = step_plan_input(c, s, o, m);
        uint64_t room = spike_headroom_kb(&s->spike, c, o->now);
        uint64_t want = policy_thaw_reserve_kb(c, o->mem.mem_total_kb) + room;
        size_t n;

        if (room == 0 || o->mem.mem_available_kb >= want || o->n_cands == 0)
                return;
        n = policy_plan_headroom(c, &in, want - o->mem.mem_available_kb, s->scratch.decisions, STEP_CANDS_MAX);
        for (size_t i = 0; i < n; i++)
                step_push_decision(out, &s->scratch.decisions[i], WHY_SPIKE_HEADROOM);
}

/* ---- recovery ---------------------------------------------------------------------------------- */

/* What each held process costs to bring back, from this scan: its swapped pages less what zram frees. */
static void step_held_costs(const Observation *o, const MemModel *m, HeldProcess *held) {
        for (size_t i = 0; i < o->n_held; i++) {
                held[i] = o->held[i];
                held[i].cost_known = false;
                for (size_t k = 0; o->scanned && k < o->n_cands; k++) {
                        const Candidate *cand = &o->cands[k];

                        if (cand->pid != held[i].pid || cand->starttime != held[i].starttime)
                                continue;
                        held[i].cost_known = true;
                        held[i].thaw_cost_kb = (uint64_t) ((double) cand->swap_kb * m->swap_gain);
                }
        }
}

/*
 * Calm: every tick's stall below recover_stall_pct for recover_calm, no one growing like a
 * runaway, nothing being released, and no backoff running.
 */
static bool step_calm(const PolicyConfig *c, const PolicyState *s, const Observation *o, bool danger) {
        if (!s->calm_since || o->now < s->calm_since + c->recover_calm_usec || danger || o->now < s->backoff_until)
                return false;
        return !o->scanned || !aggressor_anyone_growing(&s->aggressor, c, o->cands, o->n_cands, o->now);
}

/* A thaw batch watched for BATCH_WATCH_USEC: the stall it brings back doubles the wait. */
static void step_backoff(const PolicyConfig *c, PolicyState *s, const Observation *o, StepOutput *out) {
        if (!s->batch_at)
                return;
        if (s->score.stall_now_pct >= 2 * c->recover_stall_pct) {
                s->backoff_until = o->now + s->backoff_usec;
                s->backoff_usec = MIN(2 * s->backoff_usec, (usec_t) BACKOFF_MAX_USEC);
                s->batch_at = 0;
                out->backed_off = true;
        } else if (o->now >= s->batch_at + BATCH_WATCH_USEC) {
                s->batch_at = 0;
                s->backoff_usec = BACKOFF_MIN_USEC;
        }
}

/* ---- probation: a runaway thawed to see whether it grows again ---- */

static const Probation *probation_find(const PolicyState *s, pid_t pid, uint64_t starttime) {
        for (size_t i = 0; i < PROBATION_MAX; i++)
                if (s->probation[i].pid == pid && s->probation[i].starttime == starttime)
                        return &s->probation[i];
        return NULL;
}

static bool probation_relapsed(const PolicyState *s, pid_t pid, uint64_t starttime) {
        const Probation *p = probation_find(s, pid, starttime);

        return p && p->relapsed;
}

/* One on probation at a time: its growth must not be mistaken for another's. */
static bool probation_busy(const PolicyState *s, usec_t now) {
        for (size_t i = 0; i < PROBATION_MAX; i++)
                if (s->probation[i].pid != 0 && !s->probation[i].relapsed && now < s->probation[i].until)
                        return true;
        return false;
}

static bool probation_add(PolicyState *s, pid_t pid, uint64_t starttime, usec_t until) {
        for (size_t i = 0; i < PROBATION_MAX; i++)
                if (s->probation[i].pid == 0) {
                        s->probation[i] = (Probation) { .pid = pid, .starttime = starttime, .until = until };
                        return true;
                }
        return false;
}

/*
 * After the step: a process frozen again while on probation has relapsed (and stays frozen:
 * recovery skips it, and it is resolved at once: step_overdue()); a probation that ran out is over; entries of processes
 * gone from the scan, and all of them when the incident is over, are dropped.
 */
static void probation_update(PolicyState *s, const Observation *o, const StepOutput *out) {
        for (size_t i = 0; i < PROBATION_MAX; i++) {
                Probation *p = &s->probation[i];
                bool seen = !o->scanned;

                if (p->pid == 0)
                        continue;
                for (size_t k = 0; k < out->n_acts; k++)
                        if (out->acts[k].action == ACTION_FREEZE && out->acts[k].pid == p->pid &&
                            out->acts[k].starttime == p->starttime && o->now < p->until)
                                p->relapsed = true;
                for (size_t k = 0; o->scanned && k < o->n_cands; k++)
                        if (o->cands[k].pid == p->pid && o->cands[k].starttime == p->starttime)
                                seen = true;
                if (!seen || out->incident_over || (!p->relapsed && o->now >= p->until))
                        memset(p, 0, sizeof(*p));
        }
}

static void step_recover(const PolicyConfig *c, PolicyState *s, const Observation *o, StepOutput *out,
                         const HeldProcess *held, bool calm) {
        size_t *picks = s->scratch.picks;
        RecoveryInput in = {
                .level = s->level, .now = o->now, .level_since = s->lm.entered_at,
                .mem = o->mem, .held = held, .n_held = o->n_held,
                .extra_reserve_kb = spike_reserve_kb(&s->spike, c),
                .calm = calm,
        };
        size_t n;
        bool thawed = false;

        if (o->n_held == 0)
                return;
        n = policy_recover(c, &in, picks, STEP_HELD_MAX);
        /* restores first, as the tick always asked for them: a restore takes its pid back */
        for (size_t i = 0; i < n; i++) {
                const HeldProcess *h = &held[picks[i]];

                if (h->kind == HELD_CHECKPOINTED)
                        (void) step_push(out, ACTION_RESTORE, WHY_RECOVERY, picks[i], h->pid, h->starttime,
                                         h->priority, h->footprint_kb, false);
        }
        for (size_t i = 0; i < n; i++) {
                const HeldProcess *h = &held[picks[i]];

                if (h->kind != HELD_FROZEN)
                        continue;
                /*
                 * One named the runaway comes back only in the calm, one at a time, on probation: a
                 * newcomer that had only started big finishes and exits; a runaway grows again, is
                 * frozen again, and is killed (step_resolve()).
                 */
                if (aggressor_is_flagged(&s->aggressor, h->pid, h->starttime)) {
                        if (!calm || probation_busy(s, o->now) || probation_relapsed(s, h->pid, h->starttime) ||
                            !probation_add(s, h->pid, h->starttime, o->now + 2 * c->aggressor_window_usec))
                                continue;
                        aggressor_unflag(&s->aggressor, h->pid, h->starttime);
                }
                (void) step_push(out, ACTION_THAW, WHY_RECOVERY, picks[i], h->pid, h->starttime, h->priority,
                                 h->footprint_kb, false);
                thawed = true;
        }
        if (thawed)
                s->batch_at = o->now;
}

static ssize_t cand_of(const Observation *o, pid_t pid, uint64_t starttime) {
        for (size_t i = 0; i < o->n_cands; i++)
                if (o->cands[i].pid == pid && o->cands[i].starttime == starttime)
                        return (ssize_t) i;
        return -1;
}

/* The oldest frozen process past its bound: frozen for max_frozen, or still frozen well into the calm. */
static ssize_t step_overdue(const PolicyConfig *c, const PolicyState *s, const Observation *o, const HeldProcess *held) {
        usec_t grace = c->recover_calm_usec + RESOLVE_GRACE_USEC;
        bool calm_long = s->calm_since && o->now >= s->calm_since + grace;
        ssize_t best = -1;

        for (size_t i = 0; i < o->n_held; i++) {
                const HeldProcess *h = &held[i];
                usec_t frozen_for = o->now > h->since ? o->now - h->since : 0;

                if (h->kind != HELD_FROZEN || inflight_has(s->inflight, h->pid, h->starttime))
                        continue;
                /*
                 * past the bound, frozen through a whole calm that recovery could not use, or a
                 * runaway that grew again on probation: thawed, it would only grow again, and
                 * frozen it holds its memory from everyone
                 */
                if (frozen_for < c->max_frozen_usec && !(calm_long && frozen_for >= grace) &&
                    !probation_relapsed(s, h->pid, h->starttime))
                        continue;
                if (best < 0 || h->since < held[best].since)
                        best = (ssize_t) i;
        }
        return best;
}

/*
 * No dead end: a process frozen past its bound is resolved, one per tick. The runaway of the
 * incident is killed (thawed, it would only grow again, and no one else should die to make room
 * for it). Anyone else is thawed where memory
 * takes it back above the floor, and otherwise its memory is released: the victims that cover
 * it, least important first, which may be itself.
 */
static void step_resolve(const PolicyConfig *c, PolicyState *s, const Observation *o, StepOutput *out,
                         const HeldProcess *held, const MemModel *m) {
        ssize_t k = step_overdue(c, s, o, held), ci;
        const HeldProcess *h;
        uint64_t cost, avail = o->mem.mem_available_kb;

        if (k < 0 || !o->scanned)
                return;
        h = &held[k];
        ci = cand_of(o, h->pid, h->starttime);
        if (ci < 0)
                return;         /* gone: the registry drops it */
        if (aggressor_is_flagged(&s->aggressor, h->pid, h->starttime)) {
                Decision d = {
                        .index = (size_t) ci, .pid = h->pid, .starttime = h->starttime, .action = ACTION_KILL,
                        .priority = h->priority, .footprint_kb = h->footprint_kb, .aggressor = true,
                };

                /*
                 * The runaway itself is what is resolved, and no one dies in its place: that
                 * would resolve nothing (a guest run killed all ten expendables, one per tick, to
                 * "resolve" a relapsed runaway at Normal). One not proven yet (it never grew again
                 * on probation, and is no runaway beyond doubt) comes back on probation where
                 * memory takes it, and otherwise goes in turn: it may be a burst's compiler.
                 */
                bool proven = step_out_of_turn(c, s, o, out, &d, probation_relapsed(s, h->pid, h->starttime));

                cost = h->cost_known ? h->thaw_cost_kb : h->footprint_kb;
                if (o->stale)
                        return;
                if (!proven && avail >= m->floor_kb + cost &&
                    probation_add(s, h->pid, h->starttime, o->now + 2 * c->aggressor_window_usec)) {
                        aggressor_unflag(&s->aggressor, h->pid, h->starttime);
                        (void) step_push(out, ACTION_THAW, WHY_BOUND, (size_t) k, h->pid, h->starttime, h->priority,
                                         h->footprint_kb, false);
                        return;
                }
                if (!proven) {
                        step_push_victim(c, s, o, out, &d, WHY_BOUND);      /* in turn */
                        return;
                }
                step_push_decision(out, &d, WHY_BOUND);
                inflight_add(s->inflight, d.pid, d.starttime, d.footprint_kb, o->now);
                aggressor_note_freed(&s->aggressor, o->now);
                return;
        }
        cost = h->cost_known ? h->thaw_cost_kb : h->footprint_kb;
        if (avail >= m->floor_kb + cost) {
                (void) step_push(out, ACTION_THAW, WHY_BOUND, (size_t) k, h->pid, h->starttime, h->priority,
                                 h->footprint_kb, false);
                return;
        }
        step_release(c, s, o, out, -1, (int64_t) (m->floor_kb + cost) - (int64_t) avail, m->left_usec, WHY_BOUND);
}

/* ---- the rest ---------------------------------------------------------------------------------- */

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
 * Normal), anything is held, a destructive action is in flight, a build in waves is watched, or
 * memory is in danger; calming down after a blip needs no fast ticks (the level machine counts the
 * calm in wall time, a new stall wakes mgd through the trigger at once). And whatever the level,
 * memory is polled often enough that even a runaway at WORST_GROWTH_KBS cannot take what is left
 * between two looks: a runaway without swap makes no stall before the OOM killer, so no trigger
 * would ever wake mgd for it.
 */
static usec_t step_next_tick(const PolicyConfig *c, const PolicyState *s, const Observation *o,
                             const MemModel *m, bool danger) {
        bool urgent = s->target > LEVEL_NORMAL || policy_held_frozen(o) > 0 || o->destructive_busy ||
                spike_active(&s->spike) || danger;
        usec_t next = urgent ? c->fast_tick_usec : c->slow_tick_usec;
        double left_kb = m->headroom_kb > m->floor_kb ? (double) (m->headroom_kb - m->floor_kb) : 0;
        double poll = left_kb / WORST_GROWTH_KBS / 2 * (double) USEC_PER_SEC;

        if (isfinite(m->left_usec))
                poll = MIN(poll, m->left_usec / 4);
        return MIN(next, MAX((usec_t) poll, (usec_t) POLL_MIN_USEC));
}

static void step_sense_scan(PolicyState *s, const Observation *o) {
        uint64_t frozen = 0, anon = 0;

        if (!o->scanned)
                return;
        for (size_t i = 0; i < o->n_cands; i++) {
                anon += o->cands[i].rss_kb;
                if (o->cands[i].frozen != FREEZE_NONE)
                        frozen += o->cands[i].swap_kb;
        }
        s->frozen_swap_kb = frozen;
        s->anon_kb = anon;
}

static void step_decide(const PolicyConfig *c, PolicyState *s, Observation *o, StepOutput *out) {
        MemModel *m = &out->mem;
        bool danger = step_danger(c, m, o->mem.mem_total_kb), active = step_active(c, s, o, s->level, s->target, m), calm;
        HeldProcess *held = s->scratch.held;
        ssize_t aggressor = -1;

        if (o->scanned && !o->stale) {
                out->builds_in_waves = spike_feed(&s->spike, c, o->cands, o->n_cands, o->now);
                if (active) {
                        aggressor_feed(&s->aggressor, o->cands, o->n_cands, o->now);
                        s->active_scans++;
                }
        }
        if (!active)
                s->active_scans = 0;
        step_held_costs(o, m, held);
        if (active && o->scanned && o->n_cands > 0)
                step_spike_release(c, s, o, out);
        out->zram_compact = s->level > LEVEL_NORMAL;
        if (s->level > LEVEL_NORMAL && o->scanned && o->n_cands > 0)
                aggressor = step_act(c, s, o, out, m, danger);
        else if (danger && o->scanned && o->n_cands > 0)
                aggressor = step_guard(c, s, o, out);
        if (m->need_kb > 0 && o->scanned && o->n_cands > 0)
                step_release(c, s, o, out, aggressor, m->need_kb, m->left_usec, WHY_RELEASE);
        if (s->level == LEVEL_NORMAL) {
                if (out->prev_level > LEVEL_NORMAL) {
                        aggressor_reset(&s->aggressor);
                        out->incident_over = true;
                }
                if (active && o->scanned && o->n_cands > 0)
                        step_spike_headroom(c, s, o, out, m);
                out->swap_reclaim = step_swap_reclaim(c, s, o);
        }
        step_backoff(c, s, o, out);
        calm = step_calm(c, s, o, danger);
        if (!danger && (s->level == LEVEL_NORMAL || calm))
                step_recover(c, s, o, out, held, calm);
        if (!danger || m->need_kb <= 0)
                step_resolve(c, s, o, out, held, m);
        probation_update(s, o, out);
}

void policy_step(const PolicyConfig *c, PolicyState *s, Observation *o, StepOutput *out) {
        uint64_t inflight_kb;

        out->error = 0;
        out->n_acts = out->held_back = out->builds_in_waves = 0;
        out->blame_changed = out->incident_over = out->zram_compact = out->swap_reclaim = out->backed_off = false;
        out->prev_level = s->level;
        out->blame = aggressor_blame(&s->aggressor);
        if (step_score(s->score_state, o, s->frozen_swap_kb, &s->score) < 0) {
                out->error = -ENODATA;
                out->level = s->level;
                out->target = s->target;
                out->score = s->score;
                out->next_tick = c->fast_tick_usec;
                return;
        }
        s->target = level_target(c, &s->score);
        s->level = step_level(&s->lm, c, o, s->target, s->score.trend);
        if (s->score.stall_now_pct < c->recover_stall_pct)
                s->calm_since = s->calm_since ?: o->now;
        else
                s->calm_since = 0;
        step_sense_scan(s, o);
        inflight_kb = inflight_update(s->inflight, o->cands, o->n_cands, o->scanned, o->now);
        out->mem = step_memory(c, &s->headroom, s, o, inflight_kb);
        step_decide(c, s, o, out);
        out->blame_changed = aggressor_blame(&s->aggressor) != out->blame;
        out->blame = aggressor_blame(&s->aggressor);
        out->level = s->level;
        out->target = s->target;
        out->score = s->score;
        out->next_tick = step_next_tick(c, s, o, &out->mem, step_danger(c, &out->mem, o->mem.mem_total_kb));
}
