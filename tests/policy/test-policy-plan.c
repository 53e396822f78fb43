/* SPDX-License-Identifier: GPL-2.0-only */

#include "tests/check-main.h"
#include "tests/policy/policy-test.h"

#define MAXD 128

static PlanInput input(Level level, const Candidate *cands, size_t n, uint64_t avail_mib) {
        return (PlanInput) {
                .level = level,
                .mem = test_mem(avail_mib),
                .cands = cands,
                .n_cands = n,
                .aggressor = -1,
        };
}

static const Decision *find(const Decision *d, size_t n, pid_t pid) {
        for (size_t i = 0; i < n; i++)
                if (d[i].pid == pid)
                        return &d[i];
        return NULL;
}

static Action action_of(const Decision *d, size_t n, pid_t pid) {
        const Decision *x = find(d, n, pid);

        return x ? x->action : ACTION_NONE;
}

/* MemAvailable (KiB) that leaves exactly `deficit_mib` below the target on the test machine. */
static uint64_t avail_for_deficit(const PolicyConfig *c, uint64_t deficit_mib) {
        return policy_target_available_kb(c, 16 * 1024 * MIB) - deficit_mib * MIB;
}

/* Per-app checkpoint overrides, ahead of the built-ins as user entries would be. */
static const RuleSpec overrides[] = {
        { .name = "important-app", .pattern = "^important-app$", .priority = 45, .checkpoint = 1,
          .source = RULE_USER },
        { .name = "quick-tool", .pattern = "^quick-tool$", .priority = 60, .checkpoint = 0,
          .source = RULE_USER },
        { .name = "heavy-saver", .pattern = "^heavy-saver$", .priority = 90, .checkpoint = 1,
          .source = RULE_USER },
};

static void config_with_overrides(PolicyConfig *c, TestRules *r) {
        policy_config_defaults(c);
        r->n = 0;
        (void) test_rules_add(r, overrides, ELEMENTSOF(overrides));
        c->rules = test_rules_add(r, test_builtin_rules, ELEMENTSOF(test_builtin_rules));
        c->n_rules = r->n;
}

START_TEST(test_normal_plans_nothing) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = { test_cand(10, "Web Content", 500, 0), test_cand(11, "rustc", 900, 0) };
        PlanInput in = input(LEVEL_NORMAL, cands, ELEMENTSOF(cands), 10);
        Decision d[MAXD];

        test_config(&c, &r);
        ck_assert_uint_eq(policy_plan(&c, &in, d, MAXD), 0);
        in.level = _LEVEL_MAX;
        ck_assert_uint_eq(policy_plan(&c, &in, d, MAXD), 0);
        in.level = LEVEL_ELEVATED;
        ck_assert_uint_eq(policy_plan(&c, &in, d, 0), 0);
        test_rules_free(&r);
}
END_TEST

typedef struct MatrixCase {
        Level level;
        const char *name;
        uint64_t rss_mib, swap_mib;
        FreezeMethod frozen;
        bool criu, criu_failed, foreground;
        Action expect;
} MatrixCase;

#define RUN FREEZE_NONE
#define STOPPED FREEZE_SIGSTOP

