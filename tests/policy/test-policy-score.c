/* SPDX-License-Identifier: GPL-2.0-only */

#include <math.h>

#include "tests/check-main.h"
#include "tests/policy/policy-test.h"

#define EPS 1e-9
#define SEC USEC_PER_SEC

/* An idle 16 GiB machine without swap at time t. */
static PressureSample sample_at(usec_t t) {
        return (PressureSample) {
                .now = t,
                .mem_total_kb = 16 * 1024 * MIB,
                .mem_available_kb = 8 * 1024 * MIB,
                .page_size_kb = 4,
        };
}

typedef struct StaticCase {
        const char *what;
        double some_avg10;
        uint64_t swap_total_kb, swap_free_kb, gpu_uma_kb;
        double s_psi, s_swap, s_gpu, p;
} StaticCase;

/* Single samples (no deltas): every component, its weight and its clamp. */
static const StaticCase static_cases[] = {
        { "idle", 0, 0, 0, 0, 0, 0, 0, 0 },
        { "psi 100 %", 100, 0, 0, 0, 1, 0, 0, 0.55 },
        { "psi 20 %", 20, 0, 0, 0, 0.2, 0, 0, 0.11 },
        { "psi over 100 clamps", 150, 0, 0, 0, 1, 0, 0, 0.55 },
        { "psi NaN is 0", NAN, 0, 0, 0, 0, 0, 0, 0 },
        { "psi negative is 0", -3, 0, 0, 0, 0, 0, 0, 0 },
        { "swap full", 0, 1000, 0, 0, 0, 1, 0, 0.20 },
        { "swap half", 0, 1000, 500, 0, 0, 0.5, 0, 0.10 },
        { "no swap", 0, 0, 0, 0, 0, 0, 0, 0 },
        { "swap free > total", 0, 1000, 2000, 0, 0, 0, 0, 0 },
        { "gpu all of RAM", 0, 0, 0, 16 * 1024 * MIB, 0, 0, 1, 0.15 },
        { "gpu quarter", 0, 0, 0, 4 * 1024 * MIB, 0, 0, 0.25, 0.0375 },
        { "gpu over RAM clamps", 0, 0, 0, 64 * 1024 * MIB, 0, 0, 1, 0.15 },
};

START_TEST(test_static_components) {
        const StaticCase *t = &static_cases[_i];
        PressureSample x = sample_at(SEC);
        ScoreState st;
        Score s;

        score_state_init(&st, NULL);
        x.some_avg10 = t->some_avg10;
        x.swap_total_kb = t->swap_total_kb;
        x.swap_free_kb = t->swap_free_kb;
        x.gpu_uma_kb = t->gpu_uma_kb;
        s = score_update(&st, &x);
        ck_assert_msg(fabs(s.s_psi - t->s_psi) < EPS, "%s: s_psi %f", t->what, s.s_psi);
        ck_assert_msg(fabs(s.s_swap - t->s_swap) < EPS, "%s: s_swap %f", t->what, s.s_swap);
        ck_assert_msg(fabs(s.s_gpu - t->s_gpu) < EPS, "%s: s_gpu %f", t->what, s.s_gpu);
        ck_assert_msg(fabs(s.p - t->p) < EPS, "%s: p %f", t->what, s.p);
        ck_assert_double_eq(s.trend, 0);
        ck_assert_double_eq(s.swapio_kbs, 0);
}
END_TEST

START_TEST(test_all_maxed_is_one) {
        PressureSample a = sample_at(SEC), b;
        ScoreState st;
        Score s;

        score_state_init(&st, NULL);
        a.swap_total_kb = 1000;
        a.gpu_uma_kb = a.mem_total_kb;
        a.some_avg10 = 100;
        (void) score_update(&st, &a);
        b = a;
        b.now = 2 * SEC;
        b.pswpout = 100000;     /* 400 MB/s */
        s = score_update(&st, &b);
        ck_assert_double_eq_tol(s.p, 1.0, EPS);
}
END_TEST

/* avg10 lags by seconds; the stall total of the last tick does not. */
START_TEST(test_total_delta_beats_lagging_avg10) {
        PressureSample a = sample_at(10 * SEC), b;
        ScoreState st;
        Score s;

        score_state_init(&st, NULL);
        a.some_avg10 = 2;
        a.some_total_usec = 5000000;
        (void) score_update(&st, &a);

        b = a;
        b.now = 11 * SEC;
        b.some_avg10 = 2.5;                     /* still lagging */
        b.some_total_usec += 600000;            /* 600 ms stalled in the last second */
        b.full_total_usec += 300000;
        s = score_update(&st, &b);
        ck_assert_double_eq_tol(s.stall_pct, 60, EPS);
        ck_assert_double_eq_tol(s.full_stall_pct, 30, EPS);
        ck_assert_double_eq_tol(s.s_psi, 0.6, EPS);
        ck_assert_double_eq_tol(s.p, 0.55 * 0.6, EPS);
}
END_TEST

