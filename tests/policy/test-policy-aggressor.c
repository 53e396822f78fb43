/* SPDX-License-Identifier: GPL-2.0-only */

#include "tests/check-main.h"
#include "tests/policy/policy-test.h"

#define SEC USEC_PER_SEC
#define T0 (5000 * SEC)

static AggressorTracker tracker;        /* 240 KiB: static, as the daemon holds it */

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
        in.aggressor = aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, LEVEL_ELEVATED, 0.01, now, NULL);
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
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_ELEVATED, 0.1, now, NULL), 1);

        /* it stops growing (frozen); a minute later it is still the one */
        now = feed_ticks(cands, 2, -1, 0, now + SEC, 60);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_CRITICAL, -0.01, now, NULL), 1);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_NORMAL, 0, now, NULL), 1);

        aggressor_reset(&tracker);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_CRITICAL, 0.1, now, NULL), -1);
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
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 3, LEVEL_HIGH, 1, now, NULL), -1);
        /* not in the foreground any more: the IDE (prio 35) may be the runaway */
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, LEVEL_HIGH, 1, now, NULL), 2);

        /* a slower eligible grower is picked over the faster protected ones */
        aggressor_init(&tracker);
        for (unsigned k = 0; k < 3; k++, now += SEC) {
                cands[0].rss_kb += 900 * MIB;
                cands[2].rss_kb += 700 * MIB;
                cands[3].rss_kb += 50 * MIB;
                aggressor_feed(&tracker, cands, ELEMENTSOF(cands), now);
        }
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 3, LEVEL_HIGH, 1,
                                        now - SEC, NULL), 3);
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
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &old, 1, 0, LEVEL_ELEVATED, 0, now, NULL), 0);

        fresh = test_cand(500, "node", 2000, 0);
        fresh.starttime = old.starttime + 777;
        now = feed_ticks(&fresh, 1, -1, 0, now + SEC, 2);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &fresh, 1, 0, LEVEL_ELEVATED, 0, now, NULL), -1);

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
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &fresh, 1, 0, LEVEL_HIGH, 1, T0 + 2 * SEC, NULL), -1);
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
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_HIGH, 1, now, NULL), -1);

        aggressor_init(&tracker);
        cand.rss_kb = 100 * MIB;
        now = feed_ticks(&cand, 1, 0, 20, T0, 4);
        /* Normal and pressure not rising: no one is flagged */
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_NORMAL, 0, now, NULL), -1);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_NORMAL, -0.1, now, NULL), -1);
        /* rising pressure at Normal, or any level above it, is enough */
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_NORMAL, 0.01, now, NULL), 0);
        aggressor_reset(&tracker);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_ELEVATED, 0, now, NULL), 0);

        /* swap counts toward the footprint: pages pushed out are still the process's */
        aggressor_init(&tracker);
        cand.rss_kb = 100 * MIB;
        cand.swap_kb = 0;
        for (unsigned k = 0; k < 3; k++) {
                cand.swap_kb += 100 * MIB;
                aggressor_feed(&tracker, &cand, 1, T0 + k * SEC);
        }
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_HIGH, 0, T0 + 2 * SEC, NULL), 0);
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
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 3, 0, LEVEL_HIGH, 0, T0 + 3 * SEC, NULL), 1);
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
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_HIGH, 1, now, NULL), -1);

        /* with a longer window the same history counts */
        c.aggressor_window_usec = 20 * SEC;
        aggressor_init(&tracker);
        cand.rss_kb = 100 * MIB;
        now = feed_ticks(&cand, 1, 0, 500, T0, 2);
        now = feed_ticks(&cand, 1, -1, 0, now + SEC, 5);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_HIGH, 1, now, NULL), 0);
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
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_HIGH, 1, now, NULL), 0);

        /* node is not a candidate for 11 s (> 2 × 5 s); only konsole is fed */
        now = feed_ticks(&cands[1], 1, -1, 0, now + SEC, 12);
        aggressor_feed(&tracker, cands, 2, now + SEC);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_HIGH, 1, now + SEC, NULL), -1);
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
                                        T0 + 2 * SEC, NULL), 0);
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
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_HIGH, 1, now, NULL), -1);
        test_rules_free(&r);
}
END_TEST

/*
 * Feed `ticks` ticks one second apart at a stable footprint; cands[thrash] takes `faults_per_tick`
 * major faults each tick (-1: none), every other candidate one (quiet processes fault now and then).
 */
