/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgd-checkpoint-helper over a real socketpair against a fake /proc, a temporary home and a fake
 * criu (a shell script that records its argv). The targets are real child processes, so pidfds
 * are real; their /proc facts (uid, start time, cgroup) come from the fake root. The real criu
 * is exercised by test-criu-real.c.
 */

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/privsep.h"
#include "common/readers.h"
#include "tests/check-main.h"
#include "tests/helpers/helper-test.h"

#define STARTTIME 777
#define APP "/app.slice/app-foo.scope"

static char *root;
static char session[256], env_home[4200], env_criu[4200];
static const char *env[3];
static pid_t target;

static void write_fake_criu(void) {
        char script[8192], path[4200];

        (void) snprintf(script, sizeof(script),
                        "#!/bin/sh\n"
                        "# a fake criu: records argv, writes an image file, fails on demand\n"
                        "all=\"$*\"; cmd=$1; d=; t=\n"
                        "while [ $# -gt 0 ]; do case \"$1\" in --images-dir) d=$2;; --tree) t=$2;; esac; shift; done\n"
                        "[ -e %s/criu-fails ] && exit 1\n"
                        "echo \"$all\" > \"$d/argv.$cmd\"\n"
                        "[ \"$cmd\" = dump ] && echo pages > \"$d/pages-1.img\"\n"
                        "# like criu dump: end what was dumped (unless told to get it wrong)\n"
                        "[ -n \"$t\" ] && [ ! -e %s/criu-spares ] && kill -9 \"$t\"\n"
                        "exit 0\n", root, root);
        fake_write(root, "criu", script);
        xsprintf(path, "%s/criu", root);
        ck_assert_int_eq(chmod(path, 0755), 0);
}

static void setup(void) {
        unsigned uid = (unsigned) getuid();
        char cg[512];

        root = fake_root_new();
        xsprintf(session, "/user.slice/user-%u.slice/user@%u.service", uid, uid);
        xsprintf(cg, "%s/app.slice/mgd.service", session);
        fake_proc_pid(root, getpid(), getuid(), 1, cg);         /* we are the daemon */
        fake_mkdir(root, "home");
        write_fake_criu();
        xsprintf(env_home, "MGD_TEST_HOME=%s/home", root);
        xsprintf(env_criu, "MGD_TEST_CRIU=%s/criu", root);
        env[0] = env_home;
        env[1] = env_criu;
        env[2] = NULL;
        target = fork();
        ck_assert_int_ge(target, 0);
        if (target == 0) {
                pause();
                _exit(0);
        }
        xsprintf(cg, "%s%s", session, APP);
        fake_proc_pid(root, target, getuid(), STARTTIME, cg);
}

static void reap_target(void) {
        if (target > 0) {
                (void) kill(target, SIGKILL);
                (void) waitpid(target, NULL, 0);
        }
        target = 0;
}

static void teardown(void) {
        reap_target();
        fake_root_free(root);
}

static ProtoRequest dump_req(pid_t pid, uint64_t starttime, uint16_t flags) {
        ProtoCheckpointDump d = { .pid = (uint32_t) pid, .starttime = starttime };

        return test_request(PROTO_CHECKPOINT_DUMP, flags, &d, sizeof(d));
}

static ProtoRequest image_req(uint8_t type, uint64_t id) {
        ProtoCheckpointImage i = { .image_id = id };

        return test_request(type, 0, &i, sizeof(i));
}

static void image_path(uint64_t id, const char *file, char *buf, size_t size) {
        (void) snprintf(buf, size, "%s/home/.local/state/mgd/checkpoints/%016" PRIx64 "%s%s", root, id,
                        file ? "/" : "", file ?: "");
}

static uint64_t dump_ok(HelperProc *p) {
        ProtoRequest req = dump_req(target, STARTTIME, 0);
        ProtoReply rep;

        ck_assert_int_eq(helper_proc_call(p, &req, &rep, NULL), 0);
        ck_assert_uint_ne(rep.checkpoint.image_id, 0);
        ck_assert_uint_eq(rep.checkpoint.pid, (uint32_t) target);
        return rep.checkpoint.image_id;
}

