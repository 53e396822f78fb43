/* SPDX-License-Identifier: GPL-2.0-only */

#include "tests/check-main.h"
#include "tests/policy/policy-test.h"

#define SEC USEC_PER_SEC
#define T0 (1000 * SEC)

typedef struct TargetCase {
        double p, stall_pct, swapio_kbs;
        Level expect;
        double live_io;                 /* liveness_swapio_kbs, 0 = the default (off) */
} TargetCase;

static const TargetCase target_cases[] = {
        { 0.00, 5, 0, LEVEL_NORMAL },
        { 0.049, 5, 0, LEVEL_NORMAL },
        { 0.05, 5, 0, LEVEL_ELEVATED },
        { 0.149, 5, 0, LEVEL_ELEVATED },
        { 0.15, 5, 0, LEVEL_HIGH },
        { 0.25, 5, 0, LEVEL_CRITICAL },
        { 0.399, 5, 0, LEVEL_CRITICAL },
        { 0.40, 5, 0, LEVEL_EMERGENCY },
        { 1.00, 5, 0, LEVEL_EMERGENCY },
        /* the liveness gate: however high P is, no stall and no swap traffic is Normal */
        { 0.20, 0, 0, LEVEL_NORMAL },
        { 1.00, 0.99, 999, LEVEL_NORMAL },
        { 0.20, 1.0, 0, LEVEL_HIGH },           /* 1 % stall is real */
        /* swap traffic without stall (pages of thawed processes coming back) is not pressure... */
        { 0.20, 0, 1000, LEVEL_NORMAL },
        { 0.45, 0, 5000, LEVEL_NORMAL },
        /* ...unless the gate is configured to count it */
        { 0.20, 0, 1000, LEVEL_HIGH, 1000 },
        { 0.45, 0, 5000, LEVEL_EMERGENCY, 1000 },
        { 0.45, 0, 999, LEVEL_NORMAL, 1000 },
};

START_TEST(test_level_target) {
        const TargetCase *t = &target_cases[_i];
        PolicyConfig c;
        Score s = { .p = t->p, .stall_pct = t->stall_pct, .swapio_kbs = t->swapio_kbs };

        policy_config_defaults(&c);
        c.liveness_swapio_kbs = t->live_io;
        ck_assert_msg(level_target(&c, &s) == t->expect, "case %d: p=%.3f got %s want %s", _i, t->p,
                      level_to_string(level_target(&c, &s)), level_to_string(t->expect));
}
END_TEST

/* End to end: an idle but full zram stays Normal; PSI alone reaches every level. */
START_TEST(test_level_target_from_samples) {
        static const struct {
                double stall;
                Level expect;
        } psi[] = {
                { 0, LEVEL_NORMAL }, { 8, LEVEL_NORMAL }, { 9.1, LEVEL_ELEVATED },
                { 27.3, LEVEL_HIGH }, { 45.5, LEVEL_CRITICAL }, { 72.8, LEVEL_EMERGENCY },
        };
        PolicyConfig c;

        policy_config_defaults(&c);
        for (size_t i = 0; i < ELEMENTSOF(psi); i++) {
                PressureSample x = { .now = T0, .some_avg10 = psi[i].stall,
                                     .mem_total_kb = 16 * 1024 * MIB, .page_size_kb = 4 };
                ScoreState st;
                Score s;

                score_state_init(&st, &c);
                s = score_update(&st, &x);
                ck_assert_msg(level_target(&c, &s) == psi[i].expect, "stall %.1f %%", psi[i].stall);
        }

        /* zram 100 % full, nobody stalls, no swap I/O: upstream pinned Critical here */
        {
                PressureSample x = { .now = T0, .mem_total_kb = 16 * 1024 * MIB,
                                     .swap_total_kb = 8 * 1024 * MIB, .swap_free_kb = 0,
                                     .gpu_uma_kb = 16 * 1024 * MIB, .page_size_kb = 4 };
                ScoreState st;
                Score s;

                score_state_init(&st, &c);
                (void) score_update(&st, &x);
                x.now += SEC;
                s = score_update(&st, &x);
                ck_assert_double_ge(s.p, 0.34);
                ck_assert_int_eq(level_target(&c, &s), LEVEL_NORMAL);
        }
}
END_TEST

