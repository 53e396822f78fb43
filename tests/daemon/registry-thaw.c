/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Recovery on real processes: registry_thaw_leftovers() after a "previous instance" froze
 * children, the shutdown sweep, and the mgd-thaw binary end to end (its path comes in $MGD_THAW).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "daemon/executor.h"
#include "daemon/registry.h"
#include "tests/check-main.h"
#include "tests/daemon/exec-util.h"

#define WAIT (2 * USEC_PER_SEC)

static char dir[PATH_MAX];

static void setup(void) {
        test_tmpdir(dir, sizeof(dir));
}

typedef struct Seen {
        unsigned n;
        pid_t pid[8];
        int result[8];
} Seen;

static void on_thaw(const RegistryEntry *e, int result, const char *what, void *userdata) {
        Seen *s = userdata;

        ck_assert_uint_lt(s->n, 8);
        if (result != 0)
                ck_assert_ptr_nonnull(what);
        s->pid[s->n] = e->pid;
        s->result[s->n] = result;
        s->n++;
}

static int result_for(const Seen *s, pid_t pid) {
        for (unsigned i = 0; i < s->n; i++)
                if (s->pid[i] == pid)
                        return s->result[i];
        ck_abort_msg("no thaw report for pid %d", (int) pid);
        return 1;
}

static void add(Registry *r, pid_t pid, uint64_t starttime, RegistryHow how, const char *cgroup) {
        RegistryEntry e = { .pid = pid, .starttime = starttime, .priority = 70, .how = how };

        snprintf(e.name, sizeof(e.name), "mgd-t-%d", (int) pid);
        if (cgroup)
                snprintf(e.cgroup, sizeof(e.cgroup), "%s", cgroup);
        if (how == REGISTRY_CHECKPOINT)
                strcpy(e.image_dir, "/tmp/mgd-test-images/1");
        ck_assert_int_eq(registry_add(r, &e), 0);
}

/* A child stopped the way a previous mgd instance would have left it. */
static pid_t spawn_stopped(const char *name) {
        pid_t pid = test_spawn(name, CHILD_PAUSE);

        ck_assert_int_eq(kill(pid, SIGSTOP), 0);
        ck_assert(test_wait_state(pid, "T", WAIT));
        return pid;
}

START_TEST(test_leftovers_thawed_only_when_identity_matches) {
        _cleanup_registry_ Registry *prev = NULL, *r = NULL;
        pid_t a = spawn_stopped("mgd-t-left-a"), b = spawn_stopped("mgd-t-left-b");
        pid_t gone = test_spawn("mgd-t-left-gone", CHILD_PAUSE);
        uint64_t gone_st = test_starttime(gone);
        ProcRoots roots = { .proc = "/proc", .cgroup2 = test_cgroup2_root() };
        Seen seen = {};
        char file[PATH_MAX + 16];
        FILE *f;
        char buf[4096];
        size_t n;

        (void) test_reap(gone);
        ck_assert_int_eq(registry_new(dir, &prev), 0);
        add(prev, a, test_starttime(a), REGISTRY_SIGSTOP, NULL);
        /* b's pid, but another starttime: as if b were a new process that reused the pid. */
        add(prev, b, test_starttime(b) + 1, REGISTRY_SIGSTOP, NULL);
        add(prev, gone, gone_st, REGISTRY_SIGSTOP, NULL);
        add(prev, 4000000, 1, REGISTRY_CHECKPOINT, NULL);
        ck_assert_int_eq(registry_persist(prev), 1);

        ck_assert_int_eq(registry_new(dir, &r), 0);
        ck_assert_int_eq(registry_load(r, NULL, NULL), 0);
        ck_assert_int_eq(registry_thaw_leftovers(r, &roots, on_thaw, &seen), 0);

        ck_assert_uint_eq(seen.n, 3);
        ck_assert_int_eq(result_for(&seen, a), 0);
        ck_assert_int_eq(result_for(&seen, b), -ESRCH);
        ck_assert_int_eq(result_for(&seen, gone), -ESRCH);
        ck_assert_msg(test_wait_state(a, "SR", WAIT), "a: state %c", test_state(a));
        /* The mismatched one was never signalled: still stopped. */
        usleep(20 * 1000);
        ck_assert_int_eq(test_state(b), 'T');

        /* Only the checkpoint (no process to thaw) is left, and that is what the file says now. */
        ck_assert_uint_eq(registry_size(r), 1);
        ck_assert_int_eq(registry_entry(r, 0)->how, REGISTRY_CHECKPOINT);
        snprintf(file, sizeof(file), "%s/registry", dir);
        f = fopen(file, "re");
        ck_assert_ptr_nonnull(f);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        ck_assert_ptr_nonnull(strstr(buf, "how=checkpoint"));
        ck_assert_ptr_null(strstr(buf, "how=sigstop"));
}
END_TEST

