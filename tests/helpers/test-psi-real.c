/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgd-psi-helper against the real kernel. Without CAP_SYS_RESOURCE (root on this host lacks it)
 * a 1 s window must fail cleanly with EINVAL, as the kernel answers, while a 2 s window arms a
 * real trigger; with the capability (the qemu guest) the 1 s window works. The session source is
 * checked on a real cgroup2 tree the test builds (and removes) for itself.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/readers.h"
#include "tests/check-main.h"
#include "tests/helpers/helper-test.h"

static bool have_sys_resource(void) {
        return proc_status_field(getpid(), "CapEff") & CAPBIT(CAP_SYS_RESOURCE);
}

static ProtoRequest arm(uint8_t source, uint32_t stall, uint32_t window, uint16_t flags) {
        ProtoPsiArm a = { .source = source, .kind = PROTO_PSI_SOME, .stall_us = stall, .window_us = window };

        return test_request(PROTO_PSI_ARM, flags, &a, sizeof(a));
}

/* The fd is a real, armed trigger: a second trigger on the same file is EBUSY. */
static void assert_armed(int fd, const char *suffix) {
        char link[64], target[PATH_MAX] = {};
        const char *spec = "some 100000 2000000";
        struct pollfd p = { .fd = fd, .events = POLLPRI };

        ck_assert_int_ge(fd, 0);
        xsprintf(link, "/proc/self/fd/%d", fd);
        ck_assert_int_gt(readlink(link, target, sizeof(target) - 1), 0);
        ck_assert_msg(strlen(target) >= strlen(suffix) &&
                      strcmp(target + strlen(target) - strlen(suffix), suffix) == 0, "fd is %s", target);
        ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        ck_assert_int_eq(write(fd, spec, strlen(spec) + 1), -1);
        ck_assert_int_eq(errno, EBUSY);
        ck_assert_int_ge(poll(&p, 1, 0), 0);
        ck_assert_int_eq(p.revents & (POLLERR | POLLNVAL), 0);
}

START_TEST(test_system) {
        HelperProc p = helper_proc_start("mgd-psi-helper", NULL, NULL);
        ProtoRequest sub = arm(PROTO_PSI_SOURCE_SYSTEM, 150000, 1000000, 0);
        ProtoRequest probe = arm(PROTO_PSI_SOURCE_SYSTEM, 150000, 1000000, PROTO_FLAG_PROBE);
        ProtoRequest two = arm(PROTO_PSI_SOURCE_SYSTEM, 150000, 2000000, 0);
        int fd = -1;

        ck_assert_int_eq(helper_proc_call(&p, &probe, NULL, &fd), have_sys_resource() ? 0 : -EINVAL);
        ck_assert_int_eq(fd, -1);
        ck_assert_int_eq(helper_proc_call(&p, &sub, NULL, &fd), have_sys_resource() ? 0 : -EINVAL);
        if (fd >= 0) {
                assert_armed(fd, "/proc/pressure/memory");
                (void) close(fd);
        }
        /* the refusal was clean: the same helper arms a 2 s trigger next */
        ck_assert_int_eq(helper_proc_call(&p, &two, NULL, &fd), 0);
        assert_armed(fd, "/proc/pressure/memory");
        (void) close(fd);
        assert_lockdown(p.pid, CAPBIT(CAP_SYS_RESOURCE), CAPBIT(CAP_SYS_RESOURCE), true, true);
        helper_proc_hangup(&p);
}
END_TEST

static char cg2[PATH_MAX], base[PATH_MAX], leaf[PATH_MAX];

static void cg_write(const char *dir, const char *file, const char *value) {
        char path[PATH_MAX + 64];
        FILE *f;

        xsprintf(path, "%s/%s", dir, file);
        f = fopen(path, "we");
        ck_assert_msg(f, "%s: %m", path);
        ck_assert_int_ge(fputs(value, f), 0);
        ck_assert_msg(fclose(f) == 0, "%s: %m", path);
}