START_TEST(test_avg10_wins_when_higher) {
        PressureSample a = sample_at(10 * SEC), b;
        ScoreState st;
        Score s;

        score_state_init(&st, NULL);
        a.some_total_usec = 1000;
        (void) score_update(&st, &a);
        b = a;
        b.now = 12 * SEC;
        b.some_avg10 = 30;
        b.some_total_usec += 200000;            /* 10 % over 2 s */
        s = score_update(&st, &b);
        ck_assert_double_eq_tol(s.stall_pct, 30, EPS);
        /* the stall of this tick alone is the rate, not the lagging average */
        ck_assert_double_eq_tol(s.stall_now_pct, 10, EPS);
}
END_TEST

START_TEST(test_stall_rate_clamped) {
        PressureSample a = sample_at(10 * SEC), b;
        ScoreState st;
        Score s;

        score_state_init(&st, NULL);
        (void) score_update(&st, &a);
        b = a;
        b.now = 11 * SEC;
        b.some_total_usec = 5 * SEC;            /* impossible: 500 % */
        s = score_update(&st, &b);
        ck_assert_double_eq_tol(s.stall_pct, 100, EPS);
        ck_assert_double_eq_tol(s.s_psi, 1, EPS);
}
END_TEST

START_TEST(test_trend) {
        PressureSample a = sample_at(10 * SEC), b, c;
        ScoreState st;
        Score s;

        score_state_init(&st, NULL);
        a.some_avg10 = 10;
        s = score_update(&st, &a);
        ck_assert_double_eq_tol(s.p, 0.055, EPS);
        ck_assert_double_eq(s.trend, 0);        /* first sample */

        b = a;
        b.now = 12 * SEC;
        b.some_avg10 = 30;
        s = score_update(&st, &b);
        ck_assert_double_eq_tol(s.p, 0.165, EPS);
        ck_assert_double_eq_tol(s.trend, (0.165 - 0.055) / 2, EPS);

        c = b;
        c.now = 13 * SEC;
        c.some_avg10 = 10;
        s = score_update(&st, &c);
        ck_assert_double_eq_tol(s.trend, -0.11, EPS);
}
END_TEST

/* Closer than 0.5 s, with no rates measured yet: no deltas, trend 0, and the old baseline is kept. */
/* A tick 0.2 s after a measured one keeps its rates: a burst over a fifth of a second is not a trend. */
START_TEST(test_short_dt_keeps_rates) {
        PressureSample a = sample_at(10 * SEC), b, c;
        ScoreState st;
        Score s1, s2;

        score_state_init(&st, NULL);
        (void) score_update(&st, &a);
        b = a;
        b.now = 11 * SEC;
        b.some_total_usec = a.some_total_usec + 300000;        /* 30 % over the second */
        s1 = score_update(&st, &b);
        ck_assert_double_eq_tol(s1.stall_now_pct, 30, EPS);
        c = b;
        c.now = b.now + 200 * USEC_PER_MSEC;
        c.some_total_usec = b.some_total_usec + 200000;        /* all of the 0.2 s */
        s2 = score_update(&st, &c);
        ck_assert_double_eq_tol(s2.stall_now_pct, 30, EPS);
        ck_assert_double_eq_tol(s2.trend, s1.trend, EPS);
}
END_TEST

START_TEST(test_short_dt_keeps_baseline) {
        PressureSample a = sample_at(10 * SEC), b, c;
        ScoreState st;
        Score s;

        score_state_init(&st, NULL);
        (void) score_update(&st, &a);

        b = a;
        b.now = 10 * SEC + 50 * USEC_PER_MSEC;
        b.some_total_usec = 40000;
        b.pswpin = 1000;
        b.some_avg10 = 20;
        s = score_update(&st, &b);
        ck_assert_double_eq(s.trend, 0);
        ck_assert_double_eq(s.swapio_kbs, 0);
        ck_assert_double_eq_tol(s.stall_pct, 20, EPS);  /* avg10 only */

        c = b;
        c.now = 11 * SEC;
        c.some_avg10 = 0;
        c.some_total_usec = 500000;
        c.pswpin = 12800;
        s = score_update(&st, &c);
        /* against the sample at 10 s, not the one at 10.05 s */
        ck_assert_double_eq_tol(s.stall_pct, 50, EPS);
        ck_assert_double_eq_tol(s.swapio_kbs, 51200, EPS);
        ck_assert_double_eq_tol(s.trend, s.p - 0, EPS);
}
END_TEST

