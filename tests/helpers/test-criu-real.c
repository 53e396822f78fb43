/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgd-checkpoint-helper with a real criu ($MGD_TEST_CRIU, see criu-env.sh): a counter process in
 * a session cgroup of the test's own making is dumped (criu ends it), reaped, restored under the
 * same pid and back in its own scope, and keeps counting from where it was. A process of another
 * uid, or one outside the session, is refused before criu runs. This process plays the daemon: it sits in the session's
 * mgd.service and is a child subreaper, so the restored counter comes back as its child.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/readers.h"
#include "tests/check-main.h"
#include "tests/helpers/helper-test.h"

static char cg2[PATH_MAX], base[PATH_MAX], session[PATH_MAX];
static char *home;
static char count_file[PATH_MAX + 16], env_home[PATH_MAX + 32], env_criu[PATH_MAX + 32];
static const char *env[3];

static void cg_join(const char *dir, pid_t pid) {
        char path[PATH_MAX + 32], value[32];
        FILE *f;

        xsprintf(path, "%s/cgroup.procs", dir);
        xsprintf(value, "%d", (int) pid);
        f = fopen(path, "we");
        ck_assert_msg(f, "%s: %m", path);
        ck_assert_int_ge(fputs(value, f), 0);
        ck_assert_msg(fclose(f) == 0, "%s: %m", path);
}

/* The tree, parents first: outside.scope and user-UID.slice/user@UID.service/app.slice/... */
#define N_DIRS 7
static void dir_path(size_t i, char *buf, size_t size) {
        static const char *const app[] = { "mgd.service", "counter.scope", "other.scope" };
        unsigned uid = (unsigned) getuid();
        int n;

        if (i == 0)
                n = snprintf(buf, size, "%s/outside.scope", base);
        else if (i == 1)
                n = snprintf(buf, size, "%s/user-%u.slice", base, uid);
        else if (i == 2)
                n = snprintf(buf, size, "%s/user-%u.slice/user@%u.service", base, uid, uid);
        else if (i == 3)
                n = snprintf(buf, size, "%s/user-%u.slice/user@%u.service/app.slice", base, uid, uid);
        else
                n = snprintf(buf, size, "%s/user-%u.slice/user@%u.service/app.slice/%s", base, uid, uid, app[i - 4]);
        ck_assert(n > 0 && (size_t) n < size);
}

static void setup(void) {
        unsigned uid = (unsigned) getuid();

        xsprintf(cg2, "%s", access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ?
                 "/sys/fs/cgroup" : "/sys/fs/cgroup/unified");
        xsprintf(base, "%s/mgdtest-criu-%d", cg2, (int) getpid());
        ck_assert_msg(mkdir(base, 0755) == 0, "%s: %m", base);
        for (size_t i = 0; i < N_DIRS; i++) {
                char dir[PATH_MAX * 2];

                dir_path(i, dir, sizeof(dir));
                ck_assert_msg(mkdir(dir, 0755) == 0, "%s: %m", dir);
        }
        xsprintf(session, "%s/user-%u.slice/user@%u.service", base, uid, uid);
        home = fake_root_new();
        xsprintf(count_file, "%s/count", home);
        xsprintf(env_home, "MGD_TEST_HOME=%s", home);
        xsprintf(env_criu, "MGD_TEST_CRIU=%s", getenv("MGD_TEST_CRIU"));
        env[0] = env_home;
        env[1] = env_criu;
        env[2] = NULL;
}

/* Each test (a forked child) plays the daemon: in the session's mgd.service, a subreaper. */
static void become_daemon(void) {
        char dir[PATH_MAX * 2];

        xsprintf(dir, "%s/app.slice/mgd.service", session);
        cg_join(dir, getpid());
        ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
}

/* In the parent, whatever a test left: everything in our cgroup tree is ours to end. */
static void teardown(void) {
        char dir[PATH_MAX * 2], path[PATH_MAX * 2 + 16], buf[256];
        FILE *f;

        xsprintf(path, "%s/cgroup.kill", base);
        f = fopen(path, "we");
        if (f) {
                (void) fputs("1", f);
                (void) fclose(f);
        }
        xsprintf(path, "%s/cgroup.events", base);
        for (int i = 0; i < 200; i++) {
                if (read_small_file(path, buf, sizeof(buf), NULL) < 0 || strstr(buf, "populated 0"))
                        break;
                (void) usleep(10000);
        }
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        for (size_t i = N_DIRS; i-- > 0; ) {
                dir_path(i, dir, sizeof(dir));
                (void) rmdir(dir);
        }
        (void) rmdir(base);
        fake_root_free(home);
}

static uint64_t read_count(void) {
        char buf[32] = {};
        int fd = open(count_file, O_RDONLY | O_CLOEXEC);
        uint64_t v = 0;

        if (fd < 0)
                return 0;
        if (read(fd, buf, sizeof(buf) - 1) > 0)
                v = strtoull(buf, NULL, 10);
        (void) close(fd);
        return v;
}

/* A counter with what an unprivileged user's app has: no capabilities, stdio on /dev/null. */
static pid_t counter_start(const char *cgroup) {
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                cap_t none = cap_init();
                struct timespec tick = { .tv_nsec = 50 * 1000 * 1000 };
                int null = open("/dev/null", O_RDWR);
                uint64_t n = 0;

                (void) setsid();
                (void) dup2(null, 0);
                (void) dup2(null, 1);
                (void) dup2(null, 2);
                (void) close_range(3, ~0U, 0);
                /* NO_NEW_PRIVS: criu may then leave this host's reduced bounding set alone */
                if (!none || cap_set_proc(none) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        _exit(1);
                for (;;) {
                        char buf[32];
                        int fd = open(count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                        int len = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long) ++n);

                        if (fd >= 0) {
                                (void) !write(fd, buf, (size_t) len);
                                (void) close(fd);
                        }
                        (void) nanosleep(&tick, NULL);
                }
        }
        cg_join(cgroup, pid);
        return pid;
}

