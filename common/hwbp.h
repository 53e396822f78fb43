/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Do hardware breakpoints fire here? criu stops its parasite code with one (an x86 debug
 * register set through ptrace); some virtual machines (Firecracker's, seen here) accept the
 * debug registers and never trap, and criu then waits for the parasite forever. hwbp_probe()
 * forks a child, traces it, sets an execute breakpoint on a function the child calls next and
 * lets it run: 1 when the child trapped there, 0 when it ran through (or hung past timeout_ms)
 * without a trap, -EOPNOTSUPP on an architecture this probe does not know, -errno when the
 * probe itself could not run (fork, ptrace refused).
 */
int hwbp_probe(int timeout_ms);

/* criu's own switch for such machines: its fault-injection code 130 (FI_NO_BREAKPOINTS) makes it
 * stop the parasite at a syscall instead of at a breakpoint. */
#define HWBP_CRIU_ENV "CRIU_FAULT=130"