static usec_t feed_faults(Candidate *cands, size_t n, ssize_t thrash, uint64_t faults_per_tick,
                          usec_t from, unsigned ticks) {
        for (unsigned k = 0; k < ticks; k++) {
                for (size_t i = 0; k > 0 && i < n; i++)
                        cands[i].majflt += (ssize_t) i == thrash ? faults_per_tick : 1;
                aggressor_feed(&tracker, cands, n, from + k * SEC);
        }
        return from + (ticks - 1) * SEC;
}

static bool plan_has_destructive(const Decision *d, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (d[i].action != ACTION_FREEZE)
                        return true;
        return false;
}

/*
 * The incident on this host: a normal-tier hog at its cgroup limit (rss stable, the rest in swap)
 * thrashing at thousands of major faults per second, with plenty of global MemAvailable. It is
 * the aggressor and is frozen first at Elevated, High and Emergency, with no deficit to cover.
 */
START_TEST(test_thrasher_at_stable_footprint_frozen_first) {
        static const Level levels[] = { LEVEL_ELEVATED, LEVEL_HIGH, LEVEL_EMERGENCY };
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "Web Content", 400, 0),
                test_cand(2, "baloo_file", 300, 0),
                test_cand(3, "konsole", 90, 0),
                test_cand(4, "firefox", 700, 0),
                test_cand(5, "hog", 256, 300),          /* no rule: default priority 50 */
                test_cand(6, "kwin_wayland", 350, 0),
        };
        PlanInput in = { .mem = test_mem(8000), .cands = cands, .n_cands = ELEMENTSOF(cands) };
        Decision d[16];
        usec_t now;

        test_config(&c, &r);
        aggressor_init(&tracker);
        now = feed_faults(cands, ELEMENTSOF(cands), 4, 4000, T0, 4);

        for (size_t l = 0; l < ELEMENTSOF(levels); l++) {
                size_t n;

                aggressor_reset(&tracker);
                in.level = levels[l];
                in.aggressor = aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, levels[l], 0, now, NULL);
                ck_assert_int_eq(in.aggressor, 4);

                n = policy_plan(&c, &in, d, 16);
                ck_assert_uint_eq(n, 3);        /* the hog, Web Content, baloo_file */
                ck_assert_int_eq(d[0].pid, 5);
                ck_assert_int_eq(d[0].action, ACTION_FREEZE);
                ck_assert(d[0].aggressor);
                ck_assert(!plan_has_destructive(d, n));
        }
        test_rules_free(&r);
}
END_TEST

/*
 * Right after mgd freed memory (the runaway's kill), the browser faulting its swapped pages back
 * in is not a thrasher: for one window no one is picked by fault rate; growth still counts, and
 * after the window a thrasher that goes on thrashing is picked again.
 */
START_TEST(test_no_thrasher_right_after_a_kill) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "firefox", 300, 200),
                test_cand(2, "cargo", 100, 0),
        };
        usec_t now;

        test_config(&c, &r);
        aggressor_init(&tracker);
        now = feed_faults(cands, ELEMENTSOF(cands), 0, 4000, T0, 3);
        aggressor_note_freed(&tracker, now);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, LEVEL_EMERGENCY, 0, now, NULL), -1);
        /* a newcomer growing fast in the same window is still caught */
        cands[1].rss_kb += 50 * 1024;
        cands[0].majflt += 4000;
        aggressor_feed(&tracker, cands, ELEMENTSOF(cands), now + SEC);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, LEVEL_EMERGENCY, 0, now + SEC,
                                        NULL), 1);
        /* a window later, one that is still thrashing at a stable footprint is the thrasher again */
        aggressor_init(&tracker);
        now = feed_faults(cands, ELEMENTSOF(cands), 0, 4000, T0 + 100 * SEC, 3);
        aggressor_note_freed(&tracker, now - 6 * SEC);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, LEVEL_EMERGENCY, 0, now, NULL), 0);
        test_rules_free(&r);
}
END_TEST

/* A thrasher is blamed only while the stall is there this tick (avg10 lags for seconds). */
START_TEST(test_no_thrasher_without_stall_now) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "firefox", 300, 200),
                test_cand(2, "baloo_file", 100, 0),
        };
        usec_t now;

        test_config(&c, &r);
        aggressor_init(&tracker);
        now = feed_faults(cands, ELEMENTSOF(cands), 0, 4000, T0, 3);
        aggressor_note_stall(&tracker, 2.0);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, LEVEL_CRITICAL, 0, now, NULL), -1);
        aggressor_note_stall(&tracker, 40.0);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, LEVEL_CRITICAL, 0, now, NULL), 0);
        test_rules_free(&r);
}
END_TEST

