/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Spike mode: builds as process trees, their waves, the blame of an incident, the shield in the
 * plan, headroom freezes and the recovery reserve.
 */

#include "tests/check-main.h"
#include "tests/policy/policy-test.h"

#define SEC USEC_PER_SEC
#define T0 (9000 * SEC)

static AggressorTracker tracker;        /* large: static, as the daemon holds it */
static SpikeTracker spike;

#define BUILD(n, p, prio) { .name = n, .pattern = p, .priority = prio, .field = MATCH_NAME, \
                            .source = RULE_BUILTIN, .checkpoint = -1, .build = true }

static const RuleSpec spike_rules[] = {
        APP("compositor", "^(kwin_wayland|Xwayland)$", 10),
        APP("editors", "^code$", 38),
        BUILD("build-tools", "^(cargo|make|ninja)$", 50),
        APP("file-indexers", "^baloo_file$", 78),
        APP("browser-content", "^(Isolated Web Co|Web Content)$", 85),
        APP("notifiers", "^update-notifier$", 90),
};

static void spike_config(PolicyConfig *c, TestRules *r) {
        policy_config_defaults(c);
        r->n = 0;
        c->rules = test_rules_add(r, spike_rules, ELEMENTSOF(spike_rules));
        c->n_rules = r->n;
}

static Candidate child(pid_t pid, pid_t ppid, const char *name, uint64_t rss_mib) {
        Candidate c = test_cand(pid, name, rss_mib, 0);

        c.ppid = ppid;
        return c;
}

/* A shell that runs cargo, which runs a nested make and rustc workers; a browser beside it. */
static size_t build_tree(Candidate *c) {
        size_t n = 0;

        c[n++] = child(10, 1, "bash", 5);
        c[n++] = child(20, 10, "cargo", 40);
        c[n++] = child(21, 20, "rustc", 200);
        c[n++] = child(22, 20, "rustc", 200);
        c[n++] = child(23, 20, "make", 2);
        c[n++] = child(24, 23, "cc1", 100);
        c[n++] = child(30, 1, "firefox", 300);
        c[n++] = child(31, 30, "Isolated Web Co", 150);
        c[n++] = child(40, 1, "ninja", 10);     /* a second build */
        c[n++] = child(41, 40, "cc1", 60);
        return n;
}

START_TEST(test_tree_grouping) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[16];
        size_t n;
        const BuildGroup *g;

        spike_config(&c, &r);
        spike_init(&spike);
        n = build_tree(cands);
        ck_assert_uint_eq(spike_feed(&spike, &c, cands, n, T0), 0);

        /* the shell and the browser are in no build */
        ck_assert_uint_eq(cands[0].build, 0);
        ck_assert_uint_eq(cands[6].build, 0);
        ck_assert_uint_eq(cands[7].build, 0);
        /* cargo and everything below it, the nested make included, are one build */
        for (size_t i = 1; i <= 5; i++)
                ck_assert_uint_eq(cands[i].build, cands[1].build);
        ck_assert_uint_ne(cands[1].build, 0);
        g = spike_group(&spike, cands[1].build);
        ck_assert_ptr_nonnull(g);
        ck_assert_int_eq(g->pid, 20);
        ck_assert_str_eq(g->name, "cargo");
        ck_assert_uint_eq(g->members, 5);
        ck_assert_uint_eq(g->kb, (40 + 200 + 200 + 2 + 100) * MIB);
        ck_assert(cands[1].build_tool && cands[4].build_tool && !cands[2].build_tool);
        /* ninja is a build of its own */
        ck_assert_uint_ne(cands[8].build, 0);
        ck_assert_uint_ne(cands[8].build, cands[1].build);
        ck_assert_uint_eq(cands[9].build, cands[8].build);
        ck_assert_uint_eq(spike_group(&spike, cands[8].build)->members, 2);
        ck_assert(!spike_active(&spike));
        test_rules_free(&r);
}
END_TEST

