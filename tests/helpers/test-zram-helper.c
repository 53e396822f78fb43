/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgd-zram-helper over a real socketpair, against a fake /proc/swaps and /sys/block whose compact
 * nodes are FIFOs, so the test sees exactly what was (or was not) written.
 */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/privsep.h"
#include "tests/check-main.h"
#include "tests/helpers/helper-test.h"

#define MiB (UINT64_C(1) << 20)

static char *root;
static int compact[6] = { -1, -1, -1, -1, -1, -1 };

/*
 * zram0: a zram swap with 32 MiB in use. zram1: not a swap. "/dev/zram01", "/tmp/dev/zram2": lookalike
 * names in /proc/swaps. zram3: swapped as a "file". zram4: a swap without sysfs. zram5: 2 MiB in use.
 */
static void setup(void) {
        root = fake_root_new();
        fake_write(root, "proc/swaps",
                   "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
                   "/dev/zram0                              partition\t1048572\t\t32768\t\t100\n"
                   "/dev/zram01                             partition\t1048572\t\t0\t\t50\n"
                   "/tmp/dev/zram2                          partition\t1048572\t\t0\t\t40\n"
                   "/dev/zram3                              file\t\t1048572\t\t0\t\t30\n"
                   "/dev/zram4                              partition\t1048572\t\t0\t\t20\n"
                   "/dev/zram5                              partition\t1048572\t\t0\t\t10\n");
        for (int i = 0; i < 6; i++) {
                char rel[64];

                if (i == 4)
                        continue;
                xsprintf(rel, "sys/block/zram%d/mm_stat", i);
                fake_write(root, rel, i == 5 ? "4194304 1048576 2097152 0 2097152 0 0 0 0\n" :
                                              "134217728 16777216 33554432 0 33554432 0 0 0 0\n");
                xsprintf(rel, "sys/block/zram%d/compact", i);
                compact[i] = fake_fifo(root, rel);
        }
}

static void teardown(void) {
        for (int i = 0; i < 6; i++)
                if (compact[i] >= 0)
                        (void) close(compact[i]);
        fake_root_free(root);
}

static ProtoRequest compact_req(uint32_t dev, uint64_t min, uint16_t flags) {
        ProtoZramCompact z = { .device = dev, .min_used_bytes = min };

        return test_request(PROTO_ZRAM_COMPACT, flags, &z, sizeof(z));
}

static bool compacted(int dev) {
        char c[8];
        ssize_t n = read(compact[dev], c, sizeof(c));

        if (n < 0)
                return false;
        ck_assert_int_eq(n, 1);
        ck_assert_int_eq(c[0], '1');
        return true;
}

START_TEST(test_compact) {
        HelperProc p = helper_proc_start("mgd-zram-helper", root, NULL);
        ProtoRequest req = compact_req(0, MiB, 0);
        ProtoReply rep;

        ck_assert_int_eq(helper_proc_call(&p, &req, &rep, NULL), 0);
        ck_assert(compacted(0));
        ck_assert_uint_eq(rep.zram_compact.used_before, 32 * MiB);
        ck_assert_uint_eq(rep.zram_compact.used_after, 32 * MiB);
        assert_lockdown(p.pid, 0, 0, true, true);
        /* it serves more than one */
        ck_assert_int_eq(helper_proc_call(&p, &req, &rep, NULL), 0);
        ck_assert(compacted(0));
        helper_proc_hangup(&p);
}
END_TEST

START_TEST(test_probe_writes_nothing) {
        HelperProc p = helper_proc_start("mgd-zram-helper", root, NULL);
        ProtoRequest req = compact_req(5, 0, PROTO_FLAG_PROBE);        /* below the floor: still a grant answer */

        ck_assert_int_eq(helper_proc_call(&p, &req, NULL, NULL), 0);
        ck_assert(!compacted(5));
        helper_proc_hangup(&p);
}
END_TEST

static const struct {
        uint32_t dev;
        uint64_t min;
        int error;
} refusals[] = {
        { 1, 0, -ENODEV },              /* not a swap at all */
        { 2, 0, -ENODEV },              /* only lookalikes named 2 */
        { 3, 0, -ENODEV },              /* a swap file, not the block device */
        { 4, 0, -ENODEV },              /* swap, but no zram in sysfs */
        { 6, 0, -ENODEV },              /* nothing */
        { 0, 64 * MiB, -EAGAIN },       /* 32 MiB in use, the daemon wants 64 */
        { 5, 0, -EAGAIN },              /* 2 MiB in use: below the helper's floor whatever we ask */
        { 5, MiB, -EAGAIN },
};

START_TEST(test_refused) {
        HelperProc p = helper_proc_start("mgd-zram-helper", root, NULL);
        ProtoRequest req = compact_req(refusals[_i].dev, refusals[_i].min, 0);

        ck_assert_int_eq(helper_proc_call(&p, &req, NULL, NULL), refusals[_i].error);
        for (int i = 0; i < 6; i++)
                if (compact[i] >= 0)
                        ck_assert(!compacted(i));
        helper_proc_hangup(&p);
}
END_TEST

static void reserved(ProtoRequest *r) { r->zram_compact.reserved0 = 1; }
static void trailing(ProtoRequest *r) { r->raw[20] = 1; }
static void flags(ProtoRequest *r) { r->hdr.flags = 2; }
static void version(ProtoRequest *r) { r->hdr.version = 0; }
static void psi_type(ProtoRequest *r) { r->hdr.type = PROTO_PSI_ARM; memset(r->raw, 0, sizeof(r->raw)); }

static void (*const mangles[])(ProtoRequest *r) = { reserved, trailing, flags, version, psi_type };

START_TEST(test_malformed) {
        HelperProc p = helper_proc_start("mgd-zram-helper", root, NULL);
        ProtoRequest req = compact_req(0, MiB, 0);

        mangles[_i](&req);
        helper_proc_expect_exit(&p, &req, sizeof(req), -1, HELPER_EXIT_PROTOCOL);
        ck_assert(!compacted(0));
}
END_TEST

START_TEST(test_malformed_length_and_fd) {
        uint8_t buf[sizeof(ProtoRequest) + 1] = {};
        ProtoRequest req = compact_req(0, MiB, 0);
        HelperProc p;

        memcpy(buf, &req, sizeof(req));
        p = helper_proc_start("mgd-zram-helper", root, NULL);
        helper_proc_expect_exit(&p, buf, sizeof(buf), -1, HELPER_EXIT_PROTOCOL);
        p = helper_proc_start("mgd-zram-helper", root, NULL);
        helper_proc_expect_exit(&p, buf, sizeof(req) - 8, -1, HELPER_EXIT_PROTOCOL);
        p = helper_proc_start("mgd-zram-helper", root, NULL);
        helper_proc_expect_exit(&p, &req, sizeof(req), compact[0], HELPER_EXIT_PROTOCOL);
        ck_assert(!compacted(0));
}
END_TEST

static Suite *zram_helper_suite(void) {
        Suite *s = suite_create("zram-helper");
        TCase *tc = tcase_create("fake-root");

        tcase_add_unchecked_fixture(tc, fake_base_setup, fake_base_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_compact);
        tcase_add_test(tc, test_probe_writes_nothing);
        tcase_add_loop_test(tc, test_refused, 0, ELEMENTSOF(refusals));
        tcase_add_loop_test(tc, test_malformed, 0, ELEMENTSOF(mangles));
        tcase_add_test(tc, test_malformed_length_and_fd);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(zram_helper_suite)
