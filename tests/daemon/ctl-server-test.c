/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control server over a real socket: ctl-test-server (the real ctl.c with fake handlers) in a
 * private temporary runtime directory, driven by raw clients. Plus the set-up rules (runtime
 * directory checks, stale and live sockets, socket activation) exercised in-process.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
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

#include <systemd/sd-event.h>

#include "build-config.h"
#include "daemon/ctl.h"
#include "tests/check-main.h"
#include "tests/daemon/ctl-test-util.h"

#define NOBODY 65534

#define STATUS_REPLY(fg)                                                                        \
        "level=elevated score=0.42 trend=+0.0150\nmem_available_kb=1048576 mem_total_kb=16777216\n" \
        "frozen=2 checkpointed=1 foreground=" fg                                                \
        " psi_source=/sys/fs/cgroup/user%20slice/memory.pressure\nOK 3\n"
static const char status_reply[] = STATUS_REPLY("0");
static const char list_reply[] =
        "pid=4242 name=Web%20Content priority=80 how=sigstop frozen_for_s=125 footprint_kb=524288\n"
        "pid=4243 name=baloo_file priority=65 how=cgroup frozen_for_s=7300 footprint_kb=81920\n"
        "pid=4244 name=evil%1B[31m%3D%25%C3%A9 priority=90 how=checkpoint frozen_for_s=90000 "
        "footprint_kb=1024\n"
        "OK 3\n";
static const char version_reply[] = "protocol=1 version=" PACKAGE_VERSION "\nOK 1\n";

static TestServer ts;

static void start_default(void) {
        test_server_start(&ts, "--idle-ms", "1000", NULL);
}

static void stop_server(void) {
        test_server_stop(&ts);
}

#define assert_request(req, expected)                                   \
        do {                                                            \
                char *_r = test_request(ts.path, req);                  \
                ck_assert_str_eq(_r, expected);                         \
                free(_r);                                               \
        } while (0)

/* ---- every command ---------------------------------------------------------------------- */

START_TEST(test_version_status_list) {
        assert_request("VERSION", version_reply);
        assert_request("status", status_reply);
        assert_request("LIST", list_reply);
}
END_TEST

START_TEST(test_unfreeze) {
        assert_request("UNFREEZE 4242", "pid=4242 name=Web%20Content result=ok\nOK 1\n");
        assert_request("unfreeze web%20content", "pid=4242 name=Web%20Content result=ok\nOK 1\n");
        assert_request("UNFREEZE i", "pid=4243 name=baloo_file result=ok\n"
                       "pid=4244 name=evil%1B[31m%3D%25%C3%A9 result=EPERM\nOK 2\n");
        assert_request("UNFREEZE nope", "ERR ESRCH no frozen process matches 'nope'\n");
        assert_request("UNFREEZE 1", "ERR ESRCH pid 1 is not frozen by mgd\n");
        assert_request("UNFREEZE 0", "ERR EINVAL UNFREEZE: pid 0 is not a process\n");
}
END_TEST

START_TEST(test_reload) {
        char config[PATH_MAX + 16], expected[PATH_MAX + 128];
        FILE *f;

        /* a server of its own, with a config file to "reload" */
        test_server_start(&ts, "--config", "/nonexistent/mgd.conf", NULL);
        assert_request("RELOAD", "rules=0\nOK 1\n");
        test_server_stop(&ts);

        test_dir_make(config, sizeof config);
        strcat(config, "/mgd.conf");
        f = fopen(config, "we");
        ck_assert_ptr_nonnull(f);
        fputs("good\ngood\n", f);
        fclose(f);
        test_server_start(&ts, "--config", config, NULL);
        assert_request("RELOAD", "rules=2\nOK 1\n");

        f = fopen(config, "ae");
        fputs("bad regex here\n", f);
        fclose(f);
        snprintf(expected, sizeof expected, "ERR EINVAL %s:3: bad regex '(' in pattern\n", config);
        assert_request("RELOAD", expected);
        test_server_stop(&ts);
        *strrchr(config, '/') = '\0';
        test_dir_remove(config);
}
END_TEST

