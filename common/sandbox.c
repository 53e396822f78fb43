/* SPDX-License-Identifier: GPL-2.0-only */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"

#if HAVE_SECCOMP
#include <seccomp.h>
#endif

#include "common/privsep.h"
#include "common/sandbox.h"

#define SANDBOX_CAP_SCAN_MAX 64

int sandbox_signals(void) {
        sigset_t none;

        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, sig == SIGXFSZ ? SIG_IGN : SIG_DFL);
        sigemptyset(&none);
        return RET_NERRNO(sigprocmask(SIG_SETMASK, &none, NULL));
}

int sandbox_fds(int sock_fd) {
        int type = 0, domain = 0;
        socklen_t len = sizeof(int);

        for (int fd = 0; fd <= 2; fd++) {
                if (fcntl(fd, F_GETFD) >= 0)
                        continue;
                if (errno != EBADF)
                        return -errno;
                /* the lowest free fd is this one; no O_CLOEXEC: it is stdio, for criu too */
                int n = open("/dev/null", O_RDWR);
                if (n < 0)
                        return -errno;
                if (n != fd)
                        return -EBADF;
        }
        if (getsockopt(sock_fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
                return errno == EBADF ? -EBADF : -ENOTSOCK;
        len = sizeof(int);
        if (getsockopt(sock_fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
                return -errno;
        if (type != SOCK_SEQPACKET || domain != AF_UNIX)
                return -ENOTSOCK;
        /* never handed to criu or anything else a helper might exec */
        if (fcntl(sock_fd, F_SETFD, FD_CLOEXEC) < 0)
                return -errno;
        return RET_NERRNO(close_range((unsigned) sock_fd + 1, ~0U, 0));
}

static void cap_freep(cap_t *c) {
        if (*c)
                (void) cap_free(*c);
}

static int sandbox_bounding(cap_t cur, uint64_t bounding_caps) {
        cap_value_t setpcap = CAP_SETPCAP;

        /* raise CAP_SETPCAP into effective for the drops; the capset below lowers it again */
        if (cap_set_flag(cur, CAP_EFFECTIVE, 1, &setpcap, CAP_SET) < 0 || cap_set_proc(cur) < 0)
                return -errno;
        for (int c = 0; c < SANDBOX_CAP_SCAN_MAX; c++) {
                int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
                if (r < 0)
                        break;          /* EINVAL: past the kernel's last capability */
                if (r == 0 || (bounding_caps & SANDBOX_CAP(c)))
                        continue;
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
                        return -errno;
        }
        return 0;
}

int sandbox_caps(uint64_t keep_caps, uint64_t bounding_caps) {
        _cleanup_(cap_freep) cap_t cur = cap_get_proc();
        _cleanup_(cap_freep) cap_t want = cap_init();
        _cleanup_(cap_freep) cap_t now = NULL;
        cap_flag_value_t v = CAP_CLEAR;
        bool all = true;
        int r;

        if (!cur || !want)
                return -ENOMEM;
        if (cap_get_flag(cur, CAP_SETPCAP, CAP_PERMITTED, &v) < 0)
                return -errno;
        if (v == CAP_SET) {
                r = sandbox_bounding(cur, bounding_caps);
                if (r < 0)
                        return r;
        }
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return -errno;
        for (cap_value_t c = 0; c < SANDBOX_CAP_SCAN_MAX; c++) {
                if (!(keep_caps & SANDBOX_CAP(c)))
                        continue;
                if (cap_get_flag(cur, c, CAP_PERMITTED, &v) < 0 || v != CAP_SET) {
                        all = false;    /* not granted to us: keep nothing in its place */
                        continue;
                }
                if (cap_set_flag(want, CAP_PERMITTED, 1, &c, CAP_SET) < 0 ||
                    cap_set_flag(want, CAP_EFFECTIVE, 1, &c, CAP_SET) < 0)
                        return -errno;
        }
        if (cap_set_proc(want) < 0)
                return -errno;
        /* trust, but verify: the kernel's view must be exactly what we asked for */
        now = cap_get_proc();
        if (!now)
                return -errno;
        if (cap_compare(now, want) != 0)
                return -EPERM;
        return all ? 1 : 0;
}

static int set_rlimit(int resource, rlim_t soft, rlim_t hard) {
        struct rlimit rl = { .rlim_cur = soft, .rlim_max = hard };

        return RET_NERRNO(setrlimit(resource, &rl));
}

int sandbox_rlimits(const SandboxSpec *spec) {
        struct rlimit nofile;
        int r;

        r = set_rlimit(RLIMIT_CORE, 0, 0);
        if (r < 0)
                return r;
        if (getrlimit(RLIMIT_NOFILE, &nofile) < 0)
                return -errno;
        /* a child we exec (criu) may need the hard limit back; we only lower our soft one */
        r = set_rlimit(RLIMIT_NOFILE, MIN(spec->nofile, nofile.rlim_max),
                       spec->execs_child ? nofile.rlim_max : MIN(spec->nofile, nofile.rlim_max));
        if (r < 0)
                return r;
        if (!spec->execs_child) {
                r = set_rlimit(RLIMIT_NPROC, 0, 0);
                if (r < 0)
                        return r;
        }
        if (spec->fsize != RLIM_INFINITY)
                return set_rlimit(RLIMIT_FSIZE, spec->fsize, spec->fsize);
        return 0;
}

int sandbox_seccomp(const char *const *syscalls) {
#if HAVE_SECCOMP
        scmp_filter_ctx ctx;
        int r;

        ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
        if (!ctx)
                return -ENOMEM;
        /* only the native ABI: a 32-bit syscall from a 64-bit helper is an attack, kill it */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        /* no_new_privs is our own explicit step, not a side effect of loading the filter */
        if (r >= 0)
                r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        for (const char *const *s = syscalls; r >= 0 && *s; s++) {
                int nr = seccomp_syscall_resolve_name(*s);

                if (nr == __NR_SCMP_ERROR) {
                        privsep_log(LOG_DEBUG, 0, "Syscall %s does not exist here, skipped", *s);
                        continue;
                }
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        }
        if (r >= 0)
                r = seccomp_load(ctx);
        seccomp_release(ctx);
        return r < 0 ? r : 0;
#else
        return -EOPNOTSUPP;
#endif
}

int sandbox_lockdown(const SandboxSpec *spec) {
        int r, caps;

        r = sandbox_signals();
        if (r < 0)
                return privsep_log(LOG_ERR, r, "Failed to reset signals: %m");
        r = sandbox_fds(PROTO_HELPER_FD);
        if (r < 0)
                return privsep_log(LOG_ERR, r, "fd %d is not our socket or fds are unusable: %m",
                                   PROTO_HELPER_FD);
        caps = sandbox_caps(spec->keep_caps, spec->bounding_caps);
        if (caps < 0)
                return privsep_log(LOG_ERR, caps, "Failed to limit capabilities: %m");
        r = sandbox_rlimits(spec);
        if (r < 0)
                return privsep_log(LOG_ERR, r, "Failed to set resource limits: %m");
        if (spec->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return privsep_log(LOG_ERR, errno, "Failed to set no_new_privs: %m");
        if (spec->syscalls) {
                r = sandbox_seccomp(spec->syscalls);
                if (r == -EOPNOTSUPP)
                        privsep_log(LOG_WARNING, 0, "Built without libseccomp: no syscall filter");
                else if (r < 0)
                        return privsep_log(LOG_ERR, r, "Failed to load the seccomp filter: %m");
        }
        return caps;
}

int sandbox_helper_start(const char *tag, int argc, const SandboxSpec *spec, int *ret_exit) {
        int r;

        privsep_log_open(tag);
        if (argc != 1) {
                privsep_log(LOG_ERR, 0, "Takes no arguments: started by mgd with its socket at fd %d",
                            PROTO_HELPER_FD);
                *ret_exit = HELPER_EXIT_USAGE;
                return -1;
        }
        r = sandbox_lockdown(spec);
        if (r < 0) {
                *ret_exit = r == -ENOTSOCK || r == -EBADF ? HELPER_EXIT_USAGE : HELPER_EXIT_SANDBOX;
                return -1;
        }
        return r;
}

int sandbox_file_caps(const char *path, uint64_t caps) {
        _cleanup_(cap_freep) cap_t c = cap_get_file(path);
        cap_flag_value_t v;

        if (!c)
                return errno == ENODATA ? -EPERM : -errno;
        for (cap_value_t i = 0; i < SANDBOX_CAP_SCAN_MAX; i++)
                if ((caps & SANDBOX_CAP(i)) && (cap_get_flag(c, i, CAP_PERMITTED, &v) < 0 || v != CAP_SET))
                        return -EPERM;
        return 0;
}

int sandbox_run(const char *path, char *const argv[], char *const envp[], int timeout_ms, int cgroup_procs) {
        _cleanup_close_ int pidfd = -1;
        struct rlimit rl;
        int status = 0;
        pid_t child;

        child = fork();
        if (child < 0)
                return -errno;
        if (child == 0) {
                if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                        rl.rlim_cur = rl.rlim_max;
                        (void) setrlimit(RLIMIT_NOFILE, &rl);
                }
                if (cgroup_procs >= 0)
                        (void) !write(cgroup_procs, "0", 1);    /* "0": the writer itself */
                (void) dup2(STDERR_FILENO, STDOUT_FILENO);
                (void) close_range(3, ~0U, 0);
                (void) execve(path, argv, envp ? envp : (char *const[]) { NULL });
                _exit(127);
        }
        pidfd = pidfd_open(child, 0);
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        if (pidfd < 0 || poll(&p, 1, timeout_ms) <= 0) {
                (void) kill(child, SIGKILL);
                (void) waitpid(child, NULL, 0);
                return -ETIMEDOUT;
        }
        if (waitpid(child, &status, 0) < 0)
                return -errno;
        return status;
}

/* The tail of a child's log file: its lines that say "Error" go to our log. */
static void sandbox_relay_errors(int dfd, const char *name, const char *prog) {
        char buf[2048], *save = NULL;
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        off_t end = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
        ssize_t n = end < 0 ? -1 : pread(fd, buf, sizeof(buf) - 1, MAX(end - (off_t) sizeof(buf) + 1, 0));

        if (n <= 0)
                return;
        buf[n] = '\0';
        for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (strstr(l, "Error"))
                        privsep_log(LOG_WARNING, 0, "%s: %s", prog, l);
}

/* A run this slow is worth a line in the log even when it succeeds: it eats into the caller's deadline. */
#define SLOW_RUN_MS 5000

static long long elapsed_ms(const struct timespec *t0) {
        struct timespec t1;

        (void) clock_gettime(CLOCK_MONOTONIC, &t1);
        return (long long) (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

int sandbox_run_checked(char *const argv[], char *const envp[], int timeout_ms, int cgroup_procs, int log_dfd,
                        const char *log_file) {
        const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
        struct timespec t0;
        long long ms;
        int status;

        (void) clock_gettime(CLOCK_MONOTONIC, &t0);
        status = sandbox_run(argv[0], argv, envp, timeout_ms, cgroup_procs);
        ms = elapsed_ms(&t0);
        if (status == -ETIMEDOUT) {
                sandbox_relay_errors(log_dfd, log_file, prog);
                return privsep_log(LOG_ERR, ETIMEDOUT, "%s %s did not finish in %d ms: killed", argv[0], argv[1],
                                   timeout_ms);
        }
        if (status < 0)
                return privsep_log(LOG_ERR, status, "Cannot run %s: %m", argv[0]);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                if (ms >= SLOW_RUN_MS)
                        privsep_log(LOG_NOTICE, 0, "%s %s took %lld ms", argv[0], argv[1], ms);
                return 0;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                return privsep_log(LOG_ERR, ENOENT, "Could not execute %s", argv[0]);
        sandbox_relay_errors(log_dfd, log_file, prog);
        return privsep_log(LOG_WARNING, EIO, "%s %s failed after %lld ms (wait status 0x%x)", argv[0], argv[1],
                           ms, status);
}

const char *sandbox_test_hook(const char *name) {
#if MGD_TEST_HOOKS
        return getenv(name);
#else
        (void) name;
        return NULL;
#endif
}

const char *sandbox_criu_path(void) {
        return sandbox_test_hook("MGD_TEST_CRIU") ?: MGD_CRIU_PATH;
}

int sandbox_user_home(uid_t uid, char *buf, size_t size) {
        const char *home = sandbox_test_hook("MGD_TEST_HOME");
        struct passwd *pw = home ? NULL : getpwuid(uid);

        if (!home && pw && pw->pw_dir && pw->pw_dir[0] == '/')
                home = pw->pw_dir;
        if (!home)
                return -ENOENT;
        return (size_t) snprintf(buf, size, "%s", home) >= size ? -ENAMETOOLONG : 0;
}

const char *sandbox_root(void) {
        const char *r = sandbox_test_hook("MGD_TEST_ROOT");

        return r ? r : "";
}

int sandbox_root_path(const char *sub, char *buf, size_t size) {
        if ((size_t) snprintf(buf, size, "%s%s", sandbox_root(), sub) >= size)
                return -ENAMETOOLONG;
        return 0;
}