START_TEST(test_leftovers_cgroup) {
        _cleanup_registry_ Registry *r = NULL;
        pid_t c1 = test_spawn("mgd-t-left-cg1", CHILD_PAUSE), c2 = test_spawn("mgd-t-left-cg2", CHILD_PAUSE);
        ProcRoots roots = { .proc = "/proc", .cgroup2 = test_cgroup2_root() };
        char cg1[PATH_MAX], cg2[PATH_MAX], empty[PATH_MAX];
        Seen seen = {};

        test_cgroup_mkdir("/app-test.scope", cg1, sizeof(cg1));
        test_cgroup_mkdir("/app-other.scope", cg2, sizeof(cg2));
        test_cgroup_mkdir("/app-empty.scope", empty, sizeof(empty));
        test_cgroup_move(cg1, c1);
        test_cgroup_move(cg2, c2);
        test_cgroup_write(cg1, "cgroup.freeze", "1");
        test_cgroup_write(cg2, "cgroup.freeze", "1");
        test_cgroup_write(empty, "cgroup.freeze", "1");
        ck_assert(test_cgroup_wait_frozen(cg1, 1, WAIT));
        ck_assert(test_cgroup_wait_frozen(cg2, 1, WAIT));

        ck_assert_int_eq(registry_new(dir, &r), 0);
        add(r, c1, test_starttime(c1), REGISTRY_CGROUP, cg1);
        /* c2 is not in the cgroup its entry names: that cgroup is not written. */
        add(r, c2, test_starttime(c2), REGISTRY_CGROUP, empty);
        ck_assert_int_eq(registry_thaw_leftovers(r, &roots, on_thaw, &seen), 0);

        ck_assert_int_eq(result_for(&seen, c1), 0);
        ck_assert_int_eq(result_for(&seen, c2), -ENOENT);
        ck_assert(test_cgroup_wait_frozen(cg1, 0, WAIT));
        ck_assert_int_eq(test_cgroup_frozen(empty), 1);
        ck_assert_int_eq(test_cgroup_frozen(cg2), 1);
        ck_assert_uint_eq(registry_size(r), 0);
        test_cgroup_write(cg2, "cgroup.freeze", "0");
}
END_TEST

START_TEST(test_failed_thaw_keeps_entry) {
        _cleanup_registry_ Registry *r = NULL;
        pid_t c = test_spawn("mgd-t-keep", CHILD_PAUSE);
        ProcRoots no_cg2 = { .proc = "/proc", .cgroup2 = NULL };
        char cg[PATH_MAX];
        Seen seen = {};

        test_cgroup_mkdir("/app-test.scope", cg, sizeof(cg));
        test_cgroup_move(cg, c);
        test_cgroup_write(cg, "cgroup.freeze", "1");
        ck_assert(test_cgroup_wait_frozen(cg, 1, WAIT));

        ck_assert_int_eq(registry_new(dir, &r), 0);
        add(r, c, test_starttime(c), REGISTRY_CGROUP, cg);
        /* Nothing can write cgroup.freeze without a cgroup2 root: a failure, kept for a retry. */
        ck_assert_int_eq(registry_thaw_all(r, &no_cg2, on_thaw, &seen), 1);
        ck_assert_int_eq(seen.result[0], -EOPNOTSUPP);
        ck_assert_uint_eq(registry_size(r), 1);
        ck_assert_int_eq(test_cgroup_frozen(cg), 1);
        test_cgroup_write(cg, "cgroup.freeze", "0");
}
END_TEST

