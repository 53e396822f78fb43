/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The pressure path must not allocate: once the executor exists, pinning, freezing, thawing,
 * terminating and killing (the event loop's dispatch included) make no heap allocation. This
 * binary interposes malloc and friends and counts the calls made while `counting` is set.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "daemon/executor.h"
#include "tests/check-main.h"
#include "tests/daemon/exec-util.h"

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t a, size_t n);

static volatile int counting;
static volatile unsigned long allocations;

void *malloc(size_t n) {
        if (counting)
                allocations++;
        return __libc_malloc(n);
}

void *calloc(size_t n, size_t m) {
        if (counting)
                allocations++;
        return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n) {
        if (counting)
                allocations++;
        return __libc_realloc(p, n);
}

void *aligned_alloc(size_t a, size_t n) {
        if (counting)
                allocations++;
        return __libc_memalign(a, n);
}

static unsigned done_calls;

static void on_done(Executor *x, const ExecResult *r, void *userdata) {
        done_calls++;
}

START_TEST(test_pressure_path_does_not_allocate) {
        sd_event *e = NULL;
        _cleanup_executor_ Executor *x = NULL;
        pid_t a = test_spawn("mgd-t-na-freeze", CHILD_PAUSE);
        pid_t b = test_spawn("mgd-t-na-term", CHILD_IGNORE_TERM);
        pid_t c = test_spawn("mgd-t-na-kill", CHILD_PAUSE);
        uint64_t sa = test_starttime(a), sb = test_starttime(b), sc = test_starttime(c);
        usec_t end = test_now() + 3 * USEC_PER_SEC;
        FreezeInfo fi;
        int fd = -1, r[7] = {};
        char cg[PATH_MAX];

        /* a is alone in an app scope, so its freeze takes the cgroup path. */
        test_cgroup_mkdir("/app-test.scope", cg, sizeof(cg));
        test_cgroup_move(cg, a);
        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(executor_new(e, "/proc", test_cgroup2_root(), 200 * USEC_PER_MSEC, &x), 0);
        /* Start-up: the loop sizes its epoll buffer on its first run. */
        ck_assert_int_ge(sd_event_run(e, 0), 0);

        /* No ck_assert in here: check's location marks allocate. */
        counting = 1;
        r[0] = executor_pin(x, a, sa, &fd);
        r[1] = executor_freeze(x, a, sa, &fi);
        r[2] = executor_thaw(x, a, sa, fi.method, fi.cgroup);
        r[3] = executor_terminate(x, b, sb, on_done, NULL);
        r[4] = executor_kill(x, c, sc, on_done, NULL);
        r[5] = executor_kill(x, a, sa + 1, on_done, NULL);
        while (done_calls < 2 && test_now() < end && r[6] >= 0)
                r[6] = sd_event_run(e, 50 * USEC_PER_MSEC);
        counting = 0;

        ck_assert_int_eq(r[0], 0);
        ck_assert_int_eq(r[1], 0);
        ck_assert_int_eq(r[2], 0);
        ck_assert_int_eq(r[3], 0);
        ck_assert_int_eq(r[4], 0);
        ck_assert_int_eq(r[5], -ESRCH);
        ck_assert_int_ge(r[6], 0);
        ck_assert_int_eq(fi.method, FREEZE_CGROUP);
        ck_assert_uint_eq(done_calls, 2);
        ck_assert_msg(allocations == 0, "%lu heap allocations on the pressure path", allocations);
        close(fd);
        x = executor_free(x);
        sd_event_unref(e);
        (void) test_wait(b);
        (void) test_wait(c);
}
END_TEST

static Suite *exec_noalloc_suite(void) {
        Suite *s = suite_create("exec-noalloc");
        TCase *tc = tcase_create("noalloc");

        test_init();
        tcase_add_checked_fixture(tc, NULL, test_cleanup);
        tcase_add_unchecked_fixture(tc, NULL, test_cleanup_tree);
        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, test_pressure_path_does_not_allocate);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(exec_noalloc_suite)
