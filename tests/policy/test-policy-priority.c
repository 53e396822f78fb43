/* SPDX-License-Identifier: GPL-2.0-only */

#include "tests/check-main.h"
#include "tests/policy/policy-test.h"

typedef struct PrioCase {
        const char *name;
        pid_t foreground;       /* the candidate is pid 100 */
        int expect;
} PrioCase;

/* Against the built-in-like table with default_priority 50. */
static const PrioCase prio_cases[] = {
        { "kwin_wayland", 0, -1 },              /* tier 0-19: protected */
        { "pipewire", 0, -1 },
        { "wireplumber", 0, -1 },
        { "kwin_wayland", 100, -1 },            /* the foreground stays protected */
        { "rustrover", 0, 35 },
        { "rustrover", 100, 20 },               /* 35 - 25 = 10, floored at 20 */
        { "node", 0, 55 },
        { "node", 100, 30 },
        { "Isolated Web Co", 0, 80 },           /* full comm, spaces included */
        { "Web Content", 0, 80 },
        { "Web Content", 100, 55 },
        { "Web Content", 101, 80 },             /* another pid is in the foreground */
        { "Isolated", 0, 50 },                  /* a truncated comm is not the tab */
        { "update-notifier", 0, 90 },
        { "konsole", 0, 50 },
        { "some-unknown-app", 0, 50 },          /* default */
        { "some-unknown-app", 100, 25 },
        { "xkwin_wayland", 0, 50 },             /* anchored patterns */
        { "pipewire-pulse", 0, -1 },
};

START_TEST(test_priority_table) {
        const PrioCase *t = &prio_cases[_i];
        PolicyConfig c;
        TestRules r;
        Candidate cand = test_cand(100, t->name, 100, 0);

        test_config(&c, &r);
        ck_assert_msg(policy_priority(&c, &cand, t->foreground) == t->expect, "%s fg=%d: got %d want %d",
                      t->name, t->foreground, policy_priority(&c, &cand, t->foreground), t->expect);
        test_rules_free(&r);
}
END_TEST

START_TEST(test_first_match_wins) {
        static const RuleSpec specs[] = {
                APP("broad", "^node", 60),
                APP("exact", "^node$", 30),
        };
        PolicyConfig c;
        TestRules r = {};
        Candidate cand = test_cand(100, "node", 100, 0);

        policy_config_defaults(&c);
        c.rules = test_rules_add(&r, specs, ELEMENTSOF(specs));
        c.n_rules = r.n;
        ck_assert_int_eq(policy_priority(&c, &cand, 0), 60);
        ck_assert_str_eq(policy_match_app(&c, &cand)->name, "broad");
        test_rules_free(&r);
}
END_TEST

/* The loader puts user and system entries before the built-ins: they win. */
START_TEST(test_user_before_builtin) {
        static const RuleSpec user[] = {
                { .name = "my-node", .pattern = "^node$", .priority = 25, .field = MATCH_NAME,
                  .source = RULE_USER, .checkpoint = -1 },
                { .name = "my-tabs", .pattern = "^Web Content$", .priority = 15, .field = MATCH_NAME,
                  .source = RULE_SYSTEM, .checkpoint = -1 },
        };
        PolicyConfig c;
        TestRules r = {};
        Candidate node = test_cand(100, "node", 100, 0);
        Candidate tab = test_cand(101, "Web Content", 100, 0);
        Candidate python = test_cand(102, "python3", 100, 0);

        policy_config_defaults(&c);
        (void) test_rules_add(&r, user, ELEMENTSOF(user));
        c.rules = test_rules_add(&r, test_builtin_rules, ELEMENTSOF(test_builtin_rules));
        c.n_rules = r.n;
        ck_assert_int_eq(policy_priority(&c, &node, 0), 25);
        ck_assert_int_eq(policy_match_app(&c, &node)->source, RULE_USER);
        ck_assert_int_eq(policy_priority(&c, &tab, 0), -1);     /* a user may protect */
        ck_assert_int_eq(policy_priority(&c, &python, 0), 55);  /* built-in still applies */
        ck_assert_int_eq(policy_match_app(&c, &python)->source, RULE_BUILTIN);
        test_rules_free(&r);
}
END_TEST

