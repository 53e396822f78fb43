/* SPDX-License-Identifier: GPL-2.0-only */

#include <string.h>

#include "policy/policy.h"

/*
 * The action matrix. prio is the effective priority (foreground adjusted); protected processes
 * (tier 0-19, [protect]) never get here. "Destructive" means terminate, kill or checkpoint; the
 * destructive decisions of one call are capped (one victim at a time at High and Critical) and
 * stop once the MemAvailable deficit is covered. A candidate whose destructive decision is cut
 * by the cap or the deficit falls back to a freeze when it is freezable.
 *
 *   Elevated   prio >= 60, or the aggressor                     -> FREEZE
 *   High       as Elevated; and prio >= 80 already frozen,
 *              or the aggressor already frozen                  -> KILL (destructive)
 *              Freezing stops growth but frees nothing. An expendable-heavy process that is
 *              already frozen while pressure kept rising holds memory for no one, and a stopped
 *              process cannot run a SIGTERM handler, hence KILL. A running one (rustc at 85) is
 *              only frozen: killing a compiler for its tier alone was upstream's §17.15 bug.
 *              The frozen runaway is the first of these victims: it caused the pressure, the
 *              frozen tabs behind it did not.
 *   Critical   checkpoint if the helper is available, CRIU did not fail for it, and the matching
 *              app entry says checkpoint = 1, or it is unset and prio is 20-79
 *                                                               -> CHECKPOINT
 *              else frozen, or swap/(rss+swap) > kill_swap_ratio -> KILL
 *              (a stopped process cannot handle SIGTERM; a mostly swapped one would have to
 *              swap its handler back in, feeding the thrash it should end)
 *              else                                             -> TERMINATE
 *              Whatever is not a victim this call is frozen as at Elevated.
 *   Emergency  every candidate (prio >= 20)                     -> KILL, rest frozen as above
 *
 * freeze_useless (swap has no room left): at High the expendable-heavy and the aggressor are killed
 * whether frozen or not, since a freeze would only pin their memory.
 *
 * no_priority_freeze (policy_step() sets it) leaves only the aggressor to freeze: when no stall is
 * there this very tick and memory is not short, or when swap has no room left for the pages of a
 * frozen process, which would only keep its memory for no one.
 *
 * Spike mode (policy/spike.c) adds two switches the daemon sets from the blame: shield_builds
 * leaves every member of a build alone, and spare_all, while the incident is a build's own wave,
 * turns every destructive decision into none (then a freeze where allowed): the room is made by
 * freezing background processes and pausing the build's workers, and nothing is killed.
 *
 * No harshness inversion: within one level, for the same memory state, a lower priority never
 * gets a harsher action than a higher one (NONE < FREEZE < CHECKPOINT < TERMINATE < KILL). The
 * only exceptions are explicit per-app checkpoint overrides. Upstream SIGKILLed prio 20-59 at
 * Critical without CRIU while SIGTERMing 60-74; here both get TERMINATE.
 */

#define CHECKPOINT_DEFAULT_MAX 79       /* the expendable-heavy tier is not worth a dump */

typedef struct PlanEnv {
        const PolicyConfig *c;
        const PlanInput *in;
        bool with_gpu;          /* GPU residency counts at >= High, where UMA pressure matters */
} PlanEnv;

static uint64_t plan_footprint(const PlanEnv *e, const Candidate *cand) {
        return cand->rss_kb + cand->swap_kb + (e->with_gpu ? cand->gpu_kb : 0);
}

/* What a destructive action gives back to MemAvailable: swapped pages come back only as the
 * compressed zram copy (or not at all from a disk), so they are not credited. */
static uint64_t plan_credit(const PlanEnv *e, const Candidate *cand) {
        return cand->rss_kb + (e->with_gpu ? cand->gpu_kb : 0);
}

/* The window the user is looking at is never frozen, whatever its tier (a focused tab at 85 is
 * still 60 after the bonus): frozen, it would hang under the user's eyes. */
