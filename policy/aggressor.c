/* SPDX-License-Identifier: GPL-2.0-only */

#include <string.h>

#include "policy/policy.h"
#include "policy/track.h"

/*
 * A fixed table (no allocation on the pressure path), keyed by (pid, starttime): a recycled pid
 * is a different process and must inherit neither the history nor the flag of the old one.
 * pid 0 marks a free slot. Lookups are linear: 1024 slots times a few hundred candidates per
 * tick is well under a millisecond, and it keeps the table trivially correct.
 */

void aggressor_init(AggressorTracker *t) {
        memset(t, 0, sizeof(*t));
}

void aggressor_reset(AggressorTracker *t) {
        for (size_t i = 0; i < AGGRESSOR_SLOTS; i++) {
                t->slots[i].flagged = false;
                t->slots[i].pauses = 0;
        }
        t->blame = BLAME_UNKNOWN;
}

static FootprintTrack *track_find(AggressorTracker *t, pid_t pid, uint64_t starttime) {
        for (size_t i = 0; i < AGGRESSOR_SLOTS; i++)
                if (t->slots[i].pid == pid && t->slots[i].starttime == starttime)
                        return &t->slots[i];
        return NULL;
}

/*
 * Where a new (pid, starttime) goes: the old entry of a recycled pid, else a free slot, else the
 * least recently fed unflagged entry that was not fed this tick (NULL if there is none).
 */
static FootprintTrack *track_slot(AggressorTracker *t, pid_t pid, usec_t now) {
        FootprintTrack *lru = NULL;

        for (size_t i = 0; i < AGGRESSOR_SLOTS; i++)
                if (t->slots[i].pid == pid)
                        return &t->slots[i];
        for (size_t i = 0; i < AGGRESSOR_SLOTS; i++)
                if (t->slots[i].pid == 0)
                        return &t->slots[i];
        for (size_t i = 0; i < AGGRESSOR_SLOTS; i++) {
                FootprintTrack *f = &t->slots[i];

                if (!f->flagged && f->seen < now && (!lru || f->seen < lru->seen))
                        lru = f;
        }
        return lru;
}

static FootprintTrack *track_new(AggressorTracker *t, const Candidate *cand, usec_t now) {
        FootprintTrack *f = track_slot(t, cand->pid, now);

        if (f)
                *f = (FootprintTrack) {
                        .pid = cand->pid,
                        .starttime = cand->starttime,
                        .born = cand->age_usec > 0 && cand->age_usec < now ? now - cand->age_usec : 0,
                        .first = now,
                };
        return f;
}

#define DEFAULT_WINDOW_USEC (5 * USEC_PER_SEC)

static usec_t tracker_window(const AggressorTracker *t) {
        return t->window_usec > 0 ? t->window_usec : DEFAULT_WINDOW_USEC;
}

/* An entry not fed for two windows belongs to a process that is gone (or no candidate). */
static void tracker_expire(AggressorTracker *t, usec_t now) {
        usec_t ttl = 2 * tracker_window(t);

        for (size_t i = 0; i < AGGRESSOR_SLOTS; i++) {
                FootprintTrack *f = &t->slots[i];

                if (f->pid != 0 && now > f->seen && now - f->seen > ttl)
                        memset(f, 0, sizeof(*f));
        }
}

void aggressor_feed(AggressorTracker *t, const Candidate *cands, size_t n, usec_t now) {
        tracker_expire(t, now);

        for (size_t i = 0; i < n; i++) {
                const Candidate *cand = &cands[i];
                FootprintTrack *f;

                if (cand->pid <= 0)
                        continue;
                f = track_find(t, cand->pid, cand->starttime);
                if (!f)
                        f = track_new(t, cand, now);
                if (!f)
                        continue;       /* table full of fresher entries: tracked next tick */
                track_push(f, cand->rss_kb + cand->swap_kb, cand->majflt, now);
                f->seen = now;
        }
}

/* Never the system tier, a protected process or the focused window: tracking them is fine,
 * acting on them is not. Nor, while builds are shielded (skip_builds), a member of a build. */
