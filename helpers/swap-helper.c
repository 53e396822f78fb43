/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgd-swap-helper: pulls what sits in zram swap back into RAM by cycling swapoff/swapon on every
 * zram swap device, when RAM is plentiful again.
 *
 * Capability: CAP_SYS_ADMIN (swapoff(2) and swapon(2) check it), and nothing else.
 *
 * Trust: there is no input. SWAP_RECLAIM has an all-zero payload; every decision is the helper's,
 * so it is safe even when a member of group mgd runs it directly:
 *  - only swaps listed as exactly /dev/zramN, type partition, whose /dev node is the block device
 *    sysfs names for zramN: a disk swap is never touched;
 *  - globally, MemAvailable must exceed what swapoff decompresses (orig_data_size) plus a margin;
 *  - per memory cgroup: swapoff charges every page back to the memcg that swapped it out, and a
 *    memcg at its limit reclaims, then OOM-kills (a frozen one too) and swapoff fails with ENOMEM.
 *    So every memcg with a limit (v1 memory.limit_in_bytes, v2 memory.max) needs usage + its swap
 *    + a margin under that limit. Its swap counter covers all swap devices, which only errs on the
 *    safe side; where a memcg shows no swap counter, the whole device is assumed to be its;
 *  - terminating signals are blocked across the swapoff/swapon pair, swapon is retried and the
 *    original priority restored. SIGKILL cannot be blocked: that window is documented.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "common/memcg.h"
#include "common/privsep.h"
#include "common/readers.h"
#include "common/sandbox.h"

#define SWAP_MARGIN_MIN (UINT64_C(256) << 20)
#define SWAPON_TRIES 5

static const char *const swap_syscalls[] = {
        /* the socket to mgd */
        "recvmsg", "sendmsg", "poll", "ppoll",
        /* /proc/{swaps,meminfo}, sysfs, the memcg trees, /dev/zramN */
        "openat", "read", "pread64", "write", "close", "fstat", "newfstatat", "getdents64",
        "fcntl", "lseek", "access", "faccessat", "faccessat2",
        /* the operation itself, with signals blocked around it */
        "swapoff", "swapon", "rt_sigprocmask", "nanosleep", "clock_nanosleep",
        /* libc's allocator and exit */
        "brk", "mmap", "munmap", "exit_group", "exit", "rt_sigreturn",
        NULL,
};

static const SandboxSpec swap_sandbox = {
        .keep_caps = SANDBOX_CAP(CAP_SYS_ADMIN),
        .bounding_caps = SANDBOX_CAP(CAP_SYS_ADMIN),
        .nofile = 8 + MEMCG_WALK_FDS,
        .no_new_privs = true,
        .syscalls = swap_syscalls,
};

typedef struct SwapHelper {
        char proc[PATH_MAX], sys[PATH_MAX], dev[PATH_MAX];
        bool has_cap;
} SwapHelper;

/* /dev/zramN must be the block device that sysfs calls zramN. */
static int zram_dev_node(const SwapHelper *h, unsigned idx, char *path, size_t size) {
        char sysdev[PATH_MAX], buf[32];
        unsigned maj, min;
        struct stat st;
        int r;

        if ((size_t) snprintf(sysdev, sizeof(sysdev), "%s/block/zram%u/dev", h->sys, idx) >= sizeof(sysdev) ||
            (size_t) snprintf(path, size, "%s/zram%u", h->dev, idx) >= size)
                return -ENAMETOOLONG;
        r = read_small_file(sysdev, buf, sizeof(buf), NULL);
        if (r < 0 || sscanf(buf, "%u:%u", &maj, &min) != 2)
                return privsep_log(LOG_WARNING, ENODEV, "Cannot read %s", sysdev);
        if (stat(path, &st) < 0 || !S_ISBLK(st.st_mode) || major(st.st_rdev) != maj || minor(st.st_rdev) != min)
                return privsep_log(LOG_WARNING, ENODEV, "%s is not the block device zram%u", path, idx);
        return 0;
}

