/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The registry table and its file, in a private temporary directory: add/remove/find, the
 * atomic write, "rewrite only when changed", and loading damaged files.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/registry.h"
#include "tests/check-main.h"
#include "tests/daemon/exec-util.h"

static char dir[PATH_MAX];
static char file[PATH_MAX + 16];

static void setup(void) {
        test_tmpdir(dir, sizeof(dir));
        /* A state dir that does not exist yet: persist must create it. */
        strcat(dir, "/state/mgd");
        snprintf(file, sizeof(file), "%s/registry", dir);
}

static RegistryEntry entry(pid_t pid, uint64_t starttime, const char *name) {
        RegistryEntry e = {
                .pid = pid,
                .starttime = starttime,
                .priority = 60,
                .footprint_kb = 1000 + (uint64_t) pid,
                .how = REGISTRY_SIGSTOP,
                .since_realtime = 1700000000,
        };

        snprintf(e.name, sizeof(e.name), "%s", name);
        return e;
}

static void write_file(const char *text) {
        char cmd[PATH_MAX * 2];
        FILE *f;

        snprintf(cmd, sizeof(cmd), "%s", dir);
        for (char *p = cmd + 1; *p; p++)
                if (*p == '/') {
                        *p = '\0';
                        (void) mkdir(cmd, 0700);
                        *p = '/';
                }
        (void) mkdir(dir, 0700);
        f = fopen(file, "we");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
}

static char *read_file(void) {
        static char buf[65536];
        FILE *f = fopen(file, "re");
        size_t n;

        ck_assert_ptr_nonnull(f);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        return buf;
}

static bool exists(const char *name) {
        char p[PATH_MAX + 32];

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        return access(p, F_OK) == 0;
}

