/* SPDX-License-Identifier: GPL-2.0-only */

#include "tests/check-main.h"
#include "tests/policy/policy-test.h"

#define SEC USEC_PER_SEC
#define T0 (5000 * SEC)

static AggressorTracker tracker;        /* 150 KiB: static, as the daemon holds it */

/* Feed `ticks` ticks one second apart; cands[grow] gains `mib_per_tick` each tick (-1: none). */
static usec_t feed_ticks(Candidate *cands, size_t n, ssize_t grow, uint64_t mib_per_tick, usec_t from,
                         unsigned ticks) {
        for (unsigned k = 0; k < ticks; k++) {
                if (grow >= 0 && k > 0)
                        cands[grow].rss_kb += mib_per_tick * MIB;
                aggressor_feed(&tracker, cands, n, from + k * SEC);
        }
        return from + (ticks - 1) * SEC;
}

/* The seed's runaway: a normal-tier node process growing by hundreds of MB per tick is frozen
 * before any idle expendable one. */
START_TEST(test_normal_tier_grower_frozen_first) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "Web Content", 400, 0),
                test_cand(2, "baloo_file", 300, 0),
                test_cand(3, "node", 200, 0),
                test_cand(4, "update-notifier", 100, 0),
        };
        PlanInput in = {
                .level = LEVEL_ELEVATED, .mem = test_mem(500), .cands = cands,
                .n_cands = ELEMENTSOF(cands),
        };
        Decision d[16];
        usec_t now;

        test_config(&c, &r);
        aggressor_init(&tracker);
        now = feed_ticks(cands, ELEMENTSOF(cands), 2, 300, T0, 3);
        in.aggressor = aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, LEVEL_ELEVATED, 0.01, now);
        ck_assert_int_eq(in.aggressor, 2);

        ck_assert_uint_eq(policy_plan(&c, &in, d, 16), 4);
        ck_assert_int_eq(d[0].pid, 3);
        ck_assert_int_eq(d[0].action, ACTION_FREEZE);
        ck_assert(d[0].aggressor);
        test_rules_free(&r);
}
END_TEST

START_TEST(test_stays_flagged_until_reset) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = { test_cand(1, "Web Content", 400, 0), test_cand(3, "node", 200, 0) };
        usec_t now;

        test_config(&c, &r);
        aggressor_init(&tracker);
        now = feed_ticks(cands, 2, 1, 300, T0, 3);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_ELEVATED, 0.1, now), 1);

        /* it stops growing (frozen); a minute later it is still the one */
        now = feed_ticks(cands, 2, -1, 0, now + SEC, 60);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_CRITICAL, -0.01, now), 1);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_NORMAL, 0, now), 1);

        aggressor_reset(&tracker);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_CRITICAL, 0.1, now), -1);
        test_rules_free(&r);
}
END_TEST

/* Never the system tier, a [protect] entry or the focused window, however fast they grow. */
START_TEST(test_never_protected_or_foreground) {
        static const RuleSpec protect[] = {
                { .name = "vpn", .pattern = "^openvpn$", .protect = true, .checkpoint = -1 },
        };
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "kwin_wayland", 400, 0),
                test_cand(2, "openvpn", 400, 0),
                test_cand(3, "rustrover", 400, 0),
                test_cand(4, "cargo", 100, 0),
        };
        usec_t now = T0;

        test_config(&c, &r);
        c.rules = test_rules_add(&r, protect, 1);
        c.n_rules = r.n;
        aggressor_init(&tracker);
        for (unsigned k = 0; k < 3; k++, now += SEC) {
                cands[0].rss_kb += 900 * MIB;
                cands[1].rss_kb += 800 * MIB;
                cands[2].rss_kb += 700 * MIB;
                aggressor_feed(&tracker, cands, ELEMENTSOF(cands), now);
        }
        now -= SEC;
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 3, LEVEL_HIGH, 1, now), -1);
        /* not in the foreground any more: the IDE (prio 35) may be the runaway */
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, LEVEL_HIGH, 1, now), 2);

        /* a slower eligible grower is picked over the faster protected ones */
        aggressor_init(&tracker);
        for (unsigned k = 0; k < 3; k++, now += SEC) {
                cands[0].rss_kb += 900 * MIB;
                cands[2].rss_kb += 700 * MIB;
                cands[3].rss_kb += 50 * MIB;
                aggressor_feed(&tracker, cands, ELEMENTSOF(cands), now);
        }
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 3, LEVEL_HIGH, 1,
                                        now - SEC), 3);
        test_rules_free(&r);
}
END_TEST

