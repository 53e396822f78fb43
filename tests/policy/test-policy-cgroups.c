/* SPDX-License-Identifier: GPL-2.0-only */
/* The cgroup actuators' decisions: which cgroup gets which setting at which level. */

#include "tests/check-main.h"
#include "tests/policy/policy-test.h"

static CgroupView view(int prio) {
        return (CgroupView) { .min_priority = prio, .n = 1, .kb = 200 * MIB };
}

START_TEST(test_acts_by_level_and_tier) {
        static const struct {
                int prio;
                Level level;
                unsigned want;
        } t[] = {
                { 50, LEVEL_NORMAL, 0 },
                { 50, LEVEL_ELEVATED, CG_THROTTLE },
                { 49, LEVEL_ELEVATED, 0 },              /* protected work: never throttled */
                { 55, LEVEL_HIGH, CG_THROTTLE },        /* normal background: no quota, no cap */
                { 60, LEVEL_ELEVATED, CG_THROTTLE },
                { 60, LEVEL_HIGH, CG_THROTTLE | CG_QUOTA | CG_MEMCAP },
                { 85, LEVEL_EMERGENCY, CG_THROTTLE | CG_QUOTA | CG_MEMCAP },
                { 10, LEVEL_EMERGENCY, 0 },
                { -1, LEVEL_EMERGENCY, 0 },             /* a protected process inside */
        };
        PolicyConfig c;

        policy_config_defaults(&c);
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                CgroupView v = view(t[i].prio);

                ck_assert_msg(policy_cgroup_acts(&c, t[i].level, &v) == t[i].want, "case %zu", i);
        }
}
END_TEST

START_TEST(test_acts_never_for) {
        PolicyConfig c;
        CgroupView v;

        policy_config_defaults(&c);
        v = view(85);
        v.foreground = true;
        ck_assert_uint_eq(policy_cgroup_acts(&c, LEVEL_HIGH, &v), 0);
        v = view(85);
        v.build = true;
        ck_assert_uint_eq(policy_cgroup_acts(&c, LEVEL_HIGH, &v), 0);
        v = view(85);
        v.frozen = true;
        ck_assert_uint_eq(policy_cgroup_acts(&c, LEVEL_HIGH, &v), 0);
        v = view(85);
        v.n = 0;
        ck_assert_uint_eq(policy_cgroup_acts(&c, LEVEL_HIGH, &v), 0);
        /* the switches */
        v = view(85);
        c.throttle = false;
        ck_assert_uint_eq(policy_cgroup_acts(&c, LEVEL_HIGH, &v), CG_MEMCAP);
        c.memory_caps = false;
        ck_assert_uint_eq(policy_cgroup_acts(&c, LEVEL_HIGH, &v), 0);
}
END_TEST

