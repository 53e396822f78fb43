/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgctl against ctl-test-server (the real server with fake handlers) and against scripted fake
 * daemons: its output, --json, exit codes, the lifecycle wrappers, and refusal for another uid.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build-config.h"
#include "common/macro.h"
#include "tests/check-main.h"
#include "tests/daemon/ctl-test-util.h"

#define NOBODY 65534

static TestServer ts;
static char *out, *err;

static void start_default(void) {
        test_server_start(&ts, NULL);
}

static void stop_server(void) {
        test_server_stop(&ts);
}

/* mgctl --socket <ts.path> args...; stdout/stderr land in out/err. */
static int mgctl_env(char *const env[], const char *socket, ...) {
        char *argv[32];
        size_t n = 0;
        va_list ap;

        free(out);
        free(err);
        out = err = NULL;
        argv[n++] = getenv("MGCTL");
        ck_assert_ptr_nonnull(argv[0]);
        if (socket) {
                argv[n++] = "--socket";
                argv[n++] = (char *) socket;
        }
        va_start(ap, socket);
        for (char *a; (a = va_arg(ap, char *)) && n < ELEMENTSOF(argv) - 1;)
                argv[n++] = a;
        va_end(ap);
        argv[n] = NULL;
        return test_run(argv, env, &out, &err);
}

#define mgctl(...) mgctl_env(NULL, ts.path, __VA_ARGS__, NULL)

/* ---- output ----------------------------------------------------------------------------- */

START_TEST(test_status) {
        /* one aligned table; the daemon's line groups become paragraphs */
        ck_assert_int_eq(mgctl("status"), 0);
        ck_assert_str_eq(out,
                         "level             elevated\n"
                         "score             0.42\n"
                         "trend             +0.0150\n"
                         "\n"
                         "mem_available_kb  1048576\n"
                         "mem_total_kb      16777216\n"
                         "\n"
                         "frozen            2\n"
                         "checkpointed      1\n"
                         "foreground        0\n"
                         "psi_source        /sys/fs/cgroup/user slice/memory.pressure\n");
        ck_assert_str_eq(err, "");

        /* one object; numbers are numbers (a '+' dropped), everything else a string */
        ck_assert_int_eq(mgctl("--json", "status"), 0);
        ck_assert_str_eq(out, "{\"level\":\"elevated\",\"score\":0.42,\"trend\":0.0150,"
                         "\"mem_available_kb\":1048576,\"mem_total_kb\":16777216,\"frozen\":2,"
                         "\"checkpointed\":1,\"foreground\":0,"
                         "\"psi_source\":\"/sys/fs/cgroup/user slice/memory.pressure\"}\n");
}
END_TEST

START_TEST(test_list) {
        ck_assert_int_eq(mgctl("list"), 0);
        /* the hostile name arrives with its escape character neutralised */
        ck_assert_str_eq(out,
                         "PID   NAME          PRIORITY  FROZEN FOR  HOW\n"
                         "4242  Web Content   80        2m05s       sigstop\n"
                         "4243  baloo_file    65        2h01m       cgroup\n"
                         "4244  evil?[31m=%\xc3\xa9  90        1d01h       checkpoint\n");

        ck_assert_int_eq(mgctl("--json", "list"), 0);
        ck_assert_str_eq(out,
                         "[{\"pid\":4242,\"name\":\"Web Content\",\"priority\":80,\"how\":\"sigstop\","
                         "\"frozen_for_s\":125,\"footprint_kb\":524288},"
                         "{\"pid\":4243,\"name\":\"baloo_file\",\"priority\":65,\"how\":\"cgroup\","
                         "\"frozen_for_s\":7300,\"footprint_kb\":81920},"
                         "{\"pid\":4244,\"name\":\"evil\\u001b[31m=%\xc3\xa9\",\"priority\":90,"
                         "\"how\":\"checkpoint\",\"frozen_for_s\":90000,\"footprint_kb\":1024}]\n");
}
END_TEST

START_TEST(test_list_empty) {
        test_server_start(&ts, "--list-lines", "0", NULL);
        ck_assert_int_eq(mgctl("list"), 0);
        ck_assert_str_eq(out, "No frozen or checkpointed processes.\n");
        ck_assert_int_eq(mgctl("--json", "list"), 0);
        ck_assert_str_eq(out, "[]\n");
        test_server_stop(&ts);
}
END_TEST

