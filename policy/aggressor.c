/* SPDX-License-Identifier: GPL-2.0-only */

#include <string.h>

#include "policy/policy.h"

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
        for (size_t i = 0; i < AGGRESSOR_SLOTS; i++)
                t->slots[i].flagged = false;
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

static FootprintTrack *track_new(AggressorTracker *t, pid_t pid, uint64_t starttime, usec_t now) {
        FootprintTrack *f = track_slot(t, pid, now);

        if (f)
                *f = (FootprintTrack) { .pid = pid, .starttime = starttime };
        return f;
}

static void track_push(FootprintTrack *f, uint64_t kb, usec_t now) {
        unsigned last = (f->head + AGGRESSOR_SAMPLES - 1) % AGGRESSOR_SAMPLES;

        /* fed twice in one tick: the later reading replaces the earlier one */
        if (f->n > 0 && f->at[last] == now) {
                f->kb[last] = kb;
                return;
        }
        f->at[f->head] = now;
        f->kb[f->head] = kb;
        f->head = (f->head + 1) % AGGRESSOR_SAMPLES;
        f->n = MIN(f->n + 1, (unsigned) AGGRESSOR_SAMPLES);
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
                        f = track_new(t, cand->pid, cand->starttime, now);
                if (!f)
                        continue;       /* table full of fresher entries: tracked next tick */
                track_push(f, cand->rss_kb + cand->swap_kb, now);
                f->seen = now;
        }
}

/* Footprint growth in KiB/s from the oldest sample inside the window to the newest one. */
static double track_growth_kbs(const FootprintTrack *f, usec_t now, usec_t window) {
        unsigned newest = (f->head + AGGRESSOR_SAMPLES - 1) % AGGRESSOR_SAMPLES;

        for (unsigned k = 0; k + 1 < f->n; k++) {
                unsigned i = (f->head + AGGRESSOR_SAMPLES - f->n + k) % AGGRESSOR_SAMPLES;

                if (f->at[i] + window < now)
                        continue;
                if (f->at[newest] <= f->at[i] || f->kb[newest] <= f->kb[i])
                        return 0;
                return (double) (f->kb[newest] - f->kb[i]) * (double) USEC_PER_SEC /
                        (double) (f->at[newest] - f->at[i]);
        }
        return 0;
}

/* Never the system tier, a protected process or the focused window: tracking them is fine,
 * acting on them is not. */
static bool aggressor_eligible(const PolicyConfig *c, const Candidate *cand, pid_t foreground) {
        if (foreground > 0 && cand->pid == foreground)
                return false;
        return policy_priority(c, cand, foreground) > PRIORITY_PROTECTED_MAX;
}

/* No one is growing now: the flagged one holding the most memory stays the aggressor. */
static ssize_t aggressor_flagged(AggressorTracker *t, const PolicyConfig *c, const Candidate *cands,
                                 size_t n, pid_t foreground) {
        ssize_t best = -1;

        for (size_t i = 0; i < n; i++) {
                const FootprintTrack *f = track_find(t, cands[i].pid, cands[i].starttime);

                if (!f || !f->flagged || !aggressor_eligible(c, &cands[i], foreground))
                        continue;
                if (best < 0 || cands[i].rss_kb + cands[i].swap_kb >
                                cands[best].rss_kb + cands[best].swap_kb)
                        best = (ssize_t) i;
        }
        return best;
}

ssize_t aggressor_pick(AggressorTracker *t, const PolicyConfig *c, const Candidate *cands, size_t n,
                       pid_t foreground, Level level, double trend, usec_t now) {
        bool rising = trend > 0 || level > LEVEL_NORMAL;
        ssize_t best = -1;
        double best_rate = 0;

        t->window_usec = c->aggressor_window_usec;
        if (!cands)
                return -1;

        for (size_t i = 0; rising && i < n; i++) {
                FootprintTrack *f = track_find(t, cands[i].pid, cands[i].starttime);
                double rate;

                if (!f)
                        continue;
                rate = track_growth_kbs(f, now, tracker_window(t));
                if (rate < (double) c->aggressor_min_growth_kbs || rate <= best_rate)
                        continue;
                if (!aggressor_eligible(c, &cands[i], foreground))
                        continue;
                best = (ssize_t) i;
                best_rate = rate;
        }

        if (best >= 0) {
                track_find(t, cands[best].pid, cands[best].starttime)->flagged = true;
                return best;
        }
        return aggressor_flagged(t, c, cands, n, foreground);
}
