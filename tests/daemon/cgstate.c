/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The persisted cgroup settings: line round trips, every malformed line, load/persist, and the
 * restore of originals into a fixture cgroup tree (plain files standing in for cgroupfs).
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/readers.h"
#include "daemon/cgstate.h"
#include "tests/check-main.h"

#define APP "/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-1.scope"
static const char *const SESSION[] = { "user@1000.service" };

static char tmp[] = "/tmp/mgd-cgstate-XXXXXX";

static void write_text(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
}

static char *read_text(const char *path, char *buf, size_t size) {
        FILE *f = fopen(path, "re");
        size_t n;

        if (!f)
                return NULL;
        n = fread(buf, 1, size - 1, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

START_TEST(test_round_trip) {
        CgEntry e = {}, back;
        char line[2048], err[128];

        strcpy(e.path, "/app.slice/app with space.scope");
        e.saved[CGFILE_CPU_WEIGHT] = true;
        strcpy(e.orig[CGFILE_CPU_WEIGHT], "100");
        e.saved[CGFILE_CPU_MAX] = true;
        strcpy(e.orig[CGFILE_CPU_MAX], "max 100000");
        ck_assert_int_gt(cgstate_entry_format(&e, line, sizeof(line)), 0);
        ck_assert_str_eq(line, "path=/app.slice/app%20with%20space.scope cpu.weight=100 cpu.max=max%20100000");
        ck_assert_int_eq(cgstate_entry_parse(line, &back, err, sizeof(err)), 0);
        ck_assert_str_eq(back.path, e.path);
        ck_assert(back.saved[CGFILE_CPU_WEIGHT] && back.saved[CGFILE_CPU_MAX] && !back.saved[CGFILE_MEMORY_HIGH]);
        ck_assert_str_eq(back.orig[CGFILE_CPU_MAX], "max 100000");
}
END_TEST

START_TEST(test_malformed) {
        static const struct { const char *line, *why; } t[] = {
                { "cpu.weight=100", "missing key 'path'" },
                { "path=relative cpu.weight=1", "bad value for 'path'" },
                { "path=/a/../b cpu.weight=1", "bad value for 'path'" },
                { "path=/ cpu.weight=1", "bad value for 'path'" },
                { "path=/a path=/b", "duplicate key 'path'" },
                { "path=/a cpu.weight=1 cpu.weight=2", "duplicate key" },
                { "path=/a memory.max=1", "unknown key" },
                { "path=/a cpu.weight=", "bad value" },
                { "path=/a cpu.weight=1%", "bad value" },
                { "path=/a cpu.weight=1 2", "a field is not key=value" },
                { "path=/a\tx", "bad value for 'path'" },
        };
        char err[128];
        CgEntry e;

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                ck_assert_msg(cgstate_entry_parse(t[i].line, &e, err, sizeof(err)) == -EINVAL, "%s", t[i].line);
                ck_assert_msg(strcmp(err, t[i].why) == 0, "%s: %s", t[i].line, err);
        }
}
END_TEST

static unsigned bad_lines;
static void on_bad(unsigned line, const char *what, void *userdata) {
        bad_lines++;
}

START_TEST(test_persist_load_restore) {
        char path[PATH_MAX], buf[PATH_MAX + 64], cg[PATH_MAX];
        CgState *s = NULL;
        CgEntry *e;

        ck_assert_ptr_nonnull(mkdtemp(tmp));
        ck_assert_int_eq(cgstate_new(tmp, &s), 0);
        /* empty: no file is written */
        ck_assert_int_eq(cgstate_persist(s), 0);
        snprintf(path, sizeof(path), "%s/%s", tmp, CGSTATE_FILE);
        ck_assert_int_ne(access(path, F_OK), 0);

        ck_assert_int_eq(cgstate_get(s, APP, &e), 0);
        ck_assert_int_eq(cgstate_get(s, "../x", &e), -EINVAL);
        ck_assert_int_eq(cgstate_get(s, APP, &e), 0);
        ck_assert_uint_eq(cgstate_size(s), 1);
        e->saved[CGFILE_MEMORY_HIGH] = true;
        strcpy(e->orig[CGFILE_MEMORY_HIGH], "max");
        ck_assert_int_eq(cgstate_persist(s), 1);
        ck_assert_int_eq(cgstate_persist(s), 0);        /* unchanged: not rewritten */
        ck_assert_str_eq(read_text(path, buf, sizeof(buf)), "mgd-cgroups 1\npath=" APP " memory.high=max\n");

        /* a second reader, with a bad line and a duplicate appended */
        write_text(path, "mgd-cgroups 1\npath=" APP " memory.high=max\npath=/x unknown=1\npath=" APP " cpu.weight=1\n");
        cgstate_free(s);
        ck_assert_int_eq(cgstate_new(tmp, &s), 0);
        ck_assert_int_eq(cgstate_set_session(s, SESSION, 1), 0);
        bad_lines = 0;
        ck_assert_int_eq(cgstate_load(s, on_bad, NULL), 2);
        ck_assert_uint_eq(bad_lines, 2);
        ck_assert_uint_eq(cgstate_size(s), 1);

        /* restore into a fixture tree: the original goes back, the entry and the file go */
        snprintf(cg, sizeof(cg), "%s/root" APP, tmp);
        ck_assert_int_eq(mkdir_p(cg, 0755), 0);
        snprintf(buf, sizeof(buf), "%s/memory.high", cg);
        write_text(buf, "1048576\n");
        snprintf(cg, sizeof(cg), "%s/root", tmp);
        ck_assert_int_eq(cgstate_restore_all(s, cg, NULL, NULL), 0);
        ck_assert_uint_eq(cgstate_size(s), 0);
        ck_assert_str_eq(read_text(buf, path, sizeof(path)), "max");
        ck_assert_int_eq(cgstate_persist(s), 1);
        snprintf(path, sizeof(path), "%s/%s", tmp, CGSTATE_FILE);
        ck_assert_int_ne(access(path, F_OK), 0);

        /* a cgroup that is gone counts as restored; another version is refused */
        write_text(path, "mgd-cgroups 1\npath=/gone.scope cpu.weight=100\n");
        ck_assert_int_eq(cgstate_load(s, on_bad, NULL), 0);
        ck_assert_int_eq(cgstate_restore_all(s, cg, NULL, NULL), 0);
        ck_assert_uint_eq(cgstate_size(s), 0);
        write_text(path, "mgd-cgroups 2\n");
        ck_assert_int_eq(cgstate_load(s, on_bad, NULL), -EPROTONOSUPPORT);
        write_text(path, "registry 1\n");
        ck_assert_int_eq(cgstate_load(s, on_bad, NULL), -EINVAL);
        cgstate_free(s);
        ck_assert_int_eq(system((snprintf(buf, sizeof(buf), "rm -rf %s", tmp), buf)), 0);
}
END_TEST

static unsigned refused;

static void on_restore(const CgEntry *e, CgFile f, int result, void *userdata) {
        if (result == -EPERM)
                refused++;
}

/* A state file is only as trusted as its directory: only the session's own app scopes are written. */
START_TEST(test_restore_only_session_app_scopes) {
        char path[PATH_MAX], buf[PATH_MAX + 64], root[PATH_MAX], f[2 * PATH_MAX + 80];
        static const char *const other[] = {
                "/system.slice",
                "/user.slice/user-1000.slice/user@1000.service/app.slice",
                "/user.slice/user-1001.slice/user@1001.service/app.slice/app-x-1.scope",
        };
        CgState *s = NULL;

        ck_assert_ptr_nonnull(mkdtemp(tmp));
        snprintf(root, sizeof(root), "%s/root", tmp);
        for (size_t i = 0; i < 3; i++) {
                snprintf(buf, sizeof(buf), "%s%s", root, other[i]);
                ck_assert_int_eq(mkdir_p(buf, 0755), 0);
                snprintf(f, sizeof(f), "%s/memory.high", buf);
                write_text(f, "1048576\n");
        }
        snprintf(path, sizeof(path), "%s/%s", tmp, CGSTATE_FILE);
        snprintf(buf, sizeof(buf), "mgd-cgroups 1\npath=%s memory.high=max\npath=%s memory.high=max\n"
                 "path=%s memory.high=max\n", other[0], other[1], other[2]);
        write_text(path, buf);

        ck_assert_int_eq(cgstate_new(tmp, &s), 0);
        ck_assert_int_eq(cgstate_set_session(s, SESSION, 1), 0);
        ck_assert_int_eq(cgstate_set_session(s, (const char *const[]) { "a/b" }, 1), -EINVAL);
        ck_assert_int_eq(cgstate_load(s, on_bad, NULL), 0);
        ck_assert_uint_eq(cgstate_size(s), 3);
        refused = 0;
        ck_assert_int_eq(cgstate_restore_all(s, root, on_restore, NULL), 0);
        ck_assert_uint_eq(refused, 3);
        ck_assert_uint_eq(cgstate_size(s), 0);          /* dropped: never to be written */
        for (size_t i = 0; i < 3; i++) {
                snprintf(f, sizeof(f), "%s%s/memory.high", root, other[i]);
                ck_assert_str_eq(read_text(f, buf, sizeof(buf)), "1048576\n");
        }
        cgstate_free(s);
}
END_TEST

static Suite *cgstate_suite(void) {
        Suite *s = suite_create("cgstate");
        TCase *tc = tcase_create("cgstate");

        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_malformed);
        tcase_add_test(tc, test_persist_load_restore);
        tcase_add_test(tc, test_restore_only_session_app_scopes);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(cgstate_suite)
