/* SPDX-License-Identifier: GPL-2.0-only */

#include <errno.h>
#include <math.h>

#include "tests/check-main.h"
#include "tests/policy/policy-test.h"

#define GIB (1024ULL * 1024ULL)

START_TEST(test_level_strings) {
        static const char *const names[] = { "normal", "elevated", "high", "critical", "emergency" };

        for (Level l = 0; l < _LEVEL_MAX; l++) {
                ck_assert_str_eq(level_to_string(l), names[l]);
                ck_assert_int_eq(level_from_string(names[l]), (int) l);
        }
        ck_assert_ptr_null(level_to_string(_LEVEL_MAX));
        ck_assert_ptr_null(level_to_string((Level) -1));
        ck_assert_int_eq(level_from_string("HIGH"), LEVEL_HIGH);
        ck_assert_int_eq(level_from_string("Emergency"), LEVEL_EMERGENCY);
        ck_assert_int_eq(level_from_string("hi"), -EINVAL);
        ck_assert_int_eq(level_from_string(""), -EINVAL);
        ck_assert_int_eq(level_from_string("high "), -EINVAL);
        ck_assert_int_eq(level_from_string(NULL), -EINVAL);
}
END_TEST

START_TEST(test_action_strings) {
        ck_assert_str_eq(action_to_string(ACTION_NONE), "none");
        ck_assert_str_eq(action_to_string(ACTION_FREEZE), "freeze");
        ck_assert_str_eq(action_to_string(ACTION_TERMINATE), "terminate");
        ck_assert_str_eq(action_to_string(ACTION_KILL), "kill");
        ck_assert_str_eq(action_to_string(ACTION_CHECKPOINT), "checkpoint");
        ck_assert_ptr_null(action_to_string(_ACTION_MAX));
}
END_TEST

START_TEST(test_defaults) {
        PolicyConfig c;
        const char *what = "untouched";

        policy_config_defaults(&c);
        ck_assert_int_eq(c.default_priority, 50);
        ck_assert_uint_eq(c.log_keep, 10);
        ck_assert_double_eq_tol(c.level_threshold[LEVEL_ELEVATED], 0.05, 1e-9);
        ck_assert_double_eq_tol(c.level_threshold[LEVEL_HIGH], 0.15, 1e-9);
        ck_assert_double_eq_tol(c.level_threshold[LEVEL_CRITICAL], 0.25, 1e-9);
        ck_assert_double_eq_tol(c.level_threshold[LEVEL_EMERGENCY], 0.40, 1e-9);
        ck_assert_double_eq_tol(c.liveness_stall_pct, 1.0, 1e-9);
        ck_assert_double_eq_tol(c.liveness_swapio_kbs, 0, 1e-9);
        ck_assert_double_eq_tol(c.swapio_full_scale_kbs, 51200, 1e-9);
        ck_assert_double_eq_tol(c.spike_trend, 0.08, 1e-9);
        ck_assert_uint_eq(c.escalate_ticks, 2);
        ck_assert_uint_eq(c.escalate_window_usec, 5 * USEC_PER_SEC);
        ck_assert_uint_eq(c.calm_to_normal_usec, 60 * USEC_PER_SEC);
        ck_assert_uint_eq(c.calm_step_usec, 20 * USEC_PER_SEC);
        ck_assert_double_eq_tol(c.target_available_pct, 0, 1e-9);
        ck_assert_uint_eq(c.min_footprint_kb, 10240);
        ck_assert_uint_eq(c.critical_max_destructive, 1);
        ck_assert_uint_eq(c.emergency_max_destructive, 4);
        ck_assert_double_eq_tol(c.kill_swap_ratio, 0.5, 1e-9);
        ck_assert_uint_eq(c.aggressor_min_growth_kbs, 16384);
        ck_assert_uint_eq(c.aggressor_window_usec, 5 * USEC_PER_SEC);
        ck_assert_uint_eq(c.aggressor_min_majflt_rate, 200);
        ck_assert_uint_eq(c.thaw_batch, 4);
        ck_assert_uint_eq(c.restore_batch, 1);
        ck_assert_uint_eq(c.thaw_min_frozen_usec, 10 * USEC_PER_SEC);
        ck_assert_uint_eq(c.fast_tick_usec, USEC_PER_SEC);
        ck_assert_uint_eq(c.slow_tick_usec, 10 * USEC_PER_SEC);
        ck_assert_uint_eq(c.term_grace_usec, 3 * USEC_PER_SEC);
        ck_assert_ptr_null(c.rules);
        ck_assert_uint_eq(c.n_rules, 0);

        ck_assert_int_eq(policy_config_validate(&c, &what), 0);
        ck_assert_ptr_null(what);
}
END_TEST

