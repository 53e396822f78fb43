/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Real children and real cgroup2 directories for the executor and registry tests. Every child
 * and every directory made here is recorded, and test_cleanup() (the checked teardown) ends the
 * children by pid and removes the directories. A case that fails exits without its checked
 * teardown, so: children die with the test process (PR_SET_PDEATHSIG, and check kills the
 * case's process group), a case finding a leftover directory of its runner removes it first,
 * and test_cleanup_tree() (unchecked teardown, in the runner) removes the runner's whole
 * mgd-test-<runner pid> tree and its temporary directories at the end.
 *
 * /proc is read here with a parser of its own, not common/readers, so a bug in the readers
 * cannot hide a bug in the code under test.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/macro.h"

typedef enum ChildMode {
        CHILD_PAUSE,                    /* default dispositions: SIGTERM ends it */
        CHILD_IGNORE_TERM,              /* SIGTERM ignored: only SIGKILL ends it */
        CHILD_HANDLE_TERM,              /* a SIGTERM handler that exits with status 0 */
} ChildMode;

/* Call once from the suite function (in the runner, before check forks a case). */
void test_init(void);
void test_cleanup(void);                /* checked teardown */
void test_cleanup_tree(void);           /* unchecked teardown: cgroup tree and temporary dirs */
void test_cleanup_tmp(void);            /* unchecked teardown: temporary dirs only (unit tests) */

/* fork() a child named `name` (prctl PR_SET_NAME); returns once it is set up. */
pid_t test_spawn(const char *name, ChildMode mode);
/* SIGKILL our own child by pid and reap it; returns the wait status. */
int test_reap(pid_t pid);
/* Reap a child that is already ending (after the executor killed it); returns the wait status. */
int test_wait(pid_t pid);
void test_forget(pid_t pid);            /* reaped elsewhere */

char test_state(pid_t pid);             /* /proc/PID/stat field 3, '?' if unreadable */
uint64_t test_starttime(pid_t pid);     /* field 22 */
/* Poll until the state is one of `states` (e.g. "T", "SR"); false after timeout. */
bool test_wait_state(pid_t pid, const char *states, usec_t timeout);

/* The cgroup2 mount (detected once); the tests of this machine always have one. */
const char *test_cgroup2_root(void);
/* "/mgd-test-<runner pid>" + sub (sub starts with '/'), made under the cgroup2 root. */
void test_cgroup_mkdir(const char *sub, char *ret_path, size_t size);
void test_cgroup_move(const char *path, pid_t pid);
void test_cgroup_write(const char *path, const char *file, const char *value);
/* "frozen" from cgroup.events: 1 or 0 (fails the test if unreadable). */
int test_cgroup_frozen(const char *path);
bool test_cgroup_wait_frozen(const char *path, int want, usec_t timeout);

usec_t test_now(void);
/* A fresh private directory under /tmp, removed (recursively) by test_cleanup(). */
void test_tmpdir(char *ret_path, size_t size);
