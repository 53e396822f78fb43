/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Freeze and thaw on real processes: SIGSTOP, the cgroup v2 freezer on a real cgroup under the
 * detected cgroup2 mount, the fallbacks, and the recycled-pid guard.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "daemon/executor.h"
#include "tests/check-main.h"
#include "tests/daemon/exec-util.h"

#define WAIT (2 * USEC_PER_SEC)

static sd_event *event;
static Executor *x;

static void setup(void) {
        ck_assert_int_ge(sd_event_new(&event), 0);
        ck_assert_int_eq(executor_new(event, "/proc", test_cgroup2_root(), 300 * USEC_PER_MSEC, &x), 0);
}

static void teardown(void) {
        x = executor_free(x);
        event = sd_event_unref(event);
        test_cleanup();
}

START_TEST(test_sigstop_freeze_and_thaw) {
        pid_t pid = test_spawn("mgd-t-stop", CHILD_PAUSE);
        uint64_t st = test_starttime(pid);
        FreezeInfo fi;

        /* In the root cgroup: not an app scope, so SIGSTOP. */
        ck_assert_int_eq(executor_freeze(x, pid, st, &fi), 0);
        ck_assert_int_eq(fi.method, FREEZE_SIGSTOP);
        ck_assert_str_eq(fi.cgroup, "");
        ck_assert_msg(test_wait_state(pid, "T", WAIT), "state %c, want T", test_state(pid));

        ck_assert_int_eq(executor_thaw(x, pid, st, FREEZE_SIGSTOP, NULL), 0);
        ck_assert_msg(test_wait_state(pid, "SR", WAIT), "state %c, want S/R", test_state(pid));
}
END_TEST

typedef struct AheadSeen {
        pid_t pid;
        unsigned calls;
        FreezeMethod method;
        char state;             /* the process's state when the hook ran */
        char cgroup_freeze;     /* its cgroup.freeze then ('-' for SIGSTOP) */
        int ret;
} AheadSeen;

static int ahead_hook(const FreezeInfo *planned, void *userdata) {
        AheadSeen *a = userdata;

        a->calls++;
        a->method = planned->method;
        a->state = test_state(a->pid);
        a->cgroup_freeze = '-';
        if (planned->method == FREEZE_CGROUP) {
                char path[PATH_MAX + 32], buf[4] = "";
                FILE *f;

                (void) snprintf(path, sizeof(path), "%s%s/cgroup.freeze", test_cgroup2_root(), planned->cgroup);
                f = fopen(path, "re");
                if (f && fgets(buf, sizeof(buf), f))
                        a->cgroup_freeze = buf[0];
                if (f)
                        fclose(f);
        }
        return a->ret;
}

/* The write-ahead hook runs once, with the method to be used, before the process is stopped. */
START_TEST(test_write_ahead_runs_before_the_stop) {
        pid_t pid = test_spawn("mgd-t-ahead", CHILD_PAUSE);
        uint64_t st = test_starttime(pid);
        AheadSeen a = { .pid = pid };
        char cg[PATH_MAX];
        FreezeInfo fi;

        ck_assert_int_eq(executor_freeze_ahead(x, pid, st, ahead_hook, &a, &fi), 0);
        ck_assert_uint_eq(a.calls, 1);
        ck_assert_int_eq(a.method, FREEZE_SIGSTOP);
        ck_assert_msg(a.state == 'S' || a.state == 'R', "state %c when the hook ran", a.state);
        ck_assert(test_wait_state(pid, "T", WAIT));
        ck_assert_int_eq(executor_thaw(x, pid, st, FREEZE_SIGSTOP, NULL), 0);
        ck_assert(test_wait_state(pid, "SR", WAIT));

        /* the cgroup freezer: on record before cgroup.freeze is written */
        test_cgroup_mkdir("/app-ahead.scope", cg, sizeof(cg));
        test_cgroup_move(cg, pid);
        a = (AheadSeen) { .pid = pid };
        ck_assert_int_eq(executor_freeze_ahead(x, pid, st, ahead_hook, &a, &fi), 0);
        ck_assert_uint_eq(a.calls, 1);
        ck_assert_int_eq(a.method, FREEZE_CGROUP);
        ck_assert_int_eq(a.cgroup_freeze, '0');
        ck_assert_int_eq(executor_thaw(x, pid, st, FREEZE_CGROUP, fi.cgroup), 0);
}
END_TEST

/* A record that cannot be written refuses the freeze: nothing is stopped. */
START_TEST(test_write_ahead_failure_stops_nothing) {
        pid_t pid = test_spawn("mgd-t-ahead-no", CHILD_PAUSE);
        uint64_t st = test_starttime(pid);
        AheadSeen a = { .pid = pid, .ret = -ENOSPC };
        FreezeInfo fi;

        ck_assert_int_eq(executor_freeze_ahead(x, pid, st, ahead_hook, &a, &fi), -ENOSPC);
        ck_assert_str_eq(executor_last_error(x)->what, "write-ahead record");
        usleep(50 * 1000);
        ck_assert_msg(test_state(pid) != 'T', "stopped although its record was refused");
}
END_TEST