START_TEST(test_idle_reclaim) {
        PolicyConfig c;
        MemFigures mem = test_mem(8000);
        CgroupView v = view(52);
        usec_t idle;

        policy_config_defaults(&c);
        idle = c.idle_reclaim_after_usec;
        /* 20 % of 200 MiB */
        ck_assert_uint_eq(policy_idle_reclaim_bytes(&c, LEVEL_NORMAL, &v, idle, 200 * MIB, &mem), 40 * MIB * 1024);
        ck_assert_uint_eq(policy_idle_reclaim_bytes(&c, LEVEL_NORMAL, &v, idle - 1, 200 * MIB, &mem), 0);
        ck_assert_uint_eq(policy_idle_reclaim_bytes(&c, LEVEL_ELEVATED, &v, idle, 200 * MIB, &mem), 0);
        ck_assert_uint_eq(policy_idle_reclaim_bytes(&c, LEVEL_NORMAL, &v, idle, 40 * MIB, &mem), 0);
        /* swap more than 60 % used: nowhere to put anonymous pages */
        mem.swap_total_kb = 1000 * MIB;
        mem.swap_free_kb = 300 * MIB;
        ck_assert_uint_eq(policy_idle_reclaim_bytes(&c, LEVEL_NORMAL, &v, idle, 200 * MIB, &mem), 0);
        mem.swap_free_kb = 500 * MIB;
        ck_assert_uint_gt(policy_idle_reclaim_bytes(&c, LEVEL_NORMAL, &v, idle, 200 * MIB, &mem), 0);
        /* never protected work, the foreground or a frozen app (reclaimed when it was frozen) */
        v = view(45);
        ck_assert_uint_eq(policy_idle_reclaim_bytes(&c, LEVEL_NORMAL, &v, idle, 200 * MIB, &mem), 0);
        v = view(52);
        v.foreground = true;
        ck_assert_uint_eq(policy_idle_reclaim_bytes(&c, LEVEL_NORMAL, &v, idle, 200 * MIB, &mem), 0);
        v = view(52);
        v.frozen = true;
        ck_assert_uint_eq(policy_idle_reclaim_bytes(&c, LEVEL_NORMAL, &v, idle, 200 * MIB, &mem), 0);
        c.idle_reclaim = false;
        v = view(52);
        ck_assert_uint_eq(policy_idle_reclaim_bytes(&c, LEVEL_NORMAL, &v, idle, 200 * MIB, &mem), 0);
}
END_TEST

START_TEST(test_cache_drop) {
        PolicyConfig c;
        CgroupView v = view(70);
        usec_t idle;

        policy_config_defaults(&c);
        idle = c.idle_reclaim_after_usec;
        ck_assert_uint_eq(policy_cache_drop_bytes(&c, LEVEL_HIGH, &v, 0, 40 * 1024), 40ULL << 20);
        ck_assert_uint_eq(policy_cache_drop_bytes(&c, LEVEL_CRITICAL, &v, 0, 40 * 1024), 40ULL << 20);
        ck_assert_uint_eq(policy_cache_drop_bytes(&c, LEVEL_ELEVATED, &v, idle, 40 * 1024), 0);
        ck_assert_uint_eq(policy_cache_drop_bytes(&c, LEVEL_NORMAL, &v, idle, 40 * 1024), 0);
        v = view(52);           /* background: only once idle */
        ck_assert_uint_eq(policy_cache_drop_bytes(&c, LEVEL_HIGH, &v, 0, 40 * 1024), 0);
        ck_assert_uint_eq(policy_cache_drop_bytes(&c, LEVEL_HIGH, &v, idle, 40 * 1024), 40ULL << 20);
        v = view(35);           /* important work: never */
        ck_assert_uint_eq(policy_cache_drop_bytes(&c, LEVEL_HIGH, &v, idle, 40 * 1024), 0);
        v = view(70);
        v.foreground = true;
        ck_assert_uint_eq(policy_cache_drop_bytes(&c, LEVEL_HIGH, &v, idle, 40 * 1024), 0);
        v = view(70);
        v.frozen = true;        /* freeze_reclaim's */
        ck_assert_uint_eq(policy_cache_drop_bytes(&c, LEVEL_HIGH, &v, idle, 40 * 1024), 0);
        v = view(-1);
        ck_assert_uint_eq(policy_cache_drop_bytes(&c, LEVEL_EMERGENCY, &v, idle, 40 * 1024), 0);
        v = view(70);
        c.cache_drop = false;
        ck_assert_uint_eq(policy_cache_drop_bytes(&c, LEVEL_HIGH, &v, idle, 40 * 1024), 0);
}
END_TEST

static Suite *policy_cgroups_suite(void) {
        Suite *s = suite_create("policy-cgroups");
        TCase *tc = tcase_create("cgroups");

        tcase_add_test(tc, test_acts_by_level_and_tier);
        tcase_add_test(tc, test_acts_never_for);
        tcase_add_test(tc, test_idle_reclaim);
        tcase_add_test(tc, test_cache_drop);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(policy_cgroups_suite)
