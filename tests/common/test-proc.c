/* SPDX-License-Identifier: GPL-2.0-only */
/* Per-process files: stat, status, cgroup, cmdline, exe, oom_score_adj. */

#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/macro.h"
#include "common/readers.h"
#include "tests/check-main.h"
#include "tests/common/fixture.h"

#define PID 1234

/* A scratch proc root with PID/<name> holding the fixture rel. */
static char *tree_with(const char *name, const char *rel) {
        char *dir = tmptree_new(), path[PATH_MAX], buf[8192];
        size_t len;

        snprintf(path, sizeof path, "%s/%d", dir, PID);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        if (rel) {
                len = fixture_load(rel, buf, sizeof buf);
                snprintf(path, sizeof path, "%s/%d/%s", dir, PID, name);
                write_file(path, buf, len);
        }
        return dir;
}

/* ---- stat ---- */

static ProcStat stat_fixture(const char *rel) {
        char buf[4096];
        ProcStat st;

        fixture_load(rel, buf, sizeof buf);
        ck_assert_int_eq(proc_stat_parse(buf, &st), 0);
        return st;
}

START_TEST(test_stat_ok) {
        ProcStat st = stat_fixture("stat/ok");

        ck_assert_int_eq(st.pid, 1234);
        ck_assert_str_eq(st.comm, "bash");
        ck_assert_int_eq(st.state, 'S');
        ck_assert_int_eq(st.ppid, 1);
        ck_assert_uint_eq(st.flags, 4194560);
        ck_assert_uint_eq(st.minflt, 1200);
        ck_assert_uint_eq(st.majflt, 3);
        ck_assert_uint_eq(st.utime, 40);
        ck_assert_uint_eq(st.stime, 9);
        ck_assert_uint_eq(st.num_threads, 1);
        ck_assert_uint_eq(st.starttime, 987654);
        ck_assert_uint_eq(st.vsize, 220000000);
        ck_assert_uint_eq(st.rss_pages, 2560);
}
END_TEST

START_TEST(test_stat_comm_tricks) {
        ProcStat st;

        /* From the first '(' to the LAST ')': a comm may contain ") S 1 2". */
        st = stat_fixture("stat/ok-comm-parens");
        ck_assert_str_eq(st.comm, "a) (b) S 1 2");
        ck_assert_int_eq(st.state, 'R');
        ck_assert_uint_eq(st.starttime, 123456);
        st = stat_fixture("stat/ok-comm-newline");
        ck_assert_str_eq(st.comm, "x\ny");
        st = stat_fixture("stat/ok-comm-empty");
        ck_assert_str_eq(st.comm, "");
        st = stat_fixture("stat/ok-kthread");
        ck_assert_str_eq(st.comm, "kthreadd");
        ck_assert_uint_eq(st.flags & 0x00200000, 0x00200000);
        ck_assert_uint_eq(st.vsize, 0);
        ck_assert_int_eq(st.ppid, 0);
}
END_TEST

START_TEST(test_stat_read) {
        char *dir = tree_with("stat", "stat/ok");
        ProcStat st;

        ck_assert_int_eq(proc_stat_read(dir, PID, &st), 0);
        ck_assert_uint_eq(st.starttime, 987654);
        /* A process that is gone. */
        ck_assert_int_eq(proc_stat_read(dir, PID + 1, &st), -ENOENT);
        tmptree_rm(dir);
}
END_TEST

static const struct {
        const char *name;
        int r;
} bad_stat[] = {
        { "stat/bad-empty", -EINVAL },
        { "stat/bad-no-newline", -EINVAL },
        { "stat/bad-truncated", -EINVAL },
        { "stat/bad-garbage", -EINVAL },
        { "stat/bad-no-parens", -EINVAL },
        { "stat/bad-pid-not-number", -EINVAL },
        { "stat/bad-pid-overflow", -ERANGE },
        { "stat/bad-state-bogus", -EINVAL },
        { "stat/bad-state-long", -EINVAL },
        { "stat/bad-starttime-overflow", -ERANGE },
        { "stat/bad-minflt-negative", -EINVAL },
        { "stat/bad-ppid-range", -ERANGE },
        { "stat/bad-flags-range", -ERANGE },
        { "stat/bad-field-garbage", -EINVAL },
        { "stat/bad-double-space", -EINVAL },
        { "stat/bad-comm-too-long", -EINVAL },
        { "stat/bad-trailing-space", -EINVAL },
};