START_TEST(test_foreground) {
        assert_request("FOREGROUND 77", "OK 0\n");
        assert_request("STATUS", STATUS_REPLY("77"));
        assert_request("foreground 0", "OK 0\n");
        assert_request("STATUS", status_reply);
        assert_request("FOREGROUND x", "ERR EINVAL FOREGROUND: bad pid 'x' (expected 0..4194304)\n");
}
END_TEST

START_TEST(test_bad_requests_keep_connection) {
        int fd = test_connect(ts.path);
        char *r;

        ck_assert_int_ge(fd, 0);
        test_send(fd, "FROB\n");
        r = test_read_replies(fd, 1);
        ck_assert_str_eq(r, "ERR ENOTSUP unknown command 'FROB'\n");
        free(r);
        test_send(fd, "STATUS now\n");
        r = test_read_replies(fd, 1);
        ck_assert_str_eq(r, "ERR EINVAL STATUS takes no arguments\n");
        free(r);
        test_send(fd, "STA\001TUS\n");
        r = test_read_replies(fd, 1);
        ck_assert_str_eq(r, "ERR EINVAL control character in request\n");
        free(r);
        test_send(fd, "UNFREEZE 4194305\n");
        r = test_read_replies(fd, 1);
        ck_assert_str_eq(r, "ERR EINVAL UNFREEZE: bad pid '4194305' (expected 0..4194304)\n");
        free(r);
        /* still served after all of that */
        test_send(fd, "VERSION\n");
        r = test_read_replies(fd, 1);
        ck_assert_str_eq(r, version_reply);
        free(r);
        close(fd);
}
END_TEST

START_TEST(test_nul_byte) {
        static const char line[] = "STATUS\0\n";
        int fd = test_connect(ts.path);
        char *r;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(send(fd, line, sizeof line - 1, 0), (ssize_t) sizeof line - 1);
        r = test_read_replies(fd, 1);
        ck_assert_str_eq(r, "ERR EINVAL control character in request\n");
        free(r);
        close(fd);
}
END_TEST

START_TEST(test_pipelined) {
        int fd = test_connect(ts.path);
        char *r, expected[4096];

        ck_assert_int_ge(fd, 0);
        test_send(fd, "VERSION\nSTATUS\r\nLIST\nFROB\nUNFREEZE 4243\nFOREGROUND 5\nSTATUS\n");
        r = test_read_replies(fd, 7);
        snprintf(expected, sizeof expected, "%s%s%s%s%s%s%s", version_reply, status_reply,
                 list_reply, "ERR ENOTSUP unknown command 'FROB'\n",
                 "pid=4243 name=baloo_file result=ok\nOK 1\n", "OK 0\n", STATUS_REPLY("5"));
        ck_assert_str_eq(r, expected);
        free(r);
        close(fd);
}
END_TEST

/* ---- limits ----------------------------------------------------------------------------- */

static void send_line_of(int fd, const char *prefix, size_t total_without_nl) {
        char *line = malloc(total_without_nl + 2);

        memset(line, 'x', total_without_nl);
        memcpy(line, prefix, strlen(prefix));
        line[total_without_nl] = '\n';
        line[total_without_nl + 1] = '\0';
        test_send(fd, line);
        free(line);
}

START_TEST(test_long_line) {
        int fd = test_connect(ts.path);
        char *r;

        /* 1023 bytes + "\n" fills the 1024-byte buffer exactly: still a request */
        ck_assert_int_ge(fd, 0);
        send_line_of(fd, "UNFREEZE ", CTL_LINE_MAX - 1);
        r = test_read_replies(fd, 1);
        ck_assert_msg(strncmp(r, "ERR ESRCH no frozen process matches 'xxx", 40) == 0, "%s", r);
        free(r);

        /* a 2 KiB line: E2BIG, then the server hangs up */
        send_line_of(fd, "UNFREEZE ", 2048);
        r = test_read_all(fd, NULL);
        ck_assert_str_eq(r, "ERR E2BIG line too long\n");
        free(r);
        close(fd);

        /* one byte over the limit is already too long */
        fd = test_connect(ts.path);
        send_line_of(fd, "UNFREEZE ", CTL_LINE_MAX);
        r = test_read_all(fd, NULL);
        ck_assert_str_eq(r, "ERR E2BIG line too long\n");
        free(r);
        close(fd);
}
END_TEST

