/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The write-ahead record of a freeze is durable: registry_persist_ahead() fsyncs registry.tmp
 * before the rename and the state directory after it, so a power cut during a first freeze
 * cannot leave an empty registry behind. fsync() is wrapped (-Wl,--wrap=fsync) to count them.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/registry.h"
#include "tests/check-main.h"
#include "tests/daemon/exec-util.h"

int __real_fsync(int fd);
int __wrap_fsync(int fd);

static unsigned fsync_files, fsync_dirs;

int __wrap_fsync(int fd) {
        struct stat st;

        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
                fsync_files++;
        else if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
                fsync_dirs++;
        return __real_fsync(fd);
}

START_TEST(test_write_ahead_is_fsynced) {
        _cleanup_registry_ Registry *r = NULL;
        RegistryEntry e = {
                .pid = 4242, .starttime = 7, .priority = 60, .how = REGISTRY_SIGSTOP,
                .since_realtime = 1700000000, .name = "Web Content",
        };
        char dir[PATH_MAX];

        test_tmpdir(dir, sizeof dir);
        ck_assert_int_eq(registry_new(dir, &r), 0);
        ck_assert_int_eq(registry_add(r, &e), 0);
        fsync_files = fsync_dirs = 0;
        ck_assert_int_eq(registry_persist_ahead(r), 1);
        ck_assert_uint_eq(fsync_files, 1);
        ck_assert_uint_eq(fsync_dirs, 1);
        /* unchanged: nothing written, nothing synced */
        ck_assert_int_eq(registry_persist_ahead(r), 0);
        ck_assert_uint_eq(fsync_files + fsync_dirs, 2);
}
END_TEST

static Suite *durable_suite(void) {
        Suite *s = suite_create("registry-durable");
        TCase *tc = tcase_create("durable");

        tcase_add_checked_fixture(tc, NULL, test_cleanup);
        tcase_add_unchecked_fixture(tc, NULL, test_cleanup_tmp);
        tcase_add_test(tc, test_write_ahead_is_fsynced);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(durable_suite)