START_TEST(test_round_trip) {
        _cleanup_registry_ Registry *r = NULL, *r2 = NULL;
        RegistryEntry e = entry(300, 9000, "Web Content");
        RegistryEntry c = entry(301, 9001, "gimp");
        struct stat st;

        ck_assert_int_eq(registry_new(dir, &r), 0);
        ck_assert_str_eq(registry_dir(r), dir);
        ck_assert_int_eq(registry_add(r, &e), 0);
        c.how = REGISTRY_CGROUP;
        strcpy(c.cgroup, "/user.slice/app-gimp-1.scope");
        ck_assert_int_eq(registry_add(r, &c), 0);
        c = entry(302, 9002, "recent");
        c.since_realtime = (uint64_t) time(NULL) - 5;
        ck_assert_int_eq(registry_add(r, &c), 0);
        ck_assert_int_eq(registry_persist(r), 1);

        /* Created 0700 / 0600; nothing temporary left. */
        ck_assert_int_eq(stat(dir, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0700);
        ck_assert_int_eq(stat(file, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0600);
        ck_assert(!exists("registry.tmp"));
        ck_assert_ptr_eq(strstr(read_file(), "mgd-registry 1\n"), read_file());

        ck_assert_int_eq(registry_new(dir, &r2), 0);
        ck_assert_int_eq(registry_load(r2, NULL, NULL), 0);
        ck_assert_uint_eq(registry_size(r2), 3);
        ck_assert_str_eq(registry_find_pid(r2, 300)->name, "Web Content");
        ck_assert_uint_eq(registry_find_pid(r2, 300)->footprint_kb, 1300);
        ck_assert_int_eq(registry_find_pid(r2, 301)->how, REGISTRY_CGROUP);
        ck_assert_str_eq(registry_find_pid(r2, 301)->cgroup, "/user.slice/app-gimp-1.scope");
        ck_assert_uint_eq(registry_find_pid(r2, 301)->since_realtime, 1700000000);
        /* The monotonic time is derived from the wall clock: 2023 is before this boot (0), and
         * five seconds ago is five seconds ago. */
        ck_assert_uint_eq(registry_find_pid(r2, 301)->since, 0);
        ck_assert_uint_le(registry_find_pid(r2, 302)->since + 4 * USEC_PER_SEC, test_now());
        ck_assert_uint_ge(registry_find_pid(r2, 302)->since + 7 * USEC_PER_SEC, test_now());
        /* Just loaded, unchanged: no rewrite. */
        ck_assert_int_eq(registry_persist(r2), 0);
}
END_TEST

/* A hard link planted as registry.tmp (or history.tmp) to someone's file is never written through. */
START_TEST(test_planted_hard_link_is_not_followed) {
        _cleanup_registry_ Registry *r = NULL;
        RegistryEntry a = entry(10, 1, "a");
        char victim[PATH_MAX + 32], tmp[PATH_MAX + 32], buf[64] = "";
        struct stat st;
        FILE *f;

        write_file("mgd-registry 1\n");
        snprintf(victim, sizeof(victim), "%s/../victim", dir);
        f = fopen(victim, "we");
        ck_assert_ptr_nonnull(f);
        fputs("root:x:0:0\n", f);
        fclose(f);
        ck_assert_int_eq(chmod(victim, 0644), 0);
        snprintf(tmp, sizeof(tmp), "%s/registry.tmp", dir);
        ck_assert_int_eq(link(victim, tmp), 0);

        ck_assert_int_eq(registry_new(dir, &r), 0);
        ck_assert_int_eq(registry_add(r, &a), 0);
        ck_assert_int_eq(registry_persist(r), 1);
        ck_assert_ptr_nonnull(strstr(read_file(), "pid=10 "));

        snprintf(tmp, sizeof(tmp), "%s/history.tmp", dir);
        ck_assert_int_eq(link(victim, tmp), 0);
        ck_assert_int_eq(write_file_atomic(dir, "history", "x\n", 2, 0600), 0);

        f = fopen(victim, "re");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
        fclose(f);
        ck_assert_str_eq(buf, "root:x:0:0\n");
        ck_assert_int_eq(stat(victim, &st), 0);
        ck_assert_uint_eq(st.st_nlink, 1);      /* both links are gone, the file is untouched */
        ck_assert_uint_eq(st.st_mode & 0777, 0644);     /* and not chmod'ed to 0600 */
}
END_TEST

START_TEST(test_unchanged_content_is_not_rewritten) {
        _cleanup_registry_ Registry *r = NULL;
        RegistryEntry a = entry(10, 1, "a"), b = entry(11, 2, "b");
        struct stat s1, s2, s3;

        ck_assert_int_eq(registry_new(dir, &r), 0);
        ck_assert_int_eq(registry_add(r, &a), 0);
        ck_assert_int_eq(registry_persist(r), 1);
        ck_assert_int_eq(stat(file, &s1), 0);

        usleep(20 * 1000);
        ck_assert_int_eq(registry_persist(r), 0);
        /* A change that is undone before the next persist is no change. */
        ck_assert_int_eq(registry_add(r, &b), 0);
        ck_assert_int_eq(registry_remove(r, 11, 2), 0);
        ck_assert_int_eq(registry_persist(r), 0);
        ck_assert_int_eq(stat(file, &s2), 0);
        ck_assert_uint_eq(s1.st_ino, s2.st_ino);
        ck_assert(s1.st_mtim.tv_sec == s2.st_mtim.tv_sec && s1.st_mtim.tv_nsec == s2.st_mtim.tv_nsec);

        /* A real change (even a field edited in place) is written, through a new inode. */
        registry_find_pid(r, 10)->restore_failures = 1;
        ck_assert_int_eq(registry_persist(r), 1);
        ck_assert_int_eq(stat(file, &s3), 0);
        ck_assert_uint_ne(s1.st_ino, s3.st_ino);
        ck_assert_ptr_nonnull(strstr(read_file(), "restore_failures=1"));
        ck_assert(!exists("registry.tmp"));
}
END_TEST

START_TEST(test_failed_write_keeps_old_file) {
        _cleanup_registry_ Registry *r = NULL;
        RegistryEntry a = entry(10, 1, "a"), b = entry(11, 2, "b");
        char tmp[PATH_MAX + 32], before[65536];

        ck_assert_int_eq(registry_new(dir, &r), 0);
        ck_assert_int_eq(registry_add(r, &a), 0);
        ck_assert_int_eq(registry_persist(r), 1);
        strcpy(before, read_file());

        /* Make registry.tmp impossible to create as a file. */
        snprintf(tmp, sizeof(tmp), "%s/registry.tmp", dir);
        ck_assert_int_eq(mkdir(tmp, 0700), 0);
        ck_assert_int_eq(registry_add(r, &b), 0);
        ck_assert_int_eq(registry_persist(r), -EISDIR);
        ck_assert_str_eq(read_file(), before);

        ck_assert_int_eq(rmdir(tmp), 0);
        ck_assert_int_eq(registry_persist(r), 1);
        ck_assert_ptr_nonnull(strstr(read_file(), "pid=11 "));
}
END_TEST

typedef struct Bad {
        unsigned n;
        unsigned line[8];
        char what[8][128];
} Bad;

static void on_bad(unsigned line, const char *what, void *userdata) {
        Bad *b = userdata;

        if (b->n < 8) {
                b->line[b->n] = line;
                snprintf(b->what[b->n], sizeof(b->what[0]), "%s", what);
        }
        b->n++;
}

START_TEST(test_malformed_lines_reported_valid_kept) {
        _cleanup_registry_ Registry *r = NULL;
        Bad b = {};

        write_file("mgd-registry 1\n"
                   "pid=1 starttime=2 how=sigstop since=3 priority=50 footprint_kb=4 restore_failures=0 name=one\n"
                   "pid=2 starttime=2 how=sigstop since=3 priority=50 name=two\n"
                   "garbage\n"
                   "pid=3 starttime=2 how=cgroup since=3 priority=50 footprint_kb=4 restore_failures=0 name=three "
                   "cgroup=/a/app-t.scope\n"
                   "pid=1 starttime=9 how=sigstop since=3 priority=50 footprint_kb=4 restore_failures=0 name=dup\n"
                   "\n"
                   "pid=4 starttime=2 how=sigstop since=3 priority=50 footprint_kb=4 restore_failures=0 name=cut");

        ck_assert_int_eq(registry_new(dir, &r), 0);
        ck_assert_int_eq(registry_load(r, on_bad, &b), 5);
        ck_assert_uint_eq(b.n, 5);
        ck_assert_uint_eq(b.line[0], 3);
        ck_assert_ptr_nonnull(strstr(b.what[0], "missing key 'footprint_kb'"));
        ck_assert_uint_eq(b.line[1], 4);
        ck_assert_ptr_nonnull(strstr(b.what[1], "field without '='"));
        ck_assert_uint_eq(b.line[2], 6);
        ck_assert_ptr_nonnull(strstr(b.what[2], "duplicate pid 1"));
        ck_assert_uint_eq(b.line[3], 7);
        ck_assert_ptr_nonnull(strstr(b.what[3], "empty line"));
        ck_assert_uint_eq(b.line[4], 8);
        ck_assert_ptr_nonnull(strstr(b.what[4], "no newline"));

        ck_assert_uint_eq(registry_size(r), 2);
        ck_assert_str_eq(registry_find_pid(r, 1)->name, "one");
        ck_assert_str_eq(registry_find_pid(r, 3)->cgroup, "/a/app-t.scope");
        ck_assert_ptr_null(registry_find_pid(r, 4));
        /* What was dropped is not in memory, so the file is rewritten clean at the next persist. */
        ck_assert_int_eq(registry_persist(r), 1);
        ck_assert_ptr_null(strstr(read_file(), "garbage"));
}
END_TEST

START_TEST(test_bad_headers) {
        _cleanup_registry_ Registry *r = NULL;
        RegistryEntry a = entry(10, 1, "a");
        Bad b = {};

        ck_assert_int_eq(registry_new(dir, &r), 0);
        ck_assert_int_eq(registry_add(r, &a), 0);

        write_file("{\"frozen\":{}}\n");
        ck_assert_int_eq(registry_load(r, on_bad, &b), -EINVAL);
        ck_assert_uint_eq(b.line[0], 1);
        ck_assert_ptr_nonnull(strstr(b.what[0], "not an mgd registry"));
        ck_assert_uint_eq(registry_size(r), 0);

        write_file("mgd-registry 2\npid=1 whatever\n");
        ck_assert_int_eq(registry_load(r, on_bad, &b), -EPROTONOSUPPORT);
        ck_assert_ptr_nonnull(strstr(b.what[1], "unsupported registry version"));

        write_file("mgd-registry 1");
        ck_assert_int_eq(registry_load(r, NULL, NULL), -EINVAL);
        write_file("");
        ck_assert_int_eq(registry_load(r, NULL, NULL), -EINVAL);
        write_file("mgd-registry 1\n");
        ck_assert_int_eq(registry_load(r, NULL, NULL), 0);
        ck_assert_uint_eq(registry_size(r), 0);
}
END_TEST

START_TEST(test_missing_file_is_empty) {
        _cleanup_registry_ Registry *r = NULL;
        RegistryEntry a = entry(10, 1, "a");

        ck_assert_int_eq(registry_new(dir, &r), 0);
        ck_assert_int_eq(registry_add(r, &a), 0);
        ck_assert_int_eq(registry_load(r, NULL, NULL), 0);
        ck_assert_uint_eq(registry_size(r), 0);

        ck_assert_int_eq(registry_persist(r), 1);
        ck_assert_str_eq(read_file(), "mgd-registry 1\n");
        ck_assert_int_eq(registry_unlink(r), 0);
        ck_assert(!exists("registry"));
        ck_assert_int_eq(registry_unlink(r), 0);
        /* After an unlink the next persist writes again. */
        ck_assert_int_eq(registry_persist(r), 1);
        ck_assert(exists("registry"));
}
END_TEST

START_TEST(test_table_operations) {
        _cleanup_registry_ Registry *r = NULL;
        RegistryEntry e;
        HeldProcess held[8];
        size_t idx[4];

        ck_assert_int_eq(registry_new(dir, &r), 0);
        e = entry(20, 100, "Web Content");
        ck_assert_int_eq(registry_add(r, &e), 0);
        ck_assert_int_eq(registry_add(r, &e), -EEXIST);
        e = entry(21, 101, "Web Content");
        e.how = REGISTRY_CHECKPOINT;
        strcpy(e.image_dir, "/tmp/img");
        ck_assert_int_eq(registry_add(r, &e), 0);
        e = entry(22, 102, "web content");
        ck_assert_int_eq(registry_add(r, &e), 0);

        /* Exact, case-sensitive, full name. */
        ck_assert_uint_eq(registry_find_name(r, "Web Content", idx, 4), 2);
        ck_assert_int_eq(registry_entry(r, idx[0])->pid, 20);
        ck_assert_int_eq(registry_entry(r, idx[1])->pid, 21);
        ck_assert_uint_eq(registry_find_name(r, "Web", idx, 4), 0);
        ck_assert_uint_eq(registry_find_name(r, "web content", idx, 4), 1);
        ck_assert_uint_eq(registry_find_name(r, "Web Content", idx, 1), 2);     /* counts past max */

        /* Same pid, other starttime: the old process is gone; its entry is replaced. */
        e = entry(20, 555, "other");
        ck_assert_int_eq(registry_add(r, &e), 1);
        ck_assert_uint_eq(registry_size(r), 3);
        ck_assert_str_eq(registry_find_pid(r, 20)->name, "other");
        ck_assert_uint_gt(registry_find_pid(r, 20)->since, 0);

        ck_assert_uint_eq(registry_to_held(r, held, 8), 3);
        for (size_t i = 0; i < 3; i++) {
                ck_assert_int_eq(held[i].pid, registry_entry(r, i)->pid);
                ck_assert_int_eq(held[i].kind, registry_entry(r, i)->how == REGISTRY_CHECKPOINT ?
                                 HELD_CHECKPOINTED : HELD_FROZEN);
        }
        ck_assert_uint_eq(registry_to_held(r, held, 2), 2);

        ck_assert_int_eq(registry_remove(r, 20, 100), -ENOENT);
        ck_assert_int_eq(registry_remove(r, 20, 555), 0);
        ck_assert_ptr_null(registry_find_pid(r, 20));
        ck_assert_uint_eq(registry_size(r), 2);

        e = entry(23, 1, "x");
        e.priority = -1;
        ck_assert_int_eq(registry_add(r, &e), -EINVAL);
}
END_TEST

START_TEST(test_table_is_bounded) {
        _cleanup_registry_ Registry *r = NULL;
        RegistryEntry e;

        ck_assert_int_eq(registry_new(dir, &r), 0);
        for (pid_t p = 1; p <= REGISTRY_MAX; p++) {
                e = entry(p, 1, "n");
                ck_assert_int_eq(registry_add(r, &e), 0);
        }
        e = entry(REGISTRY_MAX + 1, 1, "n");
        ck_assert_int_eq(registry_add(r, &e), -ENOSPC);
        ck_assert_int_eq(registry_persist(r), 1);
}
END_TEST

START_TEST(test_default_dir) {
        char buf[PATH_MAX];

        ck_assert_int_eq(setenv("XDG_STATE_HOME", "/x/state", 1), 0);
        ck_assert_int_eq(registry_default_dir(buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "/x/state/mgd");
        /* A relative XDG_STATE_HOME is invalid (XDG spec): ignored. */
        ck_assert_int_eq(setenv("XDG_STATE_HOME", "rel", 1), 0);
        ck_assert_int_eq(setenv("HOME", "/home/u", 1), 0);
        ck_assert_int_eq(registry_default_dir(buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "/home/u/.local/state/mgd");
        ck_assert_int_eq(unsetenv("XDG_STATE_HOME"), 0);
        ck_assert_int_eq(unsetenv("HOME"), 0);
        ck_assert_int_eq(registry_default_dir(buf, sizeof(buf)), -ENXIO);
        ck_assert_int_eq(setenv("HOME", "/home/u", 1), 0);
        ck_assert_int_eq(registry_default_dir(buf, 8), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_new_rejects_relative_dir) {
        Registry *r = NULL;

        ck_assert_int_eq(registry_new("state", &r), -EINVAL);
        ck_assert_ptr_null(r);
}
END_TEST

static Suite *registry_persist_suite(void) {
        Suite *s = suite_create("registry-persist");
        TCase *tc = tcase_create("persist");

        test_init();
        tcase_add_checked_fixture(tc, setup, test_cleanup);
        tcase_add_unchecked_fixture(tc, NULL, test_cleanup_tmp);
        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_unchanged_content_is_not_rewritten);
        tcase_add_test(tc, test_planted_hard_link_is_not_followed);
        tcase_add_test(tc, test_failed_write_keeps_old_file);
        tcase_add_test(tc, test_malformed_lines_reported_valid_kept);
        tcase_add_test(tc, test_bad_headers);
        tcase_add_test(tc, test_missing_file_is_empty);
        tcase_add_test(tc, test_table_operations);
        tcase_add_test(tc, test_table_is_bounded);
        tcase_add_test(tc, test_default_dir);
        tcase_add_test(tc, test_new_rejects_relative_dir);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(registry_persist_suite)
