/* SPDX-License-Identifier: GPL-2.0-only */
/* The process scan over a fixture proc tree, uncached and cached. */

#include <check.h>
#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/procscan.h"
#include "tests/check-main.h"
#include "tests/common/fixture.h"

#define OUT_MAX 32
#define SESSION "/user.slice/user-1000.slice/user@1000.service/app.slice/"

static ProcEntry out[OUT_MAX];

/* uid 1000, mgd is pid 500, session = user@1000.service */
static void test_filter(ScanFilter *f) {
        scan_filter_default(f, 1000, 500);
        f->exclude_ppid = 500;
        f->session[0] = "user@1000.service";
        f->n_session = 1;
}

static char *scan_tree(void) {
        char *dir = tmptree_new();

        fixture_copy("scan/proc", dir);
        return dir;
}

static uint64_t page_kb(void) {
        return (uint64_t) sysconf(_SC_PAGESIZE) / 1024;
}

static void edit(const char *dir, const char *rel, const char *old, const char *new) {
        char path[PATH_MAX], buf[16384], *hit, res[16384];
        size_t len;

        snprintf(path, sizeof path, "%s/%s", dir, rel);
        ck_assert_int_eq(read_small_file(path, buf, sizeof buf, &len), 0);
        hit = strstr(buf, old);
        ck_assert_msg(hit, "%s does not contain \"%s\"", rel, old);
        snprintf(res, sizeof res, "%.*s%s%s", (int) (hit - buf), buf, new, hit + strlen(old));
        /* In place (O_TRUNC), as /proc changes under an open fd. */
        write_file(path, res, strlen(res));
}

static void assert_pids(size_t n, const pid_t *want, size_t n_want) {
        ck_assert_uint_eq(n, n_want);
        for (size_t i = 0; i < n; i++)
                ck_assert_int_eq(out[i].cand.pid, want[i]);
}

START_TEST(test_scan_fixture) {
        static const pid_t want[] = { 100, 101, 102 };
        char root[PATH_MAX];
        ScanFilter f;
        size_t n = 0, total = 0;

        fixture_path(root, sizeof root, "scan/proc");
        test_filter(&f);
        ck_assert_int_eq(proc_scan(root, &f, out, OUT_MAX, &n, &total), 0);
        /* Not: other uid (200, 202), setuid (201), kthreads (300, 304), zombie/dead (301, 302),
         * no mm (303, 305), outside the session (400-404), self (500), mgd's helper (501), gone
         * (600), malformed (601-605), nor the non-process entries. */
        assert_pids(n, want, ELEMENTSOF(want));
        ck_assert_uint_eq(total, 3);
        ck_assert_str_eq(out[0].cand.name, "Isolated Web Co");
        ck_assert_uint_eq(out[0].cand.starttime, 5000);
        ck_assert_uint_eq(out[0].cand.rss_kb, 2560 * page_kb());
        ck_assert_uint_eq(out[0].cand.swap_kb, 2048);
        ck_assert_int_eq(out[0].cand.oom_score_adj, 200);
        ck_assert_uint_eq(out[0].cand.gpu_kb, 0);
        ck_assert_int_eq(out[0].cand.frozen, FREEZE_NONE);
        ck_assert_str_eq(out[0].cand.exe, "");
        ck_assert_str_eq(out[0].cand.cmdline, "");
        ck_assert_int_eq(out[0].state, 'S');
        ck_assert_uint_eq(out[0].majflt, 1);
        ck_assert_uint_eq(out[0].cpu_ticks, 10);
        ck_assert_str_eq(out[0].cgroup, SESSION "app-100.scope");
        ck_assert_str_eq(out[1].cand.name, "a) (b");
        ck_assert_str_eq(out[2].cand.name, "x\ny");
        ck_assert_int_eq(out[2].state, 'T');
}
END_TEST

START_TEST(test_scan_default_filter) {
        static const pid_t want[] = { 100, 101, 102, 401, 501 };
        char root[PATH_MAX];
        ScanFilter f;
        size_t n = 0;

        scan_filter_default(&f, 1000, 500);
        ck_assert_uint_eq(f.n_session, 2);
        ck_assert_str_eq(f.session[0], "user@1000.service");
        ck_assert_str_eq(f.session[1], "user-1000.slice");
        ck_assert_int_eq(f.self, 500);
        ck_assert_int_eq(f.exclude_ppid, 0);
        ck_assert(!f.want_exe && !f.want_cmdline && !f.want_gpu);
        fixture_path(root, sizeof root, "scan/proc");
        ck_assert_int_eq(proc_scan(root, &f, out, OUT_MAX, &n, NULL), 0);
        /* user-1000.slice is a component of 401's path; 501 counts without exclude_ppid. */
        assert_pids(n, want, ELEMENTSOF(want));
}
END_TEST