START_TEST(test_already_stopped_is_not_taken_over) {
        pid_t pid = test_spawn("mgd-t-jobctl", CHILD_PAUSE);
        uint64_t st = test_starttime(pid);
        FreezeInfo fi;

        /* Stopped by someone else (job control): mgd must neither claim nor later resume it. */
        ck_assert_int_eq(kill(pid, SIGSTOP), 0);
        ck_assert(test_wait_state(pid, "T", WAIT));
        ck_assert_int_eq(executor_freeze(x, pid, st, &fi), -EALREADY);
        ck_assert_int_eq(executor_last_error(x)->pid, pid);
        ck_assert_int_eq(test_state(pid), 'T');
}
END_TEST

START_TEST(test_cgroup_freeze_and_thaw) {
        pid_t pid = test_spawn("mgd-t-cgroup", CHILD_PAUSE);
        uint64_t st = test_starttime(pid);
        char cg[PATH_MAX];
        FreezeInfo fi;

        test_cgroup_mkdir("/app-test.scope", cg, sizeof(cg));
        test_cgroup_move(cg, pid);

        ck_assert_int_eq(executor_freeze(x, pid, st, &fi), 0);
        ck_assert_int_eq(fi.method, FREEZE_CGROUP);
        ck_assert_str_eq(fi.cgroup, cg);
        /* Settled means the kernel said so already; otherwise (a busy machine: the task must be
         * scheduled to freeze) the freeze is still in force and completes shortly. */
        if (fi.settled)
                ck_assert_int_eq(test_cgroup_frozen(cg), 1);
        ck_assert(test_cgroup_wait_frozen(cg, 1, WAIT));
        ck_assert_int_eq(cgroup_frozen(test_cgroup2_root(), cg), 1);
        /* The freezer, not a signal: the task is not in the stopped state. */
        ck_assert_int_ne(test_state(pid), 'T');

        ck_assert_int_eq(executor_thaw(x, pid, st, FREEZE_CGROUP, cg), 0);
        ck_assert(test_cgroup_wait_frozen(cg, 0, WAIT));
}
END_TEST

START_TEST(test_cgroup_not_alone_falls_back_to_sigstop) {
        pid_t a = test_spawn("mgd-t-alone-a", CHILD_PAUSE), b = test_spawn("mgd-t-alone-b", CHILD_PAUSE);
        uint64_t st = test_starttime(a);
        char cg[PATH_MAX];
        FreezeInfo fi;

        test_cgroup_mkdir("/app-test.scope", cg, sizeof(cg));
        test_cgroup_move(cg, a);
        test_cgroup_move(cg, b);

        ck_assert_int_eq(executor_freeze(x, a, st, &fi), 0);
        ck_assert_int_eq(fi.method, FREEZE_SIGSTOP);
        ck_assert(test_wait_state(a, "T", WAIT));
        ck_assert_int_eq(test_cgroup_frozen(cg), 0);
        ck_assert_int_ne(test_state(b), 'T');
        ck_assert_int_eq(executor_thaw(x, a, st, FREEZE_SIGSTOP, NULL), 0);
        ck_assert(test_wait_state(a, "SR", WAIT));
}
END_TEST

START_TEST(test_cgroup_with_child_cgroup_falls_back) {
        pid_t pid = test_spawn("mgd-t-nested", CHILD_PAUSE);
        char cg[PATH_MAX], sub[PATH_MAX];
        FreezeInfo fi;

        test_cgroup_mkdir("/app-test.scope", cg, sizeof(cg));
        test_cgroup_mkdir("/app-test.scope/inner", sub, sizeof(sub));
        test_cgroup_move(cg, pid);

        ck_assert_int_eq(executor_freeze(x, pid, test_starttime(pid), &fi), 0);
        ck_assert_int_eq(fi.method, FREEZE_SIGSTOP);
        ck_assert_int_eq(test_cgroup_frozen(cg), 0);
}
END_TEST

START_TEST(test_non_app_scope_falls_back) {
        pid_t pid = test_spawn("mgd-t-service", CHILD_PAUSE);
        char cg[PATH_MAX];
        FreezeInfo fi;

        /* Alone, writable, but a service (or init.scope/session-N.scope): not one app's scope. */
        test_cgroup_mkdir("/app-test.service", cg, sizeof(cg));
        test_cgroup_move(cg, pid);

        ck_assert_int_eq(executor_freeze(x, pid, test_starttime(pid), &fi), 0);
        ck_assert_int_eq(fi.method, FREEZE_SIGSTOP);
        ck_assert_int_eq(test_cgroup_frozen(cg), 0);
        ck_assert(test_wait_state(pid, "T", WAIT));
}
END_TEST

START_TEST(test_no_cgroup2_root_uses_sigstop) {
        _cleanup_executor_ Executor *plain = NULL;
        pid_t pid = test_spawn("mgd-t-nocg2", CHILD_PAUSE);
        char cg[PATH_MAX];
        FreezeInfo fi;

        test_cgroup_mkdir("/app-test.scope", cg, sizeof(cg));
        test_cgroup_move(cg, pid);

        ck_assert_int_eq(executor_new(event, "/proc", NULL, USEC_PER_SEC, &plain), 0);
        ck_assert_int_eq(executor_freeze(plain, pid, test_starttime(pid), &fi), 0);
        ck_assert_int_eq(fi.method, FREEZE_SIGSTOP);
        ck_assert_int_eq(test_cgroup_frozen(cg), 0);
}
END_TEST

