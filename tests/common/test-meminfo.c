/* SPDX-License-Identifier: GPL-2.0-only */
/* /proc/meminfo and /proc/vmstat. */

#include <check.h>
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "common/readers.h"
#include "tests/check-main.h"
#include "tests/common/fixture.h"

START_TEST(test_meminfo_ok) {
        char root[PATH_MAX], buf[8192];
        MemInfo m;

        fixture_load("meminfo/ok", buf, sizeof buf);
        ck_assert_int_eq(meminfo_parse(buf, &m), 0);
        ck_assert_uint_eq(m.mem_total_kb, 24684084);
        ck_assert_uint_eq(m.mem_free_kb, 21000000);
        ck_assert_uint_eq(m.mem_available_kb, 22000000);
        ck_assert_uint_eq(m.buffers_kb, 1000);
        ck_assert_uint_eq(m.cached_kb, 900000);
        ck_assert_uint_eq(m.swap_cached_kb, 512);
        /* "Active(file)", not "Active" nor "Active(anon)". */
        ck_assert_uint_eq(m.active_file_kb, 300000);
        ck_assert_uint_eq(m.inactive_file_kb, 500000);
        ck_assert_uint_eq(m.anon_pages_kb, 480000);
        ck_assert_uint_eq(m.shmem_kb, 4000);
        ck_assert_uint_eq(m.swap_total_kb, 1048572);
        ck_assert_uint_eq(m.swap_free_kb, 1040000);
        /* The reader takes a proc root. */
        fixture_path(root, sizeof root, "scan/proc");
        memset(&m, 0, sizeof m);
        ck_assert_int_eq(meminfo_read(root, &m), 0);
        ck_assert_uint_eq(m.mem_total_kb, 24684084);
        fixture_path(root, sizeof root, "nonexistent");
        ck_assert_int_eq(meminfo_read(root, &m), -ENOENT);
}
END_TEST

static const struct {
        const char *name;
        int r;
} bad_meminfo[] = {
        { "meminfo/bad-empty", -EINVAL },
        { "meminfo/bad-missing-memtotal", -EINVAL },
        { "meminfo/bad-missing-memavailable", -EINVAL },
        { "meminfo/bad-missing-swapfree", -EINVAL },
        { "meminfo/bad-dup-memfree", -EINVAL },
        { "meminfo/bad-overflow", -ERANGE },
        { "meminfo/bad-negative", -EINVAL },
        { "meminfo/bad-no-unit", -EINVAL },
        { "meminfo/bad-garbage-line", -EINVAL },
        { "meminfo/bad-trailing-junk", -EINVAL },
        { "meminfo/bad-no-newline", -EINVAL },
        { "meminfo/bad-truncated-line", -EINVAL },
        { "meminfo/bad-hex", -EINVAL },
};

START_TEST(test_meminfo_malformed) {
        char buf[8192];
        MemInfo m, before;
        int r;

        fixture_load(bad_meminfo[_i].name, buf, sizeof buf);
        memset(&m, 0x5a, sizeof m);
        before = m;
        r = meminfo_parse(buf, &m);
        ck_assert_msg(r == bad_meminfo[_i].r, "%s: got %d, want %d", bad_meminfo[_i].name, r, bad_meminfo[_i].r);
        ck_assert(memcmp(&m, &before, sizeof m) == 0);
}
END_TEST

START_TEST(test_vmstat_ok) {
        char buf[8192];
        VmStat v;

        fixture_load("vmstat/ok", buf, sizeof buf);
        ck_assert_int_eq(vmstat_parse(buf, &v), 0);
        ck_assert_uint_eq(v.pswpin, 333);
        ck_assert_uint_eq(v.pswpout, 444);
        ck_assert_uint_eq(v.pgmajfault, 55);
        ck_assert_uint_eq(v.workingset_refault_anon, 11);
        ck_assert_uint_eq(v.workingset_refault_file, 22);
        /* kswapd + direct + khugepaged; proactive and the anon/file splits are not added again. */
        ck_assert_uint_eq(v.pgscan, 60);
        ck_assert_uint_eq(v.pgsteal, 6);
}
END_TEST

START_TEST(test_vmstat_old_refault) {
        char buf[8192];
        VmStat v;

        /* Before 5.9 one counter covered both; it lands in _file. */
        fixture_load("vmstat/ok-old-refault", buf, sizeof buf);
        ck_assert_int_eq(vmstat_parse(buf, &v), 0);
        ck_assert_uint_eq(v.workingset_refault_anon, 0);
        ck_assert_uint_eq(v.workingset_refault_file, 99);
}
END_TEST

START_TEST(test_vmstat_read) {
        char root[PATH_MAX];
        VmStat v;

        fixture_path(root, sizeof root, "scan/proc");
        ck_assert_int_eq(vmstat_read(root, &v), 0);
        ck_assert_uint_eq(v.pswpout, 444);
        fixture_path(root, sizeof root, "nonexistent");
        ck_assert_int_eq(vmstat_read(root, &v), -ENOENT);
}
END_TEST

static const struct {
        const char *name;
        int r;
} bad_vmstat[] = {
        { "vmstat/bad-empty", -EINVAL },
        { "vmstat/bad-missing-pswpin", -EINVAL },
        { "vmstat/bad-missing-pswpout", -EINVAL },
        { "vmstat/bad-dup-pswpout", -EINVAL },
        { "vmstat/bad-overflow", -ERANGE },
        { "vmstat/bad-negative", -EINVAL },
        { "vmstat/bad-garbage", -EINVAL },
        { "vmstat/bad-no-newline", -EINVAL },
        { "vmstat/bad-truncated-line", -EINVAL },
        { "vmstat/bad-trailing-junk", -EINVAL },
        { "vmstat/bad-mixed-refault", -EINVAL },
        { "vmstat/bad-pgscan-sum-overflow", -ERANGE },
};

START_TEST(test_vmstat_malformed) {
        char buf[8192];
        VmStat v, before;
        int r;

        fixture_load(bad_vmstat[_i].name, buf, sizeof buf);
        memset(&v, 0x5a, sizeof v);
        before = v;
        r = vmstat_parse(buf, &v);
        ck_assert_msg(r == bad_vmstat[_i].r, "%s: got %d, want %d", bad_vmstat[_i].name, r, bad_vmstat[_i].r);
        ck_assert(memcmp(&v, &before, sizeof v) == 0);
}
END_TEST

static Suite *meminfo_suite(void) {
        Suite *s = suite_create("meminfo");
        TCase *tc = tcase_create("meminfo");

        tcase_add_test(tc, test_meminfo_ok);
        tcase_add_loop_test(tc, test_meminfo_malformed, 0, ELEMENTSOF(bad_meminfo));
        tcase_add_test(tc, test_vmstat_ok);
        tcase_add_test(tc, test_vmstat_old_refault);
        tcase_add_test(tc, test_vmstat_read);
        tcase_add_loop_test(tc, test_vmstat_malformed, 0, ELEMENTSOF(bad_vmstat));
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(meminfo_suite)
