/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * The helpers' lock-down, in the one order every helper's main() runs it before it reads a byte
 * of a request: reset signals, sanitise fds, limit capabilities, set rlimits, PR_SET_NO_NEW_PRIVS,
 * load the seccomp allowlist. Each step returns 0 or -errno; sandbox_lockdown() logs the step
 * that failed and the helper exits with HELPER_EXIT_SANDBOX, having served nothing.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#define SANDBOX_CAP(c) (UINT64_C(1) << (c))

typedef struct SandboxSpec {
        /*
         * Capabilities kept in permitted and effective (one at most, or none), and those kept in
         * the bounding set (the same, except for a helper that execs a binary with file caps).
         * Inheritable and ambient are always emptied.
         */
        uint64_t keep_caps;
        uint64_t bounding_caps;
        rlim_t nofile;                  /* RLIMIT_NOFILE; soft and hard unless execs_child */
        rlim_t fsize;                   /* RLIMIT_FSIZE: 0 unless it writes files (procfs counts) */
        bool execs_child;               /* keeps RLIMIT_NPROC and the NOFILE hard limit */
        bool no_new_privs;              /* false only where execve must honour file caps */
        const char *const *syscalls;    /* NULL-terminated allowlist; NULL: no seccomp */
} SandboxSpec;

/*
 * Default dispositions and an empty mask, except SIGXFSZ, ignored: a write past RLIMIT_FSIZE
 * (a log line to a stderr that is a big regular file) fails with EFBIG instead of killing us.
 */
int sandbox_signals(void);

/*
 * fds 0-2 open (on /dev/null if they were closed), fd 3 an AF_UNIX SOCK_SEQPACKET socket
 * (-ENOTSOCK otherwise), marked close-on-exec, everything above closed.
 */
int sandbox_fds(int sock_fd);

/*
 * Permitted = effective = keep_caps ∩ what we had; inheritable and ambient empty; bounding set
 * reduced to bounding_caps when CAP_SETPCAP allows it (a helper that got its one capability from
 * file caps has no CAP_SETPCAP: NO_NEW_PRIVS and an allowlist without execve make its bounding
 * set moot). Returns 1 if every cap of keep_caps is effective afterwards, 0 if not, or -errno.
 */
int sandbox_caps(uint64_t keep_caps, uint64_t bounding_caps);

int sandbox_rlimits(const SandboxSpec *spec);

/* Default action: kill the process; other architectures: kill. -EOPNOTSUPP without libseccomp. */
int sandbox_seccomp(const char *const *syscalls);

/* All of the above in order. Returns what sandbox_caps() returned (1/0) or -errno. */
int sandbox_lockdown(const SandboxSpec *spec);

/*
 * The first thing every helper's main() does: tag its log lines, refuse arguments (a helper is
 * started by mgd with its socket at fd 3 and nothing else), then sandbox_lockdown(). Returns
 * what sandbox_lockdown() returned (1/0), or -1 with *ret_exit set to HELPER_EXIT_USAGE or
 * HELPER_EXIT_SANDBOX: main() returns that at once, having read nothing.
 */
int sandbox_helper_start(const char *tag, int argc, const SandboxSpec *spec, int *ret_exit);

/* Does the file at path hold every capability of caps in its permitted set? 0, -EPERM or -errno. */
int sandbox_file_caps(const char *path, uint64_t caps);

/*
 * For a helper that runs a program (criu): fork+execve path with argv and envp (NULL: an empty
 * environment; else a fixed one the helper built, never one it was given),
 * stdout onto stderr, no fd above 2, the RLIMIT_NOFILE soft limit back at the hard one; wait at
 * most timeout_ms, then SIGKILL it. With cgroup_procs >= 0 (an open cgroup.procs), the child
 * moves itself into that cgroup before execve (where it cannot, it runs where we are). Returns
 * its wait status (>= 0), -ETIMEDOUT or -errno.
 */
int sandbox_run(const char *path, char *const argv[], char *const envp[], int timeout_ms, int cgroup_procs);

/*
 * sandbox_run() of argv[0], its outcome logged and as -errno: 0 (exit status 0), -ETIMEDOUT,
 * -ENOENT (could not be executed: status 127), -EIO (any other end; first, the lines of the
 * program's own log file log_dfd/log_file that contain "Error" are relayed to our log), or what
 * sandbox_run() returned.
 */
int sandbox_run_checked(char *const argv[], char *const envp[], int timeout_ms, int cgroup_procs, int log_dfd,
                        const char *log_file);

/* The criu the checkpoint helper runs: MGD_CRIU_PATH (meson -Dcriu_path), or in test builds
 * $MGD_TEST_CRIU. mgd names the same path in the commands it logs. */
const char *sandbox_criu_path(void);

/*
 * A test hook from the environment, e.g. "MGD_TEST_ROOT": the value only in builds configured
 * with -Dtest_hooks=true, NULL (ignored) in every other build.
 */
const char *sandbox_test_hook(const char *name);

/*
 * uid's home directory, from the password database (an absolute path), in test builds from
 * $MGD_TEST_HOME; never from the environment otherwise (the daemon's word would name it).
 * -ENOENT without one, -ENAMETOOLONG if it does not fit.
 */
int sandbox_user_home(uid_t uid, char *buf, size_t size);

/* "" normally; the fake root of MGD_TEST_ROOT in test builds. Prefix of /proc, /sys, /dev. */
const char *sandbox_root(void);
/* sandbox_root() + sub ("/proc") into buf; -ENAMETOOLONG if it does not fit. */
int sandbox_root_path(const char *sub, char *buf, size_t size);