/* A cycle in ppid (a corrupt read, or pid 1's parent) and a missing parent end the walk. */
START_TEST(test_tree_walk_ends) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                child(5, 6, "rustc", 10),
                child(6, 5, "cargo", 10),
                child(7, 999, "cc1", 10),
                child(8, 8, "make", 10),
        };

        spike_config(&c, &r);
        spike_init(&spike);
        (void) spike_feed(&spike, &c, cands, ELEMENTSOF(cands), T0);
        ck_assert_uint_ne(cands[0].build, 0);
        ck_assert_uint_eq(cands[0].build, cands[1].build);
        ck_assert_uint_eq(cands[2].build, 0);
        ck_assert_uint_ne(cands[3].build, 0);
        test_rules_free(&r);
}
END_TEST

/* One build, fed a footprint series (MiB of its single worker) one second apart. */
static usec_t feed_series(const PolicyConfig *c, Candidate *cands, const uint64_t *mib, size_t n,
                          usec_t from) {
        for (size_t k = 0; k < n; k++) {
                cands[1].rss_kb = mib[k] * MIB;
                (void) spike_feed(&spike, c, cands, 2, from + k * SEC);
        }
        return from + (n - 1) * SEC;
}

START_TEST(test_waves) {
        static const uint64_t climb[] = { 100, 300, 500, 700, 900, 1000 };
        static const uint64_t wiggle[] = { 960, 990, 940 };     /* -6 %: no wave */
        static const uint64_t fall[] = { 800 };                 /* -20 %, 200 MiB: a wave */
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = { child(20, 1, "cargo", 10), child(21, 20, "rustc", 100) };
        usec_t now;
        unsigned k;

        spike_config(&c, &r);
        spike_init(&spike);
        now = feed_series(&c, cands, climb, ELEMENTSOF(climb), T0);
        k = cands[0].build;
        ck_assert(!spike_active(&spike));
        ck_assert_uint_eq(spike_peak_kb(&spike, &c, k, now), 1010 * MIB);
        /* growth over the aggressor window (5 s): 900 MiB in 5 s */
        ck_assert_int_eq((int) (spike_growth_kbs(&spike, &c, k, now) / MIB), 180);
        ck_assert_uint_eq(spike_headroom_kb(&spike, &c, now), 0);

        now = feed_series(&c, cands, wiggle, ELEMENTSOF(wiggle), now + SEC);
        ck_assert(!spike_active(&spike));

        cands[1].rss_kb = fall[0] * MIB;
        ck_assert_uint_eq(spike_feed(&spike, &c, cands, 2, now + SEC), 1);
        now += SEC;
        ck_assert(spike_active(&spike));
        /* the climb back to the peak, 1010 - 810 MiB, times 1.25 */
        ck_assert_uint_eq(spike_headroom_kb(&spike, &c, now), 250 * MIB);
        /* recovery keeps the whole swing of the window, 1010 - 110 MiB, times 1.25, whatever the phase */
        ck_assert_uint_eq(spike_reserve_kb(&spike, &c), 1125 * MIB);
        /* waves stay: a second fall is not reported again */
        cands[1].rss_kb = 100 * MIB;
        ck_assert_uint_eq(spike_feed(&spike, &c, cands, 2, now + SEC), 0);
        test_rules_free(&r);
}
END_TEST

/* A fall of 10 % that is less than spike_min_swing_kb is noise on a big build, not a wave. */
START_TEST(test_small_swing_is_no_wave) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = { child(20, 1, "cargo", 10), child(21, 20, "rustc", 100) };
        static const uint64_t series[] = { 100, 200, 250, 220 };        /* -12 %, 30 MiB */

        spike_config(&c, &r);
        spike_init(&spike);
        (void) feed_series(&c, cands, series, ELEMENTSOF(series), T0);
        ck_assert(!spike_active(&spike));
        c.spike_min_swing_kb = 16 * MIB;
        spike_init(&spike);
        (void) feed_series(&c, cands, series, ELEMENTSOF(series), T0);
        ck_assert(spike_active(&spike));
        test_rules_free(&r);
}
END_TEST