static bool aggressor_eligible(const PolicyConfig *c, const Candidate *cand, pid_t foreground,
                               bool skip_builds) {
        if (foreground > 0 && cand->pid == foreground)
                return false;
        if (skip_builds && cand->build != 0)
                return false;
        return policy_priority(c, cand, foreground) > PRIORITY_PROTECTED_MAX;
}

/* No one is growing or faulting now: the flagged one holding the most memory stays the
 * aggressor. */
static ssize_t aggressor_flagged(AggressorTracker *t, const PolicyConfig *c, const Candidate *cands,
                                 size_t n, pid_t foreground, bool skip_builds) {
        ssize_t best = -1;

        for (size_t i = 0; i < n; i++) {
                const FootprintTrack *f = track_find(t, cands[i].pid, cands[i].starttime);

                if (!f || !f->flagged || !aggressor_eligible(c, &cands[i], foreground, skip_builds))
                        continue;
                if (best < 0 || cands[i].rss_kb + cands[i].swap_kb >
                                cands[best].rss_kb + cands[best].swap_kb)
                        best = (ssize_t) i;
        }
        return best;
}

typedef double (*TrackRate)(const FootprintTrack *f, usec_t now, usec_t window);

/* The eligible candidate with the highest rate, at least min; -1 if there is none. */
static ssize_t aggressor_fastest(AggressorTracker *t, const PolicyConfig *c, const Candidate *cands,
                                 size_t n, pid_t foreground, bool skip_builds, TrackRate rate_of,
                                 double min, usec_t now, double *ret_rate) {
        ssize_t best = -1;
        double best_rate = 0;

        for (size_t i = 0; i < n; i++) {
                const FootprintTrack *f = track_find(t, cands[i].pid, cands[i].starttime);
                double rate;

                if (!f)
                        continue;
                rate = rate_of(f, now, tracker_window(t));
                if (rate < min || rate <= best_rate)
                        continue;
                if (!aggressor_eligible(c, &cands[i], foreground, skip_builds))
                        continue;
                best = (ssize_t) i;
                best_rate = rate;
        }
        if (ret_rate)
                *ret_rate = best_rate;
        return best;
}

/* A process may be judged by its lifetime average growth only this young. */
#define YOUNG_MAX_USEC (60 * USEC_PER_SEC)

/*
 * footprint / age, for a process younger than YOUNG_MAX_USEC, not yet measured over a whole
 * window (until then its measured growth says little: a runaway that filled its memory before
 * the first scan holds still), and big enough to have grown at aggressor_min_growth_kbs over a
 * whole window; 0 otherwise. Not only at the very first scan: without a trigger event (PSI
 * polled) the level takes two ticks to confirm, and the second one is the first that acts.
 */
static double young_growth_kbs(const PolicyConfig *c, const FootprintTrack *f, usec_t now, usec_t window) {
        double floor_kb = (double) c->aggressor_min_growth_kbs * (double) c->aggressor_window_usec /
                (double) USEC_PER_SEC;
        uint64_t kb;

        if (f->n == 0 || f->born == 0 || now <= f->born || now - f->born > YOUNG_MAX_USEC ||
            now - f->first >= window)
                return 0;
        kb = f->kb[(f->head + AGGRESSOR_SAMPLES - 1) % AGGRESSOR_SAMPLES];
        if ((double) kb < floor_kb)
                return 0;
        return (double) kb * (double) USEC_PER_SEC / (double) (now - f->born);
}

/* The eligible young process with the highest lifetime growth, at least the minimum; -1 if none. */
static ssize_t aggressor_young(AggressorTracker *t, const PolicyConfig *c, const Candidate *cands,
                               size_t n, pid_t foreground, bool skip_builds, usec_t now) {
        ssize_t best = -1;
        double best_rate = (double) c->aggressor_min_growth_kbs;

        for (size_t i = 0; i < n; i++) {
                const FootprintTrack *f = track_find(t, cands[i].pid, cands[i].starttime);
                double rate = f ? young_growth_kbs(c, f, now, tracker_window(t)) : 0;

                if (rate < best_rate || !aggressor_eligible(c, &cands[i], foreground, skip_builds))
                        continue;
                best = (ssize_t) i;
                best_rate = rate;
        }
        return best;
}