START_TEST(test_dump_restore) {
        HelperProc p = helper_proc_start("mgd-checkpoint-helper", root, env);
        char path[4400], argv[512], expect[4800];
        struct stat st;
        ProtoReply rep;
        uint64_t id;
        FILE *f;

        id = dump_ok(&p);
        image_path(id, NULL, path, sizeof(path));
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0700);
        /* criu's argv holds nothing but validated fields and fixed words */
        image_path(id, "argv.dump", path, sizeof(path));
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(argv, sizeof(argv), f));
        (void) fclose(f);
        image_path(id, NULL, path, sizeof(path));
        xsprintf(expect, "dump --images-dir %s --log-file criu.log --shell-job --unprivileged "
                        "--tree %d\n", path, (int) target);
        ck_assert_str_eq(argv, expect);

        /* the dumped pid is still taken: no restore yet */
        ProtoRequest req = image_req(PROTO_CHECKPOINT_RESTORE, id);
        ck_assert_int_eq(helper_proc_call(&p, &req, &rep, NULL), -EBUSY);
        reap_target();
        ck_assert_int_eq(helper_proc_call(&p, &req, &rep, NULL), 0);
        ck_assert_uint_eq(rep.checkpoint.image_id, id);
        ck_assert_uint_gt(rep.checkpoint.pid, 0);
        /* restored images are consumed */
        image_path(id, NULL, path, sizeof(path));
        ck_assert_int_eq(stat(path, &st), -1);
        ck_assert_int_eq(helper_proc_call(&p, &req, &rep, NULL), -ENOENT);
        assert_lockdown(p.pid, 0, CAPBIT(CAP_CHECKPOINT_RESTORE) | CAPBIT(CAP_SYS_PTRACE), false, false);
        helper_proc_hangup(&p);
}
END_TEST

START_TEST(test_discard) {
        HelperProc p = helper_proc_start("mgd-checkpoint-helper", root, env);
        char path[4400];
        struct stat st;
        uint64_t id = dump_ok(&p);
        ProtoRequest req = image_req(PROTO_CHECKPOINT_DISCARD, id);

        ck_assert_int_eq(helper_proc_call(&p, &req, NULL, NULL), 0);
        image_path(id, NULL, path, sizeof(path));
        ck_assert_int_eq(stat(path, &st), -1);
        helper_proc_hangup(&p);
}
END_TEST

START_TEST(test_restore_only_own_images) {
        HelperProc p = helper_proc_start("mgd-checkpoint-helper", root, env);
        char path[4400], marker[4400];
        uint64_t id = dump_ok(&p);
        ProtoRequest req = image_req(PROTO_CHECKPOINT_RESTORE, id);
        ProtoRequest other = image_req(PROTO_CHECKPOINT_RESTORE, id ^ 1);
        FILE *f;

        reap_target();
        /* a directory that looks like an image but has no marker: not ours */
        image_path(id ^ 1, NULL, path, sizeof(path));
        ck_assert_int_eq(mkdir(path, 0700), 0);
        ck_assert_int_eq(helper_proc_call(&p, &other, NULL, NULL), -EPERM);
        /* a forged marker naming another image */
        image_path(id ^ 1, "mgd-image", marker, sizeof(marker));
        f = fopen(marker, "we");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "mgd-image 2\nid %016" PRIx64 "\nuid %u\npid 1\nstarttime 1\ncgroup %s%s\n", id,
                (unsigned) getuid(), session, APP);
        (void) fclose(f);
        ck_assert_int_eq(helper_proc_call(&p, &other, NULL, NULL), -EPERM);
        /* our image, loosened to 0755: no longer ours either */
        image_path(id, NULL, path, sizeof(path));
        ck_assert_int_eq(chmod(path, 0755), 0);
        ck_assert_int_eq(helper_proc_call(&p, &req, NULL, NULL), -EPERM);
        ck_assert_int_eq(chmod(path, 0700), 0);
        ck_assert_int_eq(helper_proc_call(&p, &req, NULL, NULL), 0);
        helper_proc_hangup(&p);
}
END_TEST

/* A restore runs criu in the cgroup the process was dumped from (mgd.service otherwise). */
START_TEST(test_restore_into_its_cgroup) {
        HelperProc p = helper_proc_start("mgd-checkpoint-helper", root, env);
        char rel[512], path[4400], buf[16] = "";
        uint64_t id = dump_ok(&p);
        ProtoRequest req = image_req(PROTO_CHECKPOINT_RESTORE, id);
        struct stat st;

        reap_target();
        fake_write(root, "sys/fs/cgroup/cgroup.controllers", "memory pids\n");
        xsprintf(rel, "sys/fs/cgroup%s%s/cgroup.procs", session, APP);
        fake_write(root, rel, "");
        ck_assert_int_eq(helper_proc_call(&p, &req, NULL, NULL), 0);
        xsprintf(path, "%s/%s", root, rel);
        ck_assert_int_eq(read_small_file(path, buf, sizeof(buf), NULL), 0);
        ck_assert_str_eq(buf, "0");             /* criu's process wrote itself into it */
        /* a scope that systemd removed once it was empty is made again */
        target = fork();
        ck_assert_int_ge(target, 0);
        if (target == 0) {
                pause();
                _exit(0);
        }
        xsprintf(rel, "%s%s", session, "/app.slice/app-gone.scope");
        fake_proc_pid(root, target, getuid(), STARTTIME, rel);
        id = dump_ok(&p);
        reap_target();
        req = image_req(PROTO_CHECKPOINT_RESTORE, id);
        ck_assert_int_eq(helper_proc_call(&p, &req, NULL, NULL), 0);
        xsprintf(path, "%s/sys/fs/cgroup%s", root, rel);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        helper_proc_hangup(&p);
}
END_TEST

