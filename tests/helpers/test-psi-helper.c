/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgd-psi-helper over a real socketpair, against a fake /proc and /sys whose pressure files are
 * FIFOs: the test reads back exactly what the helper wrote into the fd it passed.
 */

#include <check.h>
#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/privsep.h"
#include "tests/check-main.h"
#include "tests/helpers/helper-test.h"

#define SESSION "/user.slice/user-%u.slice/user@%u.service"

static char *root;
static int system_fifo = -1;

static void setup(void) {
        root = fake_root_new();
        system_fifo = fake_fifo(root, "proc/pressure/memory");
}

static void teardown(void) {
        if (system_fifo >= 0)
                (void) close(system_fifo);
        fake_root_free(root);
        root = NULL;
}

static ProtoRequest arm(uint8_t source, uint8_t kind, uint32_t stall, uint32_t window) {
        ProtoPsiArm a = { .source = source, .kind = kind, .stall_us = stall, .window_us = window };

        return test_request(PROTO_PSI_ARM, 0, &a, sizeof(a));
}

/* What the helper wrote, NUL included. */
static void expect_written(int fifo, const char *spec) {
        char buf[64] = {};
        ssize_t n = read(fifo, buf, sizeof(buf));

        ck_assert_int_eq(n, (ssize_t) strlen(spec) + 1);
        ck_assert_str_eq(buf, spec);
        ck_assert_int_eq(buf[n - 1], '\0');
}

/* Our own session cgroup in the fake /proc, and its memory.pressure FIFO in the fake /sys. */
static int fake_session(const char *cgroup_of_us, const char *pressure_dir) {
        char rel[512];

        fake_proc_pid(root, getpid(), getuid(), 1, cgroup_of_us);
        fake_write(root, "sys/fs/cgroup/unified/cgroup.controllers", "\n");
        xsprintf(rel, "sys/fs/cgroup/unified%s/memory.pressure", pressure_dir);
        return fake_fifo(root, rel);
}

START_TEST(test_arm_system) {
        HelperProc p = helper_proc_start("mgd-psi-helper", root, NULL);
        ProtoRequest req = arm(PROTO_PSI_SOURCE_SYSTEM, PROTO_PSI_SOME, 150000, 1000000);
        ProtoReply rep;
        int fd = -1;

        ck_assert_int_eq(helper_proc_call(&p, &req, &rep, &fd), 0);
        ck_assert_int_ge(fd, 0);
        /* the fd we got is the pressure file itself: what the helper wrote is readable from it */
        expect_written(fd, "some 150000 1000000");
        (void) close(fd);

        req = arm(PROTO_PSI_SOURCE_SYSTEM, PROTO_PSI_FULL, 50000, 1000000);
        ck_assert_int_eq(helper_proc_call(&p, &req, &rep, &fd), 0);
        ck_assert_int_ge(fd, 0);
        (void) close(fd);
        expect_written(system_fifo, "full 50000 1000000");
        assert_lockdown(p.pid, CAPBIT(CAP_SYS_RESOURCE), CAPBIT(CAP_SYS_RESOURCE), true, true);
        helper_proc_hangup(&p);
}
END_TEST

START_TEST(test_arm_probe_passes_no_fd) {
        HelperProc p = helper_proc_start("mgd-psi-helper", root, NULL);
        ProtoPsiArm a = { .source = PROTO_PSI_SOURCE_SYSTEM, .kind = PROTO_PSI_SOME, .stall_us = 150000,
                          .window_us = 1000000 };
        ProtoRequest req = test_request(PROTO_PSI_ARM, PROTO_FLAG_PROBE, &a, sizeof(a));
        ProtoReply rep;
        int fd = -2;

        ck_assert_int_eq(helper_proc_call(&p, &req, &rep, &fd), 0);
        ck_assert_int_eq(fd, -1);
        ck_assert_uint_eq(rep.hdr.flags, PROTO_FLAG_PROBE);
        expect_written(system_fifo, "some 150000 1000000");
        helper_proc_hangup(&p);
}
END_TEST

START_TEST(test_arm_session) {
        char cg[512], dir[256];
        unsigned uid = (unsigned) getuid();
        ProtoRequest req = arm(PROTO_PSI_SOURCE_SESSION, PROTO_PSI_SOME, 100000, 500000);
        ProtoReply rep;
        int fifo, fd = -1;

        xsprintf(dir, SESSION, uid, uid);
        xsprintf(cg, "%s/app.slice/mgd.service", dir);
        fifo = fake_session(cg, dir);
        HelperProc p = helper_proc_start("mgd-psi-helper", root, NULL);
        ck_assert_int_eq(helper_proc_call(&p, &req, &rep, &fd), 0);
        ck_assert_int_ge(fd, 0);
        (void) close(fd);
        /* the helper found the user manager's cgroup from our pid, not from anything we said */
        expect_written(fifo, "some 100000 500000");
        helper_proc_hangup(&p);
        (void) close(fifo);
}
END_TEST