START_TEST(test_stat_malformed) {
        char buf[4096];
        ProcStat st, before;
        int r;

        fixture_load(bad_stat[_i].name, buf, sizeof buf);
        memset(&st, 0x5a, sizeof st);
        before = st;
        r = proc_stat_parse(buf, &st);
        ck_assert_msg(r == bad_stat[_i].r, "%s: got %d, want %d", bad_stat[_i].name, r, bad_stat[_i].r);
        ck_assert(memcmp(&st, &before, sizeof st) == 0);
}
END_TEST

/* ---- status ---- */

static ProcStatus status_fixture(const char *rel) {
        char buf[8192];
        ProcStatus s;

        fixture_load(rel, buf, sizeof buf);
        ck_assert_int_eq(proc_status_parse(buf, &s), 0);
        return s;
}

START_TEST(test_status_ok) {
        ProcStatus s = status_fixture("status/ok");

        ck_assert_str_eq(s.name, "Web Content");
        ck_assert_uint_eq(s.ruid, 1000);
        ck_assert_uint_eq(s.euid, 1000);
        ck_assert_int_eq(s.tgid, 1234);
        ck_assert(s.has_mm);
        ck_assert_uint_eq(s.vm_rss_kb, 10240);
        ck_assert_uint_eq(s.vm_swap_kb, 2048);
        ck_assert_uint_eq(s.rss_anon_kb, 10240 - 1024 - 128);
        ck_assert_uint_eq(s.rss_file_kb, 1024);
        ck_assert_uint_eq(s.rss_shmem_kb, 128);
}
END_TEST

START_TEST(test_status_escaped_and_kthread) {
        ProcStatus s = status_fixture("status/ok-escaped");
        char *dir;

        /* The kernel writes '\n' as "\n" and '\' as "\\" in Name. */
        ck_assert_str_eq(s.name, "a\nb\\c");
        s = status_fixture("status/ok-kthread");
        ck_assert(!s.has_mm);
        ck_assert_uint_eq(s.vm_rss_kb, 0);
        ck_assert_uint_eq(s.ruid, 0);
        dir = tree_with("status", "status/ok");
        ck_assert_int_eq(proc_status_read(dir, PID, &s), 0);
        ck_assert_uint_eq(s.vm_swap_kb, 2048);
        tmptree_rm(dir);
}
END_TEST

static const struct {
        const char *name;
        int r;
} bad_status[] = {
        { "status/bad-empty", -EINVAL },
        { "status/bad-missing-uid", -EINVAL },
        { "status/bad-missing-name", -EINVAL },
        { "status/bad-uid-overflow", -ERANGE },
        { "status/bad-uid-short", -EINVAL },
        { "status/bad-uid-negative", -EINVAL },
        { "status/bad-vmrss-overflow", -ERANGE },
        { "status/bad-vmswap-negative", -EINVAL },
        { "status/bad-vmrss-no-unit", -EINVAL },
        { "status/bad-vmrss-garbage", -EINVAL },
        { "status/bad-name-bad-escape", -EINVAL },
        { "status/bad-dup-name", -EINVAL },
        { "status/bad-dup-vmswap", -EINVAL },
        { "status/bad-partial-mm", -EINVAL },
        { "status/bad-no-newline", -EINVAL },
        { "status/bad-garbage-line", -EINVAL },
        { "status/bad-tgid-zero", -EINVAL },
};

START_TEST(test_status_malformed) {
        char buf[8192];
        ProcStatus s, before;
        int r;

        fixture_load(bad_status[_i].name, buf, sizeof buf);
        memset(&s, 0x5a, sizeof s);
        before = s;
        r = proc_status_parse(buf, &s);
        ck_assert_msg(r == bad_status[_i].r, "%s: got %d, want %d", bad_status[_i].name, r, bad_status[_i].r);
        ck_assert(memcmp(&s, &before, sizeof s) == 0);
}
END_TEST

/* ---- cgroup ---- */