typedef struct Tick {
        usec_t at;              /* offset from T0 */
        Level target;
        double trend;
        Level expect;
} Tick;

static void run_ticks(const PolicyConfig *c, LevelMachine *m, const Tick *ticks, size_t n) {
        for (size_t i = 0; i < n; i++) {
                Level got = level_machine_update(m, c, ticks[i].target, ticks[i].trend,
                                                 T0 + ticks[i].at);

                ck_assert_msg(got == ticks[i].expect, "tick %zu (t=%.1fs, target %s): got %s want %s",
                              i, (double) ticks[i].at / SEC, level_to_string(ticks[i].target),
                              level_to_string(got), level_to_string(ticks[i].expect));
                ck_assert_int_eq(m->current, got);
        }
}

START_TEST(test_escalate_two_ticks) {
        static const Tick ticks[] = {
                { 0, LEVEL_HIGH, 0, LEVEL_NORMAL },
                { 1 * SEC, LEVEL_HIGH, 0, LEVEL_HIGH },
        };
        PolicyConfig c;
        LevelMachine m;

        policy_config_defaults(&c);
        level_machine_init(&m, T0);
        run_ticks(&c, &m, ticks, ELEMENTSOF(ticks));
        ck_assert_uint_eq(m.entered_at, T0 + SEC);
}
END_TEST

/* The ticks must be consecutive: a tick at or below the current level breaks the run. */
START_TEST(test_escalate_needs_consecutive_ticks) {
        static const Tick ticks[] = {
                { 0, LEVEL_HIGH, 0, LEVEL_NORMAL },
                { 1 * SEC, LEVEL_NORMAL, 0, LEVEL_NORMAL },
                { 2 * SEC, LEVEL_HIGH, 0, LEVEL_NORMAL },
                { 3 * SEC, LEVEL_NORMAL, 0, LEVEL_NORMAL },
                { 4 * SEC, LEVEL_HIGH, 0, LEVEL_NORMAL },
                { 5 * SEC, LEVEL_HIGH, 0, LEVEL_HIGH },
        };
        PolicyConfig c;
        LevelMachine m;

        policy_config_defaults(&c);
        level_machine_init(&m, T0);
        run_ticks(&c, &m, ticks, ELEMENTSOF(ticks));
}
END_TEST

/* Two blips further apart than the window are not an escalation; the count restarts. */
START_TEST(test_escalate_window_bound) {
        static const Tick ticks[] = {
                { 0, LEVEL_HIGH, 0, LEVEL_NORMAL },
                { 6 * SEC, LEVEL_HIGH, 0, LEVEL_NORMAL },       /* 6 s > 5 s window */
                { 8 * SEC, LEVEL_HIGH, 0, LEVEL_HIGH },         /* within 5 s of the restart */
        };
        static const Tick edge[] = {
                { 0, LEVEL_ELEVATED, 0, LEVEL_NORMAL },
                { 5 * SEC, LEVEL_ELEVATED, 0, LEVEL_ELEVATED }, /* exactly the window: inside */
        };
        PolicyConfig c;
        LevelMachine m;

        policy_config_defaults(&c);
        level_machine_init(&m, T0);
        run_ticks(&c, &m, ticks, ELEMENTSOF(ticks));
        level_machine_init(&m, T0);
        run_ticks(&c, &m, edge, ELEMENTSOF(edge));
}
END_TEST

START_TEST(test_escalate_three_ticks_in_window) {
        static const Tick ticks[] = {
                { 0, LEVEL_HIGH, 0, LEVEL_NORMAL },
                { 2 * SEC, LEVEL_HIGH, 0, LEVEL_NORMAL },
                { 6 * SEC, LEVEL_HIGH, 0, LEVEL_NORMAL },       /* 6 s after the first: restart */
                { 8 * SEC, LEVEL_HIGH, 0, LEVEL_NORMAL },
                { 10 * SEC, LEVEL_HIGH, 0, LEVEL_HIGH },
        };
        PolicyConfig c;
        LevelMachine m;

        policy_config_defaults(&c);
        c.escalate_ticks = 3;
        level_machine_init(&m, T0);
        run_ticks(&c, &m, ticks, ELEMENTSOF(ticks));
}
END_TEST