/* Growth is the first criterion: a runaway beats a faster thrasher (often its victim). */
START_TEST(test_growth_beats_faults) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "hog", 512, 400),
                test_cand(2, "node", 200, 0),
        };
        usec_t now;

        test_config(&c, &r);
        aggressor_init(&tracker);
        for (unsigned k = 0; k < 4; k++) {
                cands[0].majflt += 20000;
                cands[1].rss_kb += 100 * MIB;
                aggressor_feed(&tracker, cands, 2, T0 + k * SEC);
        }
        now = T0 + 3 * SEC;
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_HIGH, 0, now, NULL), 1);

        /* growing too slowly to count: the thrasher is the one */
        aggressor_init(&tracker);
        for (unsigned k = 0; k < 4; k++) {
                cands[0].majflt += 20000;
                cands[1].rss_kb += 8 * MIB;
                aggressor_feed(&tracker, cands, 2, T0 + k * SEC);
        }
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_HIGH, 0, now, NULL), 0);
        test_rules_free(&r);
}
END_TEST

/* Never the system tier, a [protect] entry or the focused window, however hard they thrash. */
START_TEST(test_thrasher_never_protected_or_foreground) {
        static const RuleSpec protect[] = {
                { .name = "vpn", .pattern = "^openvpn$", .protect = true, .checkpoint = -1 },
        };
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "kwin_wayland", 400, 200),
                test_cand(2, "openvpn", 400, 200),
                test_cand(3, "rustrover", 400, 200),
                test_cand(4, "cargo", 100, 0),
        };
        usec_t now = T0;

        test_config(&c, &r);
        c.rules = test_rules_add(&r, protect, 1);
        c.n_rules = r.n;
        aggressor_init(&tracker);
        for (unsigned k = 0; k < 4; k++, now += SEC) {
                cands[0].majflt += 9000;
                cands[1].majflt += 8000;
                cands[2].majflt += 7000;
                aggressor_feed(&tracker, cands, ELEMENTSOF(cands), now);
        }
        now -= SEC;
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 3, LEVEL_EMERGENCY, 1,
                                        now, NULL), -1);
        /* not in the foreground any more: the IDE (prio 35) may be the thrasher */
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, LEVEL_HIGH, 1, now, NULL), 2);

        /* a slower eligible thrasher is picked over the faster ineligible ones */
        aggressor_init(&tracker);
        for (unsigned k = 0; k < 4; k++, now += SEC) {
                cands[0].majflt += 9000;
                cands[1].majflt += 8000;
                cands[2].majflt += 7000;
                cands[3].majflt += 300;
                aggressor_feed(&tracker, cands, ELEMENTSOF(cands), now);
        }
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 3, LEVEL_HIGH, 1,
                                        now - SEC, NULL), 3);
        test_rules_free(&r);
}
END_TEST

START_TEST(test_majflt_threshold_and_gate) {
        PolicyConfig c;
        TestRules r;
        Candidate cand = test_cand(9, "hog", 256, 300);
        usec_t now;

        test_config(&c, &r);
        ck_assert_uint_eq(c.aggressor_min_majflt_rate, 200);
        aggressor_init(&tracker);
        now = feed_faults(&cand, 1, 0, 199, T0, 6);     /* 199/s < 200/s */
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_EMERGENCY, 1, now, NULL), -1);

        aggressor_init(&tracker);
        now = feed_faults(&cand, 1, 0, 200, T0, 6);
        /* Normal and pressure not rising: no one is flagged */
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_NORMAL, 0, now, NULL), -1);
        /* rising pressure at Normal, or any level above it, is enough */
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_NORMAL, 0.01, now, NULL), 0);
        aggressor_reset(&tracker);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_ELEVATED, 0, now, NULL), 0);

        /* the threshold is the configured one */
        aggressor_reset(&tracker);
        c.aggressor_min_majflt_rate = 201;
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_HIGH, 1, now, NULL), -1);

        /* faults that ended longer ago than the window are history */
        c.aggressor_min_majflt_rate = 200;
        aggressor_init(&tracker);
        now = feed_faults(&cand, 1, 0, 5000, T0, 2);
        now = feed_faults(&cand, 1, -1, 0, now + SEC, 6);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, &cand, 1, 0, LEVEL_HIGH, 1, now, NULL), -1);
        test_rules_free(&r);
}
END_TEST

