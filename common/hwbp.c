/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/hwbp.h"

#if defined(__x86_64__)

/* The breakpoint's target: not inlined, not merged, called once the tracer has set the breakpoint. */
__attribute__((noinline, noclone, used)) static void hwbp_target(void) {
        __asm__ volatile("" ::: "memory");
}

static void hwbp_child(void) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
                _exit(2);
        (void) raise(SIGSTOP);
        hwbp_target();
        _exit(0);
}

static int hwbp_arm(pid_t child) {
        /* DR0 = the target, DR7 = local enable of DR0, execute, length 1 */
        if (ptrace(PTRACE_POKEUSER, child, offsetof(struct user, u_debugreg[0]), (void *) hwbp_target) < 0 ||
            ptrace(PTRACE_POKEUSER, child, offsetof(struct user, u_debugreg[7]), (void *) 1UL) < 0)
                return -errno;
        return 0;
}

/* The child's next stop or end within timeout_ms: its wait status, or -ETIMEDOUT. */
static int hwbp_wait(pid_t child, int timeout_ms) {
        struct timespec pause = { .tv_nsec = 1000000 };
        int status;

        for (int i = 0; i <= timeout_ms; i++) {
                pid_t r = waitpid(child, &status, WNOHANG | __WALL);

                if (r == child)
                        return status;
                if (r < 0)
                        return -errno;
                (void) nanosleep(&pause, NULL);
        }
        return -ETIMEDOUT;
}

int hwbp_probe(int timeout_ms) {
        pid_t child = fork();
        int status, r;

        if (child < 0)
                return -errno;
        if (child == 0)
                hwbp_child();
        status = hwbp_wait(child, timeout_ms);
        if (status < 0 || !WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP)
                r = status < 0 ? status : -ECHILD;
        else if ((r = hwbp_arm(child)) >= 0 && ptrace(PTRACE_CONT, child, NULL, NULL) < 0)
                r = -errno;
        else if (r >= 0) {
                status = hwbp_wait(child, timeout_ms);
                r = status >= 0 && WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP ? 1 :
                        status >= 0 || status == -ETIMEDOUT ? 0 : status;
        }
        (void) kill(child, SIGKILL);
        (void) waitpid(child, NULL, __WALL);
        return r;
}

#else

int hwbp_probe(int timeout_ms) {
        (void) timeout_ms;
        return -EOPNOTSUPP;
}

#endif