static const MatrixCase matrix[] = {
        /* Elevated: freeze the expendable tiers, nothing else */
        { LEVEL_ELEVATED, "konsole", 200, 0, RUN, false, false, false, ACTION_NONE },
        { LEVEL_ELEVATED, "node", 200, 0, RUN, false, false, false, ACTION_NONE },
        { LEVEL_ELEVATED, "cargo", 200, 0, RUN, false, false, false, ACTION_FREEZE },
        { LEVEL_ELEVATED, "Web Content", 200, 0, RUN, false, false, false, ACTION_FREEZE },
        { LEVEL_ELEVATED, "Web Content", 200, 0, STOPPED, false, false, false, ACTION_NONE },
        { LEVEL_ELEVATED, "Web Content", 200, 0, FREEZE_CGROUP, false, false, false, ACTION_NONE },
        { LEVEL_ELEVATED, "Web Content", 200, 0, RUN, false, false, true, ACTION_NONE },  /* fg: 55 */
        /* fg 90 - 25 = 65 is in a freezable tier, but the window the user looks at is never frozen */
        { LEVEL_ELEVATED, "update-notifier", 200, 0, RUN, false, false, true, ACTION_NONE },
        { LEVEL_HIGH, "update-notifier", 200, 0, RUN, false, false, true, ACTION_NONE },
        { LEVEL_ELEVATED, "update-notifier", 200, 0, RUN, false, false, false, ACTION_FREEZE },
        { LEVEL_ELEVATED, "kwin_wayland", 900, 0, RUN, false, false, false, ACTION_NONE },
        /* High: a running compiler is frozen, not SIGTERMed for its tier */
        { LEVEL_HIGH, "rustc", 900, 0, RUN, false, false, false, ACTION_FREEZE },
        { LEVEL_HIGH, "rustc", 900, 0, STOPPED, false, false, false, ACTION_KILL },
        { LEVEL_HIGH, "rustc", 900, 0, FREEZE_CGROUP, false, false, false, ACTION_KILL },
        { LEVEL_HIGH, "baloo_file", 900, 0, STOPPED, false, false, false, ACTION_NONE },
        { LEVEL_HIGH, "cargo", 200, 0, RUN, false, false, false, ACTION_FREEZE },
        { LEVEL_HIGH, "node", 900, 0, RUN, false, false, false, ACTION_NONE },
        { LEVEL_HIGH, "rustrover", 900, 0, RUN, false, false, false, ACTION_NONE },
        /* Critical without CRIU: one rule for every tier, no SIGKILL for the important ones */
        { LEVEL_CRITICAL, "rustrover", 900, 0, RUN, false, false, false, ACTION_TERMINATE },
        { LEVEL_CRITICAL, "node", 900, 0, RUN, false, false, false, ACTION_TERMINATE },
        { LEVEL_CRITICAL, "cargo", 900, 0, RUN, false, false, false, ACTION_TERMINATE },
        { LEVEL_CRITICAL, "rustc", 900, 0, RUN, false, false, false, ACTION_TERMINATE },
        { LEVEL_CRITICAL, "node", 400, 600, RUN, false, false, false, ACTION_KILL },
        { LEVEL_CRITICAL, "rustc", 400, 600, RUN, false, false, false, ACTION_KILL },
        { LEVEL_CRITICAL, "node", 500, 500, RUN, false, false, false, ACTION_TERMINATE }, /* = 0.5 */
        { LEVEL_CRITICAL, "node", 900, 0, STOPPED, false, false, false, ACTION_KILL },
        { LEVEL_CRITICAL, "Web Content", 900, 0, FREEZE_CGROUP, false, false, false, ACTION_KILL },
        /* Critical with CRIU: checkpoint 20-79 by default */
        { LEVEL_CRITICAL, "rustrover", 900, 0, RUN, true, false, false, ACTION_CHECKPOINT },
        { LEVEL_CRITICAL, "node", 900, 0, RUN, true, false, false, ACTION_CHECKPOINT },
        { LEVEL_CRITICAL, "cargo", 900, 0, RUN, true, false, false, ACTION_CHECKPOINT },
        { LEVEL_CRITICAL, "baloo_file", 900, 0, RUN, true, false, false, ACTION_CHECKPOINT },
        { LEVEL_CRITICAL, "Web Content", 900, 0, RUN, true, false, false, ACTION_TERMINATE },
        { LEVEL_CRITICAL, "Web Content", 900, 0, RUN, true, false, true, ACTION_CHECKPOINT },
        { LEVEL_CRITICAL, "node", 400, 600, RUN, true, false, false, ACTION_CHECKPOINT },
        { LEVEL_CRITICAL, "node", 900, 0, STOPPED, true, false, false, ACTION_CHECKPOINT },
        { LEVEL_CRITICAL, "node", 900, 0, RUN, true, true, false, ACTION_TERMINATE },
        { LEVEL_CRITICAL, "node", 400, 600, RUN, true, true, false, ACTION_KILL },
        { LEVEL_CRITICAL, "node", 900, 0, STOPPED, true, true, false, ACTION_KILL },
        /* per-app checkpoint overrides */
        { LEVEL_CRITICAL, "important-app", 900, 0, RUN, true, false, false, ACTION_CHECKPOINT },
        { LEVEL_CRITICAL, "important-app", 900, 0, RUN, true, true, false, ACTION_TERMINATE },
        { LEVEL_CRITICAL, "important-app", 900, 0, RUN, false, false, false, ACTION_TERMINATE },
        { LEVEL_CRITICAL, "quick-tool", 900, 0, RUN, true, false, false, ACTION_TERMINATE },
        { LEVEL_CRITICAL, "heavy-saver", 900, 0, RUN, true, false, false, ACTION_CHECKPOINT },
        { LEVEL_CRITICAL, "heavy-saver", 900, 0, RUN, false, false, false, ACTION_TERMINATE },
        { LEVEL_CRITICAL, "kwin_wayland", 900, 0, RUN, true, false, false, ACTION_NONE },
        /* Emergency: SIGKILL every candidate, the foreground (floored at 20) included */
        { LEVEL_EMERGENCY, "rustrover", 900, 0, RUN, true, false, false, ACTION_KILL },
        { LEVEL_EMERGENCY, "rustrover", 900, 0, RUN, true, false, true, ACTION_KILL },
        { LEVEL_EMERGENCY, "node", 900, 0, RUN, false, false, false, ACTION_KILL },
        { LEVEL_EMERGENCY, "Web Content", 900, 0, STOPPED, false, false, false, ACTION_KILL },
        { LEVEL_EMERGENCY, "kwin_wayland", 900, 0, RUN, false, false, false, ACTION_NONE },
        { LEVEL_EMERGENCY, "pipewire", 900, 0, RUN, false, false, true, ACTION_NONE },
};