/* The peak is that of the window: an old peak is forgotten, and with it the headroom. */
START_TEST(test_peak_window) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = { child(20, 1, "cargo", 10), child(21, 20, "rustc", 100) };
        static const uint64_t series[] = { 100, 800, 200 };
        unsigned k;
        usec_t now;

        spike_config(&c, &r);
        spike_init(&spike);
        now = feed_series(&c, cands, series, ELEMENTSOF(series), T0);
        k = cands[0].build;
        ck_assert(spike_active(&spike));
        ck_assert_uint_eq(spike_peak_kb(&spike, &c, k, now), 810 * MIB);
        /* fed every 10 s at 200 MiB for more than the 2 min window */
        for (unsigned i = 1; i <= 14; i++)
                (void) spike_feed(&spike, &c, cands, 2, now + i * 10 * SEC);
        now += 14 * 10 * SEC;
        ck_assert_uint_eq(spike_peak_kb(&spike, &c, k, now), 210 * MIB);
        ck_assert_uint_eq(spike_headroom_kb(&spike, &c, now), 0);
        ck_assert_uint_eq(spike_reserve_kb(&spike, &c), 0);
        /* a gap longer than the window forgets everything at once */
        cands[1].rss_kb = 100 * MIB;
        (void) spike_feed(&spike, &c, cands, 2, now + 3600 * SEC);
        ck_assert_uint_eq(spike_peak_kb(&spike, &c, k, now + 3600 * SEC), 110 * MIB);
        test_rules_free(&r);
}
END_TEST

/* A build whose tool is gone is forgotten; the same pid with another starttime is a new build. */
START_TEST(test_build_ends) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = { child(20, 1, "cargo", 10), child(21, 20, "rustc", 800) };
        static const uint64_t series[] = { 800, 100 };

        spike_config(&c, &r);
        spike_init(&spike);
        (void) feed_series(&c, cands, series, ELEMENTSOF(series), T0);
        ck_assert(spike_active(&spike));
        /* cargo exited: rustc alone (reparented to 1) is in no build */
        cands[1].ppid = 1;
        (void) spike_feed(&spike, &c, &cands[1], 1, T0 + 5 * SEC);
        ck_assert_uint_eq(cands[1].build, 0);
        ck_assert(!spike_active(&spike));
        ck_assert_uint_eq(spike_headroom_kb(&spike, &c, T0 + 5 * SEC), 0);
        for (unsigned k = 1; k <= SPIKE_GROUPS_MAX; k++)
                ck_assert_ptr_null(spike_group(&spike, k));
        /* a recycled pid: no history */
        cands[1].ppid = 20;
        (void) feed_series(&c, cands, series, ELEMENTSOF(series), T0 + 10 * SEC);
        ck_assert(spike_active(&spike));
        cands[0].starttime++;
        (void) spike_feed(&spike, &c, cands, 2, T0 + 20 * SEC);
        ck_assert(!spike_active(&spike));
        test_rules_free(&r);
}
END_TEST

START_TEST(test_spike_mode_off) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[16];
        size_t n;

        spike_config(&c, &r);
        spike_init(&spike);
        n = build_tree(cands);
        (void) spike_feed(&spike, &c, cands, n, T0);
        c.spike_mode = false;
        ck_assert_uint_eq(spike_feed(&spike, &c, cands, n, T0 + SEC), 0);
        for (size_t i = 0; i < n; i++)
                ck_assert_uint_eq(cands[i].build, 0);
        for (unsigned k = 1; k <= SPIKE_GROUPS_MAX; k++)
                ck_assert_ptr_null(spike_group(&spike, k));
        ck_assert(!spike_shield(&c, BLAME_BUILD));
        test_rules_free(&r);
}
END_TEST

START_TEST(test_shield_blame) {
        PolicyConfig c;

        policy_config_defaults(&c);
        ck_assert(spike_shield(&c, BLAME_UNKNOWN));
        ck_assert(spike_shield(&c, BLAME_BUILD));
        ck_assert(!spike_shield(&c, BLAME_OTHER));
}
END_TEST

/* Feed both trackers `ticks` seconds; `step` adds MiB per tick to each candidate. */
static usec_t feed_both(const PolicyConfig *c, Candidate *cands, size_t n, const int64_t *step,
                        usec_t from, unsigned ticks) {
        for (unsigned t = 0; t < ticks; t++) {
                if (t > 0)
                        for (size_t i = 0; i < n; i++)
                                cands[i].rss_kb = (uint64_t) ((int64_t) cands[i].rss_kb + step[i] * (int64_t) MIB);
                (void) spike_feed(&spike, c, cands, n, from + t * SEC);
                aggressor_feed(&tracker, cands, n, from + t * SEC);
        }
        return from + (ticks - 1) * SEC;
}

