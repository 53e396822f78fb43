/* SPDX-License-Identifier: GPL-2.0-only */
/* client/calibrate.c: quantiles, the recommendation rules, the recommendation file. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../check-main.h"
#include "client/calibrate.h"

#define H (3600ULL * 1000)

START_TEST(test_quantile) {
        static const struct {
                uint64_t bins[8];               /* the first 8 bins; the rest are empty */
                double q;
                int want;
        } t[] = {
                { { 0 }, 0.5, -1 },
                { { 10 }, 0.99, 0 },
                { { 50, 50 }, 0.5, 0 },
                { { 50, 50 }, 0.51, 1 },
                { { 98, 1, 1 }, 0.99, 1 },
                { { 98, 1, 1 }, 0.995, 2 },
                { { 0, 0, 0, 0, 0, 0, 0, 5 }, 0.01, 7 },
                { { 1, 0, 0, 9 }, 0.10, 0 },
                { { 1, 0, 0, 9 }, 0.11, 3 },
                { { 3, 3 }, 0, -1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                uint64_t bins[HISTORY_BINS] = {};

                memcpy(bins, t[i].bins, sizeof t[i].bins);
                ck_assert_msg(histogram_quantile_bin(bins, t[i].q) == t[i].want, "case %zu: %d, want %d", i,
                              histogram_quantile_bin(bins, t[i].q), t[i].want);
        }
}
END_TEST

/* A history: calm score and MemAvailable as (bin, hours), stalls as (bin, seconds). */
typedef struct Spec {
        double calm_h;
        int calm_p99;                   /* the calm score: 98 % of it at bin 0, 2 % at this bin */
        unsigned episodes;
        unsigned stall_s;
        int stall_p_lo, stall_p_hi;     /* stall scores: 10 % at lo, 90 % at hi */
        int calm_avail, stall_avail;    /* MemAvailable bins */
} Spec;

static void build(const Spec *s, History *h) {
        uint64_t calm = (uint64_t) (s->calm_h * H), stall = (uint64_t) s->stall_s * 1000;

        *h = (History) { .since = 1, .updated = 2, .mem_total_kb = 16 << 20 };
        h->score_calm[0] = calm - calm / 50;
        h->score_calm[s->calm_p99] += calm / 50;
        h->avail_calm[s->calm_avail] = calm;
        if (stall) {
                h->score_stall[s->stall_p_lo] += stall / 10;
                h->score_stall[s->stall_p_hi] += stall - stall / 10;
                h->avail_stall[s->stall_avail] = stall;
        }
        h->observed_ms = calm + stall;
        h->stall_ms = stall;
        h->stall_episodes = s->episodes;
        h->level_ms[0] = h->observed_ms;
}