START_TEST(test_arm_session_refused_outside) {
        ProtoRequest req = arm(PROTO_PSI_SOURCE_SESSION, PROTO_PSI_SOME, 100000, 500000);
        int fifo = fake_session("/system.slice/mgd.service", "/system.slice");
        HelperProc p = helper_proc_start("mgd-psi-helper", root, NULL);

        ck_assert_int_eq(helper_proc_call(&p, &req, NULL, NULL), -EPERM);
        /* another uid's session is no session of ours either */
        (void) close(fifo);
        fake_proc_pid(root, getpid(), getuid(), 1, "/user.slice/user-4242.slice/user@4242.service/x");
        ck_assert_int_eq(helper_proc_call(&p, &req, NULL, NULL), -EPERM);
        helper_proc_hangup(&p);
}
END_TEST

START_TEST(test_arm_session_refused_pid_of_other_uid) {
        char cg[512], dir[256];
        unsigned uid = (unsigned) getuid();
        ProtoRequest req = arm(PROTO_PSI_SOURCE_SESSION, PROTO_PSI_SOME, 100000, 500000);
        int fifo;

        xsprintf(dir, SESSION, uid, uid);
        xsprintf(cg, "%s/app.slice/mgd.service", dir);
        fifo = fake_session(cg, dir);
        /* our pid now names a process of another uid (a reused pid): not our daemon any more */
        fake_proc_pid(root, getpid(), 4242, 1, cg);
        HelperProc p = helper_proc_start("mgd-psi-helper", root, NULL);
        ck_assert_int_eq(helper_proc_call(&p, &req, NULL, NULL), -EPERM);
        helper_proc_hangup(&p);
        char junk[8];
        ck_assert_int_lt(read(fifo, junk, sizeof(junk)), 0);
        (void) close(fifo);
}
END_TEST

START_TEST(test_arm_bounds) {
        static const uint32_t bad[][2] = {
                { 150000, 400000 },             /* window below 500 ms */
                { 150000, 10000001 },           /* window above 10 s */
                { 1000000, 1000000 },           /* stall == window */
                { 2000000, 1000000 },           /* stall > window */
                { 999, 1000000 },               /* stall below 1 ms */
                { 0, 1000000 },
        };
        HelperProc p = helper_proc_start("mgd-psi-helper", root, NULL);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ProtoRequest req = arm(PROTO_PSI_SOURCE_SYSTEM, PROTO_PSI_SOME, bad[i][0], bad[i][1]);
                int fd = -2;

                ck_assert_int_eq(helper_proc_call(&p, &req, NULL, &fd), -ERANGE);
                ck_assert_int_eq(fd, -1);
        }
        /* refusals are not violations: it still serves */
        ProtoRequest ok = arm(PROTO_PSI_SOURCE_SYSTEM, PROTO_PSI_SOME, 500000, 10000000);
        ck_assert_int_eq(helper_proc_call(&p, &ok, NULL, NULL), 0);
        expect_written(system_fifo, "some 500000 10000000");
        helper_proc_hangup(&p);
}
END_TEST

START_TEST(test_missing_file) {
        HelperProc p;
        ProtoRequest req = arm(PROTO_PSI_SOURCE_SYSTEM, PROTO_PSI_SOME, 150000, 1000000);
        char path[4096];

        xsprintf(path, "%s/proc/pressure/memory", root);
        ck_assert_int_eq(unlink(path), 0);
        p = helper_proc_start("mgd-psi-helper", root, NULL);
        ck_assert_int_eq(helper_proc_call(&p, &req, NULL, NULL), -ENOENT);
        helper_proc_hangup(&p);
}
END_TEST

/* Every malformed request: exit 3 at once, nothing written, no reply. */
static const struct {
        const char *what;
        size_t len;
        void (*mangle)(ProtoRequest *r);
} malformed[] = {
        { "short", sizeof(ProtoRequest) - 1, NULL },
        { "long", sizeof(ProtoRequest) + 1, NULL },
        { "one byte", 1, NULL },
};