/* Feed one tick with this major fault count; true if cand was picked. */
static bool fault_tick(const PolicyConfig *c, Candidate *cand, uint64_t majflt, usec_t now) {
        cand->majflt = majflt;
        aggressor_feed(&tracker, cand, 1, now);
        return aggressor_pick(&tracker, c, cand, 1, 0, LEVEL_HIGH, 1, now, NULL) == 0;
}

/*
 * A count that goes backwards is a misread (or a reset): neither the old counts nor the low one are
 * a baseline, however long the low one stays in the window. A recycled pid starts from nothing.
 */
START_TEST(test_majflt_counter_reset) {
        PolicyConfig c;
        TestRules r;
        Candidate cand = test_cand(7, "hog", 256, 300), fresh;
        usec_t now = T0;

        test_config(&c, &r);
        aggressor_init(&tracker);
        ck_assert(!fault_tick(&c, &cand, 50000, now));
        ck_assert(!fault_tick(&c, &cand, 0, now += SEC));             /* a misread 0 */
        for (unsigned k = 0; k < 8; k++)                                /* the true, idle count */
                ck_assert(!fault_tick(&c, &cand, 50000, now += SEC));

        /* the same within one tick: the later, lower reading replaces the earlier one */
        ck_assert(!fault_tick(&c, &cand, 50000, now += SEC));
        ck_assert(!fault_tick(&c, &cand, 0, now));
        for (unsigned k = 0; k < 8; k++)
                ck_assert(!fault_tick(&c, &cand, 50000, now += SEC));

        /* the counting goes on after a step back: a real thrash is seen again */
        ck_assert(fault_tick(&c, &cand, 54000, now += SEC));

        /* a recycled pid with a far higher count is another process, with no history */
        fresh = cand;
        fresh.starttime = cand.starttime + 999;
        ck_assert(!fault_tick(&c, &fresh, 900000, now += SEC));
        ck_assert(!fault_tick(&c, &fresh, 900000, now += SEC));
        test_rules_free(&r);
}
END_TEST

/* Picked for its faults, it stays flagged after it stops (frozen), and goes first at Critical. */
START_TEST(test_thrasher_stays_flagged) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = { test_cand(1, "Web Content", 400, 0), test_cand(3, "hog", 256, 300) };
        PlanInput in = {
                .level = LEVEL_CRITICAL, .mem = test_mem(1000), .cands = cands, .n_cands = 2,
        };
        Decision d[4];
        usec_t now;

        test_config(&c, &r);
        aggressor_init(&tracker);
        now = feed_faults(cands, 2, 1, 3000, T0, 4);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_HIGH, 0.1, now, NULL), 1);

        /* frozen: no more faults; a minute later it is still the one */
        cands[1].frozen = FREEZE_CGROUP;
        now = feed_faults(cands, 2, -1, 0, now + SEC, 60);
        in.aggressor = aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_CRITICAL, -0.01, now, NULL);
        ck_assert_int_eq(in.aggressor, 1);
        ck_assert_uint_ge(policy_plan(&c, &in, d, 4), 1);
        ck_assert_int_eq(d[0].pid, 3);
        ck_assert_int_eq(d[0].action, ACTION_KILL);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_NORMAL, 0, now, NULL), 1);

        aggressor_reset(&tracker);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_CRITICAL, 0.1, now, NULL), -1);
        test_rules_free(&r);
}
END_TEST

/*
 * The incident's first scan: one sample each. The young runaway (10 s old, 600 MiB) is picked by
 * its lifetime growth; old, small, protected and foreground processes are not. The pick is
 * flagged: frozen, it stops growing, and it stays the aggressor (to be killed first at High)
 * unless a measured grower outruns it.
 */