/*
 * A build's wave: its workers are the fastest growers, yet no single one is the runaway; the
 * incident is blamed on the build, and the thrashing tab (its victim) is no aggressor either.
 */
START_TEST(test_blame_build) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                child(20, 1, "cargo", 30),
                child(21, 20, "rustc", 50),
                child(22, 20, "rustc", 50),
                child(31, 1, "Isolated Web Co", 200),
                child(40, 1, "node", 300),
        };
        const int64_t step[] = { 0, 60, 60, 0, 5 };
        usec_t now;

        spike_config(&c, &r);
        spike_init(&spike);
        aggressor_init(&tracker);
        now = feed_both(&c, cands, ELEMENTSOF(cands), step, T0, 4);
        /* the tab faults hard, as a victim of the wave does */
        cands[3].majflt = 0;
        aggressor_feed(&tracker, cands, ELEMENTSOF(cands), now - SEC);
        cands[3].majflt = 100000;
        aggressor_feed(&tracker, cands, ELEMENTSOF(cands), now);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, LEVEL_ELEVATED, 0.1, now,
                                        &spike), -1);
        ck_assert_int_eq(aggressor_blame(&tracker), BLAME_BUILD);
        ck_assert(spike_shield(&c, aggressor_blame(&tracker)));
        /* without spike mode the same wave makes a worker the aggressor, as before */
        c.spike_mode = false;
        aggressor_reset(&tracker);
        (void) spike_feed(&spike, &c, cands, ELEMENTSOF(cands), now);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, LEVEL_ELEVATED, 0.1, now,
                                        &spike), 1);
        test_rules_free(&r);
}
END_TEST

/*
 * The seed's incident: the runaway node process outgrows everything, the incident is blamed on
 * it, and a cargo that starts mid-incident is one more grower, frozen as it appears.
 */
START_TEST(test_blame_other_then_newcomer_build) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                child(20, 1, "cargo", 10),
                child(21, 20, "rustc", 10),
                child(40, 1, "node", 300),
        };
        const int64_t runaway[] = { 0, 0, 100 };
        const int64_t newcomer[] = { 0, 40, 0 };
        usec_t now;

        spike_config(&c, &r);
        spike_init(&spike);
        aggressor_init(&tracker);
        now = feed_both(&c, cands, ELEMENTSOF(cands), runaway, T0, 4);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, LEVEL_ELEVATED, 0.1, now,
                                        &spike), 2);
        ck_assert_int_eq(aggressor_blame(&tracker), BLAME_OTHER);
        ck_assert(!spike_shield(&c, aggressor_blame(&tracker)));
        /* node was frozen (stops growing); the build's worker now grows fastest: it is picked */
        now = feed_both(&c, cands, ELEMENTSOF(cands), newcomer, now + SEC, 6);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, LEVEL_ELEVATED, 0.1, now,
                                        &spike), 1);
        ck_assert_int_eq(aggressor_blame(&tracker), BLAME_OTHER);
        /* a new incident forgets the blame */
        aggressor_reset(&tracker);
        ck_assert_int_eq(aggressor_blame(&tracker), BLAME_UNKNOWN);
        test_rules_free(&r);
}
END_TEST

/* A runaway outside the build that outgrows it takes the blame; one growing slower is still
 * picked (frozen) but the blame stays on the build. */