/*
 * In the parent (an unchecked fixture, so it is removed even when the test fails half way):
 * cgroup2/mgdtest-psi-PID/user-UID.slice/user@UID.service/app.slice/t.scope.
 */
static void session_setup(void) {
        unsigned uid = (unsigned) getuid();

        xsprintf(cg2, "%s", access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ?
                 "/sys/fs/cgroup" : "/sys/fs/cgroup/unified");
        xsprintf(base, "%s/mgdtest-psi-%d", cg2, (int) getpid());
        xsprintf(leaf, "%s/user-%u.slice/user@%u.service/app.slice/t.scope", base, uid, uid);
        ck_assert_msg(mkdir(base, 0755) == 0, "%s: %m", base);
        for (char *p = leaf + strlen(base); (p = strchr(p + 1, '/')); ) {
                *p = '\0';
                ck_assert_msg(mkdir(leaf, 0755) == 0, "%s: %m", leaf);
                *p = '/';
        }
        ck_assert_msg(mkdir(leaf, 0755) == 0, "%s: %m", leaf);
}

static bool populated(void) {
        char path[PATH_MAX + 32], buf[256];

        xsprintf(path, "%s/cgroup.events", base);
        return read_small_file(path, buf, sizeof(buf), NULL) >= 0 && !strstr(buf, "populated 0");
}

/*
 * The test (a forked child) has ended; a helper it started may still be on its way out after a
 * failed test. Everything in the tree is ours: wait, then end it with cgroup.kill. Then remove
 * the tree, deepest first.
 */
static void session_teardown(void) {
        char dir[PATH_MAX];

        for (int i = 0; i < 100 && base[0] && populated(); i++) {
                if (i == 50)
                        cg_write(base, "cgroup.kill", "1");
                (void) usleep(10000);
        }
        xsprintf(dir, "%s", leaf);
        while (base[0] && strlen(dir) >= strlen(base)) {
                (void) rmdir(dir);
                *strrchr(dir, '/') = '\0';
        }
        base[0] = '\0';
}

START_TEST(test_session) {
        char suffix[128];
        unsigned uid = (unsigned) getuid();
        ProtoRequest two = arm(PROTO_PSI_SOURCE_SESSION, 100000, 2000000, 0);
        ProtoRequest sub = arm(PROTO_PSI_SOURCE_SESSION, 100000, 1000000, 0);
        int fd = -1;

        /* we are the daemon, in the user manager's app.slice */
        xsprintf(suffix, "%d", (int) getpid());
        cg_write(leaf, "cgroup.procs", suffix);
        HelperProc p = helper_proc_start("mgd-psi-helper", NULL, NULL);
        ck_assert_int_eq(helper_proc_call(&p, &two, NULL, &fd), 0);
        /* the user manager's cgroup, derived by the helper from where we (the daemon) are */
        xsprintf(suffix, "/user-%u.slice/user@%u.service/memory.pressure", uid, uid);
        assert_armed(fd, suffix);
        (void) close(fd);
        ck_assert_int_eq(helper_proc_call(&p, &sub, NULL, &fd), have_sys_resource() ? 0 : -EINVAL);
        if (fd >= 0)
                (void) close(fd);
        helper_proc_hangup(&p);
}
END_TEST

static Suite *psi_real_suite(void) {
        Suite *s = suite_create("psi-real");
        TCase *tc = tcase_create("kernel");

        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_system);
        tcase_add_unchecked_fixture(tc, session_setup, session_teardown);
        tcase_add_test(tc, test_session);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        /* skip only when the kernel truly lacks the feature */
        if (access("/proc/pressure/memory", F_OK) < 0 ||
            (access("/sys/fs/cgroup/cgroup.controllers", F_OK) < 0 &&
             access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) < 0)) {
                printf("1..0 # SKIP no PSI or no cgroup2\n");
                return 77;
        }
        return mgd_check_run(psi_real_suite());
}
