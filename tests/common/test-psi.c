/* SPDX-License-Identifier: GPL-2.0-only */
/* PSI files: /proc/pressure/<resource> and a cgroup's memory.pressure share one format. */

#include <check.h>
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "common/readers.h"
#include "tests/check-main.h"
#include "tests/common/fixture.h"

static const char *root(void) {
        static char path[PATH_MAX];

        fixture_path(path, sizeof path, "");
        return path;
}

START_TEST(test_psi_memory) {
        PsiStats s;

        ck_assert_int_eq(psi_read_system(root(), "memory", &s), 0);
        ck_assert(s.some.avg10 == 1.25 && s.some.avg60 == 0.50 && s.some.avg300 == 0.10);
        ck_assert_uint_eq(s.some.total_usec, 123456);
        ck_assert(s.has_full);
        ck_assert(s.full.avg10 == 0.75 && s.full.avg60 == 0.25 && s.full.avg300 == 0.05);
        ck_assert_uint_eq(s.full.total_usec, 65432);
}
END_TEST

START_TEST(test_psi_cpu_without_full) {
        PsiStats s;

        /* Older kernels have no "full" line for cpu; that is not an error. */
        ck_assert_int_eq(psi_read_system(root(), "cpu-nofull", &s), 0);
        ck_assert(!s.has_full);
        ck_assert(s.some.avg10 == 12.34 && s.some.avg300 == 100.0);
        ck_assert_uint_eq(s.some.total_usec, UINT64_MAX);
}
END_TEST

START_TEST(test_psi_read_path) {
        char path[PATH_MAX];
        PsiStats s;

        fixture_path(path, sizeof path, "pressure/memory");
        ck_assert_int_eq(psi_read(path, &s), 0);
        ck_assert_uint_eq(s.full.total_usec, 65432);
        fixture_path(path, sizeof path, "pressure/absent");
        ck_assert_int_eq(psi_read(path, &s), -ENOENT);
        /* The resource is a file name, not a path. */
        ck_assert_int_eq(psi_read_system(root(), "../meminfo/ok", &s), -EINVAL);
        ck_assert_int_eq(psi_read_system(root(), "", &s), -EINVAL);
}
END_TEST

static const struct {
        const char *name;
        int r;
} bad[] = {
        { "bad-empty", -EINVAL },
        { "bad-full-first", -EINVAL },
        { "bad-full-only", -EINVAL },
        { "bad-dup-some", -EINVAL },
        { "bad-dup-full", -EINVAL },
        { "bad-truncated-line", -EINVAL },
        { "bad-no-newline", -EINVAL },
        { "bad-garbage", -EINVAL },
        { "bad-unknown-line", -EINVAL },
        { "bad-total-overflow", -ERANGE },
        { "bad-total-negative", -EINVAL },
        { "bad-avg-over-100", -ERANGE },
        { "bad-avg-negative", -EINVAL },
        { "bad-avg-hex", -EINVAL },
        { "bad-avg-nan", -EINVAL },
        { "bad-trailing-junk", -EINVAL },
        { "bad-missing-field", -EINVAL },
        { "bad-space-before-number", -EINVAL },
};

START_TEST(test_psi_malformed) {
        PsiStats s, before;
        int r;

        memset(&s, 0x5a, sizeof s);
        before = s;
        r = psi_read_system(root(), bad[_i].name, &s);
        ck_assert_msg(r == bad[_i].r, "%s: got %d (%s), want %d", bad[_i].name, r, strerror(-r), bad[_i].r);
        ck_assert_msg(memcmp(&s, &before, sizeof s) == 0, "%s: output was modified", bad[_i].name);
}
END_TEST

static Suite *psi_suite(void) {
        Suite *s = suite_create("psi");
        TCase *tc = tcase_create("psi");

        tcase_add_test(tc, test_psi_memory);
        tcase_add_test(tc, test_psi_cpu_without_full);
        tcase_add_test(tc, test_psi_read_path);
        tcase_add_loop_test(tc, test_psi_malformed, 0, ELEMENTSOF(bad));
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(psi_suite)
