/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * common/statefile.c: what a state directory may hold instead of a state file (a FIFO, a
 * directory, a link, a file of another user, a huge one) is refused at once, never waited on or
 * followed, and statefile_quarantine() moves it aside without replacing an earlier one.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/statefile.h"
#include "tests/check-main.h"

static char dir[PATH_MAX], path[PATH_MAX + 32];

static void setup(void) {
        snprintf(dir, sizeof dir, "/tmp/mgd-statefile-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/registry", dir);
}

static void teardown(void) {
        char cmd[PATH_MAX + 16];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

static void put(const char *p, const char *text) {
        FILE *f = fopen(p, "we");

        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_regular_file_reads) {
        char buf[64];
        size_t len = 0;

        put(path, "mgd-registry 1\n");
        ck_assert_int_eq(statefile_read(path, buf, sizeof buf, &len), 0);
        ck_assert_str_eq(buf, "mgd-registry 1\n");
        ck_assert_uint_eq(len, 15);
        ck_assert_int_eq(statefile_read(path, buf, 10, &len), -EFBIG);
        unlink(path);
        ck_assert_int_eq(statefile_read(path, buf, sizeof buf, &len), -ENOENT);
}
END_TEST

/* Without O_NONBLOCK the open() waits for a writer forever: the case's 5 s timeout fails it. */
START_TEST(test_fifo_is_refused_at_once) {
        char buf[64], *text = NULL;

        ck_assert_int_eq(mkfifo(path, 0600), 0);
        ck_assert_int_eq(statefile_read(path, buf, sizeof buf, NULL), -EBADFD);
        ck_assert_int_eq(statefile_read_alloc(path, 1024, &text, NULL), -EBADFD);
        ck_assert_ptr_null(text);
        ck_assert_ptr_nonnull(strstr(statefile_strerror(-EBADFD), "FIFO"));
}
END_TEST

START_TEST(test_directory_link_and_size) {
        char buf[64], target[PATH_MAX + 32], *text = NULL;

        ck_assert_int_eq(mkdir(path, 0700), 0);
        ck_assert_int_eq(statefile_read(path, buf, sizeof buf, NULL), -EISDIR);
        ck_assert_int_eq(rmdir(path), 0);

        snprintf(target, sizeof target, "%s/elsewhere", dir);
        put(target, "mgd-registry 1\n");
        ck_assert_int_eq(symlink(target, path), 0);
        ck_assert_int_eq(statefile_read(path, buf, sizeof buf, NULL), -ELOOP);
        ck_assert_int_eq(unlink(path), 0);

        put(path, "0123456789");
        ck_assert_int_eq(statefile_read_alloc(path, 9, &text, NULL), -EFBIG);
        ck_assert_int_eq(statefile_read_alloc(path, 10, &text, NULL), 0);
        ck_assert_str_eq(text, "0123456789");
        free(text);
}
END_TEST

START_TEST(test_other_owner_is_refused) {
        char buf[64];

        put(path, "mgd-registry 1\n");
        if (geteuid() != 0)
                MGD_SKIP("chown to another user needs root");
        ck_assert_int_eq(chown(path, 65534, 65534), 0);
        ck_assert_int_eq(statefile_read(path, buf, sizeof buf, NULL), -EPERM);
        ck_assert_int_eq(statefile_open(path, 65534, 64) >= 0, 1);
}
END_TEST

START_TEST(test_quarantine_never_replaces) {
        char aside[PATH_MAX], aside2[PATH_MAX], want[PATH_MAX + 64];
        struct stat st;

        ck_assert_int_eq(mkfifo(path, 0600), 0);
        ck_assert_int_eq(statefile_quarantine(path, 1234, aside, sizeof aside), 0);
        snprintf(want, sizeof want, "%s.corrupt-1234", path);
        ck_assert_str_eq(aside, want);
        ck_assert_int_eq(lstat(aside, &st), 0);
        ck_assert(S_ISFIFO(st.st_mode));
        ck_assert_int_eq(access(path, F_OK), -1);

        /* the same second again: a new name, the first one stays */
        ck_assert_int_eq(mkdir(path, 0700), 0);
        ck_assert_int_eq(statefile_quarantine(path, 1234, aside2, sizeof aside2), 0);
        snprintf(want, sizeof want, "%s.corrupt-1234.1", path);
        ck_assert_str_eq(aside2, want);
        ck_assert_int_eq(lstat(aside, &st), 0);
        ck_assert(S_ISFIFO(st.st_mode));
        ck_assert_int_eq(statefile_quarantine(path, 1234, NULL, 0), -ENOENT);
}
END_TEST

static Suite *statefile_suite(void) {
        Suite *s = suite_create("statefile");
        TCase *tc = tcase_create("statefile");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 5);
        tcase_add_test(tc, test_regular_file_reads);
        tcase_add_test(tc, test_fifo_is_refused_at_once);
        tcase_add_test(tc, test_directory_link_and_size);
        tcase_add_test(tc, test_other_owner_is_refused);
        tcase_add_test(tc, test_quarantine_never_replaces);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(statefile_suite)