/* With no swap and no GPU, P = 0.55 · stall: every level must be reachable below 100 % stall. */
START_TEST(test_defaults_psi_alone_reaches_every_level) {
        PolicyConfig c;

        policy_config_defaults(&c);
        for (Level l = LEVEL_ELEVATED; l < _LEVEL_MAX; l++)
                ck_assert_double_lt(c.level_threshold[l] / 0.55 * 100.0, 100.0);
        /* and Elevated starts near 9 % stall, not at upstream's 27 % */
        ck_assert_double_lt(c.level_threshold[LEVEL_ELEVATED] / 0.55 * 100.0, 10.0);
}
END_TEST

typedef struct BadValue {
        const char *what;
        void (*mutate)(PolicyConfig *c);
} BadValue;

static void bad_prio_low(PolicyConfig *c) { c->default_priority = -1; }
static void bad_prio_high(PolicyConfig *c) { c->default_priority = 101; }
static void bad_thr_zero(PolicyConfig *c) { c->level_threshold[LEVEL_ELEVATED] = 0; }
static void bad_thr_order(PolicyConfig *c) { c->level_threshold[LEVEL_HIGH] = 0.05; }
static void bad_thr_order2(PolicyConfig *c) { c->level_threshold[LEVEL_CRITICAL] = 0.10; }
static void bad_thr_over(PolicyConfig *c) { c->level_threshold[LEVEL_EMERGENCY] = 1.5; }
static void bad_thr_nan(PolicyConfig *c) { c->level_threshold[LEVEL_EMERGENCY] = NAN; }
static void bad_live_stall(PolicyConfig *c) { c->liveness_stall_pct = -1; }
static void bad_live_io(PolicyConfig *c) { c->liveness_swapio_kbs = NAN; }
static void bad_full_scale(PolicyConfig *c) { c->swapio_full_scale_kbs = 0; }
static void bad_spike(PolicyConfig *c) { c->spike_trend = 0; }
static void bad_ticks(PolicyConfig *c) { c->escalate_ticks = 0; }
static void bad_window(PolicyConfig *c) { c->escalate_window_usec = 0; }
static void bad_window_short(PolicyConfig *c) { c->escalate_ticks = 4; c->escalate_window_usec = 2 * USEC_PER_SEC; }
static void bad_calm_normal(PolicyConfig *c) { c->calm_to_normal_usec = 0; }
static void bad_calm_step(PolicyConfig *c) { c->calm_step_usec = 0; }
static void bad_target(PolicyConfig *c) { c->target_available_pct = 95; }
static void bad_target_neg(PolicyConfig *c) { c->target_available_pct = -5; }
static void bad_crit_max(PolicyConfig *c) { c->critical_max_destructive = 0; }
static void bad_emerg_max(PolicyConfig *c) { c->emergency_max_destructive = 0; }
static void bad_ratio(PolicyConfig *c) { c->kill_swap_ratio = 1.1; }
static void bad_growth(PolicyConfig *c) { c->aggressor_min_growth_kbs = 0; }
static void bad_aggr_window(PolicyConfig *c) { c->aggressor_window_usec = 0; }
static void bad_majflt_rate(PolicyConfig *c) { c->aggressor_min_majflt_rate = 0; }
static void bad_thaw(PolicyConfig *c) { c->thaw_batch = 0; }
static void bad_restore(PolicyConfig *c) { c->restore_batch = 0; }
static void bad_fast(PolicyConfig *c) { c->fast_tick_usec = 0; }
static void bad_slow(PolicyConfig *c) { c->slow_tick_usec = c->fast_tick_usec - 1; }
static void bad_grace(PolicyConfig *c) { c->term_grace_usec = 0; }
static void bad_rules_null(PolicyConfig *c) { c->rules = NULL; c->n_rules = 3; }