static ProtoRequest dump_req(pid_t pid, uint64_t starttime) {
        ProtoCheckpointDump d = { .pid = (uint32_t) pid, .starttime = starttime };

        return test_request(PROTO_CHECKPOINT_DUMP, 0, &d, sizeof(d));
}

/* What mgd itself gives a checkpoint call (daemon/helper.c): the helper gives criu 45 s of it. */
#define CRIU_CALL_USEC (60 * USEC_PER_SEC)

START_TEST(test_dump_restore) {
        const char *unusable = getenv("MGD_TEST_CRIU_UNUSABLE");
        char dir[PATH_MAX * 2];
        ProtoReply rep;
        uint64_t at_dump, later, start;
        pid_t counter;
        int status;

        /* criu-env.sh found that this host's criu cannot dump and restore even from a shell */
        if (unusable)
                MGD_SKIP("%s", unusable);
        become_daemon();
        xsprintf(dir, "%s/app.slice/counter.scope", session);
        counter = counter_start(dir);
        while (read_count() < 5)
                (void) usleep(20000);
        start = real_starttime(counter);

        HelperProc p = helper_proc_start("mgd-checkpoint-helper", NULL, env);
        ProtoRequest wrong = dump_req(counter, start + 1);
        ck_assert_int_eq(helper_proc_call(&p, &wrong, NULL, NULL), -ESRCH);
        ProtoRequest dump = dump_req(counter, start);
        ck_assert_int_eq(helper_proc_call_within(&p, &dump, CRIU_CALL_USEC, &rep, NULL), 0);
        ck_assert_uint_ne(rep.checkpoint.image_id, 0);
        /* criu ended it; reap it so its pid is free for the restore */
        ck_assert_int_eq(waitpid(counter, &status, 0), counter);
        ck_assert(WIFSIGNALED(status));
        at_dump = read_count();
        (void) usleep(300000);
        ck_assert_uint_eq(read_count(), at_dump);       /* really stopped */

        ProtoCheckpointImage img = { .image_id = rep.checkpoint.image_id };
        ProtoRequest restore = test_request(PROTO_CHECKPOINT_RESTORE, 0, &img, sizeof(img));
        ck_assert_int_eq(helper_proc_call_within(&p, &restore, CRIU_CALL_USEC, &rep, NULL), 0);
        ck_assert_int_eq((pid_t) rep.checkpoint.pid, counter);
        /* back in its own scope, not in the helper's (the daemon's) cgroup */
        ProcCgroup cg;
        ck_assert_int_eq(proc_cgroup_read("/proc", counter, &cg), 0);
        ck_assert_str_eq(cg.unified, dir + strlen(cg2));
        (void) usleep(500000);
        later = read_count();
        /* it counts on from where it was, not from 1 */
        ck_assert_msg(later > at_dump && later < at_dump + 50, "count %llu after restore, %llu at dump",
                      (unsigned long long) later, (unsigned long long) at_dump);
        /* images are consumed by a successful restore */
        ck_assert_int_eq(helper_proc_call(&p, &restore, NULL, NULL), -ENOENT);
        helper_proc_hangup(&p);

        ck_assert_int_eq(kill(counter, SIGKILL), 0);
        ck_assert_int_eq(waitpid(counter, NULL, 0), counter); /* our child again: we are a subreaper */
}
END_TEST

static pid_t sleeper(const char *cgroup, uid_t uid) {
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
                        _exit(1);
                for (;;)
                        pause();
        }
        cg_join(cgroup, pid);
        for (int i = 0; i < 100 && proc_status_field(pid, "Uid") != uid; i++)
                (void) usleep(10000);
        return pid;
}

START_TEST(test_refusals) {
        char other[PATH_MAX * 2], outside[PATH_MAX * 2];
        HelperProc p;
        pid_t foreign, away;

        become_daemon();
        xsprintf(other, "%s/app.slice/other.scope", session);
        xsprintf(outside, "%s/outside.scope", base);
        foreign = sleeper(other, 65534);
        away = sleeper(outside, getuid());
        p = helper_proc_start("mgd-checkpoint-helper", NULL, env);
        ProtoRequest a = dump_req(foreign, real_starttime(foreign));
        ck_assert_int_eq(helper_proc_call(&p, &a, NULL, NULL), -EPERM);
        ProtoRequest b = dump_req(away, real_starttime(away));
        ck_assert_int_eq(helper_proc_call(&p, &b, NULL, NULL), -EPERM);
        helper_proc_hangup(&p);
        /* neither was touched */
        ck_assert_int_eq(kill(foreign, 0), 0);
        ck_assert_int_eq(kill(away, 0), 0);
        (void) kill(foreign, SIGKILL);
        (void) kill(away, SIGKILL);
        (void) waitpid(foreign, NULL, 0);
        (void) waitpid(away, NULL, 0);
}
END_TEST

static Suite *criu_real_suite(void) {
        Suite *s = suite_create("criu-real");
        TCase *tc = tcase_create("criu");

        /* unchecked: built and removed by the parent, even when a test fails half way */
        tcase_add_unchecked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_dump_restore);
        tcase_add_test(tc, test_refusals);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        if (!getenv("MGD_TEST_CRIU")) {
                fprintf(stderr, "run me through criu-env.sh: MGD_TEST_CRIU is not set\n");
                return EXIT_FAILURE;
        }
        return mgd_check_run(criu_real_suite());
}