/* A [protect] entry wins over any app entry, wherever it sits in the array. */
START_TEST(test_protect_rule) {
        static const RuleSpec protect[] = {
                { .name = "vpn", .pattern = "^(openvpn|Web Content)$", .protect = true,
                  .field = MATCH_NAME, .checkpoint = -1 },
        };
        PolicyConfig c;
        TestRules r;
        Candidate tab = test_cand(100, "Web Content", 100, 0);
        Candidate vpn = test_cand(101, "openvpn", 100, 0);
        Candidate other = test_cand(102, "Isolated Web Co", 100, 0);

        test_config(&c, &r);
        ck_assert_int_eq(policy_priority(&c, &tab, 0), 80);
        c.rules = test_rules_add(&r, protect, 1);       /* appended after the built-ins */
        c.n_rules = r.n;
        ck_assert_int_eq(policy_priority(&c, &tab, 0), -1);
        ck_assert_int_eq(policy_priority(&c, &tab, 100), -1);
        ck_assert_int_eq(policy_priority(&c, &vpn, 0), -1);
        ck_assert_int_eq(policy_priority(&c, &other, 0), 80);
        ck_assert_str_eq(policy_match_protect(&c, &vpn)->name, "vpn");
        ck_assert_ptr_null(policy_match_protect(&c, &other));
        /* a protect entry is never returned as an app entry */
        ck_assert_ptr_null(policy_match_app(&c, &vpn));
        test_rules_free(&r);
}
END_TEST

START_TEST(test_exe_and_cmdline_match) {
        static const RuleSpec specs[] = {
                { .name = "gradle", .pattern = "GradleDaemon", .priority = 70,
                  .field = MATCH_CMDLINE, .checkpoint = -1 },
                { .name = "thread-name", .pattern = "^Thread", .priority = 95, .field = MATCH_EXE,
                  .checkpoint = -1 },
                { .name = "java", .pattern = "^java$", .priority = 40, .field = MATCH_EXE,
                  .checkpoint = -1 },
        };
        PolicyConfig c;
        TestRules r = {};
        Candidate daemon = test_cand(100, "java", 100, 0);
        Candidate ide = test_cand(101, "Thread-3", 100, 0);

        policy_config_defaults(&c);
        c.rules = test_rules_add(&r, specs, ELEMENTSOF(specs));
        c.n_rules = r.n;

        snprintf(daemon.cmdline, sizeof(daemon.cmdline),
                 "/usr/lib/jvm/bin/java -Xmx2g -cp gradle.jar org.gradle.launcher.daemon.GradleDaemon 8.5");
        ck_assert_int_eq(policy_priority(&c, &daemon, 0), 70);

        /* comm is a thread name; the exe basename identifies it; "^Thread" is an exe rule and
         * must not match the name */
        snprintf(ide.exe, sizeof(ide.exe), "java");
        snprintf(ide.cmdline, sizeof(ide.cmdline), "java -jar ide.jar");
        ck_assert_int_eq(policy_priority(&c, &ide, 0), 40);
        test_rules_free(&r);
}
END_TEST

START_TEST(test_default_priority) {
        PolicyConfig c;
        TestRules r;
        Candidate cand = test_cand(100, "unknown", 100, 0);

        test_config(&c, &r);
        c.default_priority = 65;
        ck_assert_int_eq(policy_priority(&c, &cand, 0), 65);
        ck_assert_ptr_null(policy_match_app(&c, &cand));
        c.default_priority = 19;        /* everything unknown becomes system tier */
        ck_assert_int_eq(policy_priority(&c, &cand, 0), -1);
        c.default_priority = 20;
        ck_assert_int_eq(policy_priority(&c, &cand, 100), 20);
        c.rules = NULL;
        c.n_rules = 0;
        c.default_priority = 50;
        ck_assert_int_eq(policy_priority(&c, &cand, 0), 50);
        test_rules_free(&r);
}
END_TEST

/* An uncompiled rule (never let through by validation) must not reach regexec. */
START_TEST(test_uncompiled_rule_never_matches) {
        PolicyConfig c;
        TestRules r;
        Candidate cand = test_cand(100, "node", 100, 0);

        test_config(&c, &r);
        for (size_t i = 0; i < r.n; i++)
                if (strcmp(r.rules[i].name, "dev-runtimes") == 0) {
                        regfree(&r.rules[i].re);
                        memset(&r.rules[i].re, 0, sizeof(r.rules[i].re));
                        r.rules[i].compiled = false;
                }
        ck_assert_int_eq(policy_priority(&c, &cand, 0), 50);
        test_rules_free(&r);
}
END_TEST

static Suite *policy_priority_suite(void) {
        Suite *s = suite_create("policy-priority");
        TCase *tc = tcase_create("priority");

        tcase_add_loop_test(tc, test_priority_table, 0, ELEMENTSOF(prio_cases));
        tcase_add_test(tc, test_first_match_wins);
        tcase_add_test(tc, test_user_before_builtin);
        tcase_add_test(tc, test_protect_rule);
        tcase_add_test(tc, test_exe_and_cmdline_match);
        tcase_add_test(tc, test_default_priority);
        tcase_add_test(tc, test_uncompiled_rule_never_matches);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(policy_priority_suite)