/* The run escalates to its lowest target, whichever order the targets came in. */
START_TEST(test_escalate_to_lowest_target) {
        static const Tick down[] = {
                { 0, LEVEL_HIGH, 0, LEVEL_NORMAL },
                { 1 * SEC, LEVEL_ELEVATED, 0, LEVEL_ELEVATED },
        };
        static const Tick up[] = {
                { 0, LEVEL_ELEVATED, 0, LEVEL_NORMAL },
                { 1 * SEC, LEVEL_EMERGENCY, 0, LEVEL_ELEVATED },
        };
        PolicyConfig c;
        LevelMachine m;

        policy_config_defaults(&c);
        level_machine_init(&m, T0);
        run_ticks(&c, &m, down, ELEMENTSOF(down));
        level_machine_init(&m, T0);
        run_ticks(&c, &m, up, ELEMENTSOF(up));
}
END_TEST

/* Upstream restarted the count on every change of target, so High/Elevated/High... never
 * escalated at all. */
START_TEST(test_escalate_oscillating_target) {
        static const Tick ticks[] = {
                { 0, LEVEL_HIGH, 0, LEVEL_NORMAL },
                { 1 * SEC, LEVEL_ELEVATED, 0, LEVEL_ELEVATED },
                { 2 * SEC, LEVEL_HIGH, 0, LEVEL_ELEVATED },
                { 3 * SEC, LEVEL_ELEVATED, 0, LEVEL_ELEVATED },
                { 4 * SEC, LEVEL_HIGH, 0, LEVEL_ELEVATED },
                { 5 * SEC, LEVEL_HIGH, 0, LEVEL_HIGH },
        };
        PolicyConfig c;
        LevelMachine m;

        policy_config_defaults(&c);
        level_machine_init(&m, T0);
        run_ticks(&c, &m, ticks, ELEMENTSOF(ticks));
}
END_TEST

START_TEST(test_instant_spike_escalation) {
        static const Tick crit[] = { { 0, LEVEL_CRITICAL, 0.09, LEVEL_CRITICAL } };
        static const Tick emerg[] = { { 0, LEVEL_EMERGENCY, 0.5, LEVEL_EMERGENCY } };
        static const Tick slow[] = {
                { 0, LEVEL_CRITICAL, 0.08, LEVEL_NORMAL },      /* not above spike_trend */
                { 1 * SEC, LEVEL_CRITICAL, 0.0, LEVEL_CRITICAL },
        };
        static const Tick high[] = {
                { 0, LEVEL_HIGH, 5.0, LEVEL_NORMAL },           /* High never jumps */
        };
        static const Tick from_high[] = {
                { 0, LEVEL_HIGH, 0, LEVEL_NORMAL },
                { 1 * SEC, LEVEL_HIGH, 0, LEVEL_HIGH },
                { 2 * SEC, LEVEL_EMERGENCY, 0.2, LEVEL_EMERGENCY },
        };
        PolicyConfig c;
        LevelMachine m;

        policy_config_defaults(&c);
        level_machine_init(&m, T0);
        run_ticks(&c, &m, crit, ELEMENTSOF(crit));
        level_machine_init(&m, T0);
        run_ticks(&c, &m, emerg, ELEMENTSOF(emerg));
        level_machine_init(&m, T0);
        run_ticks(&c, &m, slow, ELEMENTSOF(slow));
        level_machine_init(&m, T0);
        run_ticks(&c, &m, high, ELEMENTSOF(high));
        level_machine_init(&m, T0);
        run_ticks(&c, &m, from_high, ELEMENTSOF(from_high));
}
END_TEST

/* Drive the machine to `level` through a spike (or two ticks) and return the time used. */
static usec_t reach(const PolicyConfig *c, LevelMachine *m, Level level) {
        level_machine_init(m, T0);
        (void) level_machine_update(m, c, level, 1.0, T0);
        (void) level_machine_update(m, c, level, 1.0, T0 + SEC);
        ck_assert_int_eq(m->current, level);
        return 2 * SEC;
}

/* Feed `target` every second from `from` (offset) for `secs` seconds; return the level. */
static Level feed(const PolicyConfig *c, LevelMachine *m, Level target, usec_t from, unsigned secs) {
        for (unsigned s = 0; s < secs; s++)
                (void) level_machine_update(m, c, target, 0, T0 + from + s * SEC);
        return m->current;
}

