/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One helper's lock-down, run for real in a child: built once per helper with HELPER_SOURCE (its
 * .c file, main renamed) and HELPER_SPEC (its static SandboxSpec), so the table tested is the
 * table shipped. After sandbox_lockdown(), every syscall outside the table must kill the child
 * with SIGSYS, and so must a 32-bit syscall from this 64-bit process (where the kernel runs one at
 * all: with ia32 emulation off, int $0x80 kills the caller even without a filter, and that case is
 * skipped with the reason).
 */

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int helper_main(int argc, char *argv[]);
#define main helper_main
#include HELPER_SOURCE
#undef main

#include "tests/check-main.h"

/* Syscalls no helper with a table needs; each with arguments that fail harmlessly if let through. */
static const struct {
        const char *name;
        long nr;
        long a0, a1, a2;
} probes[] = {
        { "execve", SYS_execve, 0, 0, 0 },
        { "socket", SYS_socket, -1, -1, -1 },
        { "ptrace", SYS_ptrace, -1, -1, 0 },
        { "kill", SYS_kill, 0x7ffffff0, 0, 0 },
        { "mount", SYS_mount, 0, 0, 0 },
        { "swapoff", SYS_swapoff, 0, 0, 0 },
        { "swapon", SYS_swapon, 0, 0, 0 },
        { "setuid", SYS_setuid, -1, 0, 0 },
        { "uname", SYS_uname, 0, 0, 0 },
        { "getpid", SYS_getpid, 0, 0, 0 },
        { "unlinkat", SYS_unlinkat, -1, 0, 0 },
        { "capset", SYS_capset, 0, 0, 0 },
        { "prctl", SYS_prctl, -1, 0, 0 },
        { "seccomp", SYS_seccomp, -1, 0, 0 },
};

static bool in_table(const char *name) {
        for (const char *const *s = HELPER_SPEC.syscalls; *s; s++)
                if (strcmp(*s, name) == 0)
                        return true;
        return false;
}

/* Fork, lock down exactly as the helper does (socket at fd 3), run fn; return the wait status. */
static int run_locked(void (*fn)(int), int arg) {
        int pair[2], status = 0;
        pid_t pid;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (dup3(pair[1], PROTO_HELPER_FD, 0) < 0 || sandbox_lockdown(&HELPER_SPEC) < 0)
                        _exit(99);
                fn(arg);
                _exit(0);
        }
        (void) close(pair[1]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        (void) close(pair[0]);
        return status;
}

static void call_probe(int i) {
        (void) syscall(probes[i].nr, probes[i].a0, probes[i].a1, probes[i].a2);
}

START_TEST(test_forbidden_syscall_kills) {
        int status;

        if (in_table(probes[_i].name))
                return;                 /* this helper needs it: nothing to prove here */
        status = run_locked(call_probe, _i);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
                      "%s after lock-down: status 0x%x, expected death by SIGSYS", probes[_i].name, status);
}
END_TEST

static void use_allowed(int unused) {
        /* what every helper does after lock-down: these must keep working */
        if (write(STDERR_FILENO, "", 0) < 0 || close(open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
                _exit(98);
        _exit(42);
}

START_TEST(test_allowed_syscalls_work) {
        int status = run_locked(use_allowed, 0);

        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 42, "status 0x%x", status);
}
END_TEST

#if defined(__x86_64__)
static void int80_getpid(int unused) {
        long r;

        /* getpid through the i386 entry point: another architecture to the filter */
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
        (void) r;
}

/* The same call with no filter at all: does this kernel run 32-bit syscalls from us at all? */
static int run_unfiltered(void (*fn)(int), int arg) {
        int status = 0;
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                fn(arg);
                _exit(0);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        return status;
}

START_TEST(test_other_arch_kills) {
        int status = run_unfiltered(int80_getpid, 0);

        /* a kernel with ia32 emulation off kills the caller itself (SIGSEGV): nothing to filter */
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                MGD_SKIP("this kernel kills a 64-bit process's int $0x80 even without a filter "
                         "(ia32 emulation off; status 0x%x): no other-arch syscall to refuse", status);
        status = run_locked(int80_getpid, 0);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "status 0x%x", status);
}
END_TEST
#endif

START_TEST(test_table_is_sane) {
        size_t n = 0;

        /* never in any helper's table: running code or changing who we are */
        ck_assert(!in_table("execve"));
        ck_assert(!in_table("execveat"));
        ck_assert(!in_table("fork") && !in_table("clone") && !in_table("clone3"));
        ck_assert(!in_table("ptrace"));
        ck_assert(!in_table("setuid") && !in_table("capset") && !in_table("prctl"));
        for (const char *const *s = HELPER_SPEC.syscalls; *s; s++)
                n++;
        ck_assert_uint_lt(n, 40);
        ck_assert(HELPER_SPEC.no_new_privs);
}
END_TEST

static Suite *seccomp_suite(void) {
        Suite *s = suite_create("seccomp");
        TCase *tc = tcase_create(HELPER_SOURCE);

        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, test_table_is_sane);
        tcase_add_loop_test(tc, test_forbidden_syscall_kills, 0, ELEMENTSOF(probes));
        tcase_add_test(tc, test_allowed_syscalls_work);
#if defined(__x86_64__)
        tcase_add_test(tc, test_other_arch_kills);
#endif
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(seccomp_suite)
