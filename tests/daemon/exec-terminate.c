/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Terminate and kill on real processes, driven by a real sd_event loop: SIGTERM that works,
 * SIGTERM that is ignored (SIGKILL after the grace), SIGKILL, the in-flight table, and the
 * recycled-pid guard.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "daemon/executor.h"
#include "tests/check-main.h"
#include "tests/daemon/exec-util.h"

#define GRACE (300 * USEC_PER_MSEC)

static sd_event *event;
static Executor *x;

typedef struct Done {
        unsigned calls;
        ExecResult last;
} Done;

static void on_done(Executor *ex, const ExecResult *r, void *userdata) {
        Done *d = userdata;

        ck_assert_ptr_eq(ex, x);
        d->calls++;
        d->last = *r;
}

static void setup(void) {
        ck_assert_int_ge(sd_event_new(&event), 0);
        ck_assert_int_eq(executor_new(event, "/proc", test_cgroup2_root(), GRACE, &x), 0);
}

static void teardown(void) {
        x = executor_free(x);
        event = sd_event_unref(event);
        test_cleanup();
}

/* Run the loop until `calls` callbacks have come, or fail after timeout. */
static void run_until(Done *d, unsigned calls, usec_t timeout) {
        usec_t end = test_now() + timeout;

        while (d->calls < calls) {
                ck_assert_msg(test_now() < end, "no completion after %llu ms",
                              (unsigned long long) (timeout / USEC_PER_MSEC));
                ck_assert_int_ge(sd_event_run(event, 50 * USEC_PER_MSEC), 0);
        }
}

START_TEST(test_terminate_exits_on_sigterm) {
        pid_t pid = test_spawn("mgd-t-term", CHILD_PAUSE);
        uint64_t st = test_starttime(pid);
        Done d = {};
        int status;

        ck_assert_int_eq(executor_terminate(x, pid, st, on_done, &d), 0);
        ck_assert(executor_busy(x));
        ck_assert(executor_pid_in_flight(x, pid));
        run_until(&d, 1, 2 * USEC_PER_SEC);

        ck_assert_int_eq(d.last.pid, pid);
        ck_assert_int_eq(d.last.action, ACTION_TERMINATE);
        ck_assert(d.last.exited);
        ck_assert(!d.last.killed);
        ck_assert_int_eq(d.last.error, 0);
        ck_assert_uint_lt(d.last.elapsed, GRACE);
        ck_assert(!executor_busy(x));

        status = test_wait(pid);
        ck_assert(WIFSIGNALED(status));
        ck_assert_int_eq(WTERMSIG(status), SIGTERM);
}
END_TEST

START_TEST(test_terminate_escalates_after_grace) {
        pid_t pid = test_spawn("mgd-t-stubborn", CHILD_IGNORE_TERM);
        uint64_t st = test_starttime(pid);
        Done d = {};
        int status;

        ck_assert_int_eq(executor_terminate(x, pid, st, on_done, &d), 0);
        run_until(&d, 1, 3 * USEC_PER_SEC);

        ck_assert(d.last.exited);
        ck_assert(d.last.killed);
        ck_assert_int_eq(d.last.error, 0);
        ck_assert_uint_ge(d.last.elapsed, GRACE);
        ck_assert_uint_lt(d.last.elapsed, GRACE + USEC_PER_SEC);

        status = test_wait(pid);
        ck_assert(WIFSIGNALED(status));
        ck_assert_int_eq(WTERMSIG(status), SIGKILL);
}
END_TEST

START_TEST(test_kill_is_immediate) {
        pid_t pid = test_spawn("mgd-t-kill", CHILD_IGNORE_TERM);
        Done d = {};
        int status;

        ck_assert_int_eq(executor_kill(x, pid, test_starttime(pid), on_done, &d), 0);
        run_until(&d, 1, 2 * USEC_PER_SEC);

        ck_assert_int_eq(d.last.action, ACTION_KILL);
        ck_assert(d.last.exited);
        ck_assert(d.last.killed);
        ck_assert_uint_lt(d.last.elapsed, GRACE);
        /* This kernel has process_mrelease() and the victim was dying: no error to report. */
        ck_assert_int_eq(d.last.mrelease_error, 0);

        status = test_wait(pid);
        ck_assert_int_eq(WTERMSIG(status), SIGKILL);
}
END_TEST

START_TEST(test_kill_a_frozen_process) {
        pid_t pid = test_spawn("mgd-t-frozenkill", CHILD_IGNORE_TERM);
        uint64_t st = test_starttime(pid);
        FreezeInfo fi;
        Done d = {};

        ck_assert_int_eq(executor_freeze(x, pid, st, &fi), 0);
        ck_assert(test_wait_state(pid, "T", USEC_PER_SEC));
        /* A stopped process that does not die of SIGTERM: the escalation still ends it. */
        ck_assert_int_eq(executor_terminate(x, pid, st, on_done, &d), 0);
        run_until(&d, 1, 3 * USEC_PER_SEC);
        ck_assert(d.last.exited);
        ck_assert(d.last.killed);
        ck_assert_int_eq(WTERMSIG(test_wait(pid)), SIGKILL);
}
END_TEST

