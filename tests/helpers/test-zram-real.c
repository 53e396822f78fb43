/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgd-zram-helper and mgd-swap-helper on a real zram swap that this test sets up and tears down:
 * a zram device of its own (hot_add), swapon -p 100, and a hog in a memory cgroup of its own,
 * limited so that most of the hog sits compressed in that zram swap. Then:
 *   - compaction of that device works, of any other index is refused;
 *   - swap reclaim is refused while the hog's cgroup is at its limit (swapoff would charge the
 *     pages back to it and OOM-kill it), and the swap stays on;
 *   - with the limit raised, reclaim cycles the device, the pages come back to RAM, the swap is on
 *     again with its priority, and the hog lives.
 * The fixture runs in the parent (unchecked), so a failing test never leaves the swap behind.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/readers.h"
#include "tests/check-main.h"
#include "tests/helpers/helper-test.h"

#define MiB (UINT64_C(1) << 20)
#define HOG_MIB 160
#define LIMIT "67108864"

static int zdev = -1;
static char zpath[64], memcg[4096];
static bool memcg_v2;
static pid_t hog, owner;

static int memcg_set_limit(const char *bytes);

static int write_file(const char *path, const char *value) {
        int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

        if (fd < 0)
                return -errno;
        if (write(fd, value, strlen(value)) < 0)
                r = -errno;
        (void) close(fd);
        return r;
}

static int read_u64(const char *path, uint64_t *ret) {
        char buf[64];
        int r = read_small_file(path, buf, sizeof(buf), NULL);

        if (r < 0)
                return r;
        buf[strcspn(buf, "\n")] = '\0';
        return safe_atou64(buf, ret);
}

/* Our own memory cgroup: v1 "memory" controller if mounted, else cgroup2 with memory. */
static int memcg_create(void) {
        ProcCgroup cg;
        int r = proc_cgroup_read("/proc", getpid(), &cg);

        if (r < 0)
                return r;
        if (cg.has_v1_memory)
                (void) snprintf(memcg, sizeof(memcg), "/sys/fs/cgroup/memory%s/mgdtest-zram-%d",
                                strcmp(cg.v1_memory, "/") == 0 ? "" : cg.v1_memory, (int) getpid());
        else {
                memcg_v2 = true;
                (void) snprintf(memcg, sizeof(memcg), "/sys/fs/cgroup/mgdtest-zram-%d", (int) getpid());
        }
        if (mkdir(memcg, 0755) < 0)
                return -errno;
        return memcg_set_limit(LIMIT);
}

static int memcg_set_limit(const char *bytes) {
        char path[4200];

        (void) snprintf(path, sizeof(path), "%s/%s", memcg, memcg_v2 ? "memory.max" : "memory.limit_in_bytes");
        return write_file(path, bytes);
}

static uint64_t memcg_swap(void) {
        char path[4200], buf[8192], *p;
        uint64_t v = 0;

        if (memcg_v2) {
                (void) snprintf(path, sizeof(path), "%s/memory.swap.current", memcg);
                ck_assert_int_eq(read_u64(path, &v), 0);
                return v;
        }
        (void) snprintf(path, sizeof(path), "%s/memory.stat", memcg);
        ck_assert_int_eq(read_small_file(path, buf, sizeof(buf), NULL), 0);
        p = strstr(buf, "\ntotal_swap ");
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(sscanf(p, "\ntotal_swap %" SCNu64, &v), 1);
        return v;
}

/* The hog joins the cgroup, dirties HOG_MIB of partly random pages, says so, and waits. */
static pid_t hog_start(void) {
        int pfd[2];
        char c;
        pid_t pid;

        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                char path[4200];
                uint8_t *m;
                uint32_t x = 12345;

                (void) snprintf(path, sizeof(path), "%s/cgroup.procs", memcg);
                if (write_file(path, "0") < 0)
                        _exit(1);
                m = mmap(NULL, HOG_MIB * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (m == MAP_FAILED)
                        _exit(2);
                for (size_t i = 0; i < HOG_MIB * MiB; i++) {
                        /* a quarter of each page random: compressible, but not to nothing */
                        x = x * 1103515245u + 12345u;
                        m[i] = (i % 4096) < 1024 ? (uint8_t) (x >> 16) : (uint8_t) (i / 4096);
                }
                (void) write(pfd[1], "r", 1);
                for (;;)
                        pause();
        }
        (void) close(pfd[1]);
        if (read(pfd[0], &c, 1) != 1)
                pid = -EIO;
        (void) close(pfd[0]);
        return pid;
}

static void teardown(void) {
        char path[128], idx[16];

        if (getpid() != owner)
                return;                 /* a test's child exiting: the parent owns all this */
        if (hog > 0) {
                (void) kill(hog, SIGKILL);
                (void) waitpid(hog, NULL, 0);
                hog = 0;
        }
        if (memcg[0]) {
                (void) rmdir(memcg);
                memcg[0] = '\0';
        }
        if (zdev >= 0) {
                (void) swapoff(zpath);
                (void) snprintf(path, sizeof(path), "/sys/block/zram%d/reset", zdev);
                (void) write_file(path, "1");
                (void) snprintf(idx, sizeof(idx), "%d", zdev);
                (void) write_file("/sys/class/zram-control/hot_remove", idx);
                zdev = -1;
        }
}