/* The fastest-growing build among the candidates' builds (KiB/s), 0 if none. */
static double fastest_build(const SpikeTracker *spike, const PolicyConfig *c, usec_t now) {
        double best = 0;

        if (!spike || !c->spike_mode)
                return 0;
        for (unsigned k = 1; k <= SPIKE_GROUPS_MAX; k++)
                best = MAX(best, spike_growth_kbs(spike, c, k, now));
        return best;
}

/*
 * Whom to blame for the incident: a build growing at least as fast as the fastest single grower
 * outside every build, or that grower. Blame on a runaway is final for the incident; blame on a
 * build moves to a runaway that outgrows it.
 */
static void aggressor_blame_update(AggressorTracker *t, const PolicyConfig *c, double other_rate,
                                   bool other, double build_rate, bool waves) {
        double min = (double) c->aggressor_min_growth_kbs;

        if (t->blame == BLAME_OTHER)
                return;
        if (build_rate >= min && build_rate >= other_rate)
                t->blame = BLAME_BUILD;
        else if (other)
                t->blame = BLAME_OTHER;
        /* a wave that already passed (scanning began at its peak): nobody else grows, the build did */
        else if (waves)
                t->blame = BLAME_BUILD;
}

/*
 * Whether a fault rate may name the aggressor now. Not while a build's waves are blamed (they
 * make everyone else fault: those are its victims), nor for a window after mgd freed memory (the
 * pages of everyone coming back), nor without the stall itself this tick, at least what makes
 * Elevated from PSI alone (9 % with the default thresholds).
 */
static bool thrasher_may_count(const AggressorTracker *t, const PolicyConfig *c, bool shield, usec_t now) {
        if (shield && t->blame == BLAME_BUILD)
                return false;
        if (now < t->refaults_from)
                return false;
        return !t->stall_told || t->stall_now_pct >= 100.0 * c->level_threshold[LEVEL_ELEVATED] / SCORE_WEIGHT_PSI;
}

ssize_t aggressor_pick(AggressorTracker *t, const PolicyConfig *c, const Candidate *cands, size_t n,
                       pid_t foreground, Level level, double trend, usec_t now,
                       const SpikeTracker *spike) {
        bool rising = trend > 0 || level > LEVEL_NORMAL, shield;
        double growth_min = (double) c->aggressor_min_growth_kbs, other_rate = 0;
        ssize_t best = -1, other;

        t->window_usec = c->aggressor_window_usec;
        if (!cands)
                return -1;

        if (rising) {
                other = aggressor_fastest(t, c, cands, n, foreground, true, track_growth_kbs,
                                          growth_min, now, &other_rate);
                aggressor_blame_update(t, c, other_rate, other >= 0, fastest_build(spike, c, now),
                                       spike && c->spike_mode && spike_active(spike));
        }
        shield = spike && spike_shield(c, t->blame);
        if (rising) {
                best = shield ? other : aggressor_fastest(t, c, cands, n, foreground, false,
                                                          track_growth_kbs, growth_min, now, NULL);
                /* no runaway: the thrasher, whose refaults are the stall at a stable footprint */
                if (best < 0 && thrasher_may_count(t, c, shield, now))
                        best = aggressor_fastest(t, c, cands, n, foreground, shield, track_majflt_rate,
                                                 (double) c->aggressor_min_majflt_rate, now, NULL);
        }

        if (best >= 0) {
                track_find(t, cands[best].pid, cands[best].starttime)->flagged = true;
                return best;
        }
        best = aggressor_flagged(t, c, cands, n, foreground, shield);
        if (best >= 0 || !rising)
                return best;
        /*
         * The incident's first scan: nobody measured, nobody flagged, maybe a young runaway. The
         * pick is flagged like a measured one: the plan freezes the aggressor, and a frozen
         * process never grows again, so no later sample could confirm it; unflagged, the frozen
         * runaway would be one more frozen prio-50 process at Critical, behind the tabs. It is
         * outside every build (builds are shielded until the blame is known), so the incident is
         * blamed on it as on a measured runaway: a build tool that starts while it is frozen or
         * being killed is not taken for the cause (a guest run shielded a runaway named cargo so).
         */
        best = aggressor_young(t, c, cands, n, foreground, shield, now);
        if (best < 0)
                return best;
        track_find(t, cands[best].pid, cands[best].starttime)->flagged = true;
        if (t->blame == BLAME_UNKNOWN && cands[best].build == 0)
                t->blame = BLAME_OTHER;
        return best;
}

