/* SPDX-License-Identifier: GPL-2.0-only */
#include <math.h>
#include <string.h>

#include "policy/release.h"

#define ZRAM_RATIO_UNKNOWN 2.5          /* what zram's lzo-rle makes of desktop memory, roughly */
#define ZRAM_RATIO_MIN 1.2
#define ZRAM_RATIO_MAX 8.0
#define FLOOR_AUTO_PCT 4.0
#define FLOOR_MIN_KB (48 * 1024)
#define FLOOR_MAX_KB (512 * 1024)
#define DECLINE_WINDOW_USEC (2 * USEC_PER_SEC)
#define DECLINE_MIN_SPAN_USEC (400 * USEC_PER_MSEC)
#define INFLIGHT_TTL_USEC (10 * USEC_PER_SEC)
#define CHECKPOINT_MIN_LEFT_USEC (10 * USEC_PER_SEC)

double release_swap_gain(uint64_t zram_orig_kb, uint64_t zram_used_kb) {
        double ratio = ZRAM_RATIO_UNKNOWN;

        if (zram_orig_kb == 0 && zram_used_kb == 0)
                return 1.0;             /* no zram: a disk's swapped page costs no RAM */
        /* below a few MiB the ratio says little (the pool's fixed overhead dominates) */
        if (zram_used_kb > 0 && zram_orig_kb >= 4096)
                ratio = (double) zram_orig_kb / (double) zram_used_kb;
        ratio = MIN(MAX(ratio, ZRAM_RATIO_MIN), ZRAM_RATIO_MAX);
        return 1.0 - 1.0 / ratio;
}

uint64_t release_floor_kb(const PolicyConfig *c, uint64_t mem_total_kb) {
        double pct = c->release_floor_pct > 0 ? c->release_floor_pct : FLOOR_AUTO_PCT;
        uint64_t kb = (uint64_t) ((double) mem_total_kb * pct / 100.0);

        if (c->release_floor_pct > 0)
                return kb;
        return MIN(MAX(kb, (uint64_t) FLOOR_MIN_KB), (uint64_t) FLOOR_MAX_KB);
}

uint64_t release_headroom_kb(const MemFigures *mem, double swap_gain, uint64_t anon_kb) {
        uint64_t swap = MIN(mem->swap_free_kb, mem->swap_total_kb);

        if (anon_kb > 0)
                swap = MIN(swap, anon_kb);
        return mem->mem_available_kb + (uint64_t) ((double) swap * swap_gain);
}

static unsigned track_pos(const HeadroomTrack *t, unsigned k) {
        return (t->head + HEADROOM_SAMPLES - t->n + k) % HEADROOM_SAMPLES;
}

void headroom_feed(HeadroomTrack *t, usec_t now, uint64_t kb) {
        if (t->n > 0) {
                unsigned last = track_pos(t, t->n - 1);

                if (now < t->at[last])
                        t->n = 0;       /* a clock that went back: start over */
                else if (now - t->at[last] < 100 * USEC_PER_MSEC) {
                        t->kb[last] = kb;
                        return;
                }
        }
        t->at[t->head] = now;
        t->kb[t->head] = kb;
        t->head = (t->head + 1) % HEADROOM_SAMPLES;
        t->n = MIN(t->n + 1, (unsigned) HEADROOM_SAMPLES);
}

static double decline_between(const HeadroomTrack *t, unsigned a, unsigned b) {
        unsigned i = track_pos(t, a), j = track_pos(t, b);

        if (t->at[j] <= t->at[i] || t->kb[j] >= t->kb[i])
                return 0;
        return (double) (t->kb[i] - t->kb[j]) * (double) USEC_PER_SEC / (double) (t->at[j] - t->at[i]);
}

/*
 * The decline over the window, but only while it goes on: the smallest of the rate over the
 * window and over each of the two newest intervals. A one-off drop (a big allocation that is done, a cache
 * dropped) is no rate to extrapolate; a runaway declines in every interval.
 */
double headroom_decline_kbs(const HeadroomTrack *t, usec_t now) {
        unsigned newest;

        if (t->n < 3)
                return 0;
        newest = t->n - 1;
        /* the oldest sample in the window far enough back to be more than noise */
        for (unsigned k = 0; k + 1 < t->n; k++) {
                unsigned i = track_pos(t, k);
                usec_t span = t->at[track_pos(t, newest)] - t->at[i];

                if (t->at[i] + DECLINE_WINDOW_USEC < now || span < DECLINE_MIN_SPAN_USEC)
                        continue;
                return MIN(decline_between(t, k, newest),
                           MIN(decline_between(t, newest - 2, newest - 1), decline_between(t, newest - 1, newest)));
        }
        return 0;
}

