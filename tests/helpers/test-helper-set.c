/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's side (daemon/helper.c) in a real sd-event loop: the real helpers against a fake
 * root (start-up probes, asynchronous requests, fd passing, queueing), helpers that are not
 * installed, and a fake helper that misbehaves in each way the supervisor must survive: a missed
 * deadline, a malformed reply, a wrong seq, an unsolicited message, death by SIGSYS.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "daemon/helper.h"
#include "tests/check-main.h"
#include "tests/helpers/helper-test.h"

static char *root;
static int fifos[2] = { -1, -1 };
static sd_event *event;
static HelperSet *set;
static HelperGrant grants[_HELPER_KIND_MAX];
static unsigned grant_calls;

typedef struct Result {
        bool done;
        int error;
        ProtoReply rep;
        int fd;
        unsigned order;
} Result;

static unsigned completed;

static void on_reply(HelperSet *s, int error, const ProtoReply *rep, int fd, void *userdata) {
        Result *r = userdata;

        ck_assert(!r->done);            /* exactly once */
        r->done = true;
        r->error = error;
        r->fd = fd;
        r->order = ++completed;
        if (rep)
                r->rep = *rep;
}

static void on_grant(HelperSet *s, HelperKind kind, HelperGrant grant, void *userdata) {
        grants[kind] = grant;
        grant_calls++;
}

static usec_t now(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}

/* Run the loop until *flag or the time is up; returns *flag. */
static bool run_until(const bool *flag, usec_t timeout) {
        usec_t end = now() + timeout;

        while (!*flag && now() < end)
                ck_assert_int_ge(sd_event_run(event, 50 * USEC_PER_MSEC), 0);
        return *flag;
}

static void run_until_probed(unsigned n) {
        usec_t end = now() + 10 * USEC_PER_SEC;

        while (grant_calls < n && now() < end)
                ck_assert_int_ge(sd_event_run(event, 50 * USEC_PER_MSEC), 0);
        ck_assert_uint_ge(grant_calls, n);
}

static void start_set(const char *dir) {
        HelperSetOptions opt = { .dir = dir, .on_grant = on_grant };
        char proc[4200];

        xsprintf(proc, "%s/proc", root);
        opt.proc_root = proc;
        ck_assert_int_eq(helper_set_new(event, &opt, &set), 0);
}

static void setup(void) {
        char criu[4200];

        root = fake_root_new();
        fifos[0] = fake_fifo(root, "proc/pressure/memory");
        fake_write(root, "proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n"
                   "/dev/zram0 partition 1048572 32768 100\n");
        fake_write(root, "sys/block/zram0/mm_stat", "134217728 16777216 33554432 0 33554432 0 0 0 0\n");
        fifos[1] = fake_fifo(root, "sys/block/zram0/compact");
        fake_write(root, "criu", "#!/bin/sh\nexit 0\n");
        xsprintf(criu, "%s/criu", root);
        ck_assert_int_eq(chmod(criu, 0755), 0);
        ck_assert_int_eq(setenv("MGD_TEST_ROOT", root, 1), 0);
        ck_assert_int_eq(setenv("MGD_TEST_CRIU", criu, 1), 0);
        ck_assert_int_eq(setenv("MGD_TEST_HOME", root, 1), 0);
        ck_assert_int_eq(sd_event_new(&event), 0);
        memset(grants, 0, sizeof(grants));
        grant_calls = 0;
        completed = 0;
}

static void teardown(void) {
        set = helper_set_free(set);
        event = sd_event_unref(event);
        for (int i = 0; i < 2; i++)
                if (fifos[i] >= 0)
                        (void) close(fifos[i]);
        fake_root_free(root);
}