START_TEST(test_calm_to_normal) {
        PolicyConfig c;
        LevelMachine m;
        usec_t t;

        policy_config_defaults(&c);
        t = reach(&c, &m, LEVEL_HIGH);
        /* calm starts at the first calm tick (t); Normal needs 60 s of it */
        ck_assert_int_eq(feed(&c, &m, LEVEL_NORMAL, t, 60), LEVEL_HIGH);       /* t .. t+59 */
        ck_assert_int_eq(level_machine_update(&m, &c, LEVEL_NORMAL, 0, T0 + t + 60 * SEC),
                         LEVEL_NORMAL);
        ck_assert_uint_eq(m.entered_at, T0 + t + 60 * SEC);
}
END_TEST

START_TEST(test_calm_step_between_higher_levels) {
        PolicyConfig c;
        LevelMachine m;
        usec_t t;

        policy_config_defaults(&c);
        t = reach(&c, &m, LEVEL_CRITICAL);
        ck_assert_int_eq(feed(&c, &m, LEVEL_HIGH, t, 20), LEVEL_CRITICAL);     /* t .. t+19 */
        ck_assert_int_eq(level_machine_update(&m, &c, LEVEL_HIGH, 0, T0 + t + 20 * SEC), LEVEL_HIGH);
        /* and from High to Normal it is the long calm again */
        ck_assert_int_eq(feed(&c, &m, LEVEL_NORMAL, t + 21 * SEC, 60), LEVEL_HIGH);
        ck_assert_int_eq(level_machine_update(&m, &c, LEVEL_NORMAL, 0, T0 + t + 81 * SEC),
                         LEVEL_NORMAL);
}
END_TEST

/* The step goes to the highest target seen while calming, never below it. */
START_TEST(test_calm_steps_to_max_target_seen) {
        PolicyConfig c;
        LevelMachine m;
        usec_t t;

        policy_config_defaults(&c);
        t = reach(&c, &m, LEVEL_EMERGENCY);
        ck_assert_int_eq(feed(&c, &m, LEVEL_NORMAL, t, 10), LEVEL_EMERGENCY);
        ck_assert_int_eq(feed(&c, &m, LEVEL_HIGH, t + 10 * SEC, 1), LEVEL_EMERGENCY);
        ck_assert_int_eq(feed(&c, &m, LEVEL_NORMAL, t + 11 * SEC, 9), LEVEL_EMERGENCY);
        /* 20 s of calm whose highest target was High: step to High, not to Normal */
        ck_assert_int_eq(level_machine_update(&m, &c, LEVEL_NORMAL, 0, T0 + t + 20 * SEC), LEVEL_HIGH);
}
END_TEST

START_TEST(test_calm_reset_by_target_at_current) {
        PolicyConfig c;
        LevelMachine m;
        usec_t t;

        policy_config_defaults(&c);
        t = reach(&c, &m, LEVEL_HIGH);
        ck_assert_int_eq(feed(&c, &m, LEVEL_NORMAL, t, 50), LEVEL_HIGH);
        ck_assert_int_eq(feed(&c, &m, LEVEL_HIGH, t + 50 * SEC, 1), LEVEL_HIGH);  /* resets */
        ck_assert_int_eq(feed(&c, &m, LEVEL_NORMAL, t + 51 * SEC, 60), LEVEL_HIGH);
        ck_assert_int_eq(level_machine_update(&m, &c, LEVEL_NORMAL, 0, T0 + t + 111 * SEC),
                         LEVEL_NORMAL);

        /* a target above the current level resets calm too */
        t = reach(&c, &m, LEVEL_HIGH);
        ck_assert_int_eq(feed(&c, &m, LEVEL_ELEVATED, t, 19), LEVEL_HIGH);
        ck_assert_int_eq(feed(&c, &m, LEVEL_CRITICAL, t + 19 * SEC, 1), LEVEL_HIGH);
        ck_assert_int_eq(feed(&c, &m, LEVEL_ELEVATED, t + 20 * SEC, 19), LEVEL_HIGH);
        ck_assert_int_eq(feed(&c, &m, LEVEL_ELEVATED, t + 39 * SEC, 2), LEVEL_ELEVATED);
}
END_TEST