START_TEST(test_matrix) {
        const MatrixCase *t = &matrix[_i];
        PolicyConfig c;
        TestRules r;
        Candidate cand = test_cand(42, t->name, t->rss_mib, t->swap_mib);
        PlanInput in = input(t->level, &cand, 1, 100);
        Decision d[MAXD];
        size_t n;

        config_with_overrides(&c, &r);
        cand.frozen = t->frozen;
        cand.checkpoint_failed = t->criu_failed;
        in.checkpoint_available = t->criu;
        in.foreground = t->foreground ? 42 : 0;
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_msg(action_of(d, n, 42) == t->expect, "case %d: %s at %s: got %s want %s", _i,
                      t->name, level_to_string(t->level), action_to_string(action_of(d, n, 42)),
                      action_to_string(t->expect));
        ck_assert_uint_le(n, 1);
        test_rules_free(&r);
}
END_TEST

/* Least important first: priority desc, footprint desc, oom_score_adj desc, then scan order;
 * the aggressor ahead of all. */
START_TEST(test_order) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "cargo", 100, 0),          /* 70 */
                test_cand(2, "Web Content", 200, 0),    /* 80, 200 */
                test_cand(3, "Web Content", 250, 50),   /* 80, 300 (swap counts) */
                test_cand(4, "update-notifier", 50, 0), /* 90 */
                test_cand(5, "Web Content", 300, 0),    /* 80, 300, adj 300 */
                test_cand(6, "cargo", 100, 0),          /* 70, same as pid 1 */
                test_cand(7, "node", 800, 0),           /* 55: only as the aggressor */
        };
        static const pid_t expect[] = { 4, 5, 3, 2, 1, 6 };
        static const pid_t expect_aggr[] = { 7, 4, 5, 3, 2, 1, 6 };
        PlanInput in = input(LEVEL_ELEVATED, cands, ELEMENTSOF(cands), 100);
        Decision d[MAXD];
        size_t n;

        test_config(&c, &r);
        cands[2].oom_score_adj = 200;
        cands[4].oom_score_adj = 300;
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_uint_eq(n, ELEMENTSOF(expect));
        for (size_t i = 0; i < n; i++) {
                ck_assert_int_eq(d[i].pid, expect[i]);
                ck_assert_int_eq(d[i].action, ACTION_FREEZE);
                ck_assert(!d[i].aggressor);
        }

        in.aggressor = 6;
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_uint_eq(n, ELEMENTSOF(expect_aggr));
        for (size_t i = 0; i < n; i++)
                ck_assert_int_eq(d[i].pid, expect_aggr[i]);
        ck_assert(d[0].aggressor);
        test_rules_free(&r);
}
END_TEST