START_TEST(test_real_helpers) {
        bool admin = proc_status_field(getpid(), "CapPrm") & CAPBIT(21);
        Result psi = { .fd = -1 }, z1 = {}, z2 = {}, z3 = {};
        char buf[8];

        start_set(MGD_HELPER_BUILD_DIR);
        ck_assert_int_eq(helper_set_start(set), _HELPER_KIND_MAX);
        run_until_probed(_HELPER_KIND_MAX);
        /* every probe answered; the fake pressure file accepts any window */
        ck_assert_int_eq(grants[HELPER_PSI], HELPER_GRANT_OK);
        ck_assert_int_eq(grants[HELPER_ZRAM], HELPER_GRANT_OK);
        ck_assert_int_eq(grants[HELPER_SWAP], admin ? HELPER_GRANT_OK : HELPER_GRANT_MISSING);
        ck_assert_int_eq(grants[HELPER_CHECKPOINT], HELPER_GRANT_OK);
        /* the probes armed nothing and compacted nothing that counts: drain what they wrote */
        while (read(fifos[0], buf, sizeof(buf)) > 0)
                ;
        ck_assert_int_lt(read(fifos[1], buf, sizeof(buf)), 0);

        ck_assert_int_eq(helper_psi_arm(set, PROTO_PSI_SOURCE_SYSTEM, PROTO_PSI_SOME, 150000, 1000000,
                                        on_reply, &psi), 0);
        /* three queued on one helper: answered in order */
        ck_assert_int_eq(helper_zram_compact(set, 0, 0, on_reply, &z1), 0);
        ck_assert_int_eq(helper_zram_compact(set, 0, 0, on_reply, &z2), 0);
        ck_assert_int_eq(helper_zram_compact(set, 7, 0, on_reply, &z3), 0);
        ck_assert(run_until(&z3.done, 5 * USEC_PER_SEC));
        ck_assert(run_until(&psi.done, 5 * USEC_PER_SEC));
        ck_assert_int_eq(psi.error, 0);
        ck_assert_int_eq(psi.rep.error, 0);
        ck_assert_int_ge(psi.fd, 0);            /* the trigger fd came through the set */
        (void) close(psi.fd);
        ck_assert_int_eq(z1.error, 0);
        ck_assert_int_eq(z1.rep.error, 0);
        ck_assert_uint_eq(z1.rep.zram_compact.used_before, 33554432);
        ck_assert_uint_lt(z1.order, z2.order);
        ck_assert_uint_lt(z2.order, z3.order);
        ck_assert_int_eq(z3.error, 0);
        ck_assert_int_eq(z3.rep.error, -ENODEV);        /* the helper's refusal, passed on */
        ck_assert_int_eq(read(fifos[1], buf, sizeof(buf)), 2);
}
END_TEST

START_TEST(test_not_installed) {
        Result r = {};
        char *empty = fake_root_new();

        start_set(empty);
        ck_assert_int_eq(helper_set_start(set), 0);
        for (HelperKind k = 0; k < _HELPER_KIND_MAX; k++) {
                ck_assert_int_eq(helper_set_grant(set, k), HELPER_GRANT_UNAVAILABLE);
                ck_assert_int_eq(helper_set_pid(set, k), 0);
        }
        ck_assert_int_eq(helper_zram_compact(set, 0, 0, on_reply, &r), -ENOTCONN);
        ck_assert(!r.done);
        fake_root_free(empty);
}
END_TEST

/* A helpers directory where every helper is the fake one. */
static char *fake_dir(const char *mode) {
        static const char *const names[] = { "mgd-psi-helper", "mgd-zram-helper", "mgd-swap-helper",
                                             "mgd-checkpoint-helper" };
        char *dir = fake_root_new(), path[4200];

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                xsprintf(path, "%s/%s", dir, names[i]);
                ck_assert_int_eq(symlink(MGD_FAKE_HELPER, path), 0);
        }
        ck_assert_int_eq(setenv("MGD_TEST_FAKE_MODE", mode, 1), 0);
        return dir;
}