static const BadValue bad_values[] = {
        { "default_priority", bad_prio_low },
        { "default_priority", bad_prio_high },
        { "level_threshold.elevated", bad_thr_zero },
        { "level_threshold.high", bad_thr_order },
        { "level_threshold.critical", bad_thr_order2 },
        { "level_threshold.emergency", bad_thr_over },
        { "level_threshold.emergency", bad_thr_nan },
        { "liveness_stall_pct", bad_live_stall },
        { "liveness_swapio_kbs", bad_live_io },
        { "swapio_full_scale_kbs", bad_full_scale },
        { "spike_trend", bad_spike },
        { "escalate_ticks", bad_ticks },
        { "escalate_window_usec", bad_window },
        { "escalate_window_usec", bad_window_short },
        { "calm_to_normal_usec", bad_calm_normal },
        { "calm_step_usec", bad_calm_step },
        { "target_available_pct", bad_target },
        { "target_available_pct", bad_target_neg },
        { "critical_max_destructive", bad_crit_max },
        { "emergency_max_destructive", bad_emerg_max },
        { "kill_swap_ratio", bad_ratio },
        { "aggressor_min_growth_kbs", bad_growth },
        { "aggressor_window_usec", bad_aggr_window },
        { "aggressor_min_majflt_rate", bad_majflt_rate },
        { "thaw_batch", bad_thaw },
        { "restore_batch", bad_restore },
        { "fast_tick_usec", bad_fast },
        { "slow_tick_usec", bad_slow },
        { "term_grace_usec", bad_grace },
        { "rules", bad_rules_null },
};

START_TEST(test_validate_bad_value) {
        const BadValue *b = &bad_values[_i];
        PolicyConfig c;
        const char *what = NULL;

        policy_config_defaults(&c);
        b->mutate(&c);
        ck_assert_int_eq(policy_config_validate(&c, &what), -EINVAL);
        ck_assert_ptr_nonnull(what);
        ck_assert_str_eq(what, b->what);
}
END_TEST

START_TEST(test_validate_edges_accepted) {
        PolicyConfig c;

        policy_config_defaults(&c);
        c.default_priority = 0;
        c.kill_swap_ratio = 1;
        c.target_available_pct = 90;
        c.escalate_ticks = 1;
        c.level_threshold[LEVEL_EMERGENCY] = 1.0;
        c.slow_tick_usec = c.fast_tick_usec;
        ck_assert_int_eq(policy_config_validate(&c, NULL), 0);
}
END_TEST

typedef struct BadRule {
        const char *what;
        void (*mutate)(Rule *r);
} BadRule;

static void rule_prio_high(Rule *r) { r->priority = 101; }
static void rule_prio_neg(Rule *r) { r->priority = -1; }
static void rule_cp(Rule *r) { r->checkpoint = 2; }
static void rule_field(Rule *r) { r->field = _MATCH_MAX; }
static void rule_name(Rule *r) { r->name[0] = '\0'; }
static void rule_pattern(Rule *r) { r->pattern[0] = '\0'; }
static void rule_uncompiled(Rule *r) { r->compiled = false; }