START_TEST(test_decision_fields) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = { test_cand(1, "konsole", 100, 0), test_cand(77, "Web Content", 300, 100) };
        PlanInput in = input(LEVEL_HIGH, cands, ELEMENTSOF(cands), 100);
        Decision d[MAXD];

        test_config(&c, &r);
        cands[1].starttime = 987654;
        cands[1].gpu_kb = 50 * MIB;
        ck_assert_uint_eq(policy_plan(&c, &in, d, MAXD), 1);
        ck_assert_uint_eq(d[0].index, 1);
        ck_assert_int_eq(d[0].pid, 77);
        ck_assert_uint_eq(d[0].starttime, 987654);
        ck_assert_int_eq(d[0].priority, 80);
        ck_assert_uint_eq(d[0].footprint_kb, 450 * MIB);
        ck_assert_int_eq(d[0].action, ACTION_FREEZE);
        test_rules_free(&r);
}
END_TEST

/* GPU residency joins the sort footprint at High and above only. */
START_TEST(test_gpu_footprint_from_high) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = { test_cand(1, "cargo", 100, 0), test_cand(2, "cargo", 300, 0) };
        PlanInput in = input(LEVEL_ELEVATED, cands, ELEMENTSOF(cands), 100);
        Decision d[MAXD];

        test_config(&c, &r);
        cands[0].gpu_kb = 500 * MIB;
        ck_assert_uint_eq(policy_plan(&c, &in, d, MAXD), 2);
        ck_assert_int_eq(d[0].pid, 2);
        ck_assert_uint_eq(d[1].footprint_kb, 100 * MIB);
        in.level = LEVEL_HIGH;
        ck_assert_uint_eq(policy_plan(&c, &in, d, MAXD), 2);
        ck_assert_int_eq(d[0].pid, 1);
        ck_assert_uint_eq(d[0].footprint_kb, 600 * MIB);
        test_rules_free(&r);
}
END_TEST

/* Destructive decisions stop once the deficit is covered; what is left is frozen if it may be. */
START_TEST(test_deficit_stop) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "Web Content", 200, 0),
                test_cand(2, "Web Content", 200, 0),
                test_cand(3, "Web Content", 200, 0),
                test_cand(4, "node", 500, 0),
        };
        PlanInput in = input(LEVEL_EMERGENCY, cands, ELEMENTSOF(cands), 0);
        Decision d[MAXD];
        size_t n;

        test_config(&c, &r);
        in.mem.mem_available_kb = avail_for_deficit(&c, 300);
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_uint_eq(n, 3);
        ck_assert_int_eq(action_of(d, n, 1), ACTION_KILL);
        ck_assert_int_eq(action_of(d, n, 2), ACTION_KILL);
        ck_assert_int_eq(action_of(d, n, 3), ACTION_FREEZE);
        ck_assert_ptr_null(find(d, n, 4));

        /* no deficit at all: nothing destructive, freezes only */
        in.mem.mem_available_kb = avail_for_deficit(&c, 0);
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_uint_eq(n, 3);
        for (size_t i = 0; i < n; i++)
                ck_assert_int_eq(d[i].action, ACTION_FREEZE);
        in.level = LEVEL_CRITICAL;
        in.mem = test_mem(12 * 1024);
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_uint_eq(n, 3);
        ck_assert_ptr_null(find(d, n, 4));
        test_rules_free(&r);
}
END_TEST

/* A kill gives back the resident set (plus GPU), not the swapped pages. */
START_TEST(test_credit_is_resident_memory) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "Web Content", 20, 2000),  /* biggest footprint, little RAM */
                test_cand(2, "Web Content", 400, 0),
        };
        PlanInput in = input(LEVEL_EMERGENCY, cands, ELEMENTSOF(cands), 0);
        Decision d[MAXD];
        size_t n;

        test_config(&c, &r);
        in.mem.mem_available_kb = avail_for_deficit(&c, 300);
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(d[0].pid, 1);
        ck_assert_int_eq(d[0].action, ACTION_KILL);
        ck_assert_int_eq(d[1].action, ACTION_KILL);

        /* GPU memory is returned at High and above, so it is credited */
        cands[0].gpu_kb = 300 * MIB;
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(d[1].action, ACTION_FREEZE);
        test_rules_free(&r);
}
END_TEST