/* Misbehave once; the call fails with `error`, the helper is killed, reaped and respawned. */
static void misbehave(const char *mode, int error) {
        char *dir = fake_dir(mode);
        Result r = {}, again = {};
        pid_t first;
        usec_t t0;

        start_set(dir);
        ck_assert_int_eq(helper_set_start(set), _HELPER_KIND_MAX);
        run_until_probed(_HELPER_KIND_MAX);
        ck_assert_int_eq(helper_set_grant(set, HELPER_SWAP), HELPER_GRANT_OK);
        first = helper_set_pid(set, HELPER_SWAP);
        ck_assert_int_gt(first, 0);
        ck_assert_int_eq(helper_call(set, HELPER_SWAP, PROTO_SWAP_RECLAIM, 0, NULL, 0, 300 * USEC_PER_MSEC,
                                     on_reply, &r), 0);
        t0 = now();
        ck_assert(run_until(&r.done, 5 * USEC_PER_SEC));
        ck_assert_msg(r.error == error, "%s: error %d, expected %d", mode, r.error, error);
        /* it is gone, and comes back after the backoff (1 s for the first death) */
        while (helper_set_pid(set, HELPER_SWAP) == first && now() < t0 + 5 * USEC_PER_SEC)
                ck_assert_int_ge(sd_event_run(event, 50 * USEC_PER_MSEC), 0);
        ck_assert_int_eq(helper_set_pid(set, HELPER_SWAP), 0);
        ck_assert_int_eq(kill(first, 0), -1);   /* reaped, not a zombie */
        while (helper_set_pid(set, HELPER_SWAP) == 0 && now() < t0 + 5 * USEC_PER_SEC)
                ck_assert_int_ge(sd_event_run(event, 50 * USEC_PER_MSEC), 0);
        ck_assert_int_gt(helper_set_pid(set, HELPER_SWAP), 0);
        ck_assert_int_ne(helper_set_pid(set, HELPER_SWAP), first);
        ck_assert_uint_ge(now() - t0, 900 * USEC_PER_MSEC);
        /* the grant learned at start-up survives the respawn, and the helper serves again */
        ck_assert_int_eq(helper_set_grant(set, HELPER_SWAP), HELPER_GRANT_OK);
        ck_assert_int_eq(helper_call(set, HELPER_SWAP, PROTO_SWAP_RECLAIM, PROTO_FLAG_PROBE, NULL, 0,
                                     USEC_PER_SEC, on_reply, &again), 0);
        ck_assert(run_until(&again.done, 5 * USEC_PER_SEC));
        ck_assert_int_eq(again.error, 0);
        fake_root_free(dir);
}

START_TEST(test_deadline) { misbehave("silent", -ETIMEDOUT); }
END_TEST
START_TEST(test_garbage) { misbehave("garbage", -EBADMSG); }
END_TEST
START_TEST(test_wrong_seq) { misbehave("wrong-seq", -EPROTO); }
END_TEST
START_TEST(test_sigsys) { misbehave("sigsys", -ECONNRESET); }
END_TEST
START_TEST(test_exit3) { misbehave("exit3", -ECONNRESET); }
END_TEST

START_TEST(test_unsolicited) {
        char *dir = fake_dir("unsolicited");
        Result r = {};
        pid_t first;

        start_set(dir);
        ck_assert_int_eq(helper_set_start(set), _HELPER_KIND_MAX);
        run_until_probed(_HELPER_KIND_MAX);
        first = helper_set_pid(set, HELPER_SWAP);
        ck_assert_int_eq(helper_swap_reclaim(set, on_reply, &r), 0);
        ck_assert(run_until(&r.done, 5 * USEC_PER_SEC));
        ck_assert_int_eq(r.error, 0);           /* the first reply was fine */
        /* the second one nobody asked for gets it killed */
        for (int i = 0; i < 40 && helper_set_pid(set, HELPER_SWAP) == first; i++)
                ck_assert_int_ge(sd_event_run(event, 50 * USEC_PER_MSEC), 0);
        ck_assert_int_ne(helper_set_pid(set, HELPER_SWAP), first);
        fake_root_free(dir);
}
END_TEST

