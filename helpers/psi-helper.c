/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgd-psi-helper: arms PSI triggers with sub-second windows and passes their fds to mgd.
 *
 * Capability: CAP_SYS_RESOURCE, and nothing else. psi_trigger_create() (kernel/sched/psi.c)
 * checks the OPENER's credentials (file->f_cred) and, without CAP_SYS_RESOURCE, accepts only
 * windows that are whole multiples of 2 s, answering EINVAL, not EPERM (seen on 6.1 and 6.18;
 * older kernels refused the open for writing). Because the check is made on the opener, the fd
 * keeps its sub-second trigger after it is passed to the unprivileged daemon, which only polls
 * it for POLLPRI. The trigger is gone when the last fd to it is closed.
 *
 * Trust: the daemon names a source by index and gives two numbers; the helper builds the path
 * itself. The session source is the memory.pressure of the daemon's own user@UID.service (or
 * user-UID.slice), found from the daemon's SO_PEERCRED pid, so a daemon can never make the helper
 * open anything but /proc/pressure/memory or its own session's pressure file.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/privsep.h"
#include "common/readers.h"
#include "common/sandbox.h"

/* Everything this helper does after lock-down; anything else kills it (SIGSYS). */
static const char *const psi_syscalls[] = {
        /* the socket to mgd */
        "recvmsg", "sendmsg", "poll", "ppoll", "getsockopt",
        /* /proc/PID/{status,cgroup} of the daemon, the pressure file, the trigger string */
        "openat", "read", "pread64", "write", "close", "fstat", "newfstatat",
        "access", "faccessat", "faccessat2",
        /* libc's allocator and exit */
        "brk", "mmap", "munmap", "exit_group", "exit", "rt_sigreturn",
        NULL,
};

static const SandboxSpec psi_sandbox = {
        .keep_caps = SANDBOX_CAP(CAP_SYS_RESOURCE),
        .bounding_caps = SANDBOX_CAP(CAP_SYS_RESOURCE),
        .nofile = 8,
        .fsize = 64,                    /* procfs applies RLIMIT_FSIZE to the trigger write */
        .no_new_privs = true,
        .syscalls = psi_syscalls,
};

typedef struct PsiHelper {
        char proc[PATH_MAX];
        char sys[PATH_MAX];
        PrivsepPeer peer;
} PsiHelper;

static int psi_source_path(const PsiHelper *h, uint8_t source, char *buf, size_t size) {
        char root[PATH_MAX], session[PROC_CGROUP_MAX];
        int r;

        if (source == PROTO_PSI_SOURCE_SYSTEM) {
                if ((size_t) snprintf(buf, size, "%s/pressure/memory", h->proc) >= size)
                        return -ENAMETOOLONG;
                return 0;
        }
        /* PROTO_PSI_SOURCE_SESSION: from the daemon's own cgroup, never from its word */
        r = privsep_peer_session(h->proc, &h->peer, session, sizeof(session));
        if (r < 0)
                return privsep_log(LOG_WARNING, r, "The daemon is not in a user session cgroup: %m");
        r = privsep_cgroup2_root(h->sys, root, sizeof(root));
        if (r < 0)
                return privsep_log(LOG_WARNING, r, "No cgroup2 hierarchy under %s/fs/cgroup: %m", h->sys);
        if ((size_t) snprintf(buf, size, "%s%s/memory.pressure", root, session) >= size)
                return -ENAMETOOLONG;
        return 0;
}

static int psi_arm(const ProtoRequest *req, ProtoReply *rep, int *ret_fd, bool *ret_fatal,
                   void *userdata) {
        const ProtoPsiArm *a = &req->psi_arm;
        const PsiHelper *h = userdata;
        _cleanup_close_ int fd = -1;
        char path[PATH_MAX], spec[64];
        int r, n;

        if (a->window_us < PROTO_PSI_WINDOW_MIN_US || a->window_us > PROTO_PSI_WINDOW_MAX_US ||
            a->stall_us < PROTO_PSI_STALL_MIN_US || a->stall_us >= a->window_us)
                return privsep_log(LOG_WARNING, ERANGE, "Refusing trigger %u us per %u us: out of bounds",
                                   a->stall_us, a->window_us);
        r = psi_source_path(h, a->source, path, sizeof(path));
        if (r < 0)
                return r;
        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return privsep_log(LOG_WARNING, errno, "Failed to open %s: %m", path);
        n = snprintf(spec, sizeof(spec), "%s %u %u",
                     a->kind == PROTO_PSI_FULL ? "full" : "some", a->stall_us, a->window_us);
        /* psi_write() turns the last byte it copies into NUL: send the NUL, or lose a digit */
        if (write(fd, spec, (size_t) n + 1) < 0)
                return privsep_log(LOG_INFO, errno, "Kernel refused trigger \"%s\" on %s: %m", spec, path);
        if (!(req->hdr.flags & PROTO_FLAG_PROBE))
                *ret_fd = TAKE_FD(fd);
        return 0;
}

static const PrivsepHandler psi_handlers[] = {
        { PROTO_PSI_ARM, psi_arm },
};

int main(int argc, char *argv[]) {
        PsiHelper h = {};
        int r, code;

        r = sandbox_helper_start("mgd-psi-helper", argc, &psi_sandbox, &code);
        if (r < 0)
                return code;
        if (r == 0)
                privsep_log(LOG_NOTICE, 0, "No CAP_SYS_RESOURCE: only 2 s multiples will be accepted");

        if (sandbox_root_path("/proc", h.proc, sizeof(h.proc)) < 0 ||
            sandbox_root_path("/sys", h.sys, sizeof(h.sys)) < 0)
                return HELPER_EXIT_USAGE;
        r = privsep_peer(PROTO_HELPER_FD, &h.peer);
        if (r < 0) {
                privsep_log(LOG_ERR, r, "Cannot identify the daemon: %m");
                return HELPER_EXIT_USAGE;
        }
        return privsep_serve(PROTO_HELPER_FD, psi_handlers, ELEMENTSOF(psi_handlers), &h);
}