START_TEST(test_unterminated_last_line_ignored) {
        int fd = test_connect(ts.path);
        char *r;

        ck_assert_int_ge(fd, 0);
        test_send(fd, "FOREGROUND 9\nFOREGROUND 12");
        ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
        r = test_read_all(fd, NULL);
        ck_assert_str_eq(r, "OK 0\n");
        free(r);
        close(fd);
        /* the half line "FOREGROUND 12" was not executed */
        assert_request("STATUS", STATUS_REPLY("9"));
}
END_TEST

START_TEST(test_silent_client_dropped) {
        long long t0 = test_now_ms(), served, dropped;
        int silent = test_connect(ts.path), trickle = test_connect(ts.path), idle = test_connect(ts.path);
        char *r;

        ck_assert_int_ge(silent, 0);
        ck_assert_int_ge(trickle, 0);
        ck_assert_int_ge(idle, 0);
        test_send(idle, "VERSION\n");
        r = test_read_replies(idle, 1);
        ck_assert_str_eq(r, version_reply);
        free(r);

        /* another client is served at once while the silent one holds its connection */
        assert_request("STATUS", status_reply);
        served = test_now_ms() - t0;
        ck_assert_msg(served < 500, "served after %lld ms", served);

        /* bytes without a complete line do not keep a client alive (its short deadline is 250 ms) */
        for (int i = 0; i < 3; i++) {
                test_send(trickle, "S");
                usleep(70 * 1000);
        }

        /* no whole line yet: the short deadline, a quarter of the idle timeout (1000 ms here) */
        r = test_read_all(silent, NULL);
        dropped = test_now_ms() - t0;
        ck_assert_str_eq(r, "ERR ETIMEDOUT idle timeout\n");
        free(r);
        ck_assert_msg(dropped >= 200 && dropped < 600, "silent client dropped after %lld ms", dropped);
        r = test_read_all(trickle, NULL);
        dropped = test_now_ms() - t0;
        ck_assert_str_eq(r, "ERR ETIMEDOUT idle timeout\n");
        free(r);
        ck_assert_msg(dropped < 600, "trickling client dropped after %lld ms", dropped);
        /* between requests: the idle timeout */
        r = test_read_all(idle, NULL);
        dropped = test_now_ms() - t0;
        ck_assert_str_eq(r, "ERR ETIMEDOUT idle timeout\n");
        free(r);
        ck_assert_msg(dropped >= 900 && dropped < 1400, "idle client dropped after %lld ms", dropped);
        close(silent);
        close(trickle);
        close(idle);
}
END_TEST

/* An idle timeout of 20 s, so the short deadline is its 1 s cap: 32 half lines stay put meanwhile. */
static void start_slow(void) {
        test_server_start(&ts, "--idle-ms", "20000", NULL);
}

/* sshd's MaxStartups: clients with half a line cannot hold every slot against a real request. */
START_TEST(test_half_line_flood_cannot_lock_out) {
        int fds[CTL_CLIENTS_MAX];
        unsigned ok = 0, busy = 0;
        long long t0;
        pid_t flood;
        char *r;

        for (int i = 0; i < CTL_CLIENTS_MAX; i++) {
                fds[i] = test_connect(ts.path);
                ck_assert_int_ge(fds[i], 0);
                test_send(fds[i], "STAT");
        }
        /* full of half lines: the next client takes the slot of the oldest of them */
        assert_request("STATUS", status_reply);
        r = test_read_all(fds[0], NULL);
        ck_assert_str_eq(r, "ERR EBUSY dropped: no complete request while the server was full\n");
        free(r);

        /* a process that holds every slot with half a line and reconnects whenever dropped */
        flood = test_flood_half_lines(ts.path, CTL_CLIENTS_MAX);
        usleep(200 * 1000);
        t0 = test_now_ms();
        for (int i = 0; i < 20; i++) {
                r = test_request(ts.path, "STATUS");
                ok += strcmp(r, status_reply) == 0;
                busy += strstr(r, "EBUSY") != NULL;
                free(r);
        }
        (void) kill(flood, SIGKILL);
        ck_assert_int_eq(waitpid(flood, NULL, 0), flood);
        ck_assert_msg(ok == 20, "%u of 20 STATUS answered under the flood (%u EBUSY) in %lld ms", ok, busy,
                      test_now_ms() - t0);
        for (int i = 1; i < CTL_CLIENTS_MAX; i++)
                close(fds[i]);
}
END_TEST