START_TEST(test_free_cancels) {
        char *dir = fake_dir("silent");
        Result r[3] = {};

        start_set(dir);
        ck_assert_int_eq(helper_set_start(set), _HELPER_KIND_MAX);
        run_until_probed(_HELPER_KIND_MAX);
        for (int i = 0; i < 3; i++)
                ck_assert_int_eq(helper_swap_reclaim(set, on_reply, &r[i]), 0);
        ck_assert_int_eq(sd_event_run(event, 100 * USEC_PER_MSEC) >= 0, 1);
        set = helper_set_free(set);
        for (int i = 0; i < 3; i++) {
                ck_assert(r[i].done);
                ck_assert_int_eq(r[i].error, -ECANCELED);
        }
        fake_root_free(dir);
}
END_TEST

START_TEST(test_bad_calls) {
        Result r = {};
        char *dir = fake_dir("ok");

        start_set(dir);
        ck_assert_int_eq(helper_set_start(set), _HELPER_KIND_MAX);
        /* a request type that is not this helper's is refused before it leaves */
        ck_assert_int_eq(helper_call(set, HELPER_ZRAM, PROTO_SWAP_RECLAIM, 0, NULL, 0, USEC_PER_SEC,
                                     on_reply, &r), -EINVAL);
        ck_assert_int_eq(helper_call(set, HELPER_ZRAM, PROTO_ZRAM_COMPACT_REPLY, 0, NULL, 0, USEC_PER_SEC,
                                     on_reply, &r), -EINVAL);
        ck_assert_int_eq(helper_checkpoint_dump(set, 0, 1, on_reply, &r), -EINVAL);
        ck_assert_int_eq(helper_checkpoint_restore(set, 0, on_reply, &r), -EINVAL);
        ck_assert(!r.done);
        fake_root_free(dir);
}
END_TEST

START_TEST(test_exit_describe) {
        char buf[256];

        ck_assert_ptr_nonnull(strstr(helper_exit_describe(CLD_EXITED, 3, buf, sizeof(buf)), "protocol violation"));
        ck_assert_ptr_nonnull(strstr(helper_exit_describe(CLD_EXITED, 4, buf, sizeof(buf)), "lock itself down"));
        ck_assert_ptr_nonnull(strstr(helper_exit_describe(CLD_EXITED, 127, buf, sizeof(buf)), "executed"));
        helper_exit_describe(CLD_KILLED, SIGSYS, buf, sizeof(buf));
        ck_assert_ptr_nonnull(strstr(buf, "SIGSYS"));
        ck_assert_ptr_nonnull(strstr(buf, "seccomp"));
        ck_assert_ptr_nonnull(strstr(helper_exit_describe(CLD_DUMPED, SIGSEGV, buf, sizeof(buf)), "SIGSEGV"));
        ck_assert_str_eq(helper_exit_describe(CLD_EXITED, 77, buf, sizeof(buf)), "exited with 77");
}
END_TEST

static Suite *helper_set_suite(void) {
        Suite *s = suite_create("helper-set");
        TCase *tc = tcase_create("supervision");

        tcase_add_unchecked_fixture(tc, fake_base_setup, fake_base_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_exit_describe);
        tcase_add_test(tc, test_real_helpers);
        tcase_add_test(tc, test_not_installed);
        tcase_add_test(tc, test_bad_calls);
        tcase_add_test(tc, test_deadline);
        tcase_add_test(tc, test_garbage);
        tcase_add_test(tc, test_wrong_seq);
        tcase_add_test(tc, test_sigsys);
        tcase_add_test(tc, test_exit3);
        tcase_add_test(tc, test_unsolicited);
        tcase_add_test(tc, test_free_cancels);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(helper_set_suite)