void aggressor_note_stall(AggressorTracker *t, double stall_now_pct) {
        t->stall_now_pct = stall_now_pct;
        t->stall_told = true;
}

void aggressor_note_freed(AggressorTracker *t, usec_t now) {
        t->refaults_from = now + tracker_window(t);
}

Blame aggressor_blame(const AggressorTracker *t) {
        return t->blame;
}

ssize_t aggressor_pick_pause(AggressorTracker *t, const PolicyConfig *c, const Candidate *cands, size_t n,
                             pid_t foreground, usec_t now) {
        ssize_t best = -1;
        double best_rate = -1;
        const FootprintTrack *bf = NULL;

        for (size_t i = 0; i < n; i++) {
                const Candidate *cand = &cands[i];
                const FootprintTrack *f;
                double rate;

                if (cand->build == 0 || cand->frozen != FREEZE_NONE ||
                    cand->rss_kb + cand->swap_kb < c->min_footprint_kb ||
                    !aggressor_eligible(c, cand, foreground, false))
                        continue;
                f = track_find(t, cand->pid, cand->starttime);
                rate = f ? track_growth_kbs(f, now, tracker_window(t)) : 0;
                if (best >= 0 && (rate < best_rate || (rate == best_rate &&
                    cand->rss_kb + cand->swap_kb <= cands[best].rss_kb + cands[best].swap_kb)))
                        continue;
                best = (ssize_t) i;
                best_rate = rate;
                bf = f;
        }
        if (best >= 0 && bf && bf->pauses >= SPIKE_PAUSES_MAX) {
                t->blame = BLAME_OTHER;         /* a runaway inside the build */
                return -1;
        }
        return best;
}

void aggressor_note_pause(AggressorTracker *t, pid_t pid, uint64_t starttime) {
        FootprintTrack *f = track_find(t, pid, starttime);

        if (f)
                f->pauses++;
}

bool aggressor_anyone_growing(const AggressorTracker *t, const PolicyConfig *c, const Candidate *cands, size_t n,
                              usec_t now) {
        usec_t window = t->window_usec > 0 ? t->window_usec : DEFAULT_WINDOW_USEC;

        for (size_t i = 0; i < n; i++) {
                const FootprintTrack *f;

                if (cands[i].frozen != FREEZE_NONE)
                        continue;
                f = track_find((AggressorTracker *) t, cands[i].pid, cands[i].starttime);
                if (f && track_growth_kbs(f, now, window) >= (double) c->aggressor_min_growth_kbs)
                        return true;
        }
        return false;
}

bool aggressor_rates(const AggressorTracker *t, pid_t pid, uint64_t starttime, usec_t now, double *ret_growth_kbs,
                     double *ret_majflt_rate) {
        const FootprintTrack *f = track_find((AggressorTracker *) t, pid, starttime);

        *ret_growth_kbs = f ? track_growth_kbs(f, now, tracker_window(t)) : 0;
        *ret_majflt_rate = f ? track_majflt_rate(f, now, tracker_window(t)) : 0;
        return f != NULL;
}

bool aggressor_is_flagged(const AggressorTracker *t, pid_t pid, uint64_t starttime) {
        const FootprintTrack *f = track_find((AggressorTracker *) t, pid, starttime);

        return f && f->flagged;
}

void aggressor_unflag(AggressorTracker *t, pid_t pid, uint64_t starttime) {
        FootprintTrack *f = track_find(t, pid, starttime);

        if (f)
                f->flagged = false;
}