typedef struct Oscillation {
        Level start;
        Level pattern[3];
        size_t n;
        Level expect;           /* where it must end up: the top of the pattern */
} Oscillation;

static const Oscillation oscillations[] = {
        /* below the current level: upstream's pending reset kept it at the top forever */
        { LEVEL_CRITICAL, { LEVEL_HIGH, LEVEL_ELEVATED }, 2, LEVEL_HIGH },
        { LEVEL_CRITICAL, { LEVEL_ELEVATED, LEVEL_NORMAL }, 2, LEVEL_ELEVATED },
        { LEVEL_EMERGENCY, { LEVEL_HIGH, LEVEL_NORMAL, LEVEL_ELEVATED }, 3, LEVEL_HIGH },
        { LEVEL_EMERGENCY, { LEVEL_NORMAL, LEVEL_ELEVATED }, 2, LEVEL_ELEVATED },
        /* above it: it escalates to the bottom of the run above the current level */
        { LEVEL_NORMAL, { LEVEL_HIGH, LEVEL_ELEVATED }, 2, LEVEL_ELEVATED },
        { LEVEL_NORMAL, { LEVEL_CRITICAL, LEVEL_HIGH }, 2, LEVEL_HIGH },
        /* straddling it: a level the pressure keeps touching from both sides is right */
        { LEVEL_HIGH, { LEVEL_CRITICAL, LEVEL_ELEVATED }, 2, LEVEL_HIGH },
};

START_TEST(test_oscillation_never_stuck) {
        const Oscillation *o = &oscillations[_i];
        PolicyConfig c;
        LevelMachine m;
        usec_t t = 0;

        policy_config_defaults(&c);
        if (o->start != LEVEL_NORMAL)
                t = reach(&c, &m, o->start);
        else
                level_machine_init(&m, T0);

        /* five minutes at one tick per second is far beyond every calm period */
        for (unsigned k = 0; k < 300; k++)
                (void) level_machine_update(&m, &c, o->pattern[k % o->n], 0, T0 + t + k * SEC);
        ck_assert_msg(m.current == o->expect, "case %d: ended at %s, want %s", _i,
                      level_to_string(m.current), level_to_string(o->expect));

        /* and when the oscillation ends it still comes down to Normal */
        (void) feed(&c, &m, LEVEL_NORMAL, t + 300 * SEC, 200);
        ck_assert_int_eq(m.current, LEVEL_NORMAL);
}
END_TEST

START_TEST(test_invalid_target_ignored) {
        PolicyConfig c;
        LevelMachine m;

        policy_config_defaults(&c);
        level_machine_init(&m, T0);
        ck_assert_int_eq(level_machine_update(&m, &c, _LEVEL_MAX, 9.0, T0), LEVEL_NORMAL);
        ck_assert_int_eq(level_machine_update(&m, &c, (Level) 42, 9.0, T0 + SEC), LEVEL_NORMAL);
        ck_assert_uint_eq(m.pending_ticks, 0);
}
END_TEST

static Suite *policy_level_suite(void) {
        Suite *s = suite_create("policy-level");
        TCase *tc = tcase_create("level");

        tcase_add_loop_test(tc, test_level_target, 0, ELEMENTSOF(target_cases));
        tcase_add_test(tc, test_level_target_from_samples);
        tcase_add_test(tc, test_escalate_two_ticks);
        tcase_add_test(tc, test_escalate_needs_consecutive_ticks);
        tcase_add_test(tc, test_escalate_window_bound);
        tcase_add_test(tc, test_escalate_three_ticks_in_window);
        tcase_add_test(tc, test_escalate_to_lowest_target);
        tcase_add_test(tc, test_escalate_oscillating_target);
        tcase_add_test(tc, test_instant_spike_escalation);
        tcase_add_test(tc, test_calm_to_normal);
        tcase_add_test(tc, test_calm_step_between_higher_levels);
        tcase_add_test(tc, test_calm_steps_to_max_target_seen);
        tcase_add_test(tc, test_calm_reset_by_target_at_current);
        tcase_add_loop_test(tc, test_oscillation_never_stuck, 0, ELEMENTSOF(oscillations));
        tcase_add_test(tc, test_invalid_target_ignored);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(policy_level_suite)
