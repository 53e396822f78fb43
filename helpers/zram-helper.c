/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgd-zram-helper: compacts the pool of a zram device that is in use as swap.
 *
 * Grant: no capability at all. /sys/block/zramN/compact is DEVICE_ATTR_WO, root-owned 0200, so
 * writing it is a plain DAC check. The tmpfiles.d rule of units/mgd-tmpfiles.conf makes it 0220
 * root:mgd, and this helper runs as the user (a member of group mgd) with every capability
 * dropped. The alternative, CAP_DAC_OVERRIDE, would let a compromised helper write any file on
 * the system; the group grant lets it write exactly the compact nodes (see docs/PRIVSEP.md).
 *
 * Trust: the daemon gives a device number and a minimum pool size. The helper accepts the number
 * only if /proc/swaps lists exactly "/dev/zramN" as a swap partition, builds the sysfs path itself,
 * and never compacts a pool smaller than PROTO_ZRAM_MIN_USED_FLOOR, whatever the daemon asks.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/privsep.h"
#include "common/readers.h"
#include "common/sandbox.h"

static const char *const zram_syscalls[] = {
        /* the socket to mgd */
        "recvmsg", "sendmsg", "poll", "ppoll",
        /* /proc/swaps, mm_stat, compact */
        "openat", "read", "pread64", "write", "close", "fstat", "newfstatat",
        "access", "faccessat", "faccessat2",
        /* libc's allocator and exit */
        "brk", "mmap", "munmap", "exit_group", "exit", "rt_sigreturn",
        NULL,
};

static const SandboxSpec zram_sandbox = {
        .keep_caps = 0,
        .bounding_caps = 0,
        .nofile = 8,
        .no_new_privs = true,
        .syscalls = zram_syscalls,
};

typedef struct ZramHelper {
        char proc[PATH_MAX];
        char sys[PATH_MAX];
} ZramHelper;

/* dev must be listed in /proc/swaps as exactly /dev/zramN, a block device ("partition"). */
static int zram_swap_validate(const ZramHelper *h, uint32_t dev) {
        SwapDevice devs[SWAPS_MAX];
        size_t n;
        int r;

        r = swaps_read(h->proc, devs, ELEMENTSOF(devs), &n);
        if (r < 0)
                return privsep_log(LOG_ERR, r, "Failed to read %s/swaps: %m", h->proc);
        for (size_t i = 0; i < n; i++)
                if (devs[i].is_zram && devs[i].zram_index == dev && strcmp(devs[i].type, "partition") == 0)
                        return 0;
        return privsep_log(LOG_WARNING, ENODEV, "zram%u is not a zram device in use as swap", dev);
}

static int zram_compact(const ProtoRequest *req, ProtoReply *rep, int *ret_fd, bool *ret_fatal,
                        void *userdata) {
        const ProtoZramCompact *z = &req->zram_compact;
        const ZramHelper *h = userdata;
        uint64_t min = MAX(z->min_used_bytes, PROTO_ZRAM_MIN_USED_FLOOR);
        _cleanup_close_ int fd = -1;
        ZramMmStat before, after;
        char path[PATH_MAX];
        int r;

        r = zram_swap_validate(h, z->device);
        if (r < 0)
                return r;
        r = zram_mm_stat_read(h->sys, z->device, &before);
        if (r == -ENOENT)
                return privsep_log(LOG_WARNING, ENODEV, "%s/block/zram%u has no mm_stat: not zram",
                                   h->sys, z->device);
        if (r < 0)
                return privsep_log(LOG_ERR, r, "Failed to read mm_stat of zram%u: %m", z->device);
        if ((size_t) snprintf(path, sizeof(path), "%s/block/zram%u/compact", h->sys, z->device) >= sizeof(path))
                return -ENAMETOOLONG;
        rep->zram_compact.used_before = rep->zram_compact.used_after = before.mem_used_total;
        /* a probe asks about the grant, whatever the pool holds right now */
        if (req->hdr.flags & PROTO_FLAG_PROBE)
                return RET_NERRNO(faccessat(AT_FDCWD, path, W_OK, AT_EACCESS));
        if (before.mem_used_total < min)
                return privsep_log(LOG_INFO, EAGAIN, "zram%u uses %" PRIu64 " bytes, below %" PRIu64
                                   ": not compacting", z->device, before.mem_used_total, min);

        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return privsep_log(LOG_WARNING, errno, "Failed to open %s (is the mgd group grant "
                                   "installed?): %m", path);
        if (write(fd, "1", 1) != 1)
                return privsep_log(LOG_WARNING, errno, "Failed to compact zram%u: %m", z->device);
        r = zram_mm_stat_read(h->sys, z->device, &after);
        if (r < 0)
                return privsep_log(LOG_ERR, r, "Compacted zram%u but cannot read mm_stat: %m", z->device);
        rep->zram_compact.used_after = after.mem_used_total;
        return 0;
}

static const PrivsepHandler zram_handlers[] = {
        { PROTO_ZRAM_COMPACT, zram_compact },
};

int main(int argc, char *argv[]) {
        ZramHelper h = {};
        int r, code;

        r = sandbox_helper_start("mgd-zram-helper", argc, &zram_sandbox, &code);
        if (r < 0)
                return code;

        if (sandbox_root_path("/proc", h.proc, sizeof(h.proc)) < 0 ||
            sandbox_root_path("/sys", h.sys, sizeof(h.sys)) < 0)
                return HELPER_EXIT_USAGE;
        return privsep_serve(PROTO_HELPER_FD, zram_handlers, ELEMENTSOF(zram_handlers), &h);
}