/* A marker whose cgroup is not an app of the session: refused, and the image stays. */
static const struct {
        bool below_session;             /* the session path comes first */
        const char *rest;
} forged_cgroups[] = {
        { false, "/system.slice/foo.service" },
        { true, "/init.scope" },
        { true, "" },
        { true, "/app.slice/../../../system.slice/foo.service" },
        { true, "/app.slice//x.scope" },
};

START_TEST(test_restore_forged_cgroup) {
        HelperProc p = helper_proc_start("mgd-checkpoint-helper", root, env);
        char path[4400], cg[512];
        uint64_t id = dump_ok(&p);
        ProtoRequest req = image_req(PROTO_CHECKPOINT_RESTORE, id);
        struct stat st;
        pid_t dumped = target;
        FILE *f;

        reap_target();
        xsprintf(cg, "%s%s", forged_cgroups[_i].below_session ? session : "", forged_cgroups[_i].rest);
        image_path(id, "mgd-image", path, sizeof(path));
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "mgd-image 2\nid %016" PRIx64 "\nuid %u\npid %d\nstarttime %d\ncgroup %s\n", id,
                (unsigned) getuid(), (int) dumped, STARTTIME, cg);
        (void) fclose(f);
        ck_assert_msg(helper_proc_call(&p, &req, NULL, NULL) == -EPERM, "%s", cg);
        image_path(id, NULL, path, sizeof(path));
        ck_assert_int_eq(stat(path, &st), 0);
        helper_proc_hangup(&p);
}
END_TEST

static const struct {
        const char *what;
        uid_t uid;
        const char *cgroup;             /* below the session, or absolute when it starts with '!' */
        uint64_t starttime;
        int error;
} refusals[] = {
        { "other uid", 4242, APP, STARTTIME, -EPERM },
        { "outside the session", 0, "!/system.slice/foo.service", STARTTIME, -EPERM },
        { "the user manager", 0, "/init.scope", STARTTIME, -EPERM },
        { "the session cgroup itself", 0, "", STARTTIME, -EPERM },
        { "another user's session", 0, "!/user.slice/user-4242.slice/user@4242.service/app.slice/x", STARTTIME, -EPERM },
        { "a lookalike session", 0, "!/user.slice/user-0.slice/user@0.service2/app", STARTTIME, -EPERM },
        { "start time differs", 0, APP, STARTTIME + 1, -ESRCH },
};

START_TEST(test_refused) {
        HelperProc p;
        char cg[512];
        uid_t uid = refusals[_i].uid == 0 ? getuid() : refusals[_i].uid;

        if (refusals[_i].cgroup[0] == '!')
                xsprintf(cg, "%s", refusals[_i].cgroup + 1);
        else
                xsprintf(cg, "%s%s", session, refusals[_i].cgroup);
        fake_proc_pid(root, target, uid, refusals[_i].starttime, cg);
        p = helper_proc_start("mgd-checkpoint-helper", root, env);
        ProtoRequest req = dump_req(target, STARTTIME, 0);
        ck_assert_msg(helper_proc_call(&p, &req, NULL, NULL) == refusals[_i].error, "%s", refusals[_i].what);
        /* nothing was written */
        char path[4400];
        struct stat st;
        xsprintf(path, "%s/home/.local", root);
        ck_assert_int_eq(stat(path, &st), -1);
        helper_proc_hangup(&p);
}
END_TEST

START_TEST(test_refused_self_and_gone) {
        HelperProc p = helper_proc_start("mgd-checkpoint-helper", root, env);
        ProtoRequest self = dump_req(getpid(), 1, 0);
        ProtoRequest gone;

        ck_assert_int_eq(helper_proc_call(&p, &self, NULL, NULL), -EPERM);
        gone = dump_req(target, STARTTIME, 0);
        reap_target();
        ck_assert_int_eq(helper_proc_call(&p, &gone, NULL, NULL), -ESRCH);
        helper_proc_hangup(&p);
}
END_TEST