START_TEST(test_cgroup_ok) {
        char buf[4096];
        ProcCgroup cg;

        fixture_load("cgroup/ok-hybrid", buf, sizeof buf);
        ck_assert_int_eq(proc_cgroup_parse(buf, &cg), 0);
        ck_assert(cg.has_unified);
        ck_assert_str_eq(cg.unified, "/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox.scope");
        ck_assert(cg.has_v1_memory);
        ck_assert_str_eq(cg.v1_memory, "/user.slice/user-1000.slice");
        ck_assert(cg.has_v1_freezer);
        ck_assert_str_eq(cg.v1_freezer, "/mgd/app-x");
        /* A path may contain ':'. */
        fixture_load("cgroup/ok-v2", buf, sizeof buf);
        ck_assert_int_eq(proc_cgroup_parse(buf, &cg), 0);
        ck_assert_str_eq(cg.unified, "/user.slice/user-1000.slice/user@1000.service/app.slice/a:b.scope");
        ck_assert(!cg.has_v1_memory && !cg.has_v1_freezer);
        /* name=systemd is a v1 hierarchy without controllers, not the unified one. */
        fixture_load("cgroup/ok-v1-only", buf, sizeof buf);
        ck_assert_int_eq(proc_cgroup_parse(buf, &cg), 0);
        ck_assert(!cg.has_unified);
        ck_assert_str_eq(cg.unified, "");
        ck_assert(cg.has_v1_memory);
}
END_TEST

START_TEST(test_cgroup_read) {
        char *dir = tree_with("cgroup", "cgroup/ok-hybrid");
        ProcCgroup cg;

        ck_assert_int_eq(proc_cgroup_read(dir, PID, &cg), 0);
        ck_assert(cg.has_unified);
        ck_assert_int_eq(proc_cgroup_read(dir, PID + 1, &cg), -ENOENT);
        tmptree_rm(dir);
}
END_TEST

static const struct {
        const char *name;
        int r;
} bad_cgroup[] = {
        { "cgroup/bad-empty", -EINVAL },
        { "cgroup/bad-garbage", -EINVAL },
        { "cgroup/bad-dup-unified", -EINVAL },
        { "cgroup/bad-unified-with-controllers", -EINVAL },
        { "cgroup/bad-v1-without-controllers", -EINVAL },
        { "cgroup/bad-relative-path", -EINVAL },
        { "cgroup/bad-empty-path", -EINVAL },
        { "cgroup/bad-id-overflow", -ERANGE },
        { "cgroup/bad-id-negative", -EINVAL },
        { "cgroup/bad-no-newline", -EINVAL },
        { "cgroup/bad-dup-memory", -EINVAL },
        { "cgroup/bad-empty-controller", -EINVAL },
        { "cgroup/bad-path-too-long", -ENAMETOOLONG },
};

START_TEST(test_cgroup_malformed) {
        char buf[4096];
        ProcCgroup cg;
        int r;

        fixture_load(bad_cgroup[_i].name, buf, sizeof buf);
        memset(&cg, 0x5a, sizeof cg);
        r = proc_cgroup_parse(buf, &cg);
        ck_assert_msg(r == bad_cgroup[_i].r, "%s: got %d, want %d", bad_cgroup[_i].name, r, bad_cgroup[_i].r);
        ck_assert_uint_eq((unsigned char) cg.unified[0], 0x5a);
}
END_TEST

/* ---- cmdline ---- */

static const struct {
        const char *name;
        size_t size;
        int r;
        const char *want;
} cmdlines[] = {
        { "cmdline/args", 256, 0, "/usr/bin/python3 -m http.server" },
        { "cmdline/no-nul", 256, 0, "chrome --type=renderer" },
        { "cmdline/padded", 256, 0, "sshd: user@pts/0" },
        { "cmdline/empty-arg", 256, 0, "a  b" },
        { "cmdline/empty", 256, -ENODATA, NULL },
        { "cmdline/long", 16, 0, "xxxxxxxxxxxxxxx" },
        { "cmdline/args", 8, 0, "/usr/bi" },
        { "cmdline/args", 19, 0, "/usr/bin/python3 -" },
        { "cmdline/args", 18, 0, "/usr/bin/python3" },
};

START_TEST(test_cmdline) {
        char *dir = tree_with("cmdline", cmdlines[_i].name);
        char buf[256];
        int r;

        r = proc_cmdline_read(dir, PID, buf, cmdlines[_i].size);
        ck_assert_msg(r == cmdlines[_i].r, "%s: got %d", cmdlines[_i].name, r);
        if (r == 0)
                ck_assert_str_eq(buf, cmdlines[_i].want);
        ck_assert_int_eq(proc_cmdline_read(dir, PID + 1, buf, sizeof buf), -ENOENT);
        tmptree_rm(dir);
}
END_TEST

