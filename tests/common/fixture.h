/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Shared by the common/ tests: where the fixtures are (meson passes FIXTURES=tests/fixtures),
 * loading one, and scratch trees under $TMPDIR for tests that need symlinks or edit files.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/readers.h"

static inline void fixture_path(char *buf, size_t size, const char *rel) {
        const char *root = getenv("FIXTURES");

        ck_assert_msg(root, "FIXTURES is not set (run through meson test)");
        ck_assert_int_lt(snprintf(buf, size, "%s/common/%s", root, rel), (int) size);
}

/* Read fixture rel into buf (NUL-terminated); fails the test if it cannot. */
static inline size_t fixture_load(const char *rel, char *buf, size_t size) {
        char path[PATH_MAX];
        size_t len = 0;
        int r;

        fixture_path(path, sizeof path, rel);
        r = read_small_file(path, buf, size, &len);
        ck_assert_msg(r == 0, "cannot read fixture %s: %s", path, strerror(-r));
        return len;
}

static inline void write_file(const char *path, const void *data, size_t len) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
        ck_assert_int_eq(write(fd, data, len), (ssize_t) len);
        ck_assert_int_eq(close(fd), 0);
}

static inline void write_text(const char *dir, const char *name, const char *text) {
        char path[PATH_MAX];

        ck_assert_int_lt(snprintf(path, sizeof path, "%s/%s", dir, name), (int) sizeof path);
        write_file(path, text, strlen(text));
}

/* A fresh directory under $TMPDIR (or /tmp); the caller frees the string. */
static inline char *tmptree_new(void) {
        const char *tmp = getenv("TMPDIR");
        char *dir;

        ck_assert_int_gt(asprintf(&dir, "%s/mgd-test-XXXXXX", tmp && *tmp ? tmp : "/tmp"), 0);
        ck_assert_msg(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
        return dir;
}

static inline int tmptree_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) ftw;
        return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static inline void tmptree_rm(char *dir) {
        if (!dir)
                return;
        (void) nftw(dir, tmptree_rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(dir);
}

static char fixture_copy_src[PATH_MAX], fixture_copy_dst[PATH_MAX];

static inline int fixture_copy_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        char target[PATH_MAX], buf[65536];
        size_t len;
        int r;

        (void) ftw;
        ck_assert_int_lt(snprintf(target, sizeof target, "%s%s", fixture_copy_dst,
                                  path + strlen(fixture_copy_src)), (int) sizeof target);
        if (flag == FTW_D)
                return mkdir(target, 0755) < 0 && errno != EEXIST ? -1 : 0;
        ck_assert_msg(flag == FTW_F && S_ISREG(st->st_mode), "unexpected fixture entry %s", path);
        r = read_small_file(path, buf, sizeof buf, &len);
        ck_assert_msg(r == 0, "read %s: %s", path, strerror(-r));
        write_file(target, buf, len);
        return 0;
}

/* Copy the fixture directory rel into dst (regular files and directories only). */
static inline void fixture_copy(const char *rel, const char *dst) {
        fixture_path(fixture_copy_src, sizeof fixture_copy_src, rel);
        ck_assert_int_lt(snprintf(fixture_copy_dst, sizeof fixture_copy_dst, "%s", dst),
                         (int) sizeof fixture_copy_dst);
        ck_assert_int_eq(nftw(fixture_copy_src, fixture_copy_one, 16, FTW_PHYS), 0);
}
