/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * What the helper tests share: fake /proc and /sys roots in a temporary directory, a helper
 * binary started the way mgd starts it (its socketpair end at fd 3, an environment holding only
 * the MGD_TEST_* hooks), raw requests, and the process facts (capabilities, seccomp mode, fds,
 * exit status) a test asserts on.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/macro.h"
#include "common/proto.h"

#define CAPBIT(c) (UINT64_C(1) << (c))

/* snprintf into an array that must not truncate (a test path too long is a test bug). */
#define xsprintf(buf, ...) \
        ck_assert_msg((size_t) snprintf(buf, sizeof(buf), __VA_ARGS__) < sizeof(buf), "%s: too long", #buf)

typedef struct HelperProc {
        pid_t pid;
        int fd;                         /* our end */
} HelperProc;

/*
 * A fresh temporary directory (test-owned, removed by fake_root_free()). Inside the directory of
 * fake_base_setup() when that ran: register fake_base_setup/fake_base_teardown as an UNCHECKED
 * fixture, so the parent removes every fake root even when a test failed before its teardown
 * (check's forked test ends at the failed assertion).
 */
char *fake_root_new(void);
void fake_base_setup(void);
void fake_base_teardown(void);
void fake_root_free(char *root);
/* root/rel with its parent directories; content written as is. */
void fake_write(const char *root, const char *rel, const char *content);
void fake_mkdir(const char *root, const char *rel);
/* A FIFO at root/rel, and an O_RDWR fd on it so writers never block; returns that fd. */
int fake_fifo(const char *root, const char *rel);

/*
 * Start helpers/NAME from the build tree with env (NULL-terminated "K=V" list, may be NULL) and
 * MGD_TEST_ROOT=root unless root is NULL. The helper's socket end sits at fd 3.
 */
HelperProc helper_proc_start(const char *name, const char *root, const char *const *env);
/* Raw wait status after it ended (waits at most 10 s, then SIGKILL and fail). */
int helper_proc_wait(HelperProc *p);
/* Close our end and expect a clean HELPER_EXIT_HANGUP. */
void helper_proc_hangup(HelperProc *p);

ProtoRequest test_request(uint8_t type, uint16_t flags, const void *payload, size_t size);
/* Send req, receive the reply (10 s deadline); asserts the reply is valid. Returns rep.error. */
int helper_proc_call(HelperProc *p, const ProtoRequest *req, ProtoReply *ret, int *ret_fd);
/* The same with a deadline of its own (a real criu gets what mgd gives it, not 10 s). */
int helper_proc_call_within(HelperProc *p, const ProtoRequest *req, usec_t timeout, ProtoReply *ret, int *ret_fd);
/* Send raw bytes (optionally with an fd) and assert the helper exits with `code` and no reply. */
void helper_proc_expect_exit(HelperProc *p, const void *buf, size_t len, int pass_fd, int code);

/* "CapEff" etc. of /proc/PID/status as a number; "Seccomp"/"NoNewPrivs" parse as decimal. */
uint64_t proc_status_field(pid_t pid, const char *key);
/* Open fds of pid: a bitmask of fds 0..63, and whether any fd >= 64 is open. */
uint64_t proc_fd_mask(pid_t pid, bool *ret_high);

/* The capability mask a helper that keeps `keep` ends up with, started by us: keep ∩ ours. */
uint64_t expected_caps(uint64_t keep, const char *our_field);

/*
 * root/proc/PID/{stat,status,cgroup} for a process of uid with that start time whose unified
 * cgroup is `cgroup` ("/user.slice/..."); the readers parse them as the kernel's.
 */
void fake_proc_pid(const char *root, pid_t pid, uid_t uid, uint64_t starttime, const char *cgroup);

/*
 * A helper after lock-down: effective = permitted = keep ∩ ours, no inheritable or ambient,
 * bounding = bounding ∩ ours (when we hold CAP_SETPCAP), NoNewPrivs and seccomp filter mode as
 * given, and no fd but 0-3.
 */
void assert_lockdown(pid_t pid, uint64_t keep, uint64_t bounding, bool nnp, bool filtered);

/* Field 22 of /proc/PID/stat of a real process. */
uint64_t real_starttime(pid_t pid);
