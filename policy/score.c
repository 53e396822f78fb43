/* SPDX-License-Identifier: GPL-2.0-only */

#include <string.h>

#include "policy/policy.h"

#define W_PSI SCORE_WEIGHT_PSI
#define W_SWAP 0.20
#define W_GPU 0.15
#define W_SWAPIO 0.10

#define DEFAULT_SWAPIO_FULL_SCALE_KBS 51200.0
#define DEFAULT_PAGE_KB 4
/*
 * Rates over less than this are noise: stall comes in bursts, and a fifth of a second of it can
 * read 100 % while the second around it holds 30 % (a trend from that escalated straight to
 * Emergency). A sample closer than this to the baseline keeps the rates last measured.
 */
#define MIN_DT_USEC (USEC_PER_SEC / 2)

/* NaN (a sample the reader could not fill) counts as 0, not as "maximum pressure". */
static double clamp01(double x) {
        if (!(x > 0))
                return 0;
        return x > 1 ? 1 : x;
}

static double clamp_pct(double x) {
        return clamp01(x / 100.0) * 100.0;
}

/* Cumulative kernel counters only grow; a smaller value means a reset (new cgroup, reboot of
 * the counter source), and the honest delta across a reset is unknown, so it counts as 0. */
static uint64_t counter_delta(uint64_t cur, uint64_t prev) {
        return cur >= prev ? cur - prev : 0;
}

void score_state_init(ScoreState *s, const PolicyConfig *c) {
        memset(s, 0, sizeof(*s));
        s->swapio_full_scale_kbs = c ? c->swapio_full_scale_kbs : 0;
}

static void score_static_parts(Score *r, const PressureSample *x) {
        uint64_t swap_free = MIN(x->swap_free_kb, x->swap_total_kb);

        r->stall_pct = clamp_pct(x->some_avg10);
        r->stall_now_pct = r->stall_pct;
        r->full_stall_pct = clamp_pct(x->full_avg10);
        r->s_swap = x->swap_total_kb > 0 ?
                clamp01((double) (x->swap_total_kb - swap_free) / (double) x->swap_total_kb) : 0;
        r->s_gpu = x->mem_total_kb > 0 ?
                clamp01((double) x->gpu_uma_kb / (double) x->mem_total_kb) : 0;
}

/* Rates over the tick: avg10 lags a stall that started seconds ago; the total does not. */
static void score_delta_parts(Score *r, const PressureSample *x, const PressureSample *prev,
                              usec_t dt_usec) {
        double dt_s = (double) dt_usec / (double) USEC_PER_SEC;
        unsigned page_kb = x->page_size_kb > 0 ? x->page_size_kb : DEFAULT_PAGE_KB;
        double some_rate, full_rate;
        uint64_t pages;

        some_rate = 100.0 * (double) counter_delta(x->some_total_usec, prev->some_total_usec) /
                (double) dt_usec;
        full_rate = 100.0 * (double) counter_delta(x->full_total_usec, prev->full_total_usec) /
                (double) dt_usec;
        r->stall_now_pct = clamp_pct(some_rate);
        r->stall_pct = MAX(r->stall_pct, r->stall_now_pct);
        r->full_stall_pct = MAX(r->full_stall_pct, clamp_pct(full_rate));

        pages = counter_delta(x->pswpin, prev->pswpin) + counter_delta(x->pswpout, prev->pswpout);
        r->swapio_kbs = (double) pages * page_kb / dt_s;
}

Score score_update(ScoreState *s, const PressureSample *x) {
        double full_scale = s->swapio_full_scale_kbs > 0 ?
                s->swapio_full_scale_kbs : DEFAULT_SWAPIO_FULL_SCALE_KBS;
        bool deltas = s->primed && x->now >= s->prev.now + MIN_DT_USEC;
        usec_t dt_usec = deltas ? x->now - s->prev.now : 0;
        Score r = {};

        score_static_parts(&r, x);
        if (deltas)
                score_delta_parts(&r, x, &s->prev, dt_usec);
        else if (s->have_rates && x->now >= s->prev.now) {
                /* a tick soon after the last: its rates still stand, on top of this sample's avg10 */
                r.stall_now_pct = s->rates.stall_now_pct;
                r.stall_pct = MAX(r.stall_pct, s->rates.stall_now_pct);
                r.full_stall_pct = MAX(r.full_stall_pct, s->rates.full_stall_pct);
                r.swapio_kbs = s->rates.swapio_kbs;
        }

        r.s_psi = clamp01(r.stall_pct / 100.0);
        r.s_swapio = clamp01(r.swapio_kbs / full_scale);
        r.p = W_PSI * r.s_psi + W_SWAP * r.s_swap + W_GPU * r.s_gpu + W_SWAPIO * r.s_swapio;
        if (deltas) {
                r.trend = (r.p - s->prev_p) / ((double) dt_usec / (double) USEC_PER_SEC);
                s->rates = r;
                s->have_rates = true;
        } else if (s->have_rates && x->now >= s->prev.now)
                r.trend = s->rates.trend;

        /*
         * A sample closer than 0.1 s to the baseline keeps the old baseline, so a burst of
         * early wake-ups cannot shrink every delta to nothing. A clock that went backwards
         * (never on CLOCK_MONOTONIC, but the sample comes from outside) re-primes.
         */
        if (deltas || !s->primed || x->now < s->prev.now) {
                s->prev = *x;
                s->prev_p = r.p;
                s->primed = true;
        }
        return r;
}