static void setup(void) {
        char buf[32], path[128];
        int status;
        pid_t pid;

        owner = getpid();
        ck_assert_int_eq(atexit(teardown), 0);  /* whatever fails below, nothing is left behind */
        /* reading hot_add creates a device and returns its number: one of our own, not zram0 */
        ck_assert_int_eq(read_small_file("/sys/class/zram-control/hot_add", buf, sizeof(buf), NULL), 0);
        zdev = atoi(buf);
        (void) snprintf(zpath, sizeof(zpath), "/dev/zram%d", zdev);
        (void) snprintf(path, sizeof(path), "/sys/block/zram%d/disksize", zdev);
        ck_assert_int_eq(write_file(path, "512M"), 0);
        pid = fork();
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                (void) dup2(null, STDOUT_FILENO);
                execl("/sbin/mkswap", "mkswap", zpath, (char *) NULL);
                _exit(127);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "mkswap %s failed", zpath);
        ck_assert_msg(swapon(zpath, SWAP_FLAG_PREFER | 100) == 0, "swapon %s: %m", zpath);
        ck_assert_int_eq(memcg_create(), 0);
        hog = hog_start();
        ck_assert_int_gt(hog, 0);
}

/* Our device in /proc/swaps: its priority and used kB; false if it is not there. */
static bool our_swap(int *ret_prio, uint64_t *ret_used) {
        SwapDevice devs[SWAPS_MAX];
        size_t n;

        ck_assert_int_eq(swaps_read("/proc", devs, ELEMENTSOF(devs), &n), 0);
        for (size_t i = 0; i < n; i++)
                if (strcmp(devs[i].path, zpath) == 0) {
                        *ret_prio = devs[i].priority;
                        *ret_used = devs[i].used_kb;
                        return true;
                }
        return false;
}

static int compact(uint32_t dev, uint64_t min, ProtoReply *rep) {
        ProtoZramCompact z = { .device = dev, .min_used_bytes = min };
        ProtoRequest req = test_request(PROTO_ZRAM_COMPACT, 0, &z, sizeof(z));
        HelperProc p = helper_proc_start("mgd-zram-helper", NULL, NULL);
        int r = helper_proc_call(&p, &req, rep, NULL);

        helper_proc_hangup(&p);
        return r;
}

START_TEST(test_compact) {
        ProtoReply rep;
        uint64_t used;
        int prio;

        ck_assert(our_swap(&prio, &used));
        ck_assert_msg(used > 32 * 1024, "only %" PRIu64 " kB reached zram", used);
        ck_assert_int_eq(compact((uint32_t) zdev, MiB, &rep), 0);
        ck_assert_uint_gt(rep.zram_compact.used_before, 0);
        ck_assert_uint_le(rep.zram_compact.used_after, rep.zram_compact.used_before);
        /* not a swap: refused, whatever exists under that number */
        ck_assert_int_eq(compact((uint32_t) zdev + 1000, MiB, &rep), -ENODEV);
        ck_assert_int_eq(compact((uint32_t) zdev, UINT64_C(1) << 40, &rep), -EAGAIN);
}
END_TEST

static int reclaim(ProtoReply *rep) {
        ProtoRequest req = test_request(PROTO_SWAP_RECLAIM, 0, NULL, 0);
        HelperProc p = helper_proc_start("mgd-swap-helper", NULL, NULL);
        int r = helper_proc_call(&p, &req, rep, NULL);

        assert_lockdown(p.pid, CAPBIT(CAP_SYS_ADMIN), CAPBIT(CAP_SYS_ADMIN), true, true);
        helper_proc_hangup(&p);
        return r;
}

START_TEST(test_reclaim_refused_at_memcg_limit) {
        ProtoReply rep;
        uint64_t used, swapped = memcg_swap();
        int prio;

        ck_assert_uint_gt(swapped, 16 * MiB);
        ck_assert_int_eq(reclaim(&rep), -EDQUOT);
        /* nothing happened: the swap is on, as full as before, and the hog lives */
        ck_assert(our_swap(&prio, &used));
        ck_assert_int_eq(prio, 100);
        ck_assert_uint_gt(used, 16 * 1024);
        ck_assert_int_eq(kill(hog, 0), 0);
}
END_TEST

START_TEST(test_reclaim) {
        ProtoReply rep;
        uint64_t used;
        int prio;

        ck_assert_int_eq(memcg_set_limit("1073741824"), 0);
        ck_assert_int_eq(reclaim(&rep), 0);
        ck_assert_uint_ge(rep.swap_reclaim.devices, 1);
        ck_assert_uint_gt(rep.swap_reclaim.bytes, 16 * MiB);
        /* the swap is back, with its priority, and (nearly) empty: the pages are in RAM */
        ck_assert(our_swap(&prio, &used));
        ck_assert_int_eq(prio, 100);
        ck_assert_uint_lt(used, 4 * 1024);
        ck_assert_uint_lt(memcg_swap(), 4 * MiB);
        ck_assert_int_eq(kill(hog, 0), 0);
}
END_TEST

static Suite *zram_real_suite(void) {
        Suite *s = suite_create("zram-real");
        TCase *tc = tcase_create("zram-swap");

        /* unchecked: set up and torn down in the parent, whatever happens in a test */
        tcase_add_unchecked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_compact);
        tcase_add_test(tc, test_reclaim_refused_at_memcg_limit);
        tcase_add_test(tc, test_reclaim);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        if (access("/sys/class/zram-control/hot_add", F_OK) < 0) {
                printf("1..0 # SKIP no zram in this kernel\n");
                return 77;
        }
        return mgd_check_run(zram_real_suite());
}