START_TEST(test_recommend) {
        static const struct {
                const char *what;
                Spec spec;
                CalibrateCurrent cur;
                bool enough;
                double elevated;                /* < 0: not derived */
                bool elevated_change;
                double target;                  /* < 0: not derived */
                const char *evidence;           /* in the elevated or target evidence, or the refusal */
        } t[] = {
                { "too little history", { .calm_h = 10, .calm_p99 = 6 }, { 0.05, 0.15, 0, 15 },
                  false, -1, false, -1, "10.0 h of calm observation, 24 h are needed" },
                { "calm only: just above the 99th percentile; no target without stalls",
                  { .calm_h = 30, .calm_p99 = 6, .calm_avail = 50 }, { 0.05, 0.15, 0, 15 },
                  true, 0.08, true, -1, "needs 5 stall episodes" },
                { "stalls well above calm load; target from where stalls happen",
                  { .calm_h = 30, .calm_p99 = 2, .episodes = 6, .stall_s = 120, .stall_p_lo = 12, .stall_p_hi = 20,
                    .calm_avail = 45, .stall_avail = 9 }, { 0.05, 0.15, 0, 15 },
                  true, 0.04, true, 12, "stalls began at 0.12" },
                { "calm load and stalls overlap: the threshold follows the stalls",
                  { .calm_h = 30, .calm_p99 = 9, .episodes = 6, .stall_s = 120, .stall_p_lo = 6, .stall_p_hi = 20,
                    .calm_avail = 45, .stall_avail = 9 }, { 0.05, 0.15, 0, 15 },
                  true, 0.06, true, 12, "overlap" },
                { "an idle machine: the floor", { .calm_h = 30, .calm_p99 = 0, .calm_avail = 70 }, { 0.05, 0.15, 0, 15 },
                  true, 0.03, true, -1, "raised to the floor 0.03" },
                { "calm load reaches High: capped below high_threshold",
                  { .calm_h = 30, .calm_p99 = 20, .calm_avail = 70 }, { 0.05, 0.15, 0, 15 },
                  true, 0.14, true, -1, "capped below high_threshold 0.15" },
                { "already right: no change", { .calm_h = 30, .calm_p99 = 6, .calm_avail = 50 }, { 0.08, 0.15, 0, 15 },
                  true, 0.08, false, -1, "99 % of calm time scored below 0.07" },
                { "no room below high", { .calm_h = 30, .calm_p99 = 6, .calm_avail = 50 }, { 0.02, 0.03, 0, 15 },
                  true, -1, false, -1, "high_threshold leaves no room" },
                { "stalls at plenty of MemAvailable: no target",
                  { .calm_h = 30, .calm_p99 = 2, .episodes = 6, .stall_s = 120, .stall_p_lo = 12, .stall_p_hi = 20,
                    .calm_avail = 40, .stall_avail = 60 }, { 0.05, 0.15, 0, 15 },
                  true, 0.04, true, -1, "do not follow MemAvailable" },
                { "a target above 40 % is bounded",
                  { .calm_h = 30, .calm_p99 = 2, .episodes = 6, .stall_s = 120, .stall_p_lo = 12, .stall_p_hi = 20,
                    .calm_avail = 70, .stall_avail = 50 }, { 0.05, 0.15, 0, 15 },
                  true, 0.04, true, 40, "bounded to 5-40" },
                { "too few episodes: no stall evidence",
                  { .calm_h = 30, .calm_p99 = 9, .episodes = 4, .stall_s = 600, .stall_p_lo = 6, .stall_p_hi = 20,
                    .calm_avail = 45, .stall_avail = 9 }, { 0.05, 0.15, 0, 15 },
                  true, 0.11, true, -1, "the history has 4 and 600 s" },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                const char *ev;
                Calibration cal;
                History h;

                build(&t[i].spec, &h);
                calibrate_recommend(&h, &t[i].cur, &cal);
                ck_assert_msg(cal.enough == t[i].enough, "%s: enough %d", t[i].what, cal.enough);
                ev = !cal.enough ? cal.refusal : strstr(cal.elevated.evidence, t[i].evidence) ?
                        cal.elevated.evidence : cal.target.evidence;
                ck_assert_msg(strstr(ev, t[i].evidence), "%s: '%s' / '%s' lack '%s'", t[i].what,
                              cal.elevated.evidence, cal.target.evidence, t[i].evidence);
                if (!cal.enough)
                        continue;
                ck_assert_msg(cal.elevated.derived == (t[i].elevated >= 0), "%s: elevated derived", t[i].what);
                if (t[i].elevated >= 0)
                        ck_assert_msg(fabs(cal.elevated.value - t[i].elevated) < 1e-9, "%s: elevated %g, want %g",
                                      t[i].what, cal.elevated.value, t[i].elevated);
                ck_assert_msg(cal.elevated.change == t[i].elevated_change, "%s: elevated change", t[i].what);
                ck_assert_msg(cal.target.derived == (t[i].target >= 0), "%s: target derived (%s)", t[i].what,
                              cal.target.evidence);
                if (t[i].target >= 0)
                        ck_assert_msg(fabs(cal.target.value - t[i].target) < 1e-9, "%s: target %g, want %g",
                                      t[i].what, cal.target.value, t[i].target);
        }
}
END_TEST