START_TEST(test_terminate_lets_a_stopped_process_handle_sigterm) {
        pid_t pid = test_spawn("mgd-t-graceful", CHILD_HANDLE_TERM);
        uint64_t st = test_starttime(pid);
        FreezeInfo fi;
        Done d = {};
        int status;

        ck_assert_int_eq(executor_freeze(x, pid, st, &fi), 0);
        ck_assert(test_wait_state(pid, "T", USEC_PER_SEC));
        /* Its handler exits 0: that only happens if it is resumed after SIGTERM, before the grace. */
        ck_assert_int_eq(executor_terminate(x, pid, st, on_done, &d), 0);
        run_until(&d, 1, 3 * USEC_PER_SEC);
        ck_assert(d.last.exited);
        ck_assert(!d.last.killed);
        status = test_wait(pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(test_recycled_pid_is_never_signalled) {
        pid_t pid = test_spawn("mgd-t-recycle", CHILD_PAUSE);
        uint64_t st = test_starttime(pid);
        Done d = {};

        ck_assert_int_eq(executor_terminate(x, pid, st + 1, on_done, &d), -ESRCH);
        ck_assert_int_eq(executor_kill(x, pid, st - 1, on_done, &d), -ESRCH);
        ck_assert_int_eq(executor_last_error(x)->pid, pid);
        ck_assert(!executor_busy(x));

        /* Nothing was sent: it is alive and not stopped, and no callback ever comes. */
        ck_assert_int_ge(sd_event_run(event, 100 * USEC_PER_MSEC), 0);
        ck_assert_uint_eq(d.calls, 0);
        ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
        ck_assert(strchr("SR", test_state(pid)));
}
END_TEST

START_TEST(test_in_flight_table) {
        pid_t pids[EXEC_INFLIGHT_MAX + 1];
        Done d = {};
        FreezeInfo fi;

        for (size_t i = 0; i < ELEMENTSOF(pids); i++)
                pids[i] = test_spawn("mgd-t-many", CHILD_IGNORE_TERM);
        for (size_t i = 0; i < EXEC_INFLIGHT_MAX; i++)
                ck_assert_int_eq(executor_terminate(x, pids[i], test_starttime(pids[i]), on_done, &d), 0);
        ck_assert_uint_eq(executor_in_flight(x), EXEC_INFLIGHT_MAX);

        /* Full; the same pid twice; a freeze of a pid being terminated. */
        ck_assert_int_eq(executor_terminate(x, pids[EXEC_INFLIGHT_MAX], test_starttime(pids[EXEC_INFLIGHT_MAX]),
                                            on_done, &d), -EBUSY);
        ck_assert_int_eq(executor_kill(x, pids[0], test_starttime(pids[0]), on_done, &d), -EALREADY);
        ck_assert_int_eq(executor_freeze(x, pids[1], test_starttime(pids[1]), &fi), -EBUSY);
        ck_assert_int_ne(test_state(pids[1]), 'T');

        run_until(&d, EXEC_INFLIGHT_MAX, 5 * USEC_PER_SEC);
        ck_assert_uint_eq(executor_in_flight(x), 0);
        for (size_t i = 0; i < EXEC_INFLIGHT_MAX; i++)
                ck_assert_int_eq(WTERMSIG(test_wait(pids[i])), SIGKILL);
        /* The table is reusable once drained. */
        ck_assert_int_eq(executor_kill(x, pids[EXEC_INFLIGHT_MAX], test_starttime(pids[EXEC_INFLIGHT_MAX]),
                                       on_done, &d), 0);
        run_until(&d, EXEC_INFLIGHT_MAX + 1, 2 * USEC_PER_SEC);
        ck_assert(d.last.exited);
}
END_TEST

static void on_done_chain(Executor *ex, const ExecResult *r, void *userdata) {
        pid_t *next = userdata;

        /* The slot is free already: the callback may start the next action. */
        ck_assert_uint_eq(executor_in_flight(ex), 0);
        if (*next > 0) {
                ck_assert_int_eq(executor_kill(ex, *next, test_starttime(*next), on_done_chain, next), 0);
                *next = 0;
        }
}

START_TEST(test_callback_may_start_the_next) {
        pid_t a = test_spawn("mgd-t-chain-a", CHILD_PAUSE), b = test_spawn("mgd-t-chain-b", CHILD_PAUSE);
        pid_t next = b;
        usec_t end = test_now() + 2 * USEC_PER_SEC;

        ck_assert_int_eq(executor_kill(x, a, test_starttime(a), on_done_chain, &next), 0);
        while (next != 0 || executor_busy(x)) {
                ck_assert(test_now() < end);
                ck_assert_int_ge(sd_event_run(event, 50 * USEC_PER_MSEC), 0);
        }
        ck_assert_int_eq(WTERMSIG(test_wait(a)), SIGKILL);
        ck_assert_int_eq(WTERMSIG(test_wait(b)), SIGKILL);
}
END_TEST

START_TEST(test_bad_arguments) {
        Executor *e2 = NULL;

        ck_assert_int_eq(executor_new(event, "/proc", NULL, 0, &e2), -EINVAL);
        ck_assert_int_eq(executor_new(NULL, "/proc", NULL, GRACE, &e2), -EINVAL);
        ck_assert_ptr_null(e2);
        ck_assert_int_eq(executor_terminate(x, 0, 1, on_done, NULL), -EINVAL);
        ck_assert_int_eq(executor_kill(x, -5, 1, on_done, NULL), -EINVAL);
}
END_TEST

static Suite *exec_terminate_suite(void) {
        Suite *s = suite_create("exec-terminate");
        TCase *tc = tcase_create("terminate");

        test_init();
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, test_terminate_exits_on_sigterm);
        tcase_add_test(tc, test_terminate_escalates_after_grace);
        tcase_add_test(tc, test_kill_is_immediate);
        tcase_add_test(tc, test_kill_a_frozen_process);
        tcase_add_test(tc, test_terminate_lets_a_stopped_process_handle_sigterm);
        tcase_add_test(tc, test_recycled_pid_is_never_signalled);
        tcase_add_test(tc, test_in_flight_table);
        tcase_add_test(tc, test_callback_may_start_the_next);
        tcase_add_test(tc, test_bad_arguments);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(exec_terminate_suite)