START_TEST(test_unfreeze) {
        /* unquoted words are joined: the name with a space reaches the daemon intact */
        ck_assert_int_eq(mgctl("unfreeze", "Web", "Content"), 0);
        ck_assert_str_eq(out, "unfroze 4242 (Web Content)\n");
        ck_assert_int_eq(mgctl("unfreeze", "web content"), 0);
        ck_assert_str_eq(out, "unfroze 4242 (Web Content)\n");
        ck_assert_int_eq(mgctl("unfreeze", "4243"), 0);
        ck_assert_str_eq(out, "unfroze 4243 (baloo_file)\n");

        /* one of the matches failed: reported, exit 1 */
        ck_assert_int_eq(mgctl("unfreeze", "i"), 1);
        ck_assert_str_eq(out, "unfroze 4243 (baloo_file)\n"
                         "could not unfreeze 4244 (evil?[31m=%\xc3\xa9): EPERM\n");

        ck_assert_int_eq(mgctl("unfreeze", "nope"), 1);
        ck_assert_str_eq(out, "");
        ck_assert_str_eq(err, "mgctl: unfreeze: no frozen process matches 'nope' (ESRCH)\n");

        ck_assert_int_eq(mgctl("--json", "unfreeze", "4242"), 0);
        ck_assert_str_eq(out, "[{\"pid\":4242,\"name\":\"Web Content\",\"result\":\"ok\"}]\n");
        ck_assert_int_eq(mgctl("--json", "unfreeze", "nope"), 1);
        ck_assert_str_eq(out, "{\"error\":\"ESRCH\",\"message\":\"no frozen process matches 'nope'\"}\n");

        ck_assert_int_eq(mgctl("unfreeze"), 2);
        ck_assert_int_eq(mgctl("unfreeze", ""), 2);
}
END_TEST

START_TEST(test_reload) {
        char dir[PATH_MAX], config[PATH_MAX + 16], expected[PATH_MAX + 128];
        FILE *f;

        test_dir_make(dir, sizeof dir);
        snprintf(config, sizeof config, "%s/mgd.conf", dir);
        f = fopen(config, "we");
        ck_assert_ptr_nonnull(f);
        fputs("good\n", f);
        fclose(f);
        test_server_start(&ts, "--config", config, NULL);

        ck_assert_int_eq(mgctl("reload"), 0);
        ck_assert_str_eq(out, "Configuration reloaded.\nrules  1\n");

        f = fopen(config, "ae");
        fputs("bad\n", f);
        fclose(f);
        ck_assert_int_eq(mgctl("reload"), 1);
        ck_assert_str_eq(out, "");
        snprintf(expected, sizeof expected, "mgctl: reload: %s:2: bad regex '(' in pattern (EINVAL)\n",
                 config);
        ck_assert_str_eq(err, expected);
        ck_assert_int_eq(mgctl("--json", "reload"), 1);
        snprintf(expected, sizeof expected,
                 "{\"error\":\"EINVAL\",\"message\":\"%s:2: bad regex '(' in pattern\"}\n", config);
        ck_assert_str_eq(out, expected);

        test_server_stop(&ts);
        test_dir_remove(dir);
}
END_TEST

START_TEST(test_foreground_and_version) {
        ck_assert_int_eq(mgctl("foreground", "77"), 0);
        ck_assert_str_eq(out, "Foreground set to pid 77.\n");
        ck_assert_int_eq(mgctl("--json", "status"), 0);
        ck_assert_ptr_nonnull(strstr(out, "\"foreground\":77,"));
        ck_assert_int_eq(mgctl("foreground", "0"), 0);
        ck_assert_str_eq(out, "Foreground cleared.\n");
        ck_assert_int_eq(mgctl("foreground", "x"), 2);
        ck_assert_int_eq(mgctl("foreground", "007"), 2);
        ck_assert_int_eq(mgctl("foreground"), 2);

        ck_assert_int_eq(mgctl("version"), 0);
        ck_assert_str_eq(out, "mgctl " PACKAGE_VERSION " (protocol 1)\nmgd " PACKAGE_VERSION
                         " (protocol 1)\n");
        ck_assert_int_eq(mgctl("--json", "version"), 0);
        ck_assert_str_eq(out, "{\"protocol\":1,\"version\":\"" PACKAGE_VERSION
                         "\",\"mgctl_version\":\"" PACKAGE_VERSION "\"}\n");
}
END_TEST

