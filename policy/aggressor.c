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

/*
 * The kernel's majflt only grows for one (pid, starttime), so a step back means one of the two
 * readings is wrong, and we cannot tell which: neither the earlier samples nor the low one may be
 * a baseline (a misread 0 followed by the true count would look like a burst of faults).
 */
static void track_push(FootprintTrack *f, uint64_t kb, uint64_t majflt, usec_t now) {
        unsigned last = (f->head + AGGRESSOR_SAMPLES - 1) % AGGRESSOR_SAMPLES;

        /* fed twice in one tick: the later reading replaces the earlier one */
        if (f->n > 0 && f->at[last] == now) {
                f->head = last;
                f->n--;
                f->majflt_n = f->majflt_n > 0 ? f->majflt_n - 1 : 0;
        }
        if (f->n > 0 && majflt < f->majflt[(f->head + AGGRESSOR_SAMPLES - 1) % AGGRESSOR_SAMPLES])
                f->majflt_n = 0;
        else
                f->majflt_n = MIN(f->majflt_n + 1, (unsigned) AGGRESSOR_SAMPLES);
        f->at[f->head] = now;
        f->kb[f->head] = kb;
        f->majflt[f->head] = majflt;
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
                track_push(f, cand->rss_kb + cand->swap_kb, cand->majflt, now);
                f->seen = now;
        }
}

/* The ring position of the k-th oldest sample held. */
static unsigned track_at(const FootprintTrack *f, unsigned k) {
        return (f->head + AGGRESSOR_SAMPLES - f->n + k) % AGGRESSOR_SAMPLES;
}

/* The age index of the oldest sample inside the window that is not the newest; f->n if none. */
static unsigned track_window_start(const FootprintTrack *f, usec_t now, usec_t window) {
        for (unsigned k = 0; k + 1 < f->n; k++)
                if (f->at[track_at(f, k)] + window >= now)
                        return k;
        return f->n;
}

/* Footprint growth in KiB/s from the oldest sample inside the window to the newest one. */
static double track_growth_kbs(const FootprintTrack *f, usec_t now, usec_t window) {
        unsigned k = track_window_start(f, now, window), first, newest;

        if (k + 1 >= f->n)
                return 0;
        first = track_at(f, k);
        newest = track_at(f, f->n - 1);
        if (f->at[newest] <= f->at[first] || f->kb[newest] <= f->kb[first])
                return 0;
        return (double) (f->kb[newest] - f->kb[first]) * (double) USEC_PER_SEC /
                (double) (f->at[newest] - f->at[first]);
}

/* Major faults per second from the oldest trusted sample inside the window to the newest one. */
static double track_majflt_rate(const FootprintTrack *f, usec_t now, usec_t window) {
        unsigned k = track_window_start(f, now, window), first, newest;

        /* only the newest majflt_n counts are trusted (track_push()) */
        k = MAX(k, f->n - MIN(f->majflt_n, f->n));
        if (k + 1 >= f->n)
                return 0;
        first = track_at(f, k);
        newest = track_at(f, f->n - 1);
        if (f->at[newest] <= f->at[first] || f->majflt[newest] <= f->majflt[first])
                return 0;
        return (double) (f->majflt[newest] - f->majflt[first]) * (double) USEC_PER_SEC /
                (double) (f->at[newest] - f->at[first]);
}

/* Never the system tier, a protected process or the focused window: tracking them is fine,
 * acting on them is not. */
static bool aggressor_eligible(const PolicyConfig *c, const Candidate *cand, pid_t foreground) {
        if (foreground > 0 && cand->pid == foreground)
                return false;
        return policy_priority(c, cand, foreground) > PRIORITY_PROTECTED_MAX;
}

/* No one is growing or faulting now: the flagged one holding the most memory stays the
 * aggressor. */
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

typedef double (*TrackRate)(const FootprintTrack *f, usec_t now, usec_t window);

/* The eligible candidate with the highest rate, at least min; -1 if there is none. */
static ssize_t aggressor_fastest(AggressorTracker *t, const PolicyConfig *c, const Candidate *cands,
                                 size_t n, pid_t foreground, TrackRate rate_of, double min,
                                 usec_t now) {
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
                if (!aggressor_eligible(c, &cands[i], foreground))
                        continue;
                best = (ssize_t) i;
                best_rate = rate;
        }
        return best;
}

ssize_t aggressor_pick(AggressorTracker *t, const PolicyConfig *c, const Candidate *cands, size_t n,
                       pid_t foreground, Level level, double trend, usec_t now) {
        bool rising = trend > 0 || level > LEVEL_NORMAL;
        ssize_t best = -1;

        t->window_usec = c->aggressor_window_usec;
        if (!cands)
                return -1;

        if (rising) {
                best = aggressor_fastest(t, c, cands, n, foreground, track_growth_kbs,
                                         (double) c->aggressor_min_growth_kbs, now);
                /* no runaway: the thrasher, whose refaults are the stall at a stable footprint */
                if (best < 0)
                        best = aggressor_fastest(t, c, cands, n, foreground, track_majflt_rate,
                                                 (double) c->aggressor_min_majflt_rate, now);
        }

        if (best >= 0) {
                track_find(t, cands[best].pid, cands[best].starttime)->flagged = true;
                return best;
        }
        return aggressor_flagged(t, c, cands, n, foreground);
}