/* ---- exe ---- */

static const struct {
        const char *target;
        size_t size;
        int r;
        const char *want;
} exes[] = {
        { "/usr/bin/firefox-esr", 64, 0, "firefox-esr" },
        { "/usr/lib/app/app (deleted)", 64, 0, "app" },
        { "/opt/x/a (deleted) (deleted)", 64, 0, "a (deleted)" },
        { "/usr/bin/name with space", 64, 0, "name with space" },
        { "/usr/bin/averylongname", 8, -ENAMETOOLONG, NULL },
        { "/", 64, -EINVAL, NULL },
        { "/usr/bin/ (deleted)", 64, -EINVAL, NULL },
};

START_TEST(test_exe) {
        char *dir = tree_with("exe", NULL), path[PATH_MAX], buf[64];
        int r;

        snprintf(path, sizeof path, "%s/%d/exe", dir, PID);
        ck_assert_int_eq(symlink(exes[_i].target, path), 0);
        strcpy(buf, "untouched");
        r = proc_exe_basename(dir, PID, buf, exes[_i].size);
        ck_assert_msg(r == exes[_i].r, "%s: got %d", exes[_i].target, r);
        ck_assert_str_eq(buf, r == 0 ? exes[_i].want : "untouched");
        tmptree_rm(dir);
}
END_TEST

START_TEST(test_exe_missing) {
        char *dir = tree_with("exe", NULL), buf[64];

        /* Kernel threads have no exe link to read. */
        ck_assert_int_eq(proc_exe_basename(dir, PID, buf, sizeof buf), -ENOENT);
        tmptree_rm(dir);
}
END_TEST

/* ---- oom_score_adj ---- */

static const struct {
        const char *name;
        int r;
} ooms[] = {
        { "oom_score_adj/ok", 0 },
        { "oom_score_adj/bad-empty", -EINVAL },
        { "oom_score_adj/bad-above", -ERANGE },
        { "oom_score_adj/bad-below", -ERANGE },
        { "oom_score_adj/bad-garbage", -EINVAL },
        { "oom_score_adj/bad-no-newline", -EINVAL },
        { "oom_score_adj/bad-overflow", -ERANGE },
        { "oom_score_adj/bad-trailing-junk", -EINVAL },
        { "oom_score_adj/bad-plus", -EINVAL },
        { "oom_score_adj/bad-two-lines", -EINVAL },
};

START_TEST(test_oom_score_adj) {
        char *dir = tree_with("oom_score_adj", ooms[_i].name);
        int v = 4242, r;

        r = proc_oom_score_adj_read(dir, PID, &v);
        ck_assert_msg(r == ooms[_i].r, "%s: got %d, want %d", ooms[_i].name, r, ooms[_i].r);
        ck_assert_int_eq(v, r == 0 ? -500 : 4242);
        tmptree_rm(dir);
}
END_TEST

static Suite *proc_suite(void) {
        Suite *s = suite_create("proc");
        TCase *tc = tcase_create("proc");

        tcase_add_test(tc, test_stat_ok);
        tcase_add_test(tc, test_stat_comm_tricks);
        tcase_add_test(tc, test_stat_read);
        tcase_add_loop_test(tc, test_stat_malformed, 0, ELEMENTSOF(bad_stat));
        tcase_add_test(tc, test_status_ok);
        tcase_add_test(tc, test_status_escaped_and_kthread);
        tcase_add_loop_test(tc, test_status_malformed, 0, ELEMENTSOF(bad_status));
        tcase_add_test(tc, test_cgroup_ok);
        tcase_add_test(tc, test_cgroup_read);
        tcase_add_loop_test(tc, test_cgroup_malformed, 0, ELEMENTSOF(bad_cgroup));
        tcase_add_loop_test(tc, test_cmdline, 0, ELEMENTSOF(cmdlines));
        tcase_add_loop_test(tc, test_exe, 0, ELEMENTSOF(exes));
        tcase_add_test(tc, test_exe_missing);
        tcase_add_loop_test(tc, test_oom_score_adj, 0, ELEMENTSOF(ooms));
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(proc_suite)
