/* SPDX-License-Identifier: GPL-2.0-only */
/* policy_explain(): priority and its origin, tier, exemptions, and the action matrix per level. */

#include "policy/explain.h"
#include "tests/check-main.h"
#include "tests/policy/policy-test.h"

static Explanation explain(const PolicyConfig *c, const Candidate *cand, pid_t fg, bool aggressor) {
        Explanation x;

        ck_assert_int_eq(policy_explain(c, cand, fg, aggressor, false, false, &x), 0);
        return x;
}

START_TEST(test_origin_and_tier) {
        PolicyConfig c;
        TestRules r;
        Candidate tab = test_cand(100, "Web Content", 100, 0), kwin = test_cand(101, "kwin_wayland", 100, 0),
                  other = test_cand(102, "some-app", 100, 0);
        Explanation x;

        test_config(&c, &r);
        x = explain(&c, &tab, 0, false);
        ck_assert_int_eq(x.priority, 80);
        ck_assert_int_eq(x.base_priority, 80);
        ck_assert_str_eq(x.rule, "browser-isolated");
        ck_assert_str_eq(x.origin, "test:12");
        ck_assert_str_eq(explain_tier_to_string(x.tier), "expendable-heavy");
        ck_assert_int_eq(x.exempt, EXEMPT_NONE);

        x = explain(&c, &kwin, 0, false);
        ck_assert_int_eq(x.priority, -1);
        ck_assert_int_eq(x.base_priority, 10);
        ck_assert_str_eq(x.rule, "compositor");
        ck_assert_int_eq(x.tier, TIER_PROTECTED);
        ck_assert_int_eq(x.exempt, EXEMPT_PROTECTED);
        for (Level l = LEVEL_NORMAL; l < _LEVEL_MAX; l++)
                ck_assert_int_eq(x.now[l], ACTION_NONE);

        x = explain(&c, &other, 0, false);
        ck_assert_ptr_null(x.rule);
        ck_assert_str_eq(x.origin, "default");
        ck_assert_int_eq(x.priority, 50);
        ck_assert_str_eq(explain_tier_to_string(x.tier), "background");
        test_rules_free(&r);
}
END_TEST

START_TEST(test_levels_follow_the_matrix) {
        PolicyConfig c;
        TestRules r;
        Candidate tab = test_cand(100, "Web Content", 100, 0), node = test_cand(101, "node", 300, 0);
        Explanation x;

        test_config(&c, &r);
        x = explain(&c, &tab, 0, false);
        ck_assert_int_eq(x.now[LEVEL_NORMAL], ACTION_NONE);
        ck_assert_int_eq(x.now[LEVEL_ELEVATED], ACTION_FREEZE);
        ck_assert_int_eq(x.then[LEVEL_ELEVATED], ACTION_NONE);
        ck_assert_int_eq(x.now[LEVEL_HIGH], ACTION_FREEZE);     /* heavy: killed once frozen */
        ck_assert_int_eq(x.then[LEVEL_HIGH], ACTION_KILL);
        ck_assert_int_eq(x.now[LEVEL_CRITICAL], ACTION_TERMINATE);
        ck_assert_int_eq(x.now[LEVEL_EMERGENCY], ACTION_KILL);

        /* a background process (55) is left alone at Elevated and High, unless it is the aggressor */
        x = explain(&c, &node, 0, false);
        ck_assert_int_eq(x.now[LEVEL_ELEVATED], ACTION_NONE);
        ck_assert_int_eq(x.now[LEVEL_HIGH], ACTION_NONE);
        ck_assert_int_eq(x.now[LEVEL_CRITICAL], ACTION_TERMINATE);
        x = explain(&c, &node, 0, true);
        ck_assert(x.aggressor);
        ck_assert_int_eq(x.now[LEVEL_ELEVATED], ACTION_FREEZE);
        ck_assert_int_eq(x.then[LEVEL_HIGH], ACTION_KILL);

        /* already frozen: the next step at High is the kill itself */
        tab.frozen = FREEZE_CGROUP;
        x = explain(&c, &tab, 0, false);
        ck_assert_int_eq(x.now[LEVEL_HIGH], ACTION_KILL);
        ck_assert_int_eq(x.now[LEVEL_CRITICAL], ACTION_KILL);
        test_rules_free(&r);
}
END_TEST

START_TEST(test_foreground_small_build) {
        PolicyConfig c;
        TestRules r;
        Candidate tab = test_cand(100, "Web Content", 100, 0), tiny = test_cand(101, "Web Content", 1, 0);
        Explanation x;

        test_config(&c, &r);
        x = explain(&c, &tab, 100, false);
        ck_assert(x.foreground);
        ck_assert_int_eq(x.priority, 55);
        ck_assert_int_eq(x.base_priority, 80);
        ck_assert_int_eq(x.now[LEVEL_ELEVATED], ACTION_NONE);   /* the focused window is never frozen */

        x = explain(&c, &tiny, 0, false);
        ck_assert_int_eq(x.exempt, EXEMPT_SMALL);
        ck_assert_int_eq(x.now[LEVEL_EMERGENCY], ACTION_NONE);

        tab.build = 1;
        ck_assert_int_eq(policy_explain(&c, &tab, 0, false, false, true, &x), 0);
        ck_assert_int_eq(x.exempt, EXEMPT_BUILD);
        ck_assert_int_eq(x.now[LEVEL_CRITICAL], ACTION_NONE);
        ck_assert_int_eq(policy_explain(&c, NULL, 0, false, false, false, &x), -EINVAL);
        test_rules_free(&r);
}
END_TEST

static Suite *policy_explain_suite(void) {
        Suite *s = suite_create("policy-explain");
        TCase *tc = tcase_create("explain");

        tcase_add_test(tc, test_origin_and_tier);
        tcase_add_test(tc, test_levels_follow_the_matrix);
        tcase_add_test(tc, test_foreground_small_build);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(policy_explain_suite)
