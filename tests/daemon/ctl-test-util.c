/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "common/macro.h"
#include "tests/daemon/ctl-test-util.h"

#define TEST_IO_TIMEOUT_MS 5000

long long test_now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * A failed ck_assert ends the forked test with _exit(), skipping its clean-up code; check then
 * kills the test's process group (the servers with it). The directories are made inside one
 * root per test case, which the unchecked teardown (run by the runner, failed tests or not)
 * removes.
 */
static char test_root[PATH_MAX];

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path);
}

void test_root_setup(void) {
        snprintf(test_root, sizeof test_root, "/tmp/mgd-ctl-test.XXXXXX");
        if (!mkdtemp(test_root))
                test_root[0] = '\0';
}

void test_root_teardown(void) {
        test_dir_remove(test_root);
        test_root[0] = '\0';
}

void test_dir_make(char *dir, size_t size) {
        ck_assert_int_lt(snprintf(dir, size, "%s/d.XXXXXX", test_root[0] ? test_root : "/tmp"),
                         (int) size);
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_eq(chmod(dir, 0700), 0);
}

void test_dir_remove(const char *dir) {
        if (dir[0])
                (void) nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Wait for "ready\n" on fd, or fail the test with what the server said. */
static void wait_ready(int fd) {
        char buf[512];
        size_t n = 0;
        long long deadline = test_now_ms() + TEST_IO_TIMEOUT_MS;

        while (n < sizeof buf - 1) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t k;

                ck_assert_msg(poll(&p, 1, (int) MAX(deadline - test_now_ms(), 0LL)) == 1,
                              "ctl-test-server did not get ready");
                k = read(fd, buf + n, sizeof buf - 1 - n);
                ck_assert_msg(k > 0, "ctl-test-server exited before it was ready");
                n += (size_t) k;
                buf[n] = '\0';
                if (strstr(buf, "ready\n"))
                        return;
        }
        ck_abort_msg("unexpected output from ctl-test-server: %s", buf);
}

void test_server_start(TestServer *ts, ...) {
        const char *server = getenv("CTL_TEST_SERVER");
        const char *argv[16];
        size_t n = 0;
        int pipefd[2];
        va_list ap;

        ck_assert_msg(server, "CTL_TEST_SERVER is not set");
        test_dir_make(ts->dir, sizeof ts->dir);
        snprintf(ts->path, sizeof ts->path, "%s/mgd.sock", ts->dir);

        argv[n++] = server;
        argv[n++] = "--socket";
        argv[n++] = ts->path;
        va_start(ap, ts);
        for (const char *a; (a = va_arg(ap, const char *)) && n < ELEMENTSOF(argv) - 1;)
                argv[n++] = a;
        va_end(ap);
        argv[n] = NULL;

        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
        ts->pid = fork();
        ck_assert_int_ge(ts->pid, 0);
        if (ts->pid == 0) {
                dup2(pipefd[1], STDOUT_FILENO);
                execv(server, (char *const *) argv);
                _exit(127);
        }
        close(pipefd[1]);
        wait_ready(pipefd[0]);
        close(pipefd[0]);
}

void test_server_stop(TestServer *ts) {
        int status;

        if (ts->pid <= 0)
                return;
        ck_assert_int_eq(kill(ts->pid, SIGTERM), 0);
        ck_assert_int_eq(waitpid(ts->pid, &status, 0), ts->pid);
        ts->pid = 0;
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "ctl-test-server ended with status 0x%x", status);
        /* the server unlinks its socket on the way out */
        ck_assert_int_eq(access(ts->path, F_OK), -1);
        test_dir_remove(ts->dir);
}

int test_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = TEST_IO_TIMEOUT_MS / 1000 };
        int fd;

        ck_assert_uint_lt(strlen(path), sizeof sa.sun_path);
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
        ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        return fd;
}

void test_send(int fd, const char *s) {
        size_t n = strlen(s);

        while (n > 0) {
                ssize_t k = send(fd, s, n, MSG_NOSIGNAL);

                ck_assert_msg(k > 0, "send: %s", strerror(errno));
                s += k;
                n -= (size_t) k;
        }
}

static unsigned count_terminators(const char *buf) {
        unsigned n = 0;

        for (const char *l = buf; *l;) {
                const char *nl = strchr(l, '\n');

                if (!nl)
                        break;
                if (strncmp(l, "OK ", 3) == 0 || strncmp(l, "ERR ", 4) == 0)
                        n++;
                l = nl + 1;
        }
        return n;
}