/* A counter that goes backwards was reset: its delta is 0, and the next delta starts over. */
START_TEST(test_counter_reset) {
        PressureSample a = sample_at(10 * SEC), b, c;
        ScoreState st;
        Score s;

        score_state_init(&st, NULL);
        a.some_total_usec = 90 * SEC;
        a.full_total_usec = 80 * SEC;
        a.pswpin = 1000000;
        a.pswpout = 2000000;
        (void) score_update(&st, &a);

        b = a;
        b.now = 11 * SEC;
        b.some_avg10 = 3;
        b.some_total_usec = 1000;
        b.full_total_usec = 1000;
        b.pswpin = 10;
        b.pswpout = 2000000 + 256;              /* this one still moved: 1 MiB */
        s = score_update(&st, &b);
        ck_assert_double_eq_tol(s.stall_pct, 3, EPS);
        ck_assert_double_eq_tol(s.full_stall_pct, 0, EPS);
        ck_assert_double_eq_tol(s.swapio_kbs, 1024, EPS);

        c = b;
        c.now = 12 * SEC;
        c.some_total_usec = 1000 + 100000;
        s = score_update(&st, &c);
        ck_assert_double_eq_tol(s.stall_pct, 10, EPS);
}
END_TEST

typedef struct SwapioCase {
        uint64_t d_in, d_out;
        usec_t dt;
        unsigned page_kb;
        double full_scale;
        double kbs, s_swapio;
} SwapioCase;

static const SwapioCase swapio_cases[] = {
        { 12800, 0, SEC, 4, 0, 51200, 1.0 },            /* 50 MB/s is full scale */
        { 3200, 3200, 2 * SEC, 4, 0, 12800, 0.25 },
        { 100000, 100000, SEC, 4, 0, 800000, 1.0 },     /* clamped */
        { 1000, 0, SEC, 16, 0, 16000, 16000.0 / 51200 },/* 16 KiB pages */
        { 1000, 0, SEC, 0, 0, 4000, 4000.0 / 51200 },   /* unset page size: 4 KiB */
        { 2560, 0, SEC, 4, 10240, 10240, 1.0 },         /* configured full scale */
        { 0, 0, SEC, 4, 0, 0, 0 },
};

START_TEST(test_swapio) {
        const SwapioCase *t = &swapio_cases[_i];
        PressureSample a = sample_at(10 * SEC), b;
        PolicyConfig c;
        ScoreState st;
        Score s;

        policy_config_defaults(&c);
        if (t->full_scale > 0)
                c.swapio_full_scale_kbs = t->full_scale;
        score_state_init(&st, &c);
        a.page_size_kb = t->page_kb;
        a.pswpin = 777;
        a.pswpout = 888;
        (void) score_update(&st, &a);
        b = a;
        b.now = a.now + t->dt;
        b.pswpin += t->d_in;
        b.pswpout += t->d_out;
        s = score_update(&st, &b);
        ck_assert_double_eq_tol(s.swapio_kbs, t->kbs, 1e-6);
        ck_assert_double_eq_tol(s.s_swapio, t->s_swapio, EPS);
        ck_assert_double_eq_tol(s.p, 0.10 * t->s_swapio, EPS);
}
END_TEST

/* A clock that went backwards re-primes instead of freezing the baseline in the future. */
START_TEST(test_clock_backwards_reprimes) {
        PressureSample a = sample_at(100 * SEC), b, c;
        ScoreState st;
        Score s;

        score_state_init(&st, NULL);
        (void) score_update(&st, &a);
        b = a;
        b.now = 50 * SEC;
        b.some_total_usec = 7 * SEC;
        s = score_update(&st, &b);
        ck_assert_double_eq(s.trend, 0);
        ck_assert_double_eq_tol(s.stall_pct, 0, EPS);
        c = b;
        c.now = 51 * SEC;
        c.some_total_usec = 7 * SEC + 250000;
        s = score_update(&st, &c);
        ck_assert_double_eq_tol(s.stall_pct, 25, EPS);
}
END_TEST

static Suite *policy_score_suite(void) {
        Suite *s = suite_create("policy-score");
        TCase *tc = tcase_create("score");

        tcase_add_loop_test(tc, test_static_components, 0, ELEMENTSOF(static_cases));
        tcase_add_test(tc, test_all_maxed_is_one);
        tcase_add_test(tc, test_total_delta_beats_lagging_avg10);
        tcase_add_test(tc, test_avg10_wins_when_higher);
        tcase_add_test(tc, test_stall_rate_clamped);
        tcase_add_test(tc, test_trend);
        tcase_add_test(tc, test_short_dt_keeps_baseline);
        tcase_add_test(tc, test_short_dt_keeps_rates);
        tcase_add_test(tc, test_counter_reset);
        tcase_add_loop_test(tc, test_swapio, 0, ELEMENTSOF(swapio_cases));
        tcase_add_test(tc, test_clock_backwards_reprimes);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(policy_score_suite)