START_TEST(test_criu_failure_leaves_nothing) {
        HelperProc p = helper_proc_start("mgd-checkpoint-helper", root, env);
        ProtoRequest req = dump_req(target, STARTTIME, 0);
        char path[4400];
        struct stat st;

        fake_write(root, "criu-fails", "");
        ck_assert_int_eq(helper_proc_call(&p, &req, NULL, NULL), -EIO);
        xsprintf(path, "%s/home/.local/state/mgd/checkpoints", root);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_nlink, 2);      /* empty: the failed image was removed */
        helper_proc_hangup(&p);
}
END_TEST

START_TEST(test_dumped_process_must_end) {
        HelperProc p = helper_proc_start("mgd-checkpoint-helper", root, env);
        ProtoRequest req = dump_req(target, STARTTIME, 0);
        char path[4400];
        struct stat st;

        /* criu said yes, but the process we validated lives on: criu dumped something else */
        fake_write(root, "criu-spares", "");
        ck_assert_int_eq(helper_proc_call(&p, &req, NULL, NULL), -ESTALE);
        xsprintf(path, "%s/home/.local/state/mgd/checkpoints", root);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_nlink, 2);      /* no image left behind */
        helper_proc_hangup(&p);
}
END_TEST

START_TEST(test_probe) {
        char missing[4200];
        const char *env_missing[] = { env_home, missing, NULL };
        ProtoRequest grant = dump_req(0, 0, PROTO_FLAG_PROBE);
        ProtoRequest full = dump_req(target, STARTTIME, PROTO_FLAG_PROBE);
        HelperProc p = helper_proc_start("mgd-checkpoint-helper", root, env);
        char path[4400];
        struct stat st;

        ck_assert_int_eq(helper_proc_call(&p, &grant, NULL, NULL), 0);
        ck_assert_int_eq(helper_proc_call(&p, &full, NULL, NULL), 0);
        xsprintf(path, "%s/home/.local", root);
        ck_assert_int_eq(stat(path, &st), -1);   /* a probe dumps nothing */
        helper_proc_hangup(&p);

        xsprintf(missing, "MGD_TEST_CRIU=%s/no-such-criu", root);
        p = helper_proc_start("mgd-checkpoint-helper", root, env_missing);
        ck_assert_int_eq(helper_proc_call(&p, &grant, NULL, NULL), -ENOENT);
        helper_proc_hangup(&p);
}
END_TEST

START_TEST(test_malformed) {
        ProtoRequest reqs[] = {
                dump_req(0, 0, 0),              /* pid 0 outside a probe */
                dump_req(-1, 0, 0),             /* pid beyond INT32_MAX */
                image_req(PROTO_CHECKPOINT_RESTORE, 0),
                image_req(PROTO_CHECKPOINT_DISCARD, 0),
                image_req(PROTO_SWAP_RECLAIM, 0),
        };
        HelperProc p = helper_proc_start("mgd-checkpoint-helper", root, env);

        reqs[4].checkpoint_image.image_id = 0;
        ck_assert_uint_lt((unsigned) _i, ELEMENTSOF(reqs));
        helper_proc_expect_exit(&p, &reqs[_i], sizeof(reqs[_i]), -1, HELPER_EXIT_PROTOCOL);
}
END_TEST

static Suite *checkpoint_helper_suite(void) {
        Suite *s = suite_create("checkpoint-helper");
        TCase *tc = tcase_create("fake-root");

        tcase_add_unchecked_fixture(tc, fake_base_setup, fake_base_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_dump_restore);
        tcase_add_test(tc, test_discard);
        tcase_add_test(tc, test_restore_only_own_images);
        tcase_add_test(tc, test_restore_into_its_cgroup);
        tcase_add_loop_test(tc, test_restore_forged_cgroup, 0, ELEMENTSOF(forged_cgroups));
        tcase_add_loop_test(tc, test_refused, 0, ELEMENTSOF(refusals));
        tcase_add_test(tc, test_refused_self_and_gone);
        tcase_add_test(tc, test_criu_failure_leaves_nothing);
        tcase_add_test(tc, test_dumped_process_must_end);
        tcase_add_test(tc, test_probe);
        tcase_add_loop_test(tc, test_malformed, 0, 5);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(checkpoint_helper_suite)