static char *read_until(int fd, unsigned terminators, size_t *ret_bytes) {
        size_t n = 0, alloc = 4096;
        char *buf = malloc(alloc);

        ck_assert_ptr_nonnull(buf);
        buf[0] = '\0';
        for (;;) {
                ssize_t k;

                if (alloc - n < 2048) {
                        alloc *= 2;
                        buf = realloc(buf, alloc);
                        ck_assert_ptr_nonnull(buf);
                }
                k = recv(fd, buf + n, alloc - n - 1, 0);
                if (k == 0 || (k < 0 && errno == ECONNRESET))
                        break;
                ck_assert_msg(k > 0, "recv: %s (after %zu bytes: %.200s)", strerror(errno), n, buf);
                n += (size_t) k;
                buf[n] = '\0';
                if (terminators > 0 && count_terminators(buf) >= terminators)
                        break;
        }
        if (ret_bytes)
                *ret_bytes = n;
        return buf;
}

char *test_read_replies(int fd, unsigned n) {
        return read_until(fd, n, NULL);
}

char *test_read_all(int fd, size_t *ret_bytes) {
        return read_until(fd, 0, ret_bytes);
}

char *test_request(const char *path, const char *request) {
        _cleanup_free_ char *line = NULL;
        char *reply;
        int fd = test_connect(path);

        ck_assert_msg(fd >= 0, "connect %s: %s", path, strerror(-fd));
        ck_assert_int_ge(asprintf(&line, "%s\n", request), 0);
        test_send(fd, line);
        reply = test_read_replies(fd, 1);
        close(fd);
        return reply;
}

static void drain(int fd, char **buf, size_t *n, bool *open) {
        char tmp[4096];
        ssize_t k = read(fd, tmp, sizeof tmp);

        if (k <= 0) {
                *open = false;
                return;
        }
        *buf = realloc(*buf, *n + (size_t) k + 1);
        ck_assert_ptr_nonnull(*buf);
        memcpy(*buf + *n, tmp, (size_t) k);
        *n += (size_t) k;
        (*buf)[*n] = '\0';
}

int test_run(char *const argv[], char *const env[], char **ret_out, char **ret_err) {
        return test_run_prepared(argv, env, NULL, ret_out, ret_err);
}

int test_run_prepared(char *const argv[], char *const env[], void (*prepare)(void),
                      char **ret_out, char **ret_err) {
        int out[2], errp[2], status;
        char *bufs[2] = { strdup(""), strdup("") };
        size_t lens[2] = {};
        bool open[2] = { true, true };
        pid_t pid;

        ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(errp, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                dup2(out[1], STDOUT_FILENO);
                dup2(errp[1], STDERR_FILENO);
                if (prepare)
                        prepare();
                if (env)
                        execve(argv[0], argv, env);
                else
                        execv(argv[0], argv);
                _exit(126);
        }
        close(out[1]);
        close(errp[1]);
        while (open[0] || open[1]) {
                struct pollfd p[2] = {
                        { .fd = open[0] ? out[0] : -1, .events = POLLIN },
                        { .fd = open[1] ? errp[0] : -1, .events = POLLIN },
                };

                ck_assert_int_gt(poll(p, 2, 30000), 0);
                for (int i = 0; i < 2; i++)
                        if (p[i].revents)
                                drain(p[i].fd, &bufs[i], &lens[i], &open[i]);
        }
        close(out[0]);
        close(errp[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);

        if (ret_out)
                *ret_out = bufs[0];
        else
                free(bufs[0]);
        if (ret_err)
                *ret_err = bufs[1];
        else
                free(bufs[1]);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int flood_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        if (fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0 && write(fd, "STAT", 4) == 4)
                return fd;
        if (fd >= 0)
                close(fd);
        return -1;
}

pid_t test_flood_half_lines(const char *path, unsigned n) {
        pid_t pid = fork();
        int held[256];

        ck_assert_int_ge(pid, 0);
        ck_assert_uint_le(n, ELEMENTSOF(held));
        if (pid > 0)
                return pid;
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);        /* never outlives a failed case */
        for (unsigned k = 0; k < n; k++)
                held[k] = -1;
        for (;; usleep(1000))
                for (unsigned k = 0; k < n; k++) {
                        struct pollfd p = { .fd = held[k], .events = POLLIN };

                        if (held[k] >= 0 && poll(&p, 1, 0) == 0)
                                continue;       /* still held, nothing said */
                        if (held[k] >= 0)
                                close(held[k]);
                        held[k] = flood_connect(path);
                }
}