static bool plan_can_freeze(const PlanEnv *e, const Candidate *cand, int prio, bool aggressor) {
        return e->in->level >= LEVEL_ELEVATED && cand->frozen == FREEZE_NONE &&
                !(e->in->foreground > 0 && cand->pid == e->in->foreground) &&
                (aggressor || (prio >= PRIORITY_FREEZABLE_MIN && !e->in->no_priority_freeze));
}

bool policy_wants_checkpoint(const PolicyConfig *c, const Candidate *cand, int prio, bool available) {
        const Rule *app;

        if (!available || cand->checkpoint_failed)
                return false;
        app = policy_match_app(c, cand);
        if (app && app->checkpoint == 0)
                return false;
        if (app && app->checkpoint == 1)
                return true;
        return prio <= CHECKPOINT_DEFAULT_MAX;
}

static bool plan_wants_checkpoint(const PlanEnv *e, const Candidate *cand, int prio) {
        return policy_wants_checkpoint(e->c, cand, prio, e->in->checkpoint_available);
}

static Action plan_destructive(const PlanEnv *e, const Candidate *cand, int prio, bool aggressor) {
        uint64_t total = cand->rss_kb + cand->swap_kb;
        double swap_ratio = total > 0 ? (double) cand->swap_kb / (double) total : 0;

        if (e->in->spare_all)
                return ACTION_NONE;
        switch (e->in->level) {
        case LEVEL_HIGH:
                return (prio >= PRIORITY_HEAVY_MIN || aggressor) &&
                        (cand->frozen != FREEZE_NONE || e->in->freeze_useless) ? ACTION_KILL : ACTION_NONE;
        case LEVEL_CRITICAL:
                if (plan_wants_checkpoint(e, cand, prio))
                        return ACTION_CHECKPOINT;
                if (cand->frozen != FREEZE_NONE || swap_ratio > e->c->kill_swap_ratio)
                        return ACTION_KILL;
                return ACTION_TERMINATE;
        case LEVEL_EMERGENCY:
                return ACTION_KILL;
        default:
                return ACTION_NONE;
        }
}

static unsigned plan_destructive_budget(const PlanEnv *e) {
        switch (e->in->level) {
        case LEVEL_HIGH:
        case LEVEL_CRITICAL:
                return e->c->critical_max_destructive;
        case LEVEL_EMERGENCY:
                return e->c->emergency_max_destructive;
        default:
                return 0;
        }
}

/* The order of consideration: the aggressor, then least important first. */
static bool plan_before(const PlanEnv *e, const Decision *a, const Decision *b) {
        const Candidate *ca = &e->in->cands[a->index], *cb = &e->in->cands[b->index];

        if (a->aggressor != b->aggressor)
                return a->aggressor;
        if (a->priority != b->priority)
                return a->priority > b->priority;
        if (a->footprint_kb != b->footprint_kb)
                return a->footprint_kb > b->footprint_kb;
        if (ca->oom_score_adj != cb->oom_score_adj)
                return ca->oom_score_adj > cb->oom_score_adj;
        return a->index < b->index;
}

/* Insert d into the sorted out[0..n), keeping at most max (the tail falls off). */
static size_t plan_insert(const PlanEnv *e, Decision *out, size_t n, size_t max, const Decision *d) {
        size_t pos = n, last;

        while (pos > 0 && plan_before(e, d, &out[pos - 1]))
                pos--;
        if (pos >= max)
                return n;
        last = n < max ? n : max - 1;
        memmove(&out[pos + 1], &out[pos], (last - pos) * sizeof(Decision));
        out[pos] = *d;
        return n < max ? n + 1 : n;
}