START_TEST(test_client_limit) {
        int fds[CTL_CLIENTS_MAX], extra, fd = -1;
        long long deadline;
        char *r;

        for (int i = 0; i < CTL_CLIENTS_MAX; i++) {
                fds[i] = test_connect(ts.path);
                ck_assert_int_ge(fds[i], 0);
                test_send(fds[i], "VERSION\n");
                r = test_read_replies(fds[i], 1);
                ck_assert_str_eq(r, version_reply);
                free(r);
        }

        /* the 33rd is told why and closed; the 32 stay served */
        extra = test_connect(ts.path);
        ck_assert_int_ge(extra, 0);
        r = test_read_all(extra, NULL);
        ck_assert_str_eq(r, "ERR EBUSY too many clients\n");
        free(r);
        close(extra);
        test_send(fds[7], "STATUS\n");
        r = test_read_replies(fds[7], 1);
        ck_assert_str_eq(r, status_reply);
        free(r);

        /* a slot freed by a client leaving is available again */
        close(fds[0]);
        for (deadline = test_now_ms() + 2000; test_now_ms() < deadline; usleep(20 * 1000)) {
                fd = test_connect(ts.path);
                ck_assert_int_ge(fd, 0);
                test_send(fd, "VERSION\n");
                r = test_read_replies(fd, 1);
                close(fd);
                if (strcmp(r, version_reply) == 0) {
                        free(r);
                        break;
                }
                ck_assert_str_eq(r, "ERR EBUSY too many clients\n");
                free(r);
                fd = -1;
        }
        ck_assert_msg(test_now_ms() < deadline, "the freed slot never became available");
        for (int i = 1; i < CTL_CLIENTS_MAX; i++)
                close(fds[i]);
}
END_TEST

static void start_big(void) {
        /* LIST: 3 + 2997 padded lines, about 870 KiB, far more than a socket buffer holds */
        test_server_start(&ts, "--idle-ms", "1000", "--list-lines", "3000", NULL);
}

START_TEST(test_non_reader_large_reply) {
        long long t0;
        size_t got;
        int lazy = test_connect(ts.path);
        char *r, *all;

        ck_assert_int_ge(lazy, 0);
        test_send(lazy, "LIST\n");
        usleep(100 * 1000);

        /* a reader gets the whole reply, and nobody waits for the lazy client */
        t0 = test_now_ms();
        assert_request("STATUS", status_reply);
        ck_assert_int_lt(test_now_ms() - t0, 500);
        r = test_request(ts.path, "LIST");
        ck_assert_uint_gt(strlen(r), 800 * 1024);
        ck_assert_ptr_nonnull(strstr(r, "\nOK 3000\n"));
        ck_assert_str_eq(r + strlen(r) - 8, "OK 3000\n");
        free(r);

        /* the lazy client is dropped by the idle timer with its reply unsent */
        usleep(1500 * 1000);
        all = test_read_all(lazy, &got);
        ck_assert_uint_gt(got, 0);
        ck_assert_uint_lt(got, 800 * 1024);
        ck_assert_ptr_null(strstr(all, "OK 3000"));
        free(all);
        close(lazy);
}
END_TEST

static long vm_hwm_kb(pid_t pid) {
        char path[64], line[256];
        long kb = -1;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
                        break;
        fclose(f);
        ck_assert_int_gt(kb, 0);
        return kb;
}

START_TEST(test_non_reader_pipelined_bounded) {
        char requests[200 * 5 + 1] = "";
        long before, after;
        int lazy = test_connect(ts.path);
        char *r;

        /* 200 LISTs would be 170 MiB of replies; the server must answer one and wait */
        ck_assert_int_ge(lazy, 0);
        assert_request("VERSION", version_reply);
        before = vm_hwm_kb(ts.pid);
        for (int i = 0; i < 200; i++)
                strcat(requests, "LIST\n");
        test_send(lazy, requests);
        usleep(600 * 1000);
        assert_request("STATUS", status_reply);
        after = vm_hwm_kb(ts.pid);
        ck_assert_msg(after - before < 16 * 1024, "server grew from %ld to %ld kB", before, after);

        /* dropped at the idle timeout, before even the first reply was out */
        usleep(1000 * 1000);
        r = test_read_all(lazy, NULL);
        ck_assert_ptr_null(strstr(r, "OK 3000"));
        free(r);
        close(lazy);
}
END_TEST

