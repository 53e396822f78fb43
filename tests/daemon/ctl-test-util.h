/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Shared by the control-socket integration tests: private runtime directories, the fake server
 * (ctl-test-server, found through $CTL_TEST_SERVER), raw clients and running programs. Every
 * helper fails the current check test on an unexpected error; every read has a deadline.
 */

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct TestServer {
        pid_t pid;
        char dir[PATH_MAX];             /* private (0700) runtime directory */
        char path[PATH_MAX + 16];       /* dir/mgd.sock */
} TestServer;

/*
 * Every test case gets test_root_setup/teardown as unchecked fixtures: a root directory under /tmp
 * that is removed after the case even when a test failed half-way.
 */
void test_root_setup(void);
void test_root_teardown(void);

/* A fresh 0700 directory in the root; test_dir_remove() deletes it recursively. */
void test_dir_make(char *dir, size_t size);
void test_dir_remove(const char *dir);

/* Start ctl-test-server in ts->dir (made here) with extra args (NULL-terminated); waits for ready. */
void test_server_start(TestServer *ts, ...) __attribute__((sentinel));
/* SIGTERM it, expect exit status 0, and remove the directory. */
void test_server_stop(TestServer *ts);

/* A blocking client socket with 5 s send/receive timeouts; -errno if connect() fails. */
int test_connect(const char *path);
void test_send(int fd, const char *s);
/* Read until n terminator lines ("OK ..."/"ERR ...") arrived; malloc'd, NUL-terminated. */
char *test_read_replies(int fd, unsigned n);
/* Read until EOF or ECONNRESET (*ret_bytes: how many); malloc'd, NUL-terminated. */
char *test_read_all(int fd, size_t *ret_bytes);
/* Connect, send one request line ("\n" added), read one reply, close. */
char *test_request(const char *path, const char *request);

/* Run argv with env (NULL: inherit), capture stdout/stderr (may be NULL); returns the exit code. */
int test_run(char *const argv[], char *const env[], char **ret_out, char **ret_err);
/* The same, calling prepare() in the child just before exec (it may _exit() on failure). */
int test_run_prepared(char *const argv[], char *const env[], void (*prepare)(void),
                      char **ret_out, char **ret_err);

/*
 * A child that holds n connections to path, each with half a request line ("STAT"), and
 * reconnects one as soon as the server has said something to it or closed it: what a same-uid
 * process does to keep every slot busy. It dies with its parent; end it by pid (SIGKILL, wait).
 */
pid_t test_flood_half_lines(const char *path, unsigned n);

/* Milliseconds on CLOCK_MONOTONIC. */
long long test_now_ms(void);