START_TEST(test_file) {
        Calibration cal = {
                .enough = true,
                .elevated = { .key = "elevated_threshold", .derived = true, .change = true, .value = 0.08 },
                .target = { .key = "target_available_pct", .derived = true, .change = true, .value = 14 },
        };
        CalibrationFile f;
        StateError err = {};
        char buf[CALIBRATION_TEXT_MAX];

        ck_assert_int_gt(calibration_format(&cal, 1732339200, 86100000, buf, sizeof buf), 0);
        ck_assert_str_eq(buf, "mgd-calibration 1\ncreated 1732339200\nobserved_ms 86100000\n"
                         "elevated_threshold 0.08\ntarget_available_pct 14\n");
        ck_assert_int_eq(calibration_parse(buf, &f, &err), 0);
        ck_assert(f.has_elevated && f.has_target);
        ck_assert_double_eq_tol(f.elevated_threshold, 0.08, 1e-12);
        ck_assert_uint_eq(f.target_available_pct, 14);
        ck_assert_uint_eq(f.observed_ms, 86100000);
        cal.target.change = false;
        ck_assert_int_gt(calibration_format(&cal, 1, 2, buf, sizeof buf), 0);
        ck_assert_int_eq(calibration_parse(buf, &f, &err), 0);
        ck_assert(f.has_elevated && !f.has_target);
        cal.elevated.change = false;
        ck_assert_int_eq(calibration_format(&cal, 1, 2, buf, sizeof buf), -ENODATA);
}
END_TEST

START_TEST(test_file_bad) {
        static const struct { const char *text; unsigned line; const char *reason; } t[] = {
                { "mgd-calibration 2\n", 1, "unsupported mgd-calibration version 2" },
                { "mgd-history 1\n", 1, "not an mgd-calibration file" },
                { "mgd-calibration 1\ncreated 1\nobserved_ms 2\n", 4, "no setting to apply" },
                { "mgd-calibration 1\nobserved_ms 2\nelevated_threshold 0.1\n", 4, "missing key 'created'" },
                { "mgd-calibration 1\ncreated 1\nobserved_ms 2\nelevated_threshold 1.5\n", 4, "between 0 and 1" },
                { "mgd-calibration 1\ncreated 1\nobserved_ms 2\ntarget_available_pct 95\n", 4, "from 1 to 90" },
                { "mgd-calibration 1\ncreated 1\nobserved_ms 2\ntarget_available_pct 14.5\n", 4, "from 1 to 90" },
                { "mgd-calibration 1\ncreated 1\ncreated 2\n", 3, "duplicate key 'created' (first at line 2)" },
                { "mgd-calibration 1\ncreated 1\nhigh_threshold 0.2\n", 3, "unknown key 'high_threshold'" },
                { "mgd-calibration 1\ncreated 1\nobserved_ms 2\nelevated_threshold 0.1", 4, "incomplete last line" },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                CalibrationFile f;
                StateError err = {};

                ck_assert_int_lt(calibration_parse(t[i].text, &f, &err), 0);
                ck_assert_msg(err.line == t[i].line && strstr(err.reason, t[i].reason), "case %zu: %u: '%s', want"
                              " %u: '%s'", i, err.line, err.reason, t[i].line, t[i].reason);
        }
}
END_TEST

static Suite *calibrate_suite(void) {
        Suite *s = suite_create("calibrate");
        TCase *tc = tcase_create("calibrate");

        tcase_add_test(tc, test_quantile);
        tcase_add_test(tc, test_recommend);
        tcase_add_test(tc, test_file);
        tcase_add_test(tc, test_file_bad);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(calibrate_suite)