static const BadRule bad_rules[] = {
        { "rule.priority", rule_prio_high },
        { "rule.priority", rule_prio_neg },
        { "rule.checkpoint", rule_cp },
        { "rule.match", rule_field },
        { "rule.name", rule_name },
        { "rule.pattern", rule_pattern },
        { "rule.pattern", rule_uncompiled },
};

START_TEST(test_validate_bad_rule) {
        const BadRule *b = &bad_rules[_i];
        PolicyConfig c;
        TestRules r;
        const char *what = NULL;

        test_config(&c, &r);
        ck_assert_int_eq(policy_config_validate(&c, &what), 0);

        b->mutate(&r.rules[5]);
        ck_assert_int_eq(policy_rule_validate(&r.rules[5], &what), -EINVAL);
        ck_assert_str_eq(what, b->what);
        ck_assert_int_eq(policy_config_validate(&c, &what), -EINVAL);
        ck_assert_str_eq(what, b->what);

        r.rules[5].compiled = true;     /* its regex_t is real: let test_rules_free() free it */
        test_rules_free(&r);
}
END_TEST

/* A [protect] entry carries no priority: whatever is in the field is not an error. */
START_TEST(test_validate_protect_rule_priority_unused) {
        static const RuleSpec spec = { .name = "vpn", .pattern = "^openvpn$", .protect = true,
                                       .priority = 500, .checkpoint = -1 };
        PolicyConfig c;
        TestRules r = {};

        policy_config_defaults(&c);
        c.rules = test_rules_add(&r, &spec, 1);
        c.n_rules = r.n;
        ck_assert_int_eq(policy_config_validate(&c, NULL), 0);
        test_rules_free(&r);
}
END_TEST

typedef struct TargetCase {
        uint64_t mem_total_kb;
        double pct;
        uint64_t expect_kb;
} TargetCase;

static const TargetCase target_cases[] = {
        { 4 * GIB, 0, 4 * GIB / 5 },                    /* < 8 GiB: 20 % */
        { 8 * GIB - 1, 0, (8 * GIB - 1) * 20 / 100 },
        { 8 * GIB, 0, 8 * GIB * 15 / 100 },             /* < 16 GiB: 15 % */
        { 16046868, 0, 16046868ULL * 15 / 100 },        /* the seed's "16 GB" laptop */
        { 16 * GIB, 0, 16 * GIB * 12 / 100 },           /* < 32 GiB: 12 % */
        { 32 * GIB - 1, 0, (32 * GIB - 1) * 12 / 100 },
        { 32 * GIB, 0, 32 * GIB / 10 },                 /* else 10 % */
        { 128 * GIB, 0, 128 * GIB / 10 },
        { 1000000, 25, 250000 },                        /* explicit pct wins */
        { 16 * GIB, 5, 16 * GIB / 20 },
        { 0, 0, 0 },
};

START_TEST(test_target_available) {
        const TargetCase *t = &target_cases[_i];
        PolicyConfig c;

        policy_config_defaults(&c);
        c.target_available_pct = t->pct;
        ck_assert_uint_eq(policy_target_available_kb(&c, t->mem_total_kb), t->expect_kb);
}
END_TEST

static Suite *policy_config_suite(void) {
        Suite *s = suite_create("policy-config");
        TCase *tc = tcase_create("config");

        tcase_add_test(tc, test_level_strings);
        tcase_add_test(tc, test_action_strings);
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_defaults_psi_alone_reaches_every_level);
        tcase_add_loop_test(tc, test_validate_bad_value, 0, ELEMENTSOF(bad_values));
        tcase_add_test(tc, test_validate_edges_accepted);
        tcase_add_loop_test(tc, test_validate_bad_rule, 0, ELEMENTSOF(bad_rules));
        tcase_add_test(tc, test_validate_protect_rule_priority_unused);
        tcase_add_loop_test(tc, test_target_available, 0, ELEMENTSOF(target_cases));
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(policy_config_suite)