/* A recycled pid is another process: no inherited history, no inherited flag. */
START_TEST(test_recycled_pid) {
        PolicyConfig c;
        TestRules r;
        Candidate old = test_cand(500, "node", 100, 0), fresh;
        usec_t now;

        test_config(&c, &r);
        aggressor_init(&tracker);
        now = feed_ticks(&old, 1, 0, 400, T0, 3);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &old, 1, 0, LEVEL_ELEVATED, 0, now), 0);

        fresh = test_cand(500, "node", 2000, 0);
        fresh.starttime = old.starttime + 777;
        now = feed_ticks(&fresh, 1, -1, 0, now + SEC, 2);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &fresh, 1, 0, LEVEL_ELEVATED, 0, now), -1);

        /* the old entry was replaced, not left behind to hold a slot and a flag */
        for (size_t i = 0, found = 0; i < AGGRESSOR_SLOTS; i++)
                if (tracker.slots[i].pid == 500) {
                        ck_assert_uint_eq(++found, 1);
                        ck_assert_uint_eq(tracker.slots[i].starttime, fresh.starttime);
                        ck_assert(!tracker.slots[i].flagged);
                }

        /* and a small fresh process replacing a big old one is not a grower either way */
        aggressor_init(&tracker);
        old.rss_kb = 100 * MIB;
        (void) feed_ticks(&old, 1, -1, 0, T0, 2);
        fresh.rss_kb = 3000 * MIB;
        aggressor_feed(&tracker, &fresh, 1, T0 + 2 * SEC);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &fresh, 1, 0, LEVEL_HIGH, 1, T0 + 2 * SEC), -1);
        test_rules_free(&r);
}
END_TEST

START_TEST(test_threshold_and_gate) {
        PolicyConfig c;
        TestRules r;
        Candidate cand = test_cand(9, "node", 100, 0);
        usec_t now;

        test_config(&c, &r);
        aggressor_init(&tracker);
        now = feed_ticks(&cand, 1, 0, 15, T0, 4);       /* 15 MiB/s < 16 MiB/s */
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_HIGH, 1, now), -1);

        aggressor_init(&tracker);
        cand.rss_kb = 100 * MIB;
        now = feed_ticks(&cand, 1, 0, 20, T0, 4);
        /* Normal and pressure not rising: no one is flagged */
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_NORMAL, 0, now), -1);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_NORMAL, -0.1, now), -1);
        /* rising pressure at Normal, or any level above it, is enough */
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_NORMAL, 0.01, now), 0);
        aggressor_reset(&tracker);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_ELEVATED, 0, now), 0);

        /* swap counts toward the footprint: pages pushed out are still the process's */
        aggressor_init(&tracker);
        cand.rss_kb = 100 * MIB;
        cand.swap_kb = 0;
        for (unsigned k = 0; k < 3; k++) {
                cand.swap_kb += 100 * MIB;
                aggressor_feed(&tracker, &cand, 1, T0 + k * SEC);
        }
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_HIGH, 0, T0 + 2 * SEC), 0);
        test_rules_free(&r);
}
END_TEST

START_TEST(test_fastest_grower_wins) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "node", 100, 0),
                test_cand(2, "python3", 100, 0),
                test_cand(3, "java", 100, 0),
        };

        test_config(&c, &r);
        aggressor_init(&tracker);
        for (unsigned k = 0; k < 4; k++) {
                cands[0].rss_kb += 50 * MIB;
                cands[1].rss_kb += 200 * MIB;
                cands[2].rss_kb += 30 * MIB;
                aggressor_feed(&tracker, cands, 3, T0 + k * SEC);
        }
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 3, 0, LEVEL_HIGH, 0, T0 + 3 * SEC), 1);
        test_rules_free(&r);
}
END_TEST

