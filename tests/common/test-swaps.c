/* SPDX-License-Identifier: GPL-2.0-only */
/* /proc/swaps, the zram path rule, zram's mm_stat. */

#include <check.h>
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "common/readers.h"
#include "tests/check-main.h"
#include "tests/common/fixture.h"

START_TEST(test_swaps_ok) {
        char root[PATH_MAX];
        SwapDevice d[SWAPS_MAX];
        size_t n = 0;

        fixture_path(root, sizeof root, "scan/proc");
        ck_assert_int_eq(swaps_read(root, d, ELEMENTSOF(d), &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(d[0].path, "/dev/zram0");
        ck_assert_str_eq(d[0].type, "partition");
        ck_assert_uint_eq(d[0].size_kb, 1048572);
        ck_assert_uint_eq(d[0].used_kb, 2048);
        ck_assert_int_eq(d[0].priority, 100);
        ck_assert(d[0].is_zram);
        ck_assert_uint_eq(d[0].zram_index, 0);
        /* The kernel escapes a space in the path as \040. */
        ck_assert_str_eq(d[1].path, "/swap file");
        ck_assert_str_eq(d[1].type, "file");
        ck_assert_int_eq(d[1].priority, -2);
        ck_assert(!d[1].is_zram);
        ck_assert(d[2].is_zram);
        ck_assert_uint_eq(d[2].zram_index, 12);
}
END_TEST

START_TEST(test_swaps_lookalikes) {
        char buf[4096];
        SwapDevice d[8];
        size_t n = 0;

        fixture_load("swaps/ok-lookalikes", buf, sizeof buf);
        ck_assert_int_eq(swaps_parse(buf, d, ELEMENTSOF(d), &n), 0);
        ck_assert_uint_eq(n, 5);
        for (size_t i = 0; i < n; i++)
                ck_assert_msg(!d[i].is_zram, "%s taken for zram", d[i].path);
}
END_TEST

START_TEST(test_swaps_header_only_and_max) {
        char buf[4096];
        SwapDevice d[2];
        size_t n = 99;

        fixture_load("swaps/ok-header-only", buf, sizeof buf);
        ck_assert_int_eq(swaps_parse(buf, d, ELEMENTSOF(d), &n), 0);
        ck_assert_uint_eq(n, 0);
        fixture_load("swaps/ok", buf, sizeof buf);
        ck_assert_int_eq(swaps_parse(buf, d, 2, &n), -E2BIG);
}
END_TEST

static const struct {
        const char *path;
        int r;
        unsigned index;
} zram_paths[] = {
        { "/dev/zram0", 0, 0 },
        { "/dev/zram7", 0, 7 },
        { "/dev/zram4294967295", 0, 4294967295u },
        { "/dev/zram4294967296", -ERANGE, 0 },
        { "/dev/zram", -EINVAL, 0 },
        { "/dev/zram0x", -EINVAL, 0 },
        { "/dev/zram01", -EINVAL, 0 },
        { "/dev/zram-1", -EINVAL, 0 },
        { "/dev/zram 1", -EINVAL, 0 },
        { "/tmp/dev/zram0", -EINVAL, 0 },
        { "dev/zram0", -EINVAL, 0 },
        { "/dev/zram0/", -EINVAL, 0 },
        { "/dev/zramfoo", -EINVAL, 0 },
};

START_TEST(test_zram_path_index) {
        unsigned idx = 12345;
        int r = zram_path_index(zram_paths[_i].path, &idx);

        ck_assert_msg(r == zram_paths[_i].r, "%s: got %d", zram_paths[_i].path, r);
        ck_assert_uint_eq(idx, r == 0 ? zram_paths[_i].index : 12345);
}
END_TEST

static const struct {
        const char *name;
        int r;
} bad_swaps[] = {
        { "swaps/bad-empty", -EINVAL },
        { "swaps/bad-no-header", -EINVAL },
        { "swaps/bad-garbage-header", -EINVAL },
        { "swaps/bad-missing-priority", -EINVAL },
        { "swaps/bad-size-overflow", -ERANGE },
        { "swaps/bad-negative-used", -EINVAL },
        { "swaps/bad-priority-overflow", -ERANGE },
        { "swaps/bad-unknown-type", -EINVAL },
        { "swaps/bad-used-above-size", -EINVAL },
        { "swaps/bad-trailing-junk", -EINVAL },
        { "swaps/bad-bad-escape", -EINVAL },
        { "swaps/bad-no-newline", -EINVAL },
        { "swaps/bad-path-too-long", -ENAMETOOLONG },
};

START_TEST(test_swaps_malformed) {
        char buf[4096];
        SwapDevice d[4];
        size_t n = 77;
        int r;

        fixture_load(bad_swaps[_i].name, buf, sizeof buf);
        r = swaps_parse(buf, d, ELEMENTSOF(d), &n);
        ck_assert_msg(r == bad_swaps[_i].r, "%s: got %d, want %d", bad_swaps[_i].name, r, bad_swaps[_i].r);
        ck_assert_uint_eq(n, 77);
}
END_TEST

static const struct {
        const char *name;
        unsigned n;
} good_mm[] = {
        { "mm_stat/ok-7", 7 },
        { "mm_stat/ok-8", 8 },
        { "mm_stat/ok-9", 9 },
};

START_TEST(test_mm_stat_ok) {
        char buf[512];
        ZramMmStat z;

        fixture_load(good_mm[_i].name, buf, sizeof buf);
        ck_assert_int_eq(zram_mm_stat_parse(buf, &z), 0);
        ck_assert_uint_eq(z.n_fields, good_mm[_i].n);
        ck_assert_uint_eq(z.orig_data_size, 4096000);
        ck_assert_uint_eq(z.compr_data_size, 1024000);
        ck_assert_uint_eq(z.mem_used_total, 1200000);
        ck_assert_uint_eq(z.mem_limit, 0);
        ck_assert_uint_eq(z.mem_used_max, 1300000);
        ck_assert_uint_eq(z.same_pages, 10);
        ck_assert_uint_eq(z.pages_compacted, 3);
        ck_assert_uint_eq(z.huge_pages, good_mm[_i].n >= 8 ? 2 : 0);
        ck_assert_uint_eq(z.huge_pages_since, good_mm[_i].n >= 9 ? 7 : 0);
}
END_TEST

START_TEST(test_mm_stat_read) {
        char root[PATH_MAX];
        ZramMmStat z;

        fixture_path(root, sizeof root, "sys");
        ck_assert_int_eq(zram_mm_stat_read(root, 0, &z), 0);
        ck_assert_uint_eq(z.n_fields, 9);
        ck_assert_int_eq(zram_mm_stat_read(root, 1, &z), -ENOENT);
}
END_TEST

static const struct {
        const char *name;
        int r;
} bad_mm[] = {
        { "mm_stat/bad-empty", -EINVAL },
        { "mm_stat/bad-six-fields", -EINVAL },
        { "mm_stat/bad-ten-fields", -EINVAL },
        { "mm_stat/bad-overflow", -ERANGE },
        { "mm_stat/bad-negative", -EINVAL },
        { "mm_stat/bad-garbage", -EINVAL },
        { "mm_stat/bad-no-newline", -EINVAL },
        { "mm_stat/bad-two-lines", -EINVAL },
        { "mm_stat/bad-tab-junk", -EINVAL },
};

START_TEST(test_mm_stat_malformed) {
        char buf[512];
        ZramMmStat z, before;
        int r;

        fixture_load(bad_mm[_i].name, buf, sizeof buf);
        memset(&z, 0x5a, sizeof z);
        before = z;
        r = zram_mm_stat_parse(buf, &z);
        ck_assert_msg(r == bad_mm[_i].r, "%s: got %d, want %d", bad_mm[_i].name, r, bad_mm[_i].r);
        ck_assert(memcmp(&z, &before, sizeof z) == 0);
}
END_TEST

static Suite *swaps_suite(void) {
        Suite *s = suite_create("swaps");
        TCase *tc = tcase_create("swaps");

        tcase_add_test(tc, test_swaps_ok);
        tcase_add_test(tc, test_swaps_lookalikes);
        tcase_add_test(tc, test_swaps_header_only_and_max);
        tcase_add_loop_test(tc, test_zram_path_index, 0, ELEMENTSOF(zram_paths));
        tcase_add_loop_test(tc, test_swaps_malformed, 0, ELEMENTSOF(bad_swaps));
        tcase_add_loop_test(tc, test_mm_stat_ok, 0, ELEMENTSOF(good_mm));
        tcase_add_test(tc, test_mm_stat_read);
        tcase_add_loop_test(tc, test_mm_stat_malformed, 0, ELEMENTSOF(bad_mm));
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(swaps_suite)