START_TEST(test_default_socket_path) {
        char env[PATH_MAX + 32];
        char *envp[] = { env, NULL }, *none[] = { NULL };

        /* without --socket, $XDG_RUNTIME_DIR/mgd.sock */
        snprintf(env, sizeof env, "XDG_RUNTIME_DIR=%s", ts.dir);
        ck_assert_int_eq(mgctl_env(envp, NULL, "version", NULL), 0);
        ck_assert_int_eq(mgctl_env(none, NULL, "status", NULL), 3);
        ck_assert_str_eq(err, "mgctl: XDG_RUNTIME_DIR is not set, so mgd's socket cannot be found "
                         "(use --socket PATH)\n");
}
END_TEST

/* ---- mgd not running, or not speaking our protocol --------------------------------------- */

START_TEST(test_not_running) {
        char dir[PATH_MAX], path[PATH_MAX + 16], expected[PATH_MAX + 128];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        test_dir_make(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/mgd.sock", dir);
        ck_assert_int_eq(mgctl_env(NULL, path, "status", NULL), 3);
        snprintf(expected, sizeof expected,
                 "mgctl: mgd is not running (no socket at %s); start it with: mgctl start\n", path);
        ck_assert_str_eq(err, expected);
        ck_assert_str_eq(out, "");

        /* a socket file nobody listens on: what a crashed mgd leaves */
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        ck_assert_int_eq(mgctl_env(NULL, path, "list", NULL), 3);
        ck_assert_ptr_nonnull(strstr(err, "mgd is not running (nothing listens on"));
        ck_assert_int_eq(mgctl_env(NULL, path, "version", NULL), 3);
        ck_assert_str_eq(out, "mgctl " PACKAGE_VERSION " (protocol 1)\n");
        close(fd);
        test_dir_remove(dir);
}
END_TEST

/*
 * A scripted daemon in a child: accept one connection; for each answer, read one request line and
 * write the answer (NULL ends the script; "" means never answer, just wait for the client to go).
 */
static pid_t fake_daemon(const char *path, const char *const *answers) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int lfd, ready[2];
        pid_t pid;
        char c;

        strcpy(sa.sun_path, path);
        ck_assert_int_eq(pipe(ready), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int fd;

                lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (bind(lfd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(lfd, 4) < 0)
                        _exit(1);
                (void) !write(ready[1], "r", 1);
                fd = accept(lfd, NULL, NULL);
                for (size_t i = 0; answers[i] && fd >= 0; i++) {
                        while (read(fd, &c, 1) == 1 && c != '\n')
                                ;
                        if (!answers[i][0])
                                while (read(fd, &c, 1) > 0)
                                        ;
                        (void) !write(fd, answers[i], strlen(answers[i]));
                }
                _exit(0);       /* hang up after the script */
        }
        close(ready[1]);
        ck_assert_int_eq(read(ready[0], &c, 1), 1);
        close(ready[0]);
        return pid;
}

static int against_fake(const char *const *answers, const char *cmd, const char *timeout) {
        char dir[PATH_MAX], path[PATH_MAX + 16];
        pid_t pid;
        int r;

        test_dir_make(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/mgd.sock", dir);
        pid = fake_daemon(path, answers);
        r = timeout ? mgctl_env(NULL, path, "--timeout", timeout, cmd, NULL)
                    : mgctl_env(NULL, path, cmd, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        test_dir_remove(dir);
        return r;
}

START_TEST(test_protocol_mismatch) {
        static const char *const v2[] = { "protocol=2 version=9.9\nOK 1\n", NULL };
        static const char *const v1_minor[] = { "protocol=1.3 version=0.2\nOK 1\n", "a=1\nOK 1\n", NULL };
        static const char *const v1_plus[] = { "protocol=+1 version=0.2\nOK 1\n", NULL };

        ck_assert_int_eq(against_fake(v2, "status", NULL), 4);
        ck_assert_str_eq(err, "mgctl: mgd speaks control protocol 2, this mgctl speaks 1; use the "
                         "mgctl that came with this mgd\n");
        /* a newer minor revision is compatible */
        ck_assert_int_eq(against_fake(v1_minor, "status", NULL), 0);
        ck_assert_str_eq(out, "a  1\n");
        ck_assert_int_eq(against_fake(v1_minor, "version", NULL), 0);
        ck_assert_str_eq(out, "mgctl " PACKAGE_VERSION " (protocol 1)\nmgd 0.2 (protocol 1.3)\n");
        ck_assert_int_eq(against_fake(v1_plus, "version", NULL), 4);
}
END_TEST

START_TEST(test_malformed_replies) {
        static const char *const bad_count[] = { "protocol=1 version=1\nOK 5\n", NULL };
        static const char *const bad_line[] = { "protocol=1 version=x y\nOK 1\n", NULL };
        static const char *const bad_term[] = { "protocol=1 version=1\nOK one\n", NULL };
        static const char *const data_then_err[] = {
                "protocol=1 version=1\nOK 1\n", "a=1\nERR EIO oops\n", NULL };
        static const char *const no_version[] = { "hello=1\nOK 1\n", NULL };
        static const char *const hangup[] = { "protocol=1 version=1\n", NULL };

        ck_assert_int_eq(against_fake(bad_count, "status", NULL), 4);
        ck_assert_str_eq(err, "mgctl: protocol error: terminator does not match the data lines: 'OK 5'\n");
        ck_assert_int_eq(against_fake(bad_line, "status", NULL), 4);
        ck_assert_str_eq(err, "mgctl: protocol error: malformed data line: 'protocol=1 version=x y'\n");
        ck_assert_int_eq(against_fake(bad_term, "status", NULL), 4);
        ck_assert_int_eq(against_fake(data_then_err, "list", NULL), 4);
        ck_assert_int_eq(against_fake(no_version, "list", NULL), 4);
        ck_assert_str_eq(err, "mgctl: protocol error: VERSION reply without protocol= and version=\n");
        ck_assert_int_eq(against_fake(hangup, "list", NULL), 4);
        ck_assert_str_eq(err, "mgctl: mgd closed the connection before the reply was complete\n");
}
END_TEST

START_TEST(test_timeout) {
        static const char *const silent[] = { "", NULL };
        long long t0 = test_now_ms();

        ck_assert_int_eq(against_fake(silent, "status", "1"), 4);
        ck_assert_ptr_nonnull(strstr(err, "timed out talking to mgd"));
        ck_assert_int_lt(test_now_ms() - t0, 4000);
}
END_TEST

/* ---- usage and the lifecycle wrappers --------------------------------------------------- */

START_TEST(test_usage) {
        ck_assert_int_eq(mgctl_env(NULL, NULL, NULL), 2);
        ck_assert_ptr_nonnull(strstr(err, "no command given"));
        ck_assert_int_eq(mgctl_env(NULL, NULL, "frob", NULL), 2);
        ck_assert_ptr_nonnull(strstr(err, "unknown command 'frob'"));
        ck_assert_int_eq(mgctl_env(NULL, NULL, "status", "x", NULL), 2);
        ck_assert_int_eq(mgctl_env(NULL, NULL, "start", "now", NULL), 2);
        ck_assert_int_eq(mgctl_env(NULL, NULL, "logs", "-x", NULL), 2);
        ck_assert_int_eq(mgctl_env(NULL, NULL, "logs", "-n", "0", NULL), 2);
        ck_assert_int_eq(mgctl_env(NULL, NULL, "logs", "-n", NULL), 2);
        ck_assert_int_eq(mgctl_env(NULL, NULL, "--timeout", "0", "status", NULL), 2);
        ck_assert_int_eq(mgctl_env(NULL, NULL, "--bogus", "status", NULL), 2);
        ck_assert_int_eq(mgctl_env(NULL, NULL, "-h", NULL), 0);
        ck_assert_ptr_nonnull(strstr(out, "Usage: mgctl"));
}
END_TEST

static void write_script(const char *dir, const char *name) {
        char path[PATH_MAX + 32];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "#!/bin/sh\necho \"%s $*\"\nexit 7\n", name);
        fclose(f);
        ck_assert_int_eq(chmod(path, 0755), 0);
}

START_TEST(test_lifecycle) {
        char dir[PATH_MAX], env[PATH_MAX + 16];
        char *envp[] = { env, NULL }, *nopath[] = { "PATH=/nonexistent", NULL };
        static const struct {
                const char *args[4];
                const char *expected;
        } cases[] = {
                { { "start" }, "systemctl --user start mgd.service\n" },
                { { "stop" }, "systemctl --user stop mgd.service\n" },
                { { "restart" }, "systemctl --user restart mgd.service\n" },
                { { "service" }, "systemctl --user status mgd.service --no-pager\n" },
                { { "logs" }, "journalctl --user -u mgd.service -n 50 --no-pager\n" },
                { { "logs", "-f", "-n", "10" }, "journalctl --user -u mgd.service -n 10 --no-pager -f\n" },
                { { "logs", "--lines", "3", "--follow" },
                  "journalctl --user -u mgd.service -n 3 --no-pager -f\n" },
        };

        test_dir_make(dir, sizeof dir);
        write_script(dir, "systemctl");
        write_script(dir, "journalctl");
        snprintf(env, sizeof env, "PATH=%s", dir);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *const *a = cases[i].args;

                /* the wrapped tool's exit status is passed through */
                ck_assert_int_eq(mgctl_env(envp, NULL, a[0], a[1], a[2], a[3], NULL), 7);
                ck_assert_str_eq(out, cases[i].expected);
        }
        ck_assert_int_eq(mgctl_env(nopath, NULL, "start", NULL), 127);
        ck_assert_str_eq(err, "mgctl: cannot execute systemctl: No such file or directory\n");
        test_dir_remove(dir);
}
END_TEST

START_TEST(test_no_libsystemd) {
        char *argv[] = { "/usr/bin/ldd", getenv("MGCTL"), NULL };

        ck_assert_int_eq(test_run(argv, NULL, &out, &err), 0);
        ck_assert_ptr_nonnull(strstr(out, "libc.so"));
        ck_assert_ptr_null(strstr(out, "libsystemd"));
}
END_TEST

/* ---- another uid ------------------------------------------------------------------------ */

/* Become uid 65534 but keep CAP_DAC_OVERRIDE across exec, so only SO_PEERCRED can refuse. */
static void become_nobody_with_dac_override(void) {
        cap_value_t dac = CAP_DAC_OVERRIDE;
        cap_t caps;

        if (prctl(PR_SET_KEEPCAPS, 1) < 0 || setgroups(0, NULL) < 0 ||
            setresgid(NOBODY, NOBODY, NOBODY) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
                _exit(90);
        caps = cap_get_proc();
        if (!caps || cap_set_flag(caps, CAP_INHERITABLE, 1, &dac, CAP_SET) < 0 ||
            cap_set_flag(caps, CAP_EFFECTIVE, 1, &dac, CAP_SET) < 0 || cap_set_proc(caps) < 0 ||
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_OVERRIDE, 0, 0) < 0)
                _exit(91);
        cap_free(caps);
}

START_TEST(test_other_uid) {
        char *argv[] = { getenv("MGCTL"), "--socket", ts.path, "status", NULL };

        ck_assert_int_eq(test_run_prepared(argv, NULL, become_nobody_with_dac_override, &out, &err), 1);
        ck_assert_str_eq(out, "");
        ck_assert_str_eq(err, "mgctl: status: permission denied (EPERM)\n");
}
END_TEST

/* `mgctl status` gets through while a flood of half-line clients keeps every slot busy. */
START_TEST(test_status_through_half_line_flood) {
        unsigned ok = 0;
        pid_t flood = test_flood_half_lines(ts.path, 32);

        usleep(200 * 1000);
        for (int i = 0; i < 10; i++)
                ok += mgctl("status") == 0 && strstr(out, "level             elevated") != NULL;
        (void) kill(flood, SIGKILL);
        ck_assert_int_eq(waitpid(flood, NULL, 0), flood);
        ck_assert_msg(ok == 10, "mgctl status succeeded %u times of 10 (last stderr: %s)", ok, err);
}
END_TEST

static Suite *ctl_mgctl_suite(void) {
        Suite *s = suite_create("ctl-mgctl");
        TCase *live = tcase_create("live"), *own = tcase_create("own-server");
        TCase *offline = tcase_create("offline");

        tcase_add_checked_fixture(live, start_default, stop_server);
        tcase_add_test(live, test_status);
        tcase_add_test(live, test_list);
        tcase_add_test(live, test_unfreeze);
        tcase_add_test(live, test_foreground_and_version);
        tcase_add_test(live, test_default_socket_path);
        tcase_add_test(live, test_other_uid);
        tcase_add_test(live, test_status_through_half_line_flood);
        tcase_set_timeout(live, 30);
        tcase_add_unchecked_fixture(live, test_root_setup, test_root_teardown);
        suite_add_tcase(s, live);

        tcase_add_test(own, test_list_empty);
        tcase_add_test(own, test_reload);
        tcase_set_timeout(own, 30);
        tcase_add_unchecked_fixture(own, test_root_setup, test_root_teardown);
        suite_add_tcase(s, own);

        tcase_add_test(offline, test_not_running);
        tcase_add_test(offline, test_protocol_mismatch);
        tcase_add_test(offline, test_malformed_replies);
        tcase_add_test(offline, test_timeout);
        tcase_add_test(offline, test_usage);
        tcase_add_test(offline, test_lifecycle);
        tcase_add_test(offline, test_no_libsystemd);
        tcase_set_timeout(offline, 30);
        tcase_add_unchecked_fixture(offline, test_root_setup, test_root_teardown);
        suite_add_tcase(s, offline);
        return s;
}

MGD_CHECK_MAIN(ctl_mgctl_suite)