/* The intended action, before caps and deficit; false if the candidate is left alone. */
static bool plan_intent(const PlanEnv *e, size_t i, Decision *ret) {
        const Candidate *cand = &e->in->cands[i];
        bool aggressor = e->in->aggressor >= 0 && (size_t) e->in->aggressor == i;
        int prio;

        if (cand->rss_kb + cand->swap_kb < e->c->min_footprint_kb)
                return false;
        if (e->in->shield_builds && cand->build != 0)
                return false;
        prio = policy_priority(e->c, cand, e->in->foreground);
        if (prio < 0)
                return false;

        *ret = (Decision) {
                .index = i,
                .pid = cand->pid,
                .starttime = cand->starttime,
                .action = plan_destructive(e, cand, prio, aggressor),
                .priority = prio,
                .footprint_kb = plan_footprint(e, cand),
                .aggressor = aggressor,
        };
        if (ret->action == ACTION_NONE && plan_can_freeze(e, cand, prio, aggressor))
                ret->action = ACTION_FREEZE;
        return ret->action != ACTION_NONE;
}

/* Walk in order: destructive decisions within the budget while the deficit lasts. */
static size_t plan_apply_limits(const PlanEnv *e, Decision *out, size_t n) {
        int64_t target = (int64_t) policy_target_available_kb(e->c, e->in->mem.mem_total_kb);
        int64_t deficit = target - (int64_t) e->in->mem.mem_available_kb;
        unsigned budget = plan_destructive_budget(e);
        size_t w = 0;

        for (size_t r = 0; r < n; r++) {
                Decision d = out[r];
                const Candidate *cand = &e->in->cands[d.index];

                if (d.action != ACTION_FREEZE) {
                        if (budget > 0 && deficit > 0) {
                                budget--;
                                deficit -= (int64_t) plan_credit(e, cand);
                                out[w++] = d;
                                continue;
                        }
                        if (!plan_can_freeze(e, cand, d.priority, d.aggressor))
                                continue;
                        d.action = ACTION_FREEZE;
                }
                out[w++] = d;
        }
        return w;
}

size_t policy_plan(const PolicyConfig *c, const PlanInput *in, Decision *out, size_t max) {
        PlanEnv e = {
                .c = c,
                .in = in,
                .with_gpu = in->level >= LEVEL_HIGH,
        };
        size_t n = 0;

        if (in->level <= LEVEL_NORMAL || in->level >= _LEVEL_MAX || max == 0 || !in->cands)
                return 0;

        for (size_t i = 0; i < in->n_cands; i++) {
                Decision d;

                if (plan_intent(&e, i, &d))
                        n = plan_insert(&e, out, n, max, &d);
        }
        return plan_apply_limits(&e, out, n);
}

size_t policy_plan_headroom(const PolicyConfig *c, const PlanInput *in, uint64_t need_kb,
                            Decision *out, size_t max) {
        PlanEnv e = { .c = c, .in = in };
        uint64_t got = 0;
        size_t n = 0, w = 0;

        if (need_kb == 0 || max == 0 || !in->cands || in->level >= LEVEL_CRITICAL)
                return 0;
        for (size_t i = 0; i < in->n_cands; i++) {
                const Candidate *cand = &in->cands[i];
                int prio;
                Decision d;

                if (cand->build != 0 || cand->frozen != FREEZE_NONE ||
                    cand->rss_kb + cand->swap_kb < c->min_footprint_kb)
                        continue;
                prio = policy_priority(c, cand, in->foreground);
                if (prio < PRIORITY_FREEZABLE_MIN || (in->foreground > 0 && cand->pid == in->foreground))
                        continue;
                d = (Decision) {
                        .index = i, .pid = cand->pid, .starttime = cand->starttime,
                        .action = ACTION_FREEZE, .priority = prio, .footprint_kb = plan_footprint(&e, cand),
                };
                n = plan_insert(&e, out, n, max, &d);
        }
        /* least important first, until the room is covered */
        while (w < n && got < need_kb)
                got += out[w++].footprint_kb;
        return w;
}

const char *action_to_string(Action a) {
        static const char *const names[_ACTION_MAX] = {
                [ACTION_NONE] = "none",
                [ACTION_FREEZE] = "freeze",
                [ACTION_TERMINATE] = "terminate",
                [ACTION_KILL] = "kill",
                [ACTION_CHECKPOINT] = "checkpoint",
                [ACTION_THAW] = "thaw",
                [ACTION_RESTORE] = "restore",
        };

        if ((unsigned) a >= _ACTION_MAX)
                return NULL;
        return names[a];
}