START_TEST(test_thaw_all_after_executor_freeze) {
        _cleanup_registry_ Registry *r = NULL;
        _cleanup_executor_ Executor *x = NULL;
        sd_event *e = NULL;
        pid_t a = test_spawn("mgd-t-sweep-a", CHILD_PAUSE), b = test_spawn("mgd-t-sweep-b", CHILD_PAUSE);
        char cg[PATH_MAX];
        FreezeInfo fa, fb;
        RegistryEntry ea = {}, eb = {};
        Seen seen = {};

        test_cgroup_mkdir("/app-test.scope", cg, sizeof(cg));
        test_cgroup_move(cg, b);
        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(executor_new(e, "/proc", test_cgroup2_root(), USEC_PER_SEC, &x), 0);
        ck_assert_int_eq(registry_new(dir, &r), 0);

        /* What the daemon does: freeze, then record how. */
        ck_assert_int_eq(executor_freeze(x, a, test_starttime(a), &fa), 0);
        ck_assert_int_eq(executor_freeze(x, b, test_starttime(b), &fb), 0);
        ck_assert_int_eq(fb.method, FREEZE_CGROUP);
        ea = (RegistryEntry) { .pid = a, .starttime = test_starttime(a), .priority = 60, .how = REGISTRY_SIGSTOP };
        eb = (RegistryEntry) { .pid = b, .starttime = test_starttime(b), .priority = 60, .how = REGISTRY_CGROUP };
        strcpy(eb.cgroup, fb.cgroup);
        ck_assert_int_eq(registry_add(r, &ea), 0);
        ck_assert_int_eq(registry_add(r, &eb), 0);
        ck_assert(test_wait_state(a, "T", WAIT));

        ck_assert_int_eq(registry_thaw_all(r, executor_roots(x), on_thaw, &seen), 0);
        ck_assert_uint_eq(seen.n, 2);
        ck_assert(test_wait_state(a, "SR", WAIT));
        ck_assert(test_cgroup_wait_frozen(cg, 0, WAIT));
        ck_assert_uint_eq(registry_size(r), 0);

        x = executor_free(x);
        sd_event_unref(e);
}
END_TEST

/* A child of another uid, stopped: what a registry naming it must never resume. */
static pid_t spawn_stopped_as(uid_t uid) {
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
                        _exit(1);
                (void) raise(SIGSTOP);
                for (;;)
                        pause();
        }
        ck_assert(test_wait_state(pid, "T", WAIT));
        return pid;
}

/* The registry is only as trusted as its directory: each entry is re-read before SIGCONT. */
START_TEST(test_thaw_revalidates_uid_and_stop) {
        _cleanup_registry_ Registry *r = NULL;
        ProcRoots roots = { .proc = "/proc", .cgroup2 = test_cgroup2_root() };
        pid_t other, running = test_spawn("mgd-t-running", CHILD_PAUSE), mine = spawn_stopped("mgd-t-mine");
        Seen seen = {};

        if (geteuid() != 0)
                MGD_SKIP("a child of another uid needs root");
        other = spawn_stopped_as(65534);
        ck_assert_int_eq(registry_new(dir, &r), 0);
        add(r, other, test_starttime(other), REGISTRY_SIGSTOP, NULL);
        add(r, running, test_starttime(running), REGISTRY_SIGSTOP, NULL);
        add(r, mine, test_starttime(mine), REGISTRY_SIGSTOP, NULL);
        ck_assert_int_eq(registry_thaw_all(r, &roots, on_thaw, &seen), 0);

        ck_assert_int_eq(result_for(&seen, other), -ESRCH);
        ck_assert_int_eq(result_for(&seen, running), -ESRCH);
        ck_assert_int_eq(result_for(&seen, mine), 0);
        ck_assert(test_wait_state(mine, "SR", WAIT));
        usleep(20 * 1000);
        ck_assert_int_eq(test_state(other), 'T');
        ck_assert_uint_eq(registry_size(r), 0);
        (void) kill(other, SIGKILL);
        ck_assert_int_eq(waitpid(other, NULL, 0), other);
}
END_TEST

/* ---- mgd-thaw ---- */