START_TEST(test_scan_max) {
        char root[PATH_MAX];
        ScanFilter f;
        size_t n = 9, total = 0;

        fixture_path(root, sizeof root, "scan/proc");
        test_filter(&f);
        ck_assert_int_eq(proc_scan(root, &f, out, 1, &n, &total), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(total, 3);
        ck_assert_int_eq(out[0].cand.pid, 100);
        ck_assert_int_eq(proc_scan(root, &f, NULL, 0, &n, &total), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_uint_eq(total, 3);
}
END_TEST

START_TEST(test_scan_bad_arguments) {
        char root[PATH_MAX];
        ScanFilter f;
        size_t n;

        fixture_path(root, sizeof root, "scan/proc");
        test_filter(&f);
        f.n_session = 0;
        ck_assert_int_eq(proc_scan(root, &f, out, OUT_MAX, &n, NULL), -EINVAL);
        test_filter(&f);
        f.session[0] = "user.slice/user-1000.slice";
        ck_assert_int_eq(proc_scan(root, &f, out, OUT_MAX, &n, NULL), -EINVAL);
        f.session[0] = "";
        ck_assert_int_eq(proc_scan(root, &f, out, OUT_MAX, &n, NULL), -EINVAL);
        f.session[0] = NULL;
        ck_assert_int_eq(proc_scan(root, &f, out, OUT_MAX, &n, NULL), -EINVAL);
        test_filter(&f);
        ck_assert_int_eq(proc_scan(root, &f, NULL, 3, &n, NULL), -EINVAL);
        fixture_path(root, sizeof root, "scan/nonexistent");
        ck_assert_int_eq(proc_scan(root, &f, out, OUT_MAX, &n, NULL), -ENOENT);
}
END_TEST

static void add_link(const char *dir, const char *rel, const char *target) {
        char path[PATH_MAX];

        snprintf(path, sizeof path, "%s/%s", dir, rel);
        ck_assert_int_eq(symlink(target, path), 0);
}

static void add_dir(const char *dir, const char *rel) {
        char path[PATH_MAX];

        snprintf(path, sizeof path, "%s/%s", dir, rel);
        ck_assert_int_eq(mkdir(path, 0755), 0);
}

START_TEST(test_scan_wants) {
        char *dir = scan_tree(), fdinfo[4096];
        ScanFilter f;
        size_t n = 0, len;

        add_link(dir, "100/exe", "/usr/lib/firefox/firefox (deleted)");
        add_link(dir, "101/exe", "/usr/bin/weird");
        add_link(dir, "102/exe", "/usr/bin/stopped");
        add_dir(dir, "100/fd");
        add_dir(dir, "100/fdinfo");
        add_dir(dir, "101/fd");
        add_dir(dir, "102/fd");
        add_link(dir, "100/fd/3", "/dev/dri/renderD128");
        len = fixture_load("gpu/fdinfo/3", fdinfo, sizeof fdinfo);
        {
                char path[PATH_MAX];

                snprintf(path, sizeof path, "%s/100/fdinfo/3", dir);
                write_file(path, fdinfo, len);
        }
        test_filter(&f);
        f.want_exe = f.want_cmdline = f.want_gpu = true;
        ck_assert_int_eq(proc_scan(dir, &f, out, OUT_MAX, &n, NULL), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(out[0].cand.exe, "firefox");
        ck_assert_str_eq(out[0].cand.cmdline, "/usr/lib/firefox/firefox -contentproc");
        ck_assert_uint_eq(out[0].cand.gpu_kb, 63438848 / 1024);
        ck_assert_int_eq(out[0].gpu_err, 0);
        ck_assert_str_eq(out[1].cand.exe, "weird");
        ck_assert_str_eq(out[1].cand.cmdline, "a) (b");
        ck_assert_uint_eq(out[1].cand.gpu_kb, 0);
        tmptree_rm(dir);
}
END_TEST

START_TEST(test_scan_vanished_mid_read) {
        char *dir = scan_tree();
        ScanFilter f;
        size_t n = 0;

        /* exe gone while the rest was read: the process exited, it is skipped, not an error. */
        test_filter(&f);
        f.want_exe = true;
        add_link(dir, "100/exe", "/usr/bin/a");
        add_link(dir, "102/exe", "/usr/bin/c");
        ck_assert_int_eq(proc_scan(dir, &f, out, OUT_MAX, &n, NULL), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(out[0].cand.pid, 100);
        ck_assert_int_eq(out[1].cand.pid, 102);
        tmptree_rm(dir);
}
END_TEST

/* ---- the cache ---- */

static unsigned count_fds(void) {
        unsigned n = 0;

        for (int fd = 0; fd < 4096; fd++)
                n += fcntl(fd, F_GETFD) >= 0;
        return n;
}

static void remove_pid_dir(const char *dir, const char *pid) {
        static const char *files[] = { "stat", "status", "cgroup", "oom_score_adj", "cmdline" };
        char path[PATH_MAX];

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                snprintf(path, sizeof path, "%s/%s/%s", dir, pid, files[i]);
                ck_assert_int_eq(unlink(path), 0);
        }
        snprintf(path, sizeof path, "%s/%s", dir, pid);
        ck_assert_int_eq(rmdir(path), 0);
}

static void assert_same_entries(const ProcEntry *a, const ProcEntry *b, size_t n) {
        for (size_t i = 0; i < n; i++) {
                ck_assert_int_eq(a[i].cand.pid, b[i].cand.pid);
                ck_assert_uint_eq(a[i].cand.starttime, b[i].cand.starttime);
                ck_assert_str_eq(a[i].cand.name, b[i].cand.name);
                ck_assert_str_eq(a[i].cand.exe, b[i].cand.exe);
                ck_assert_str_eq(a[i].cand.cmdline, b[i].cand.cmdline);
                ck_assert_uint_eq(a[i].cand.rss_kb, b[i].cand.rss_kb);
                ck_assert_uint_eq(a[i].cand.swap_kb, b[i].cand.swap_kb);
                ck_assert_int_eq(a[i].cand.oom_score_adj, b[i].cand.oom_score_adj);
                ck_assert_int_eq(a[i].state, b[i].state);
                ck_assert_uint_eq(a[i].majflt, b[i].majflt);
                ck_assert_uint_eq(a[i].cpu_ticks, b[i].cpu_ticks);
                ck_assert_str_eq(a[i].cgroup, b[i].cgroup);
        }
}

static const size_t fd_budgets[] = { 0, 3, 1000 };

START_TEST(test_cache_matches_uncached) {
        static ProcEntry ref[OUT_MAX];
        char *dir = scan_tree();
        ScanCache *c = NULL;
        ScanFilter f;
        size_t n_ref, n, total;

        test_filter(&f);
        f.want_cmdline = true;
        ck_assert_int_eq(proc_scan(dir, &f, ref, OUT_MAX, &n_ref, NULL), 0);
        ck_assert_int_eq(scan_cache_new(fd_budgets[_i], &c), 0);
        for (int i = 0; i < 3; i++) {
                ck_assert_int_eq(proc_scan_cached(c, dir, &f, out, OUT_MAX, &n, &total), 0);
                ck_assert_uint_eq(n, n_ref);
                ck_assert_uint_eq(total, n_ref);
                assert_same_entries(out, ref, n);
        }
        c = scan_cache_free(c);
        ck_assert_ptr_null(c);
        tmptree_rm(dir);
}
END_TEST

static const ProcEntry *find(size_t n, pid_t pid) {
        for (size_t i = 0; i < n; i++)
                if (out[i].cand.pid == pid)
                        return &out[i];
        return NULL;
}

/* Scan once with the cache; return pid 100's entry (which must be there). */
static const ProcEntry *scan100(ScanCache *c, const char *dir, const ScanFilter *f) {
        const ProcEntry *e;
        size_t n;

        ck_assert_int_eq(proc_scan_cached(c, dir, f, out, OUT_MAX, &n, NULL), 0);
        e = find(n, 100);
        ck_assert_ptr_nonnull(e);
        return e;
}

START_TEST(test_cache_refresh_rules) {
        char *dir = scan_tree();
        ScanCache *c = NULL;
        ScanFilter f;
        unsigned scan = 0;

        test_filter(&f);
        ck_assert_int_eq(scan_cache_new(fd_budgets[_i], &c), 0);
        ck_assert_uint_eq(scan100(c, dir, &f)->cand.swap_kb, 2048);
        scan++;
        /* status changed but stat did not: an idle process; the cached value stands... */
        edit(dir, "100/status", "VmSwap:\t    2048 kB", "VmSwap:\t    4096 kB");
        edit(dir, "100/oom_score_adj", "200", "300");
        ck_assert_uint_eq(scan100(c, dir, &f)->cand.swap_kb, 2048);
        scan++;
        /* ...until it faults (or its rss moves): then swap is re-read at once, */
        edit(dir, "100/stat", " 10 0 1 0 7 3 ", " 11 0 1 0 7 3 ");
        ck_assert_uint_eq(scan100(c, dir, &f)->cand.swap_kb, 4096);
        scan++;
        /* while oom_score_adj waits for the periodic refresh (pid 100: scans 20, 40, ...). */
        ck_assert_int_eq(out[0].cand.oom_score_adj, 200);
        edit(dir, "100/status", "VmSwap:\t    4096 kB", "VmSwap:\t    8192 kB");
        for (; scan < SCAN_CACHE_REFRESH_SCANS - 1; scan++) {
                const ProcEntry *e = scan100(c, dir, &f);

                ck_assert_uint_eq(e->cand.swap_kb, 4096);
                ck_assert_int_eq(e->cand.oom_score_adj, 200);
        }
        ck_assert_uint_eq(scan100(c, dir, &f)->cand.swap_kb, 8192);
        ck_assert_int_eq(out[0].cand.oom_score_adj, 300);
        /* rss and the stat fields are fresh on every scan. */
        edit(dir, "100/stat", " 220000000 2560 ", " 220000000 5120 ");
        ck_assert_uint_eq(scan100(c, dir, &f)->cand.rss_kb, 5120 * page_kb());
        c = scan_cache_free(c);
        tmptree_rm(dir);
}
END_TEST

START_TEST(test_cache_pid_reuse) {
        char *dir = scan_tree();
        ScanCache *c = NULL;
        const ProcEntry *e;
        ScanFilter f;

        test_filter(&f);
        ck_assert_int_eq(scan_cache_new(fd_budgets[_i], &c), 0);
        (void) scan100(c, dir, &f);
        (void) scan100(c, dir, &f);
        /* Another process with the same pid: nothing of the old one may survive. */
        edit(dir, "100/stat", " 5000 ", " 6000 ");
        edit(dir, "100/status", "VmSwap:\t    2048 kB", "VmSwap:\t    1024 kB");
        edit(dir, "100/oom_score_adj", "200", "-100");
        edit(dir, "100/cgroup", "app-100.scope", "app-new.scope");
        e = scan100(c, dir, &f);
        ck_assert_uint_eq(e->cand.starttime, 6000);
        ck_assert_uint_eq(e->cand.swap_kb, 1024);
        ck_assert_int_eq(e->cand.oom_score_adj, -100);
        ck_assert_str_eq(e->cgroup, SESSION "app-new.scope");
        c = scan_cache_free(c);
        tmptree_rm(dir);
}
END_TEST

START_TEST(test_cache_comm_change) {
        char *dir = scan_tree();
        ScanCache *c = NULL;
        const ProcEntry *e;
        ScanFilter f;

        test_filter(&f);
        f.want_exe = true;
        add_link(dir, "100/exe", "/usr/bin/old");
        add_link(dir, "101/exe", "/usr/bin/x");
        add_link(dir, "102/exe", "/usr/bin/y");
        ck_assert_int_eq(scan_cache_new(fd_budgets[_i], &c), 0);
        ck_assert_str_eq(scan100(c, dir, &f)->cand.exe, "old");
        /* exec: a new comm means exe and cmdline are read again. */
        {
                char path[PATH_MAX];

                snprintf(path, sizeof path, "%s/100/exe", dir);
                ck_assert_int_eq(unlink(path), 0);
                ck_assert_int_eq(symlink("/usr/bin/new", path), 0);
        }
        edit(dir, "100/stat", "(Isolated Web Co)", "(new)");
        e = scan100(c, dir, &f);
        ck_assert_str_eq(e->cand.name, "new");
        ck_assert_str_eq(e->cand.exe, "new");
        /* Wanting the command line later reads it then. */
        f.want_cmdline = true;
        ck_assert_str_eq(scan100(c, dir, &f)->cand.cmdline, "/usr/lib/firefox/firefox -contentproc");
        c = scan_cache_free(c);
        tmptree_rm(dir);
}
END_TEST

START_TEST(test_cache_processes_come_and_go) {
        char *dir = scan_tree(), *other = scan_tree(), path[PATH_MAX];
        ScanCache *c = NULL;
        ScanFilter f;
        size_t n;

        test_filter(&f);
        ck_assert_int_eq(scan_cache_new(fd_budgets[_i], &c), 0);
        ck_assert_int_eq(proc_scan_cached(c, dir, &f, out, OUT_MAX, &n, NULL), 0);
        ck_assert_uint_eq(n, 3);
        /* 101 exits, a new 103 (a copy of 102) starts. */
        remove_pid_dir(dir, "101");
        add_dir(dir, "103");
        {
                char buf[8192];
                size_t len;

                len = fixture_load("scan/proc/102/status", buf, sizeof buf);
                snprintf(path, sizeof path, "%s/103/status", dir);
                write_file(path, buf, len);
                len = fixture_load("scan/proc/102/cgroup", buf, sizeof buf);
                snprintf(path, sizeof path, "%s/103/cgroup", dir);
                write_file(path, buf, len);
                write_text(dir, "103/oom_score_adj", "0\n");
                len = fixture_load("stat/ok", buf, sizeof buf);
                snprintf(path, sizeof path, "%s/103/stat", dir);
                write_file(path, buf, len);
        }
        edit(dir, "103/stat", "1234 (bash)", "103 (bash)");
        edit(dir, "103/status", "Tgid:\t102", "Tgid:\t103");
        ck_assert_int_eq(proc_scan_cached(c, dir, &f, out, OUT_MAX, &n, NULL), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_int_eq(out[0].cand.pid, 100);
        ck_assert_int_eq(out[1].cand.pid, 102);
        ck_assert_int_eq(out[2].cand.pid, 103);
        ck_assert_str_eq(out[2].cand.name, "bash");
        /* Another root is another machine: nothing carries over. */
        edit(other, "100/status", "VmSwap:\t    2048 kB", "VmSwap:\t     512 kB");
        ck_assert_int_eq(proc_scan_cached(c, other, &f, out, OUT_MAX, &n, NULL), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_uint_eq(out[0].cand.swap_kb, 512);
        ck_assert_int_eq(out[1].cand.pid, 101);
        c = scan_cache_free(c);
        tmptree_rm(dir);
        tmptree_rm(other);
}
END_TEST

START_TEST(test_cache_fds) {
        char *dir = scan_tree();
        unsigned base = count_fds(), held;
        ScanCache *c = NULL;
        ScanFilter f;
        size_t n;

        test_filter(&f);
        ck_assert_int_eq(scan_cache_new(1000, &c), 0);
        ck_assert_int_eq(proc_scan_cached(c, dir, &f, out, OUT_MAX, &n, NULL), 0);
        held = count_fds() - base;
        /* stat and status of the matching processes at least, and the proc root. */
        ck_assert_uint_ge(held, 2 * 3 + 1);
        /* An exited process gives its two fds back. */
        remove_pid_dir(dir, "101");
        ck_assert_int_eq(proc_scan_cached(c, dir, &f, out, OUT_MAX, &n, NULL), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(count_fds() - base, held - 2);
        c = scan_cache_free(c);
        ck_assert_uint_eq(count_fds(), base);
        /* The budget is a hard cap. */
        ck_assert_int_eq(scan_cache_new(3, &c), 0);
        ck_assert_int_eq(proc_scan_cached(c, dir, &f, out, OUT_MAX, &n, NULL), 0);
        ck_assert_int_eq(proc_scan_cached(c, dir, &f, out, OUT_MAX, &n, NULL), 0);
        ck_assert_uint_eq(count_fds(), base + 3 + 1);
        c = scan_cache_free(c);
        ck_assert_uint_eq(count_fds(), base);
        tmptree_rm(dir);
}
END_TEST

static Suite *procscan_suite(void) {
        Suite *s = suite_create("procscan");
        TCase *tc = tcase_create("scan");
        TCase *cache = tcase_create("cache");

        tcase_add_test(tc, test_scan_fixture);
        tcase_add_test(tc, test_scan_default_filter);
        tcase_add_test(tc, test_scan_max);
        tcase_add_test(tc, test_scan_bad_arguments);
        tcase_add_test(tc, test_scan_wants);
        tcase_add_test(tc, test_scan_vanished_mid_read);
        suite_add_tcase(s, tc);
        tcase_add_loop_test(cache, test_cache_matches_uncached, 0, ELEMENTSOF(fd_budgets));
        tcase_add_loop_test(cache, test_cache_refresh_rules, 0, ELEMENTSOF(fd_budgets));
        tcase_add_loop_test(cache, test_cache_pid_reuse, 0, ELEMENTSOF(fd_budgets));
        tcase_add_loop_test(cache, test_cache_comm_change, 0, ELEMENTSOF(fd_budgets));
        tcase_add_loop_test(cache, test_cache_processes_come_and_go, 0, ELEMENTSOF(fd_budgets));
        tcase_add_test(cache, test_cache_fds);
        suite_add_tcase(s, cache);
        return s;
}

MGD_CHECK_MAIN(procscan_suite)
