/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgd-swap-helper over a real socketpair against a fake /proc, /sys and /dev: every refusal it
 * must make before it touches swapoff(2). The fake /dev never holds a block device, so nothing
 * here can reach a real swap; tests/helpers/test-zram-real.c cycles a real one.
 */

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/privsep.h"
#include "tests/check-main.h"
#include "tests/helpers/helper-test.h"

#define MiB (UINT64_C(1) << 20)

static char *root;

static void meminfo(uint64_t avail_kb) {
        char buf[512];

        xsprintf(buf, "MemTotal:       4000000 kB\nMemFree:        %" PRIu64 " kB\n"
                        "MemAvailable:   %" PRIu64 " kB\nSwapTotal:      1048572 kB\nSwapFree:  1000000 kB\n",
                        avail_kb, avail_kb);
        fake_write(root, "proc/meminfo", buf);
}

/* zram0 holds 512 MiB of decompressed data; RAM is plentiful; no memcg is limited. */
static void setup(void) {
        root = fake_root_new();
        fake_write(root, "proc/swaps",
                   "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
                   "/dev/zram0                              partition\t1048572\t\t131072\t\t100\n");
        fake_write(root, "sys/block/zram0/mm_stat", "536870912 134217728 140000000 0 140000000 0 0 0 0\n");
        fake_write(root, "sys/block/zram0/dev", "252:0\n");
        fake_write(root, "dev/zram0", "not a block device\n");
        meminfo(3000000);
        fake_write(root, "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
        fake_write(root, "sys/fs/cgroup/memory/memory.usage_in_bytes", "1000000000\n");
        fake_write(root, "sys/fs/cgroup/memory/memory.stat", "cache 0\ntotal_swapcached 0\ntotal_swap 0\n");
}

static void teardown(void) {
        fake_root_free(root);
}

static int reclaim(uint16_t flags) {
        HelperProc p = helper_proc_start("mgd-swap-helper", root, NULL);
        ProtoRequest req = test_request(PROTO_SWAP_RECLAIM, flags, NULL, 0);
        ProtoReply rep;
        int r;

        r = helper_proc_call(&p, &req, &rep, NULL);
        if (r < 0) {
                ck_assert_uint_eq(rep.swap_reclaim.devices, 0);
                ck_assert_uint_eq(rep.swap_reclaim.bytes, 0);
        }
        assert_lockdown(p.pid, CAPBIT(CAP_SYS_ADMIN), CAPBIT(CAP_SYS_ADMIN), true, true);
        helper_proc_hangup(&p);
        return r;
}

START_TEST(test_probe) {
        bool admin = proc_status_field(getpid(), "CapPrm") & CAPBIT(CAP_SYS_ADMIN);

        ck_assert_int_eq(reclaim(PROTO_FLAG_PROBE), admin ? 0 : -EPERM);
}
END_TEST

START_TEST(test_all_checks_pass_but_dev_node_is_no_block_device) {
        /* everything in order up to the device node, which is a regular file here */
        ck_assert_int_eq(reclaim(0), -ENODEV);
}
END_TEST

START_TEST(test_refuses_short_headroom) {
        meminfo(600 * 1024);            /* 600 MiB available < 512 MiB + 256 MiB margin */
        ck_assert_int_eq(reclaim(0), -ENOMEM);
}
END_TEST

START_TEST(test_refuses_v1_memcg_at_limit) {
        /* 250 MiB used + 10 MiB in swap + 16 MiB margin > 256 MiB */
        fake_write(root, "sys/fs/cgroup/memory/app/memory.limit_in_bytes", "268435456\n");
        fake_write(root, "sys/fs/cgroup/memory/app/memory.usage_in_bytes", "262144000\n");
        fake_write(root, "sys/fs/cgroup/memory/app/memory.stat", "cache 0\ntotal_swapcached 1\ntotal_swap 10485760\n");
        ck_assert_int_eq(reclaim(0), -EDQUOT);
}
END_TEST

START_TEST(test_v1_memcg_with_room_passes) {
        fake_write(root, "sys/fs/cgroup/memory/app/memory.limit_in_bytes", "1073741824\n");
        fake_write(root, "sys/fs/cgroup/memory/app/memory.usage_in_bytes", "262144000\n");
        fake_write(root, "sys/fs/cgroup/memory/app/memory.stat", "total_swap 10485760\n");
        ck_assert_int_eq(reclaim(0), -ENODEV);          /* got as far as the device node */
}
END_TEST

START_TEST(test_v1_memcg_without_swap_counter_assumes_worst) {
        /* no total_swap: the whole 512 MiB of zram might be charged here */
        fake_write(root, "sys/fs/cgroup/memory/app/memory.limit_in_bytes", "1073741824\n");
        fake_write(root, "sys/fs/cgroup/memory/app/memory.usage_in_bytes", "629145600\n");
        fake_write(root, "sys/fs/cgroup/memory/app/memory.stat", "cache 0\n");
        ck_assert_int_eq(reclaim(0), -EDQUOT);
}
END_TEST

START_TEST(test_refuses_v2_memcg_at_limit) {
        fake_write(root, "sys/fs/cgroup/memory.stat", "anon 0\n");
        fake_write(root, "sys/fs/cgroup/user.slice/memory.max", "max\n");
        fake_write(root, "sys/fs/cgroup/user.slice/memory.current", "900000000\n");
        fake_write(root, "sys/fs/cgroup/user.slice/app/memory.max", "536870912\n");
        fake_write(root, "sys/fs/cgroup/user.slice/app/memory.current", "524288000\n");
        fake_write(root, "sys/fs/cgroup/user.slice/app/memory.swap.current", "0\n");
        ck_assert_int_eq(reclaim(0), -EDQUOT);
}
END_TEST

START_TEST(test_refuses_too_deep) {
        char rel[1024] = "sys/fs/cgroup/memory";

        for (int i = 0; i < 17; i++)
                strcat(rel, "/d");
        fake_mkdir(root, rel);
        ck_assert_int_eq(reclaim(0), -E2BIG);
}
END_TEST

START_TEST(test_never_touches_disk_swap_or_lookalikes) {
        fake_write(root, "proc/swaps",
                   "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
                   "/dev/vda2                               partition\t1048572\t\t131072\t\t-2\n"
                   "/swapfile                               file\t\t1048572\t\t131072\t\t-3\n"
                   "/dev/zram01                             partition\t1048572\t\t131072\t\t5\n"
                   "/home/u/dev/zram0                       partition\t1048572\t\t131072\t\t4\n"
                   "/dev/zram0                              file\t\t1048572\t\t131072\t\t3\n");
        HelperProc p = helper_proc_start("mgd-swap-helper", root, NULL);
        ProtoRequest req = test_request(PROTO_SWAP_RECLAIM, 0, NULL, 0);
        ProtoReply rep;

        /* even with no headroom at all: none of these is ours to cycle */
        meminfo(1);
        ck_assert_int_eq(helper_proc_call(&p, &req, &rep, NULL), 0);
        ck_assert_uint_eq(rep.swap_reclaim.devices, 0);
        helper_proc_hangup(&p);
}
END_TEST

START_TEST(test_malformed_payload) {
        HelperProc p = helper_proc_start("mgd-swap-helper", root, NULL);
        ProtoRequest req = test_request(PROTO_SWAP_RECLAIM, 0, NULL, 0);

        /* "no input" is enforced: one byte of payload is a violation */
        req.raw[_i] = 1;
        helper_proc_expect_exit(&p, &req, sizeof(req), -1, HELPER_EXIT_PROTOCOL);
}
END_TEST

START_TEST(test_malformed_other) {
        uint8_t buf[sizeof(ProtoRequest) + 1] = {};
        ProtoRequest req = test_request(PROTO_SWAP_RECLAIM, 0, NULL, 0);
        HelperProc p;

        memcpy(buf, &req, sizeof(req));
        p = helper_proc_start("mgd-swap-helper", root, NULL);
        helper_proc_expect_exit(&p, buf, sizeof(buf), -1, HELPER_EXIT_PROTOCOL);
        p = helper_proc_start("mgd-swap-helper", root, NULL);
        helper_proc_expect_exit(&p, &req, sizeof(req), STDERR_FILENO, HELPER_EXIT_PROTOCOL);
        req.hdr.type = PROTO_CHECKPOINT_DISCARD;
        req.checkpoint_image.image_id = 1;
        p = helper_proc_start("mgd-swap-helper", root, NULL);
        helper_proc_expect_exit(&p, &req, sizeof(req), -1, HELPER_EXIT_PROTOCOL);
}
END_TEST

static Suite *swap_helper_suite(void) {
        Suite *s = suite_create("swap-helper");
        TCase *tc = tcase_create("fake-root");

        tcase_add_unchecked_fixture(tc, fake_base_setup, fake_base_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_probe);
        tcase_add_test(tc, test_all_checks_pass_but_dev_node_is_no_block_device);
        tcase_add_test(tc, test_refuses_short_headroom);
        tcase_add_test(tc, test_refuses_v1_memcg_at_limit);
        tcase_add_test(tc, test_v1_memcg_with_room_passes);
        tcase_add_test(tc, test_v1_memcg_without_swap_counter_assumes_worst);
        tcase_add_test(tc, test_refuses_v2_memcg_at_limit);
        tcase_add_test(tc, test_refuses_too_deep);
        tcase_add_test(tc, test_never_touches_disk_swap_or_lookalikes);
        tcase_add_loop_test(tc, test_malformed_payload, 0, (int) sizeof(((ProtoRequest *) NULL)->raw));
        tcase_add_test(tc, test_malformed_other);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(swap_helper_suite)