/* Freezes credit nothing: planning them for every candidate never hides a needed kill. */
START_TEST(test_freeze_credits_nothing) {
        PolicyConfig c;
        TestRules r;
        Candidate many[10];
        Candidate high[] = {
                test_cand(1, "update-notifier", 2000, 0),       /* 90, running: freeze first */
                test_cand(2, "rustc", 200, 0),                  /* 85, frozen: kill */
        };
        PlanInput in = input(LEVEL_ELEVATED, many, ELEMENTSOF(many), 0);
        Decision d[MAXD];
        size_t n;

        test_config(&c, &r);
        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = test_cand((pid_t) (100 + i), "Web Content", 500, 0);
        in.mem.mem_available_kb = avail_for_deficit(&c, 1);
        ck_assert_uint_eq(policy_plan(&c, &in, d, MAXD), ELEMENTSOF(many));
        in.level = LEVEL_HIGH;
        ck_assert_uint_eq(policy_plan(&c, &in, d, MAXD), ELEMENTSOF(many));

        high[1].frozen = FREEZE_SIGSTOP;
        in = input(LEVEL_HIGH, high, ELEMENTSOF(high), 0);
        in.mem.mem_available_kb = avail_for_deficit(&c, 150);
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(d[0].pid, 1);
        ck_assert_int_eq(d[0].action, ACTION_FREEZE);
        ck_assert_int_eq(d[1].action, ACTION_KILL);
        test_rules_free(&r);
}
END_TEST

START_TEST(test_min_footprint) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "Web Content", 9, 0),
                test_cand(2, "Web Content", 5, 5),      /* exactly 10 MiB with swap */
                test_cand(3, "Web Content", 10, 0),
        };
        PlanInput in = input(LEVEL_ELEVATED, cands, ELEMENTSOF(cands), 100);
        Decision d[MAXD];
        size_t n;

        test_config(&c, &r);
        cands[0].rss_kb = 10239;
        cands[0].gpu_kb = 100 * MIB;                    /* GPU does not lift it over the floor */
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_uint_eq(n, 2);
        ck_assert_ptr_null(find(d, n, 1));
        ck_assert_ptr_nonnull(find(d, n, 2));
        ck_assert_ptr_nonnull(find(d, n, 3));
        in.level = LEVEL_EMERGENCY;
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_ptr_null(find(d, n, 1));
        test_rules_free(&r);
}
END_TEST

START_TEST(test_protected_never_appear) {
        static const RuleSpec protect[] = {
                { .name = "vpn", .pattern = "^openvpn$", .protect = true, .checkpoint = -1 },
        };
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "kwin_wayland", 900, 500),
                test_cand(2, "pipewire", 900, 0),
                test_cand(3, "plasmashell", 900, 0),
                test_cand(4, "openvpn", 900, 0),
                test_cand(5, "node", 100, 0),
        };
        PlanInput in = input(LEVEL_EMERGENCY, cands, ELEMENTSOF(cands), 0);
        Decision d[MAXD];
        size_t n;

        test_config(&c, &r);
        c.rules = test_rules_add(&r, protect, 1);
        c.n_rules = r.n;
        c.emergency_max_destructive = 100;
        in.aggressor = 0;                       /* even named as the aggressor */
        for (Level l = LEVEL_ELEVATED; l < _LEVEL_MAX; l++) {
                in.level = l;
                n = policy_plan(&c, &in, d, MAXD);
                for (size_t i = 0; i < n; i++)
                        ck_assert_int_eq(d[i].pid, 5);
        }
        test_rules_free(&r);
}
END_TEST

/* One victim at a time at Critical; the other expendables are frozen meanwhile. */
START_TEST(test_destructive_caps) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "Web Content", 300, 0),
                test_cand(2, "Web Content", 200, 0),
                test_cand(3, "baloo_file", 200, 0),
                test_cand(4, "node", 900, 0),
                test_cand(5, "rustrover", 900, 0),
                test_cand(6, "update-notifier", 100, 0),
        };
        PlanInput in = input(LEVEL_CRITICAL, cands, ELEMENTSOF(cands), 10);
        Decision d[MAXD];
        size_t n, destructive = 0;

        test_config(&c, &r);
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_int_eq(action_of(d, n, 6), ACTION_TERMINATE);
        ck_assert_int_eq(action_of(d, n, 1), ACTION_FREEZE);
        ck_assert_int_eq(action_of(d, n, 2), ACTION_FREEZE);
        ck_assert_int_eq(action_of(d, n, 3), ACTION_FREEZE);
        ck_assert_ptr_null(find(d, n, 4));
        ck_assert_ptr_null(find(d, n, 5));
        ck_assert_uint_eq(n, 4);

        in.level = LEVEL_EMERGENCY;
        n = policy_plan(&c, &in, d, MAXD);
        for (size_t i = 0; i < n; i++)
                destructive += d[i].action == ACTION_KILL;
        ck_assert_uint_eq(destructive, 4);
        ck_assert_int_eq(action_of(d, n, 6), ACTION_KILL);
        ck_assert_int_eq(action_of(d, n, 4), ACTION_NONE);      /* 5th and 6th in line */
        ck_assert_int_eq(action_of(d, n, 5), ACTION_NONE);

        /* High kills frozen heavies one at a time as well */
        for (size_t i = 0; i < ELEMENTSOF(cands); i++) {
                cands[i] = test_cand((pid_t) (10 + i), "Web Content", 300 - 10 * i, 0);
                cands[i].frozen = FREEZE_SIGSTOP;
        }
        in.level = LEVEL_HIGH;
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(d[0].pid, 10);
        ck_assert_int_eq(d[0].action, ACTION_KILL);
        c.critical_max_destructive = 2;
        ck_assert_uint_eq(policy_plan(&c, &in, d, MAXD), 2);
        test_rules_free(&r);
}
END_TEST

