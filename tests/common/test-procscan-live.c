/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * proc_scan() on the real /proc: a child of this test, in this test's cgroup, is found with its
 * comm and a sane RSS, and the test itself is not. When the test runs in the root cgroup it makes
 * a cgroup of its own under the cgroup2 mount, and removes it afterwards.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/procscan.h"
#include "tests/check-main.h"
#include "tests/common/fixture.h"

#define KID_COMM "mgd scan) kid"        /* a space and a ')' on purpose */
#define KID_MIB 16

typedef struct Live {
        char orig[PROC_CGROUP_MAX];     /* our unified cgroup at the start */
        const char *cg_root;            /* the cgroup2 mount */
        char made[PATH_MAX];            /* the cgroup we created, or "" */
        char pattern[64];
        pid_t kid;
} Live;

static int join_cgroup(const Live *l, const char *rel) {
        char path[PATH_MAX], pid[16];
        int fd, r = 0;

        snprintf(path, sizeof path, "%s%s/cgroup.procs", l->cg_root, strcmp(rel, "/") ? rel : "");
        snprintf(pid, sizeof pid, "%d", (int) getpid());
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (write(fd, pid, strlen(pid)) < 0)
                r = -errno;
        (void) close(fd);
        return r;
}

static void live_setup(Live *l) {
        ProcCgroup cg;
        const char *leaf;

        ck_assert_int_eq(proc_cgroup_read("/proc", getpid(), &cg), 0);
        ck_assert_msg(cg.has_unified, "no cgroup2 hierarchy in /proc/self/cgroup");
        strcpy(l->orig, cg.unified);
        leaf = strrchr(cg.unified, '/') + 1;
        if (*leaf) {
                snprintf(l->pattern, sizeof l->pattern, "%s", leaf);
                return;
        }
        l->cg_root = access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) == 0 ? "/sys/fs/cgroup/unified"
                                                                                : "/sys/fs/cgroup";
        snprintf(l->pattern, sizeof l->pattern, "mgd-scan-test-%d", (int) getpid());
        snprintf(l->made, sizeof l->made, "%s/%s", l->cg_root, l->pattern);
        ck_assert_msg(mkdir(l->made, 0755) == 0, "mkdir %s: %s", l->made, strerror(errno));
        ck_assert_int_eq(join_cgroup(l, strrchr(l->made, '/')), 0);
}

static _noreturn_ void kid_main(int ready) {
        size_t len = (size_t) KID_MIB << 20;
        volatile char *mem;

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        (void) prctl(PR_SET_NAME, KID_COMM);
        mem = malloc(len);
        if (!mem)
                _exit(1);
        /* volatile: a buffer nobody reads is otherwise never written, and never resident. */
        for (size_t i = 0; i < len; i += 4096)
                mem[i] = 0x5a;
        (void) write(ready, "x", 1);
        for (;;)
                pause();
}

static void spawn_kid(Live *l) {
        int p[2];
        char c;

        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        l->kid = fork();
        ck_assert_int_ge(l->kid, 0);
        if (l->kid == 0)
                kid_main(p[1]);
        (void) close(p[1]);
        ck_assert_int_eq(read(p[0], &c, 1), 1);
        (void) close(p[0]);
}

/* Undo everything before any assertion can end the test. */
static void live_teardown(Live *l) {
        if (l->kid > 0) {
                (void) kill(l->kid, SIGKILL);
                (void) waitpid(l->kid, NULL, 0);
        }
        if (!l->made[0])
                return;
        (void) join_cgroup(l, l->orig);
        for (int i = 0; i < 100 && rmdir(l->made) < 0 && errno == EBUSY; i++)
                (void) usleep(10000);
}

typedef struct Seen {
        int r;
        bool kid, self;
        ProcEntry kid_entry;
} Seen;

static Seen look(ScanCache *c, const ScanFilter *f) {
        static ProcEntry out[4096];
        Seen s = {};
        size_t n = 0;

        s.r = c ? proc_scan_cached(c, "/proc", f, out, ELEMENTSOF(out), &n, NULL)
                : proc_scan("/proc", f, out, ELEMENTSOF(out), &n, NULL);
        for (size_t i = 0; i < n; i++) {
                if (out[i].cand.pid == f->self)
                        s.self = true;
                if (out[i].cand.pid == f->exclude_ppid || out[i].cand.pid <= 0)
                        continue;
                if (strcmp(out[i].cand.name, KID_COMM) == 0) {
                        s.kid = true;
                        s.kid_entry = out[i];
                }
        }
        return s;
}

static void check_seen(const Seen *s, const Live *l, const ProcStat *kid_stat) {
        ck_assert_int_eq(s->r, 0);
        ck_assert_msg(s->kid, "child %d (%s) not found in session %s", (int) l->kid, KID_COMM, l->pattern);
        ck_assert_msg(!s->self, "the scan found itself");
        ck_assert_int_eq(s->kid_entry.cand.pid, l->kid);
        ck_assert_uint_eq(s->kid_entry.cand.starttime, kid_stat->starttime);
        ck_assert_msg(s->kid_entry.cand.rss_kb >= KID_MIB * 1024 && s->kid_entry.cand.rss_kb < 1024 * 1024,
                      "child RSS %llu kB", (unsigned long long) s->kid_entry.cand.rss_kb);
        ck_assert_msg(strstr(s->kid_entry.cgroup, l->pattern), "cgroup %s", s->kid_entry.cgroup);
        /* Asleep in pause(), or still on its way there. */
        ck_assert_msg(s->kid_entry.state == 'S' || s->kid_entry.state == 'R', "state %c", s->kid_entry.state);
        ck_assert_str_eq(s->kid_entry.cand.exe, "test-procscan-live");
}

START_TEST(test_live_scan) {
        Live l = {};
        Seen plain, cached1, cached2;
        ScanCache *c = NULL;
        ProcStat kid_stat = {};
        ScanFilter f;
        int r_stat;

        live_setup(&l);
        spawn_kid(&l);
        scan_filter_default(&f, getuid(), getpid());
        f.session[0] = l.pattern;
        f.n_session = 1;
        f.want_exe = true;
        r_stat = proc_stat_read("/proc", l.kid, &kid_stat);
        plain = look(NULL, &f);
        ck_assert_int_eq(scan_cache_new(64, &c), 0);
        cached1 = look(c, &f);
        cached2 = look(c, &f);
        c = scan_cache_free(c);
        live_teardown(&l);

        ck_assert_int_eq(r_stat, 0);
        check_seen(&plain, &l, &kid_stat);
        check_seen(&cached1, &l, &kid_stat);
        check_seen(&cached2, &l, &kid_stat);
}
END_TEST

static Suite *live_suite(void) {
        Suite *s = suite_create("procscan-live");
        TCase *tc = tcase_create("live");

        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_live_scan);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(live_suite)