START_TEST(test_cgroup_frozen_by_someone_else) {
        pid_t pid = test_spawn("mgd-t-other", CHILD_PAUSE);
        char cg[PATH_MAX];
        FreezeInfo fi;

        test_cgroup_mkdir("/app-test.scope", cg, sizeof(cg));
        test_cgroup_move(cg, pid);
        test_cgroup_write(cg, "cgroup.freeze", "1");
        ck_assert(test_cgroup_wait_frozen(cg, 1, WAIT));

        ck_assert_int_eq(executor_freeze(x, pid, test_starttime(pid), &fi), -EALREADY);
        /* ...and nothing was added on top: no SIGSTOP pending for when it is thawed. */
        test_cgroup_write(cg, "cgroup.freeze", "0");
        ck_assert(test_cgroup_wait_frozen(cg, 0, WAIT));
        usleep(20 * 1000);
        ck_assert_int_ne(test_state(pid), 'T');
}
END_TEST

START_TEST(test_cgroup_thaw_refuses_a_cgroup_the_process_left) {
        pid_t pid = test_spawn("mgd-t-moved", CHILD_PAUSE);
        uint64_t st = test_starttime(pid);
        char cg[PATH_MAX], other[PATH_MAX];
        FreezeInfo fi;

        test_cgroup_mkdir("/app-test.scope", cg, sizeof(cg));
        test_cgroup_mkdir("/app-elsewhere.scope", other, sizeof(other));
        test_cgroup_move(cg, pid);
        ck_assert_int_eq(executor_freeze(x, pid, st, &fi), 0);
        ck_assert_int_eq(fi.method, FREEZE_CGROUP);

        /* It moved (which thaws it); the old cgroup is no longer its own: leave it alone. */
        test_cgroup_move(other, pid);
        ck_assert_int_eq(executor_thaw(x, pid, st, FREEZE_CGROUP, cg), -ENOENT);
        ck_assert_int_eq(test_cgroup_frozen(cg), 1);
        test_cgroup_write(cg, "cgroup.freeze", "0");
}
END_TEST

START_TEST(test_recycled_pid_is_never_signalled) {
        pid_t pid = test_spawn("mgd-t-recycle", CHILD_PAUSE);
        uint64_t st = test_starttime(pid);
        FreezeInfo fi;
        int fd = -1;

        ck_assert_int_eq(executor_pin(x, pid, st + 1, &fd), -ESRCH);
        ck_assert_int_eq(fd, -1);
        ck_assert_ptr_nonnull(strstr(executor_last_error(x)->what, "starttime"));
        ck_assert_int_eq(executor_freeze(x, pid, st + 1, &fi), -ESRCH);
        ck_assert_int_eq(executor_thaw(x, pid, st + 1, FREEZE_SIGSTOP, NULL), -ESRCH);

        /* Still running, never stopped. */
        usleep(20 * 1000);
        ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
        ck_assert(strchr("SR", test_state(pid)));

        ck_assert_int_eq(executor_pin(x, pid, st, &fd), 0);
        ck_assert_int_ge(fd, 0);
        close(fd);
}
END_TEST

START_TEST(test_gone_pid) {
        pid_t pid = test_spawn("mgd-t-gone", CHILD_PAUSE);
        uint64_t st = test_starttime(pid);
        FreezeInfo fi;

        (void) test_reap(pid);
        ck_assert_int_eq(executor_freeze(x, pid, st, &fi), -ESRCH);
}
END_TEST

static Suite *exec_freeze_suite(void) {
        Suite *s = suite_create("exec-freeze");
        TCase *tc = tcase_create("freeze");

        test_init();
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_unchecked_fixture(tc, NULL, test_cleanup_tree);
        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, test_sigstop_freeze_and_thaw);
        tcase_add_test(tc, test_write_ahead_runs_before_the_stop);
        tcase_add_test(tc, test_write_ahead_failure_stops_nothing);
        tcase_add_test(tc, test_already_stopped_is_not_taken_over);
        tcase_add_test(tc, test_cgroup_freeze_and_thaw);
        tcase_add_test(tc, test_cgroup_not_alone_falls_back_to_sigstop);
        tcase_add_test(tc, test_cgroup_with_child_cgroup_falls_back);
        tcase_add_test(tc, test_non_app_scope_falls_back);
        tcase_add_test(tc, test_no_cgroup2_root_uses_sigstop);
        tcase_add_test(tc, test_cgroup_frozen_by_someone_else);
        tcase_add_test(tc, test_cgroup_thaw_refuses_a_cgroup_the_process_left);
        tcase_add_test(tc, test_recycled_pid_is_never_signalled);
        tcase_add_test(tc, test_gone_pid);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(exec_freeze_suite)