static void bad_version(ProtoRequest *r) { r->hdr.version = PROTO_VERSION + 1; }
static void odd_type(ProtoRequest *r) { r->hdr.type = PROTO_PSI_ARM_REPLY; }
static void unknown_type(ProtoRequest *r) { r->hdr.type = 200; }
static void other_helpers_type(ProtoRequest *r) { r->hdr.type = PROTO_ZRAM_COMPACT; memset(r->raw, 0, sizeof(r->raw)); }
static void unknown_flag(ProtoRequest *r) { r->hdr.flags = 0x8000; }
static void bad_source(ProtoRequest *r) { r->psi_arm.source = _PROTO_PSI_SOURCE_MAX; }
static void bad_kind(ProtoRequest *r) { r->psi_arm.kind = _PROTO_PSI_KIND_MAX; }
static void reserved(ProtoRequest *r) { r->psi_arm.reserved1 = 1; }
static void trailing(ProtoRequest *r) { r->raw[sizeof(r->raw) - 1] = 1; }

static void (*const mangles[])(ProtoRequest *r) = {
        bad_version, odd_type, unknown_type, other_helpers_type, unknown_flag, bad_source, bad_kind,
        reserved, trailing,
};

START_TEST(test_malformed_length) {
        uint8_t buf[sizeof(ProtoRequest) + 8];
        ProtoRequest req = arm(PROTO_PSI_SOURCE_SYSTEM, PROTO_PSI_SOME, 150000, 1000000);
        HelperProc p = helper_proc_start("mgd-psi-helper", root, NULL);

        memset(buf, 0, sizeof(buf));
        memcpy(buf, &req, sizeof(req));
        helper_proc_expect_exit(&p, buf, malformed[_i].len, -1, HELPER_EXIT_PROTOCOL);
        char junk[8];
        ck_assert_int_lt(read(system_fifo, junk, sizeof(junk)), 0);     /* nothing was armed */
}
END_TEST

START_TEST(test_malformed_fields) {
        ProtoRequest req = arm(PROTO_PSI_SOURCE_SYSTEM, PROTO_PSI_SOME, 150000, 1000000);
        HelperProc p = helper_proc_start("mgd-psi-helper", root, NULL);

        mangles[_i](&req);
        helper_proc_expect_exit(&p, &req, sizeof(req), -1, HELPER_EXIT_PROTOCOL);
        char junk[8];
        ck_assert_int_lt(read(system_fifo, junk, sizeof(junk)), 0);
}
END_TEST

START_TEST(test_malformed_fd_attached) {
        ProtoRequest req = arm(PROTO_PSI_SOURCE_SYSTEM, PROTO_PSI_SOME, 150000, 1000000);
        HelperProc p = helper_proc_start("mgd-psi-helper", root, NULL);

        /* a perfectly valid request, but with an fd: requests never carry one */
        helper_proc_expect_exit(&p, &req, sizeof(req), STDIN_FILENO, HELPER_EXIT_PROTOCOL);
}
END_TEST

START_TEST(test_empty_record_is_not_a_hangup) {
        HelperProc p = helper_proc_start("mgd-psi-helper", root, NULL);

        helper_proc_expect_exit(&p, "", 0, -1, HELPER_EXIT_PROTOCOL);
}
END_TEST

START_TEST(test_usage) {
        int status;

        /* not started by mgd: no socket at fd 3 */
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                (void) close(3);
                execl(MGD_HELPER_BUILD_DIR "/mgd-psi-helper", "mgd-psi-helper", (char *) NULL);
                _exit(127);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), HELPER_EXIT_USAGE);
}
END_TEST

static Suite *psi_helper_suite(void) {
        Suite *s = suite_create("psi-helper");
        TCase *tc = tcase_create("fake-root");

        tcase_add_unchecked_fixture(tc, fake_base_setup, fake_base_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_arm_system);
        tcase_add_test(tc, test_arm_probe_passes_no_fd);
        tcase_add_test(tc, test_arm_session);
        tcase_add_test(tc, test_arm_session_refused_outside);
        tcase_add_test(tc, test_arm_session_refused_pid_of_other_uid);
        tcase_add_test(tc, test_arm_bounds);
        tcase_add_test(tc, test_missing_file);
        tcase_add_loop_test(tc, test_malformed_length, 0, ELEMENTSOF(malformed));
        tcase_add_loop_test(tc, test_malformed_fields, 0, ELEMENTSOF(mangles));
        tcase_add_test(tc, test_malformed_fd_attached);
        tcase_add_test(tc, test_empty_record_is_not_a_hangup);
        tcase_add_test(tc, test_usage);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(psi_helper_suite)