START_TEST(test_young_runaway_at_first_sight) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "firefox", 2048, 0),
                test_cand(2, "node", 600, 0),
                test_cand(3, "Web Content", 50, 0),
                test_cand(4, "kwin_wayland", 900, 0),
                test_cand(5, "code", 900, 0),
        };

        test_config(&c, &r);
        aggressor_init(&tracker);
        cands[0].age_usec = 7200 * SEC;
        cands[1].age_usec = 10 * SEC;
        cands[2].age_usec = 1 * SEC;            /* 50 MiB/s, but under the 80 MiB floor */
        cands[3].age_usec = 2 * SEC;            /* protected */
        cands[4].age_usec = 2 * SEC;            /* the foreground */
        aggressor_feed(&tracker, cands, ELEMENTSOF(cands), T0);
        /* not while pressure does not rise */
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 5, LEVEL_NORMAL, 0, T0,
                                        NULL), -1);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 5, LEVEL_ELEVATED, 0.1, T0,
                                        NULL), 1);
        /* the incident is blamed on it, as on a measured runaway */
        ck_assert_int_eq(aggressor_blame(&tracker), BLAME_OTHER);
        /* a second sample, no growth (frozen): node stays the aggressor, at High too */
        aggressor_feed(&tracker, cands, ELEMENTSOF(cands), T0 + SEC);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 5, LEVEL_HIGH, 0.1,
                                        T0 + SEC, NULL), 1);
        /* a measured grower outruns the estimate */
        cands[0].rss_kb += 400 * 1024;
        aggressor_feed(&tracker, cands, ELEMENTSOF(cands), T0 + 2 * SEC);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 5, LEVEL_HIGH, 0.1,
                                        T0 + 2 * SEC, NULL), 0);
        /* a new incident forgets the flag: one sample, no growth, no estimate (not young now) */
        aggressor_reset(&tracker);
        cands[1].age_usec = 70 * SEC;
        aggressor_feed(&tracker, cands, ELEMENTSOF(cands), T0 + 60 * SEC);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 5, LEVEL_ELEVATED, 0.1,
                                        T0 + 60 * SEC, NULL), -1);
        /* PSI polled: the level is confirmed a tick later, the first pick sees two samples */
        cands[1].age_usec = 10 * SEC;
        aggressor_init(&tracker);
        aggressor_feed(&tracker, cands, ELEMENTSOF(cands), T0);
        aggressor_feed(&tracker, cands, ELEMENTSOF(cands), T0 + SEC);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 5, LEVEL_ELEVATED, 0.1,
                                        T0 + SEC, NULL), 1);
        /* measured over a whole window without growing: the estimate no longer stands in */
        aggressor_init(&tracker);
        for (usec_t t = 0; t <= 5; t++)
                aggressor_feed(&tracker, cands, ELEMENTSOF(cands), T0 + t * SEC);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 5, LEVEL_ELEVATED, 0.1,
                                        T0 + 5 * SEC, NULL), -1);
        /* older than a minute at first sight: no estimate */
        aggressor_init(&tracker);
        cands[1].age_usec = 61 * SEC;
        aggressor_feed(&tracker, cands, ELEMENTSOF(cands), T0);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 5, LEVEL_ELEVATED, 0.1, T0,
                                        NULL), -1);
        test_rules_free(&r);
}
END_TEST

/* Someone already flagged this incident stays the aggressor over a young newcomer's estimate. */
START_TEST(test_young_estimate_yields_to_flagged) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "node", 300, 0),
                test_cand(2, "cargo", 150, 0),
        };
        usec_t now;

        test_config(&c, &r);
        aggressor_init(&tracker);
        now = feed_ticks(cands, 1, 0, 100, T0, 3);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 1, 0, LEVEL_ELEVATED, 0.1, now, NULL), 0);
        /* node stopped growing (frozen); cargo appears, 5 s old */
        cands[1].age_usec = 5 * SEC;
        aggressor_feed(&tracker, cands, 2, now + SEC);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_ELEVATED, 0.1, now + SEC, NULL), 0);
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
        tcase_add_test(tc, test_thrasher_at_stable_footprint_frozen_first);
        tcase_add_test(tc, test_growth_beats_faults);
        tcase_add_test(tc, test_thrasher_never_protected_or_foreground);
        tcase_add_test(tc, test_majflt_threshold_and_gate);
        tcase_add_test(tc, test_majflt_counter_reset);
        tcase_add_test(tc, test_thrasher_stays_flagged);
        tcase_add_test(tc, test_no_thrasher_right_after_a_kill);
        tcase_add_test(tc, test_no_thrasher_without_stall_now);
        tcase_add_test(tc, test_young_runaway_at_first_sight);
        tcase_add_test(tc, test_young_estimate_yields_to_flagged);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(policy_aggressor_suite)