/* Harshness ranks: none < freeze < checkpoint < terminate < kill. */
static int harshness(Action a) {
        static const int rank[_ACTION_MAX] = {
                [ACTION_NONE] = 0, [ACTION_FREEZE] = 1, [ACTION_CHECKPOINT] = 2,
                [ACTION_TERMINATE] = 3, [ACTION_KILL] = 4,
        };
        return rank[a];
}

/*
 * For every level, CRIU on/off and memory state: a more important process is never treated
 * more harshly than a less important one in the same state.
 */
START_TEST(test_no_harshness_inversion) {
        enum { N = 17 };        /* priorities 20, 25, ..., 100 */
        RuleSpec specs[N];
        char names[N][16];
        PolicyConfig c;
        TestRules r = {};
        Candidate cands[N];
        Decision d[MAXD];

        policy_config_defaults(&c);
        for (int i = 0; i < N; i++) {
                snprintf(names[i], sizeof(names[i]), "app-%d", 20 + 5 * i);
                specs[i] = (RuleSpec) { .name = names[i], .pattern = names[i],
                                        .priority = 20 + 5 * i, .checkpoint = -1 };
        }
        c.rules = test_rules_add(&r, specs, N);
        c.n_rules = r.n;
        c.critical_max_destructive = 1000;
        c.emergency_max_destructive = 1000;
        c.target_available_pct = 90;    /* a deficit no set of victims covers */

        for (Level l = LEVEL_ELEVATED; l < _LEVEL_MAX; l++)
                for (int criu = 0; criu < 2; criu++)
                        for (int state = 0; state < 3; state++) {
                                PlanInput in = input(l, cands, N, 0);
                                size_t n;

                                for (int i = 0; i < N; i++) {
                                        cands[i] = test_cand(100 + i, names[i], state == 1 ? 100 : 500,
                                                             state == 1 ? 400 : 0);
                                        cands[i].frozen = state == 2 ? FREEZE_SIGSTOP : FREEZE_NONE;
                                }
                                in.checkpoint_available = criu;
                                n = policy_plan(&c, &in, d, MAXD);
                                for (int i = 0; i + 1 < N; i++)
                                        ck_assert_msg(harshness(action_of(d, n, 100 + i)) <=
                                                      harshness(action_of(d, n, 101 + i)),
                                                      "%s criu=%d state=%d: prio %d gets %s, prio %d %s",
                                                      level_to_string(l), criu, state, 20 + 5 * i,
                                                      action_to_string(action_of(d, n, 100 + i)),
                                                      25 + 5 * i,
                                                      action_to_string(action_of(d, n, 101 + i)));
                                if (l == LEVEL_EMERGENCY)
                                        ck_assert_uint_eq(n, N);        /* all prio >= 20 killed */
                        }
        test_rules_free(&r);
}
END_TEST