MemModel release_model(const PolicyConfig *c, const HeadroomTrack *t, const MemFigures *mem, double swap_gain,
                       uint64_t anon_kb, uint64_t inflight_kb, usec_t now) {
        MemModel m = {
                .headroom_kb = release_headroom_kb(mem, swap_gain, anon_kb),
                .floor_kb = release_floor_kb(c, mem->mem_total_kb),
                .swap_gain = swap_gain,
                .decline_kbs = headroom_decline_kbs(t, now),
                .inflight_kb = inflight_kb,
        };
        double horizon_s = (double) c->release_horizon_usec / (double) USEC_PER_SEC;
        double want = (double) m.floor_kb + m.decline_kbs * horizon_s;

        if (m.headroom_kb <= m.floor_kb)
                m.left_usec = 0;
        else if (m.decline_kbs > 0)
                m.left_usec = (double) (m.headroom_kb - m.floor_kb) / m.decline_kbs * (double) USEC_PER_SEC;
        else
                m.left_usec = INFINITY;
        m.need_kb = (int64_t) want - (int64_t) m.headroom_kb - (int64_t) inflight_kb;
        return m;
}

uint64_t inflight_update(Inflight *v, const Candidate *cands, size_t n, bool scanned, usec_t now) {
        uint64_t sum = 0;

        for (size_t i = 0; i < INFLIGHT_MAX; i++) {
                bool seen = !scanned;

                if (v[i].pid == 0)
                        continue;
                for (size_t k = 0; scanned && k < n; k++)
                        if (cands[k].pid == v[i].pid && cands[k].starttime == v[i].starttime)
                                seen = true;
                if (!seen || now > v[i].since + INFLIGHT_TTL_USEC || now < v[i].since) {
                        memset(&v[i], 0, sizeof(v[i]));
                        continue;
                }
                sum += v[i].credit_kb;
        }
        return sum;
}

void inflight_add(Inflight *v, pid_t pid, uint64_t starttime, uint64_t credit_kb, usec_t now) {
        size_t oldest = 0;

        for (size_t i = 0; i < INFLIGHT_MAX; i++) {
                if (v[i].pid == 0) {
                        oldest = i;
                        break;
                }
                if (v[i].since < v[oldest].since)
                        oldest = i;
        }
        v[oldest] = (Inflight) { .pid = pid, .starttime = starttime, .credit_kb = credit_kb, .since = now };
}

bool inflight_has(const Inflight *v, pid_t pid, uint64_t starttime) {
        for (size_t i = 0; i < INFLIGHT_MAX; i++)
                if (v[i].pid == pid && v[i].starttime == starttime)
                        return true;
        return false;
}

/* Least important first: priority desc, frozen first, footprint desc; the index makes it strict. */
static bool release_before(const Candidate *cands, const Decision *a, const Decision *b) {
        bool fa = cands[a->index].frozen != FREEZE_NONE, fb = cands[b->index].frozen != FREEZE_NONE;

        if (a->aggressor != b->aggressor)
                return a->aggressor;
        if (a->priority != b->priority)
                return a->priority > b->priority;
        if (fa != fb)
                return fa;
        if (a->footprint_kb != b->footprint_kb)
                return a->footprint_kb > b->footprint_kb;
        return a->index < b->index;
}

static Action release_action(const PolicyConfig *c, const ReleaseInput *in, const Candidate *cand, int prio) {
        double horizon = (double) c->release_horizon_usec;

        if (in->left_usec >= CHECKPOINT_MIN_LEFT_USEC &&
            policy_wants_checkpoint(c, cand, prio, in->checkpoint_available))
                return ACTION_CHECKPOINT;
        if (cand->frozen != FREEZE_NONE || in->left_usec < 2 * horizon)
                return ACTION_KILL;
        return ACTION_TERMINATE;
}

size_t policy_release(const PolicyConfig *c, const ReleaseInput *in, Decision *out, size_t max) {
        int64_t need = in->need_kb;
        size_t n = 0, w = 0;

        if (need <= 0 || max == 0 || !in->cands)
                return 0;
        for (size_t i = 0; i < in->n_cands; i++) {
                const Candidate *cand = &in->cands[i];
                uint64_t kb = cand->rss_kb + cand->swap_kb;
                int prio;
                Decision d;
                size_t pos;

                if (kb < RELEASE_MIN_FOOTPRINT_KB || (in->foreground > 0 && cand->pid == in->foreground))
                        continue;
                if (in->inflight && inflight_has(in->inflight, cand->pid, cand->starttime))
                        continue;
                prio = policy_priority(c, cand, in->foreground);
                if (prio < 0)
                        continue;
                d = (Decision) {
                        .index = i, .pid = cand->pid, .starttime = cand->starttime, .priority = prio,
                        .footprint_kb = kb, .aggressor = in->aggressor >= 0 && (size_t) in->aggressor == i,
                };
                /* insertion into the sorted out[0..n), keeping at most max */
                pos = n;
                while (pos > 0 && release_before(in->cands, &d, &out[pos - 1]))
                        pos--;
                if (pos >= max)
                        continue;
                memmove(&out[pos + 1], &out[pos], (MIN(n, max - 1) - pos) * sizeof(Decision));
                out[pos] = d;
                n = MIN(n + 1, max);
        }
        while (w < n && need > 0) {
                out[w].action = release_action(c, in, &in->cands[out[w].index], out[w].priority);
                need -= (int64_t) out[w].footprint_kb;
                w++;
        }
        return w;
}