static int run_thaw(const char *state_dir, const char *xdg, char *out, size_t size) {
        const char *bin = getenv("MGD_THAW");
        int p[2], status;
        size_t len = 0;
        ssize_t n;
        pid_t pid;

        ck_assert_msg(bin, "$MGD_THAW is not set (run through meson test)");
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                (void) dup2(p[1], STDOUT_FILENO);
                (void) dup2(p[1], STDERR_FILENO);
                if (xdg)
                        (void) setenv("XDG_STATE_HOME", xdg, 1);
                if (state_dir)
                        execl(bin, bin, "--state-dir", state_dir, (char *) NULL);
                else
                        execl(bin, bin, (char *) NULL);
                _exit(127);
        }
        (void) close(p[1]);
        while (len + 1 < size && (n = read(p[0], out + len, size - 1 - len)) > 0)
                len += (size_t) n;
        out[len] = '\0';
        (void) close(p[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        return WEXITSTATUS(status);
}

START_TEST(test_mgd_thaw_end_to_end) {
        _cleanup_registry_ Registry *r = NULL;
        pid_t a = spawn_stopped("mgd-t-bin-a"), b = spawn_stopped("mgd-t-bin-b");
        char out[4096], file[PATH_MAX + 16];

        ck_assert_int_eq(registry_new(dir, &r), 0);
        add(r, a, test_starttime(a), REGISTRY_SIGSTOP, NULL);
        add(r, b, test_starttime(b) + 7, REGISTRY_SIGSTOP, NULL);
        ck_assert_int_eq(registry_persist(r), 1);

        ck_assert_msg(run_thaw(dir, NULL, out, sizeof(out)) == 0, "%s", out);
        ck_assert(test_wait_state(a, "SR", WAIT));
        usleep(20 * 1000);
        ck_assert_int_eq(test_state(b), 'T');
        ck_assert_ptr_nonnull(strstr(out, "thawed pid"));
        snprintf(file, sizeof(file), "%s/registry", dir);
        ck_assert_int_eq(access(file, F_OK), -1);

        /* Nothing to do is not an error. */
        ck_assert_int_eq(run_thaw(dir, NULL, out, sizeof(out)), 0);
}
END_TEST

START_TEST(test_mgd_thaw_default_dir_and_errors) {
        _cleanup_registry_ Registry *r = NULL;
        pid_t a = spawn_stopped("mgd-t-bin-xdg");
        char out[4096], state[PATH_MAX + 8], file[PATH_MAX + 32];
        FILE *f;

        /* $XDG_STATE_HOME/mgd, with one malformed line: the valid line still thaws, status 1. */
        snprintf(state, sizeof(state), "%s/mgd", dir);
        ck_assert_int_eq(registry_new(state, &r), 0);
        add(r, a, test_starttime(a), REGISTRY_SIGSTOP, NULL);
        ck_assert_int_eq(registry_persist(r), 1);
        snprintf(file, sizeof(file), "%s/registry", state);
        f = fopen(file, "ae");
        ck_assert_ptr_nonnull(f);
        fputs("pid=12 nonsense\n", f);
        fclose(f);

        ck_assert_int_eq(run_thaw(NULL, dir, out, sizeof(out)), 1);
        ck_assert_msg(strstr(out, "registry:3:"), "%s", out);
        ck_assert(test_wait_state(a, "SR", WAIT));

        /* Unreadable registry: status 1 with a message. */
        ck_assert_int_eq(unlink(file) == 0 || errno == ENOENT, 1);
        ck_assert_int_eq(mkdir(file, 0700), 0);
        ck_assert_int_eq(run_thaw(state, NULL, out, sizeof(out)), 1);
        ck_assert_msg(strstr(out, "is damaged (a directory, not a regular file): moved aside"), "%s", out);
        ck_assert_int_eq(access(file, F_OK), -1);

        /* A state directory of another user: refused, nothing in it is acted on. */
        if (geteuid() == 0) {
                ck_assert_int_eq(chown(state, 65534, 65534), 0);
                ck_assert_int_eq(run_thaw(state, NULL, out, sizeof(out)), 1);
                ck_assert_msg(strstr(out, "refusing to act on a state directory root does not own"), "%s", out);
                ck_assert_int_eq(chown(state, 0, 0), 0);
        }
        ck_assert_int_eq(chmod(state, 0755), 0);
        ck_assert_int_eq(run_thaw(state, NULL, out, sizeof(out)), 1);
        ck_assert_msg(strstr(out, "accessible to group or others"), "%s", out);

        /* Usage: a relative directory. */
        ck_assert_int_eq(run_thaw("relative", NULL, out, sizeof(out)), 2);
        ck_assert_msg(strstr(out, "absolute"), "%s", out);
}
END_TEST

static Suite *registry_thaw_suite(void) {
        Suite *s = suite_create("registry-thaw");
        TCase *tc = tcase_create("thaw");

        test_init();
        tcase_add_checked_fixture(tc, setup, test_cleanup);
        tcase_add_unchecked_fixture(tc, NULL, test_cleanup_tree);
        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, test_leftovers_thawed_only_when_identity_matches);
        tcase_add_test(tc, test_leftovers_cgroup);
        tcase_add_test(tc, test_failed_thaw_keeps_entry);
        tcase_add_test(tc, test_thaw_revalidates_uid_and_stop);
        tcase_add_test(tc, test_thaw_all_after_executor_freeze);
        tcase_add_test(tc, test_mgd_thaw_end_to_end);
        tcase_add_test(tc, test_mgd_thaw_default_dir_and_errors);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(registry_thaw_suite)