/* The aggressor: frozen first at Elevated/High whatever its tier, first victim at Critical. */
START_TEST(test_aggressor) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[] = {
                test_cand(1, "update-notifier", 100, 0),
                test_cand(2, "node", 580, 0),
                test_cand(3, "baloo_file", 300, 0),
        };
        PlanInput in = input(LEVEL_ELEVATED, cands, ELEMENTSOF(cands), 100);
        Decision d[MAXD];
        size_t n;

        test_config(&c, &r);
        in.aggressor = 1;
        for (Level l = LEVEL_ELEVATED; l <= LEVEL_HIGH; l++) {
                in.level = l;
                n = policy_plan(&c, &in, d, MAXD);
                ck_assert_uint_eq(n, 3);
                ck_assert_int_eq(d[0].pid, 2);
                ck_assert_int_eq(d[0].action, ACTION_FREEZE);
                ck_assert(d[0].aggressor);
                ck_assert_int_eq(d[0].priority, 55);
        }

        /* already frozen: no second freeze */
        cands[1].frozen = FREEZE_CGROUP;
        in.level = LEVEL_ELEVATED;
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_ptr_null(find(d, n, 2));

        /* High with the runaway frozen and a frozen heavy notifier: the runaway is the one killed */
        in.level = LEVEL_HIGH;
        cands[0].frozen = FREEZE_SIGSTOP;
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_int_eq(d[0].pid, 2);
        ck_assert_int_eq(d[0].action, ACTION_KILL);
        ck_assert_ptr_null(find(d, n, 1));     /* one victim at a time; already frozen */
        in.aggressor = -1;
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_int_eq(action_of(d, n, 1), ACTION_KILL);
        ck_assert_ptr_null(find(d, n, 2));     /* a frozen prio-55 process that is no aggressor */
        in.aggressor = 1;
        cands[0].frozen = FREEZE_NONE;

        /* Critical: the first and only victim, ahead of the prio-90 notifier */
        in.level = LEVEL_CRITICAL;
        in.checkpoint_available = true;
        cands[1].frozen = FREEZE_NONE;
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_int_eq(d[0].pid, 2);
        ck_assert_int_eq(d[0].action, ACTION_CHECKPOINT);
        ck_assert_int_eq(action_of(d, n, 1), ACTION_FREEZE);
        ck_assert_int_eq(action_of(d, n, 3), ACTION_FREEZE);
        cands[1].checkpoint_failed = true;
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_int_eq(d[0].pid, 2);
        ck_assert_int_eq(d[0].action, ACTION_TERMINATE);
        cands[1].frozen = FREEZE_SIGSTOP;
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_int_eq(d[0].action, ACTION_KILL);

        /* a bogus index is ignored */
        in.level = LEVEL_ELEVATED;
        cands[1].frozen = FREEZE_NONE;
        in.aggressor = 3;
        n = policy_plan(&c, &in, d, MAXD);
        ck_assert_ptr_null(find(d, n, 2));
        test_rules_free(&r);
}
END_TEST

/* A short output keeps the most expendable candidates. */
START_TEST(test_output_cap) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[10];
        PlanInput in = input(LEVEL_ELEVATED, cands, ELEMENTSOF(cands), 100);
        Decision d[3];

        test_config(&c, &r);
        for (size_t i = 0; i < ELEMENTSOF(cands); i++)
                cands[i] = test_cand((pid_t) (1 + i), "cargo", 100 + 10 * i, 0);
        ck_assert_uint_eq(policy_plan(&c, &in, d, 3), 3);
        ck_assert_int_eq(d[0].pid, 10);
        ck_assert_int_eq(d[1].pid, 9);
        ck_assert_int_eq(d[2].pid, 8);
        test_rules_free(&r);
}
END_TEST

static Suite *policy_plan_suite(void) {
        Suite *s = suite_create("policy-plan");
        TCase *tc = tcase_create("plan");

        tcase_add_test(tc, test_normal_plans_nothing);
        tcase_add_loop_test(tc, test_matrix, 0, ELEMENTSOF(matrix));
        tcase_add_test(tc, test_order);
        tcase_add_test(tc, test_decision_fields);
        tcase_add_test(tc, test_gpu_footprint_from_high);
        tcase_add_test(tc, test_deficit_stop);
        tcase_add_test(tc, test_credit_is_resident_memory);
        tcase_add_test(tc, test_freeze_credits_nothing);
        tcase_add_test(tc, test_min_footprint);
        tcase_add_test(tc, test_protected_never_appear);
        tcase_add_test(tc, test_destructive_caps);
        tcase_add_test(tc, test_no_harshness_inversion);
        tcase_add_test(tc, test_aggressor);
        tcase_add_test(tc, test_output_cap);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(policy_plan_suite)