START_TEST(test_blame_moves_to_faster_runaway) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                child(20, 1, "cargo", 10),
                child(21, 20, "rustc", 10),
                child(40, 1, "node", 300),
        };
        const int64_t slower[] = { 0, 80, 20 };
        const int64_t faster[] = { 0, 20, 80 };
        usec_t now;

        spike_config(&c, &r);
        spike_init(&spike);
        aggressor_init(&tracker);
        now = feed_both(&c, cands, ELEMENTSOF(cands), slower, T0, 4);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, LEVEL_ELEVATED, 0.1, now,
                                        &spike), 2);
        ck_assert_int_eq(aggressor_blame(&tracker), BLAME_BUILD);
        now = feed_both(&c, cands, ELEMENTSOF(cands), faster, now + SEC, 6);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, ELEMENTSOF(cands), 0, LEVEL_ELEVATED, 0.1, now,
                                        &spike), 2);
        ck_assert_int_eq(aggressor_blame(&tracker), BLAME_OTHER);
        test_rules_free(&r);
}
END_TEST

/*
 * The wave that caused the stall may be over at the first scan, or just starting: a fresh wave is
 * judged by its workers' footprint / age, and a build in waves takes the blame while nothing else
 * grows.
 */
START_TEST(test_blame_build_first_sight_and_after_wave) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                child(20, 1, "cargo", 5),
                child(21, 20, "rustc", 130),
                child(22, 20, "rustc", 130),
                child(31, 1, "Isolated Web Co", 200),
        };

        spike_config(&c, &r);
        spike_init(&spike);
        aggressor_init(&tracker);
        cands[1].age_usec = cands[2].age_usec = 2 * SEC;        /* 65 MiB/s each */
        cands[0].age_usec = 30 * SEC;
        (void) spike_feed(&spike, &c, cands, 4, T0);
        aggressor_feed(&tracker, cands, 4, T0);
        ck_assert_int_eq((int) (spike_growth_kbs(&spike, &c, cands[0].build, T0) / MIB), 130);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 4, 0, LEVEL_EMERGENCY, 1, T0, &spike), -1);
        ck_assert_int_eq(aggressor_blame(&tracker), BLAME_BUILD);

        /* scanning began at the peak: the workers are gone by the next scan */
        aggressor_init(&tracker);
        spike_init(&spike);
        cands[1].age_usec = cands[2].age_usec = 0;
        (void) spike_feed(&spike, &c, cands, 4, T0);
        aggressor_feed(&tracker, cands, 4, T0);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 4, 0, LEVEL_EMERGENCY, 1, T0, &spike), -1);
        ck_assert_int_eq(aggressor_blame(&tracker), BLAME_UNKNOWN);
        cands[1] = cands[3];
        (void) spike_feed(&spike, &c, cands, 2, T0 + SEC);
        aggressor_feed(&tracker, cands, 2, T0 + SEC);
        ck_assert(spike_active(&spike));
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 2, 0, LEVEL_EMERGENCY, 1, T0 + SEC, &spike), -1);
        ck_assert_int_eq(aggressor_blame(&tracker), BLAME_BUILD);
        test_rules_free(&r);
}
END_TEST

/*
 * At Critical the build is still shielded: no worker is the aggressor, one is paused instead, the
 * fastest growing; one paused SPIKE_PAUSES_MAX times is a runaway of its own, the blame moves to it
 * and from then on it is picked like anyone.
 */