/* Growth that ended longer ago than the window is history, not a runaway. */
START_TEST(test_growth_outside_window) {
        PolicyConfig c;
        TestRules r;
        Candidate cand = test_cand(1, "node", 100, 0);
        usec_t now;

        test_config(&c, &r);
        aggressor_init(&tracker);
        now = feed_ticks(&cand, 1, 0, 500, T0, 2);         /* T0, T0+1: still in the ring */
        now = feed_ticks(&cand, 1, -1, 0, now + SEC, 6);   /* T0+2 .. T0+7 */
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_HIGH, 1, now), -1);

        /* with a longer window the same history counts */
        c.aggressor_window_usec = 20 * SEC;
        aggressor_init(&tracker);
        cand.rss_kb = 100 * MIB;
        now = feed_ticks(&cand, 1, 0, 500, T0, 2);
        now = feed_ticks(&cand, 1, -1, 0, now + SEC, 5);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_HIGH, 1, now), 0);
        test_rules_free(&r);
}
END_TEST

/* An entry not fed for two windows is dropped, its flag with it. */
START_TEST(test_unfed_entries_expire) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = { test_cand(1, "node", 100, 0), test_cand(2, "konsole", 100, 0) };
        usec_t now;

        test_config(&c, &r);
        aggressor_init(&tracker);
        now = feed_ticks(cands, 2, 0, 300, T0, 3);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_HIGH, 1, now), 0);

        /* node is not a candidate for 11 s (> 2 × 5 s); only konsole is fed */
        now = feed_ticks(&cands[1], 1, -1, 0, now + SEC, 12);
        aggressor_feed(&tracker, cands, 2, now + SEC);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_HIGH, 1, now + SEC), -1);
        test_rules_free(&r);
}
END_TEST

/* More processes than slots: no crash, no allocation, the tracked ones still work. */
START_TEST(test_table_full) {
        static Candidate many[1500];
        PolicyConfig c;
        TestRules r;

        test_config(&c, &r);
        aggressor_init(&tracker);
        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = test_cand((pid_t) (1000 + i), "node", 50, 0);
        many[ELEMENTSOF(many) - 1].pid = 0;     /* garbage in: ignored */
        for (unsigned k = 0; k < 3; k++) {
                /* the first slot: the one a careless eviction would recycle every tick */
                many[0].rss_kb += 200 * MIB;
                aggressor_feed(&tracker, many, ELEMENTSOF(many), T0 + k * SEC);
        }
        ck_assert_int_eq(aggressor_pick(&tracker, &c, many, ELEMENTSOF(many), 0, LEVEL_HIGH, 1,
                                        T0 + 2 * SEC), 0);
        test_rules_free(&r);
}
END_TEST

/* pid 0 is no process: never tracked, never picked (it would look like a free slot). */
START_TEST(test_pid_zero_ignored) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = { test_cand(0, "node", 100, 0), test_cand(5, "konsole", 100, 0) };
        usec_t now;

        test_config(&c, &r);
        aggressor_init(&tracker);
        now = feed_ticks(cands, 2, 0, 300, T0, 4);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_HIGH, 1, now), -1);
        test_rules_free(&r);
}
END_TEST

static Suite *policy_aggressor_suite(void) {
        Suite *s = suite_create("policy-aggressor");
        TCase *tc = tcase_create("aggressor");

        tcase_add_test(tc, test_normal_tier_grower_frozen_first);
        tcase_add_test(tc, test_stays_flagged_until_reset);
        tcase_add_test(tc, test_never_protected_or_foreground);
        tcase_add_test(tc, test_recycled_pid);
        tcase_add_test(tc, test_threshold_and_gate);
        tcase_add_test(tc, test_fastest_grower_wins);
        tcase_add_test(tc, test_growth_outside_window);
        tcase_add_test(tc, test_unfed_entries_expire);
        tcase_add_test(tc, test_table_full);
        tcase_add_test(tc, test_pid_zero_ignored);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(policy_aggressor_suite)