START_TEST(test_reply_too_large) {
        test_server_start(&ts, "--list-lines", "5000", NULL);
        assert_request("LIST", "ERR EMSGSIZE reply too large\n");
        assert_request("VERSION", version_reply);
        test_server_stop(&ts);
}
END_TEST

/* ---- who may connect -------------------------------------------------------------------- */

/*
 * In a child: become uid/gid 65534, optionally keeping CAP_DAC_OVERRIDE so the 0700 directory
 * and the 0600 socket do not stop us first, connect and read everything. Writes "ERRNO <n>" or
 * the bytes read to out.
 */
static void connect_as_nobody(const char *path, bool dac_override, int out) {
        cap_value_t dac = CAP_DAC_OVERRIDE;
        cap_t caps;
        char *r, buf[64];
        int fd;

        if (prctl(PR_SET_KEEPCAPS, 1) < 0 || setgroups(0, NULL) < 0 ||
            setresgid(NOBODY, NOBODY, NOBODY) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
                _exit(10);
        if (dac_override) {
                caps = cap_get_proc();
                if (!caps || cap_set_flag(caps, CAP_EFFECTIVE, 1, &dac, CAP_SET) < 0 ||
                    cap_set_proc(caps) < 0)
                        _exit(11);
                cap_free(caps);
        }
        if (getuid() != NOBODY || geteuid() != NOBODY)
                _exit(12);
        fd = test_connect(path);
        if (fd < 0) {
                snprintf(buf, sizeof buf, "ERRNO %d", -fd);
                (void) !write(out, buf, strlen(buf));
                _exit(0);
        }
        r = test_read_all(fd, NULL);
        (void) !write(out, r, strlen(r));
        _exit(0);
}

static char *as_nobody(bool dac_override) {
        char buf[256] = "";
        int p[2], status;
        ssize_t n;
        pid_t pid;

        ck_assert_int_eq(pipe(p), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                close(p[0]);
                connect_as_nobody(ts.path, dac_override, p[1]);
        }
        close(p[1]);
        n = read(p[0], buf, sizeof buf - 1);
        close(p[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
        ck_assert_int_ge(n, 0);
        return strdup(buf);
}

START_TEST(test_other_uid_refused) {
        char *r, expected[32];

        /* with the file permissions out of the way, SO_PEERCRED is what refuses */
        r = as_nobody(true);
        ck_assert_str_eq(r, "ERR EPERM permission denied\n");
        free(r);

        /* without, the 0700 directory and the 0600 socket already keep uid 65534 out */
        r = as_nobody(false);
        snprintf(expected, sizeof expected, "ERRNO %d", EACCES);
        ck_assert_str_eq(r, expected);
        free(r);

        /* and our own uid is still served */
        assert_request("VERSION", version_reply);
}
END_TEST

START_TEST(test_socket_mode) {
        struct stat st;

        ck_assert_int_eq(lstat(ts.path, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
        ck_assert_uint_eq(st.st_uid, getuid());
}
END_TEST

/* ---- set-up rules, in-process ----------------------------------------------------------- */

static const CtlHandlers no_handlers = {};

START_TEST(test_second_server_refused) {
        sd_event *e = NULL;
        CtlServer *s = NULL;

        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(ctl_server_new(e, ts.path, getuid(), &no_handlers, NULL, &s), -EADDRINUSE);
        ck_assert_ptr_null(s);
        /* the running server's socket is untouched */
        assert_request("VERSION", version_reply);
        sd_event_unref(e);
}
END_TEST

static int bind_stale(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        strcpy(sa.sun_path, path);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        return fd;
}

/* Run e until fd has a complete reply (one terminator) or 5 s passed. */
static char *inproc_request(sd_event *e, const char *path, const char *request) {
        char buf[4096];
        size_t n = 0;
        long long deadline = test_now_ms() + 5000;
        int fd = test_connect(path);

        ck_assert_int_ge(fd, 0);
        test_send(fd, request);
        while (test_now_ms() < deadline) {
                ssize_t k;

                ck_assert_int_ge(sd_event_run(e, 10 * 1000), 0);
                k = recv(fd, buf + n, sizeof buf - 1 - n, MSG_DONTWAIT);
                if (k <= 0)
                        continue;
                n += (size_t) k;
                buf[n] = '\0';
                if (strstr(buf, "OK ") || strstr(buf, "ERR "))
                        break;
        }
        close(fd);
        buf[n] = '\0';
        return strdup(buf);
}

START_TEST(test_stale_socket_replaced) {
        char dir[PATH_MAX], path[PATH_MAX + 16];
        sd_event *e = NULL;
        CtlServer *s = NULL;
        struct stat st;
        char *r;
        int stale;

        test_dir_make(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/mgd.sock", dir);
        stale = bind_stale(path);       /* bound, never listening: what a crashed mgd leaves */
        close(stale);

        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(ctl_server_new(e, path, getuid(), &no_handlers, NULL, &s), 0);
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
        r = inproc_request(e, path, "VERSION\n");
        ck_assert_str_eq(r, version_reply);
        free(r);
        /* no handlers: every daemon command says so */
        r = inproc_request(e, path, "STATUS\n");
        ck_assert_str_eq(r, "ERR ENOTSUP STATUS is not available in this mgd\n");
        free(r);
        r = inproc_request(e, path, "UNFREEZE 5\n");
        ck_assert_str_eq(r, "ERR ENOTSUP UNFREEZE is not available in this mgd\n");
        free(r);

        ctl_server_free(s);
        ck_assert_int_eq(access(path, F_OK), -1);
        sd_event_unref(e);
        test_dir_remove(dir);
}
END_TEST

START_TEST(test_replaced_socket_not_unlinked) {
        char dir[PATH_MAX], path[PATH_MAX + 16];
        sd_event *e = NULL;
        CtlServer *s = NULL;
        int other;

        test_dir_make(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/mgd.sock", dir);
        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(ctl_server_new(e, path, getuid(), &no_handlers, NULL, &s), 0);

        /* someone else's socket now sits at the path: shutting down must leave it alone */
        ck_assert_int_eq(unlink(path), 0);
        other = bind_stale(path);
        ctl_server_free(s);
        ck_assert_int_eq(access(path, F_OK), 0);
        close(other);
        sd_event_unref(e);
        test_dir_remove(dir);
}
END_TEST

START_TEST(test_not_a_socket) {
        char dir[PATH_MAX], path[PATH_MAX + 16];
        sd_event *e = NULL;
        CtlServer *s = NULL;
        int fd;

        test_dir_make(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/mgd.sock", dir);
        fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        close(fd);
        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(ctl_server_new(e, path, getuid(), &no_handlers, NULL, &s), -EEXIST);
        ck_assert_int_eq(access(path, F_OK), 0);        /* not removed */
        sd_event_unref(e);
        test_dir_remove(dir);
}
END_TEST

START_TEST(test_runtime_dir_checks) {
        char dir[PATH_MAX], sub[PATH_MAX + 16], file[PATH_MAX + 16];
        const char *what;
        int fd;

        test_dir_make(dir, sizeof dir);
        ck_assert_int_eq(ctl_runtime_dir_check(dir, getuid(), &what), 0);
        ck_assert_int_eq(ctl_runtime_dir_check("run/user/0", getuid(), &what), -EINVAL);
        ck_assert_str_eq(what, "is not an absolute path");
        ck_assert_int_eq(ctl_runtime_dir_check(NULL, getuid(), &what), -EINVAL);

        snprintf(sub, sizeof sub, "%s/missing", dir);
        ck_assert_int_eq(ctl_runtime_dir_check(sub, getuid(), &what), -ENOENT);
        ck_assert_str_eq(what, "does not exist");

        snprintf(file, sizeof file, "%s/file", dir);
        fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        close(fd);
        ck_assert_int_eq(ctl_runtime_dir_check(file, getuid(), &what), -ENOTDIR);

        ck_assert_int_eq(chmod(dir, 0750), 0);
        ck_assert_int_eq(ctl_runtime_dir_check(dir, getuid(), &what), -EACCES);
        ck_assert_str_eq(what, "is accessible to group or others (mode must be 0700)");
        ck_assert_int_eq(chmod(dir, 0701), 0);
        ck_assert_int_eq(ctl_runtime_dir_check(dir, getuid(), &what), -EACCES);
        ck_assert_int_eq(chmod(dir, 0700), 0);

        ck_assert_int_eq(chown(dir, NOBODY, NOBODY), 0);
        ck_assert_int_eq(ctl_runtime_dir_check(dir, getuid(), &what), -EPERM);
        ck_assert_str_eq(what, "is not owned by our uid");
        ck_assert_int_eq(ctl_runtime_dir_check(dir, NOBODY, &what), 0);
        ck_assert_int_eq(chown(dir, getuid(), getgid()), 0);
        test_dir_remove(dir);
}
END_TEST

START_TEST(test_socket_path_default) {
        char dir[PATH_MAX], expected[PATH_MAX + 16];
        char *p = NULL;

        test_dir_make(dir, sizeof dir);
        ck_assert_int_eq(unsetenv("XDG_RUNTIME_DIR"), 0);
        ck_assert_int_eq(ctl_socket_path_default(getuid(), &p), -ENXIO);
        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", "", 1), 0);
        ck_assert_int_eq(ctl_socket_path_default(getuid(), &p), -ENXIO);
        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", "relative/dir", 1), 0);
        ck_assert_int_eq(ctl_socket_path_default(getuid(), &p), -EINVAL);
        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", "/tmp", 1), 0);        /* 1777: shared */
        ck_assert_int_eq(ctl_socket_path_default(getuid(), &p), -EACCES);
        ck_assert_ptr_null(p);

        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", dir, 1), 0);
        ck_assert_int_eq(chown(dir, NOBODY, NOBODY), 0);
        ck_assert_int_eq(ctl_socket_path_default(getuid(), &p), -EPERM);
        ck_assert_int_eq(chown(dir, getuid(), getgid()), 0);
        ck_assert_int_eq(ctl_socket_path_default(getuid(), &p), 0);
        snprintf(expected, sizeof expected, "%s/mgd.sock", dir);
        ck_assert_str_eq(p, expected);
        free(p);
        test_dir_remove(dir);
}
END_TEST

START_TEST(test_server_path_checks) {
        char dir[PATH_MAX], path[PATH_MAX + 16], longpath[200];
        sd_event *e = NULL;
        CtlServer *s = NULL;

        ck_assert_int_ge(sd_event_new(&e), 0);
        test_dir_make(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/mgd.sock", dir);

        /* the socket's directory must be private: nothing is created in a shared one */
        ck_assert_int_eq(chmod(dir, 0755), 0);
        ck_assert_int_eq(ctl_server_new(e, path, getuid(), &no_handlers, NULL, &s), -EACCES);
        ck_assert_int_eq(access(path, F_OK), -1);
        ck_assert_int_eq(chmod(dir, 0700), 0);
        ck_assert_int_eq(ctl_server_new(e, path, NOBODY, &no_handlers, NULL, &s), -EPERM);
        ck_assert_int_eq(ctl_server_new(e, "mgd.sock", getuid(), &no_handlers, NULL, &s), -EINVAL);
        memset(longpath, 'a', sizeof longpath - 1);
        longpath[0] = '/';
        longpath[sizeof longpath - 1] = '\0';
        ck_assert_int_eq(ctl_server_new(e, longpath, getuid(), &no_handlers, NULL, &s), -ENAMETOOLONG);
        ck_assert_ptr_null(s);
        sd_event_unref(e);
        test_dir_remove(dir);
}
END_TEST

START_TEST(test_server_from_fd) {
        char dir[PATH_MAX], path[PATH_MAX + 16];
        sd_event *e = NULL;
        CtlServer *s = NULL;
        int fd, p[2];
        char *r;

        ck_assert_int_ge(sd_event_new(&e), 0);
        test_dir_make(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/activated.sock", dir);

        /* not listening, not a socket: refused (and the fd is taken either way) */
        fd = bind_stale(path);
        ck_assert_int_eq(ctl_server_new_fd(e, fd, getuid(), &no_handlers, NULL, &s), -EINVAL);
        ck_assert_int_eq(pipe(p), 0);
        close(p[1]);
        ck_assert_int_eq(ctl_server_new_fd(e, p[0], getuid(), &no_handlers, NULL, &s), -ENOTSOCK);
        ck_assert_int_eq(unlink(path), 0);

        fd = bind_stale(path);
        ck_assert_int_eq(listen(fd, 8), 0);
        ck_assert_int_eq(ctl_server_new_fd(e, fd, getuid(), &no_handlers, NULL, &s), 0);
        r = inproc_request(e, path, "VERSION\n");
        ck_assert_str_eq(r, version_reply);
        free(r);
        /* the client hung up: the server notices and frees its slot */
        for (int i = 0; i < 100 && ctl_server_n_clients(s) > 0; i++)
                ck_assert_int_ge(sd_event_run(e, 10 * 1000), 0);
        ck_assert_uint_eq(ctl_server_n_clients(s), 0);
        ctl_server_free(s);
        /* the activating party owns the path */
        ck_assert_int_eq(access(path, F_OK), 0);
        sd_event_unref(e);
        test_dir_remove(dir);
}
END_TEST

static Suite *ctl_server_suite(void) {
        Suite *s = suite_create("ctl-server");
        TCase *commands = tcase_create("commands"), *limits = tcase_create("limits");
        TCase *big = tcase_create("big"), *own = tcase_create("own-server"), *flood = tcase_create("flood");
        TCase *access_tc = tcase_create("access"), *setup = tcase_create("setup");

        tcase_add_checked_fixture(commands, start_default, stop_server);
        tcase_add_test(commands, test_version_status_list);
        tcase_add_test(commands, test_unfreeze);
        tcase_add_test(commands, test_foreground);
        tcase_add_test(commands, test_bad_requests_keep_connection);
        tcase_add_test(commands, test_nul_byte);
        tcase_add_test(commands, test_pipelined);
        tcase_add_unchecked_fixture(commands, test_root_setup, test_root_teardown);
        suite_add_tcase(s, commands);

        tcase_add_checked_fixture(limits, start_default, stop_server);
        tcase_add_test(limits, test_long_line);
        tcase_add_test(limits, test_unterminated_last_line_ignored);
        tcase_add_test(limits, test_silent_client_dropped);
        tcase_add_test(limits, test_client_limit);
        tcase_set_timeout(limits, 30);
        tcase_add_unchecked_fixture(limits, test_root_setup, test_root_teardown);
        suite_add_tcase(s, limits);

        tcase_add_checked_fixture(flood, start_slow, stop_server);
        tcase_add_test(flood, test_half_line_flood_cannot_lock_out);
        tcase_set_timeout(flood, 30);
        tcase_add_unchecked_fixture(flood, test_root_setup, test_root_teardown);
        suite_add_tcase(s, flood);

        tcase_add_checked_fixture(big, start_big, stop_server);
        tcase_add_test(big, test_non_reader_large_reply);
        tcase_add_test(big, test_non_reader_pipelined_bounded);
        tcase_set_timeout(big, 30);
        tcase_add_unchecked_fixture(big, test_root_setup, test_root_teardown);
        suite_add_tcase(s, big);

        tcase_add_test(own, test_reload);
        tcase_add_test(own, test_reply_too_large);
        tcase_set_timeout(own, 30);
        tcase_add_unchecked_fixture(own, test_root_setup, test_root_teardown);
        suite_add_tcase(s, own);

        tcase_add_checked_fixture(access_tc, start_default, stop_server);
        tcase_add_test(access_tc, test_other_uid_refused);
        tcase_add_test(access_tc, test_socket_mode);
        tcase_add_test(access_tc, test_second_server_refused);
        tcase_add_unchecked_fixture(access_tc, test_root_setup, test_root_teardown);
        suite_add_tcase(s, access_tc);

        tcase_add_test(setup, test_stale_socket_replaced);
        tcase_add_test(setup, test_replaced_socket_not_unlinked);
        tcase_add_test(setup, test_not_a_socket);
        tcase_add_test(setup, test_runtime_dir_checks);
        tcase_add_test(setup, test_socket_path_default);
        tcase_add_test(setup, test_server_path_checks);
        tcase_add_test(setup, test_server_from_fd);
        tcase_add_unchecked_fixture(setup, test_root_setup, test_root_teardown);
        suite_add_tcase(s, setup);
        return s;
}

MGD_CHECK_MAIN(ctl_server_suite)