START_TEST(test_critical_pauses_a_worker) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                child(20, 1, "cargo", 30),
                child(21, 20, "rustc", 10),
                child(22, 20, "rustc", 200),
                child(23, 20, "rustc", 400),
        };
        const int64_t step[] = { 0, 100, 20, 0 };
        usec_t now;

        spike_config(&c, &r);
        spike_init(&spike);
        aggressor_init(&tracker);
        now = feed_both(&c, cands, ELEMENTSOF(cands), step, T0, 4);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 4, 0, LEVEL_CRITICAL, 0.1, now, &spike), -1);
        ck_assert_int_eq(aggressor_blame(&tracker), BLAME_BUILD);
        ck_assert_int_eq(aggressor_pick_pause(&tracker, &c, cands, 4, 0, now), 1);
        /* paused (frozen): the next fastest is 22 */
        cands[1].frozen = FREEZE_SIGSTOP;
        ck_assert_int_eq(aggressor_pick_pause(&tracker, &c, cands, 4, 0, now), 2);
        /* nobody grows: the largest */
        cands[1].frozen = FREEZE_NONE;
        now = feed_both(&c, cands, ELEMENTSOF(cands), (const int64_t[]) { 0, 0, 0, 0 }, now + SEC, 6);
        ck_assert_int_eq(aggressor_pick_pause(&tracker, &c, cands, 4, 0, now), 3);
        /* the foreground is never paused */
        ck_assert_int_eq(aggressor_pick_pause(&tracker, &c, cands, 4, 23, now), 1);
        for (unsigned k = 0; k < SPIKE_PAUSES_MAX; k++)
                aggressor_note_pause(&tracker, 23, cands[3].starttime);
        ck_assert_int_eq(aggressor_pick_pause(&tracker, &c, cands, 4, 0, now), -1);
        ck_assert_int_eq(aggressor_blame(&tracker), BLAME_OTHER);
        /* the shield is off: the runaway rustc is the aggressor like anyone (it grows again) */
        now = feed_both(&c, cands, ELEMENTSOF(cands), (const int64_t[]) { 0, 0, 0, 50 }, now + SEC, 4);
        ck_assert_int_eq(aggressor_pick(&tracker, &c, cands, 4, 0, LEVEL_CRITICAL, 0.1, now, &spike), 3);
        /* a new incident forgets the pauses */
        aggressor_reset(&tracker);
        ck_assert_int_eq(aggressor_pick_pause(&tracker, &c, cands, 4, 0, now), 3);
        test_rules_free(&r);
}
END_TEST

static bool decided(const Decision *d, size_t n, pid_t pid, Action a) {
        for (size_t i = 0; i < n; i++)
                if (d[i].pid == pid)
                        return d[i].action == a;
        return a == ACTION_NONE;
}

/* The shield in the plan: the build is left alone; a build's wave kills nothing at High. */
START_TEST(test_plan_shield) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                child(20, 1, "cargo", 30),
                child(21, 20, "rustc", 400),
                child(31, 1, "Isolated Web Co", 200),
                child(32, 1, "baloo_file", 100),
        };
        PlanInput in = {
                .level = LEVEL_HIGH, .mem = test_mem(100), .cands = cands, .n_cands = ELEMENTSOF(cands),
                .aggressor = -1,
        };
        Decision d[8];
        size_t n;

        spike_config(&c, &r);
        spike_init(&spike);
        c.rules[2].priority = 70;       /* a user who made build tools expendable */
        (void) spike_feed(&spike, &c, cands, ELEMENTSOF(cands), T0);
        cands[2].frozen = FREEZE_CGROUP;

        /* no shield: cargo (70) is frozen, the frozen tab is killed */
        n = policy_plan(&c, &in, d, ELEMENTSOF(d));
        ck_assert(decided(d, n, 20, ACTION_FREEZE));
        ck_assert(decided(d, n, 31, ACTION_KILL));
        /* shield, blame unknown: the build is left alone, the tab still goes */
        in.shield_builds = true;
        n = policy_plan(&c, &in, d, ELEMENTSOF(d));
        ck_assert(decided(d, n, 20, ACTION_NONE));
        ck_assert(decided(d, n, 21, ACTION_NONE));
        ck_assert(decided(d, n, 31, ACTION_KILL));
        ck_assert(decided(d, n, 32, ACTION_FREEZE));
        /* the build's own wave: freezes only */
        in.spare_all = true;
        n = policy_plan(&c, &in, d, ELEMENTSOF(d));
        ck_assert(decided(d, n, 31, ACTION_NONE));
        ck_assert(decided(d, n, 32, ACTION_FREEZE));
        for (size_t i = 0; i < n; i++)
                ck_assert_int_eq(d[i].action, ACTION_FREEZE);
        test_rules_free(&r);
}
END_TEST

