/* SPDX-License-Identifier: GPL-2.0-only */

#include "tests/check-main.h"
#include "tests/policy/policy-test.h"

#define SEC USEC_PER_SEC
#define NOW (10000 * SEC)
#define MAXO 64

static HeldProcess frozen(pid_t pid, int prio, uint64_t mib, usec_t age) {
        return (HeldProcess) {
                .pid = pid, .starttime = 1000 + (uint64_t) pid, .kind = HELD_FROZEN,
                .priority = prio, .footprint_kb = mib * MIB, .since = NOW - age,
        };
}

static HeldProcess checkpointed(pid_t pid, int prio, uint64_t mib, usec_t age, unsigned failures) {
        HeldProcess h = frozen(pid, prio, mib, age);

        h.kind = HELD_CHECKPOINTED;
        h.restore_failures = failures;
        return h;
}

static RecoveryInput input(const HeldProcess *held, size_t n, uint64_t avail_mib) {
        return (RecoveryInput) {
                .level = LEVEL_NORMAL,
                .now = NOW,
                .level_since = NOW - 60 * SEC,
                .mem = test_mem(avail_mib),
                .held = held,
                .n_held = n,
        };
}

START_TEST(test_only_at_normal) {
        PolicyConfig c;
        HeldProcess held[] = { frozen(1, 70, 100, 60 * SEC) };
        RecoveryInput in = input(held, 1, 12 * 1024);
        size_t out[MAXO];

        policy_config_defaults(&c);
        for (Level l = LEVEL_ELEVATED; l < _LEVEL_MAX; l++) {
                in.level = l;
                ck_assert_uint_eq(policy_recover(&c, &in, out, MAXO), 0);
        }
        in.level = LEVEL_NORMAL;
        ck_assert_uint_eq(policy_recover(&c, &in, out, MAXO), 1);
        ck_assert_uint_eq(policy_recover(&c, &in, out, 0), 0);
}
END_TEST

START_TEST(test_min_frozen_age) {
        PolicyConfig c;
        HeldProcess held[] = {
                frozen(1, 60, 100, 5 * SEC),            /* frozen moments ago */
                frozen(2, 70, 100, 10 * SEC),           /* exactly the minimum */
                frozen(3, 80, 100, 0),
                checkpointed(4, 65, 100, 1 * SEC, 0),   /* the age rule is for freezes */
        };
        RecoveryInput in = input(held, ELEMENTSOF(held), 12 * 1024);
        size_t out[MAXO];

        policy_config_defaults(&c);
        held[2].since = NOW + SEC;                      /* from the future: skipped too */
        ck_assert_uint_eq(policy_recover(&c, &in, out, MAXO), 2);
        ck_assert_uint_eq(out[0], 3);
        ck_assert_uint_eq(out[1], 1);
}
END_TEST

/* Most important first; ties: the one held longest. */
START_TEST(test_order) {
        PolicyConfig c;
        HeldProcess held[] = {
                frozen(1, 70, 100, 60 * SEC),
                frozen(2, 60, 100, 30 * SEC),
                frozen(3, 90, 100, 90 * SEC),
                frozen(4, 60, 100, 40 * SEC),
        };
        static const size_t expect[] = { 3, 1, 0, 2 };
        RecoveryInput in = input(held, ELEMENTSOF(held), 12 * 1024);
        size_t out[MAXO], n;

        policy_config_defaults(&c);
        n = policy_recover(&c, &in, out, MAXO);
        ck_assert_uint_eq(n, ELEMENTSOF(expect));
        for (size_t i = 0; i < n; i++)
                ck_assert_uint_eq(out[i], expect[i]);
}
END_TEST

START_TEST(test_batch_caps) {
        PolicyConfig c;
        HeldProcess held[12];
        RecoveryInput in = input(held, ELEMENTSOF(held), 12 * 1024);
        size_t out[MAXO], n, thaws = 0, restores = 0;

        policy_config_defaults(&c);
        for (size_t i = 0; i < 8; i++)
                held[i] = frozen((pid_t) (1 + i), 60 + (int) i, 50, 60 * SEC);
        for (size_t i = 8; i < 12; i++)
                held[i] = checkpointed((pid_t) (1 + i), 30 + (int) i, 50, 60 * SEC, 0);

        n = policy_recover(&c, &in, out, MAXO);
        for (size_t i = 0; i < n; i++) {
                if (held[out[i]].kind == HELD_FROZEN)
                        thaws++;
                else
                        restores++;
        }
        ck_assert_uint_eq(thaws, 4);
        ck_assert_uint_eq(restores, 1);
        ck_assert_uint_eq(out[0], 8);   /* the most important checkpoint comes first */

        c.thaw_batch = 2;
        c.restore_batch = 3;
        ck_assert_uint_eq(policy_recover(&c, &in, out, MAXO), 5);
        ck_assert_uint_eq(policy_recover(&c, &in, out, 2), 2);  /* and never past max */
}
END_TEST