static int swap_cycle(const char *path, int priority, bool *ret_fatal) {
        int flags = priority >= 0 ? SWAP_FLAG_PREFER | (priority & SWAP_FLAG_PRIO_MASK) : 0;
        const struct timespec pause = { .tv_nsec = 200 * 1000 * 1000 };
        sigset_t all, old;
        int r = 0;

        /* from here until swapon succeeded, no signal but SIGKILL may end us */
        sigfillset(&all);
        if (sigprocmask(SIG_BLOCK, &all, &old) < 0)
                return -errno;
        if (swapoff(path) < 0) {
                r = privsep_log(LOG_WARNING, errno, "swapoff %s failed, it stays on: %m", path);
                (void) sigprocmask(SIG_SETMASK, &old, NULL);
                return r;
        }
        for (int i = 0; i < SWAPON_TRIES; i++) {
                r = RET_NERRNO(swapon(path, flags));
                if (r >= 0)
                        break;
                (void) nanosleep(&pause, NULL);
        }
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                *ret_fatal = true;
                return privsep_log(LOG_CRIT, r, "swapon %s failed %d times, the swap is OFF: %m",
                                   path, SWAPON_TRIES);
        }
        return 0;
}

static int swap_reclaim_one(SwapHelper *h, const SwapDevice *dev, uint64_t *ret_bytes, bool *ret_fatal) {
        char node[PATH_MAX];
        ZramMmStat mm;
        MemInfo mi;
        uint64_t need;
        int r;

        r = zram_mm_stat_read(h->sys, dev->zram_index, &mm);
        if (r < 0)
                return privsep_log(LOG_WARNING, ENODEV, "%s has no zram mm_stat: %s", dev->path, strerror(-r));
        r = meminfo_read(h->proc, &mi);
        if (r < 0)
                return privsep_log(LOG_ERR, r, "Failed to read meminfo: %m");
        need = mm.orig_data_size + MAX(SWAP_MARGIN_MIN, mi.mem_total_kb * 1024 / 20);
        if (mi.mem_available_kb * 1024 <= need)
                return privsep_log(LOG_NOTICE, ENOMEM, "%s holds %" PRIu64 " bytes, MemAvailable %" PRIu64
                                   " kB is too short, not cycling", dev->path, mm.orig_data_size,
                                   mi.mem_available_kb);
        r = memcg_headroom_check(h->sys, mm.orig_data_size);
        if (r < 0)
                return r;
        r = zram_dev_node(h, dev->zram_index, node, sizeof(node));
        if (r < 0)
                return r;
        r = swap_cycle(node, dev->priority, ret_fatal);
        if (r < 0)
                return r;
        *ret_bytes = mm.orig_data_size;
        return 0;
}

static int swap_reclaim(const ProtoRequest *req, ProtoReply *rep, int *ret_fd, bool *ret_fatal,
                        void *userdata) {
        SwapHelper *h = userdata;
        SwapDevice devs[SWAPS_MAX];
        size_t n;
        int r;

        if (!h->has_cap || (req->hdr.flags & PROTO_FLAG_PROBE))
                return h->has_cap ? 0 : -EPERM;
        r = swaps_read(h->proc, devs, ELEMENTSOF(devs), &n);
        if (r < 0)
                return privsep_log(LOG_ERR, r, "Failed to read %s/swaps: %m", h->proc);
        for (size_t i = 0; i < n; i++) {
                uint64_t bytes = 0;

                if (!devs[i].is_zram || strcmp(devs[i].type, "partition") != 0)
                        continue;       /* never a disk swap, never a lookalike */
                r = swap_reclaim_one(h, &devs[i], &bytes, ret_fatal);
                if (r < 0)
                        return r;
                rep->swap_reclaim.devices++;
                rep->swap_reclaim.bytes += bytes;
        }
        return 0;
}

static const PrivsepHandler swap_handlers[] = {
        { PROTO_SWAP_RECLAIM, swap_reclaim },
};

int main(int argc, char *argv[]) {
        SwapHelper h = {};
        int r, code;

        r = sandbox_helper_start("mgd-swap-helper", argc, &swap_sandbox, &code);
        if (r < 0)
                return code;
        h.has_cap = r > 0;

        if (sandbox_root_path("/proc", h.proc, sizeof(h.proc)) < 0 ||
            sandbox_root_path("/sys", h.sys, sizeof(h.sys)) < 0 ||
            sandbox_root_path("/dev", h.dev, sizeof(h.dev)) < 0)
                return HELPER_EXIT_USAGE;
        return privsep_serve(PROTO_HELPER_FD, swap_handlers, ELEMENTSOF(swap_handlers), &h);
}