START_TEST(test_plan_headroom) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                child(20, 1, "cargo", 30),
                child(21, 20, "rustc", 400),
                child(30, 1, "code", 300),
                child(31, 1, "Isolated Web Co", 200),
                child(32, 1, "Web Content", 150),
                child(33, 1, "baloo_file", 100),
                child(34, 1, "update-notifier", 40),
                child(35, 1, "kwin_wayland", 80),
                child(36, 1, "update-notifier", 5),     /* below min_footprint */
        };
        PlanInput in = {
                .level = LEVEL_NORMAL, .mem = test_mem(300), .cands = cands, .n_cands = ELEMENTSOF(cands),
                .aggressor = -1, .foreground = 32,
        };
        Decision d[16];
        size_t n;

        spike_config(&c, &r);
        spike_init(&spike);
        c.rules[2].priority = 95;
        (void) spike_feed(&spike, &c, cands, ELEMENTSOF(cands), T0);
        cands[3].frozen = FREEZE_SIGSTOP;       /* already frozen: credits nothing, not refrozen */

        ck_assert_uint_eq(policy_plan_headroom(&c, &in, 0, d, ELEMENTSOF(d)), 0);
        /* least important first: the notifier (90), then the indexer (78); never the foreground
         * tab (85 - 25 = 60 would be freezable, but the user is looking at it) */
        n = policy_plan_headroom(&c, &in, 120 * MIB, d, ELEMENTSOF(d));
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(d[0].pid, 34);
        ck_assert_int_eq(d[1].pid, 33);
        ck_assert_int_eq(d[0].action, ACTION_FREEZE);
        n = policy_plan_headroom(&c, &in, 10000 * MIB, d, ELEMENTSOF(d));
        ck_assert_uint_eq(n, 2);
        for (size_t i = 0; i < n; i++)
                ck_assert(d[i].pid != 20 && d[i].pid != 21 && d[i].pid != 30 && d[i].pid != 35 &&
                          d[i].pid != 31 && d[i].pid != 36 && d[i].pid != 32);
        /* without the focus it is the third */
        in.foreground = 0;
        n = policy_plan_headroom(&c, &in, 10000 * MIB, d, ELEMENTSOF(d));
        ck_assert_uint_eq(n, 3);
        ck_assert_int_eq(d[0].pid, 34);
        in.foreground = 32;
        /* never at Critical: the plan owns that */
        in.level = LEVEL_CRITICAL;
        ck_assert_uint_eq(policy_plan_headroom(&c, &in, 120 * MIB, d, ELEMENTSOF(d)), 0);
        test_rules_free(&r);
}
END_TEST

/* The room a build's next wave needs is not given away by recovery. */
START_TEST(test_recovery_keeps_wave_room) {
        PolicyConfig c;
        HeldProcess held[] = {
                { .pid = 31, .starttime = 1, .kind = HELD_FROZEN, .priority = 85, .footprint_kb = 100 * MIB },
        };
        RecoveryInput in = {
                .level = LEVEL_NORMAL, .now = T0, .mem = test_mem(3000), .held = held,
                .n_held = ELEMENTSOF(held),
        };
        size_t out[4];

        policy_config_defaults(&c);
        /* the reserve on 16 GiB is half of 12 %, 983 MiB: 3000 covers it plus 100 */
        ck_assert_uint_eq(policy_recover(&c, &in, out, ELEMENTSOF(out)), 1);
        in.extra_reserve_kb = 2000 * MIB;
        ck_assert_uint_eq(policy_recover(&c, &in, out, ELEMENTSOF(out)), 0);
}
END_TEST

static Suite *policy_spike_suite(void) {
        Suite *s = suite_create("policy-spike");
        TCase *tc = tcase_create("spike");

        tcase_add_test(tc, test_tree_grouping);
        tcase_add_test(tc, test_tree_walk_ends);
        tcase_add_test(tc, test_waves);
        tcase_add_test(tc, test_small_swing_is_no_wave);
        tcase_add_test(tc, test_peak_window);
        tcase_add_test(tc, test_build_ends);
        tcase_add_test(tc, test_spike_mode_off);
        tcase_add_test(tc, test_shield_blame);
        tcase_add_test(tc, test_blame_build);
        tcase_add_test(tc, test_blame_other_then_newcomer_build);
        tcase_add_test(tc, test_blame_moves_to_faster_runaway);
        tcase_add_test(tc, test_critical_pauses_a_worker);
        tcase_add_test(tc, test_blame_build_first_sight_and_after_wave);
        tcase_add_test(tc, test_plan_shield);
        tcase_add_test(tc, test_plan_headroom);
        tcase_add_test(tc, test_recovery_keeps_wave_room);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(policy_spike_suite)