/* Each one needs MemAvailable − what this batch already granted ≥ the reserve + its footprint. */
START_TEST(test_headroom_gate) {
        PolicyConfig c;
        HeldProcess held[] = {
                frozen(1, 60, 100, 60 * SEC),
                frozen(2, 61, 100, 60 * SEC),
                frozen(3, 62, 100, 60 * SEC),
        };
        RecoveryInput in = input(held, ELEMENTSOF(held), 0);
        uint64_t target;
        size_t out[MAXO];

        policy_config_defaults(&c);
        target = policy_thaw_reserve_kb(&c, in.mem.mem_total_kb);

        in.mem.mem_available_kb = target + 250 * MIB;   /* room for two */
        ck_assert_uint_eq(policy_recover(&c, &in, out, MAXO), 2);
        in.mem.mem_available_kb = target + 100 * MIB;   /* exactly one */
        ck_assert_uint_eq(policy_recover(&c, &in, out, MAXO), 1);
        ck_assert_uint_eq(out[0], 0);
        in.mem.mem_available_kb = target + 100 * MIB - 1;
        ck_assert_uint_eq(policy_recover(&c, &in, out, MAXO), 0);
        in.mem.mem_available_kb = target / 2;           /* below the reserve itself */
        ck_assert_uint_eq(policy_recover(&c, &in, out, MAXO), 0);

        /* the reserve is half the plan's target: a machine that settled just below the target
         * without stall still gets its frozen processes back */
        ck_assert_uint_eq(target, policy_target_available_kb(&c, in.mem.mem_total_kb) / 2);
        in.mem.mem_available_kb = policy_target_available_kb(&c, in.mem.mem_total_kb) - 1;
        ck_assert_uint_ge(policy_recover(&c, &in, out, MAXO), 1);
}
END_TEST

/* A process that does not fit is skipped, not a barrier: smaller ones behind it still come back. */
START_TEST(test_headroom_skips_misfit) {
        PolicyConfig c;
        HeldProcess held[] = {
                frozen(1, 40, 6000, 60 * SEC),
                frozen(2, 70, 100, 60 * SEC),
        };
        RecoveryInput in = input(held, ELEMENTSOF(held), 0);
        size_t out[MAXO];

        policy_config_defaults(&c);
        in.mem.mem_available_kb = policy_thaw_reserve_kb(&c, in.mem.mem_total_kb) + 500 * MIB;
        ck_assert_uint_eq(policy_recover(&c, &in, out, MAXO), 1);
        ck_assert_uint_eq(out[0], 1);
}
END_TEST

START_TEST(test_restore_failures_skipped) {
        PolicyConfig c;
        HeldProcess held[] = {
                checkpointed(1, 30, 100, 60 * SEC, 3),
                checkpointed(2, 40, 100, 60 * SEC, 7),
                checkpointed(3, 50, 100, 60 * SEC, 2),
        };
        RecoveryInput in = input(held, ELEMENTSOF(held), 12 * 1024);
        size_t out[MAXO];

        policy_config_defaults(&c);
        ck_assert_uint_eq(policy_recover(&c, &in, out, MAXO), 1);
        ck_assert_uint_eq(out[0], 2);
        held[2].restore_failures = POLICY_RESTORE_FAILURES_MAX;
        ck_assert_uint_eq(policy_recover(&c, &in, out, MAXO), 0);
}
END_TEST

static Suite *policy_recover_suite(void) {
        Suite *s = suite_create("policy-recover");
        TCase *tc = tcase_create("recover");

        tcase_add_test(tc, test_only_at_normal);
        tcase_add_test(tc, test_min_frozen_age);
        tcase_add_test(tc, test_order);
        tcase_add_test(tc, test_batch_caps);
        tcase_add_test(tc, test_headroom_gate);
        tcase_add_test(tc, test_headroom_skips_misfit);
        tcase_add_test(tc, test_restore_failures_skipped);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(policy_recover_suite)
