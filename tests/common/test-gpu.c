/* SPDX-License-Identifier: GPL-2.0-only */
/* GPU residency from DRM fdinfo. The fd links are made at run time (symlinks to /dev/dri/...). */

#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/macro.h"
#include "common/readers.h"
#include "tests/check-main.h"
#include "tests/common/fixture.h"

#define PID 4321

static char *gpu_tree(void) {
        char *dir = tmptree_new(), path[PATH_MAX];

        snprintf(path, sizeof path, "%s/%d", dir, PID);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/%d/fd", dir, PID);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/%d/fdinfo", dir, PID);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        return dir;
}

static void add_fd(const char *dir, int fd, const char *target, const char *fdinfo_rel) {
        char path[PATH_MAX], buf[4096];
        size_t len;

        snprintf(path, sizeof path, "%s/%d/fd/%d", dir, PID, fd);
        ck_assert_int_eq(symlink(target, path), 0);
        if (!fdinfo_rel)
                return;
        len = fixture_load(fdinfo_rel, buf, sizeof buf);
        snprintf(path, sizeof path, "%s/%d/fdinfo/%d", dir, PID, fd);
        write_file(path, buf, len);
}

START_TEST(test_gpu_sum) {
        char *dir = gpu_tree();
        uint64_t kb = 0;

        add_fd(dir, 3, "/dev/dri/renderD128", "gpu/fdinfo/3");
        add_fd(dir, 4, "/dev/dri/renderD128", "gpu/fdinfo/4");      /* dup() of 3: same client */
        add_fd(dir, 5, "/home/user/file", "gpu/fdinfo/5");         /* not DRM: its lines are ignored */
        add_fd(dir, 6, "/dev/dri/card0", "gpu/fdinfo/6");
        add_fd(dir, 7, "/dev/dri/renderD128", "gpu/fdinfo/7");      /* no drm-resident line */
        add_fd(dir, 8, "/dev/dri/renderD129", "gpu/fdinfo/8");      /* shared > resident: 0 */
        add_fd(dir, 9, "socket:[1234]", NULL);
        add_fd(dir, 10, "/dev/dri/renderD128", NULL);               /* closed before its fdinfo was read */
        ck_assert_int_eq(proc_gpu_resident_kb(dir, PID, &kb), 0);
        /* client 7: 64 MiB + 512 KiB - 4 MiB; client 8: 1 MiB + 1 GiB - 2048 B */
        ck_assert_uint_eq(kb, (UINT64_C(63438848) + UINT64_C(1074788352)) / 1024);
        tmptree_rm(dir);
}
END_TEST

START_TEST(test_gpu_none) {
        char *dir = gpu_tree();
        uint64_t kb = 99;

        add_fd(dir, 0, "/dev/null", NULL);
        add_fd(dir, 5, "/home/user/file", "gpu/fdinfo/5");
        ck_assert_int_eq(proc_gpu_resident_kb(dir, PID, &kb), 0);
        ck_assert_uint_eq(kb, 0);
        kb = 99;
        ck_assert_int_eq(proc_gpu_resident_kb(dir, PID + 1, &kb), -ENOENT);
        ck_assert_uint_eq(kb, 99);
        tmptree_rm(dir);
}
END_TEST

START_TEST(test_gpu_prefix_only) {
        char *dir = gpu_tree();
        uint64_t kb = 0;

        /* Only the /dev/dri/ prefix makes an fd a DRM node; "/dev/drivers" is not one. */
        add_fd(dir, 3, "/dev/drivers/x", "gpu/fdinfo/3");
        add_fd(dir, 4, "/dev/dri", "gpu/fdinfo/3");
        ck_assert_int_eq(proc_gpu_resident_kb(dir, PID, &kb), 0);
        ck_assert_uint_eq(kb, 0);
        tmptree_rm(dir);
}
END_TEST

static const struct {
        const char *name;
        int r;
} bad[] = {
        { "gpu/bad/unit", -EINVAL },
        { "gpu/bad/overflow", -ERANGE },
        { "gpu/bad/sum-overflow", -ERANGE },
        { "gpu/bad/negative", -EINVAL },
        { "gpu/bad/garbage-line", -EINVAL },
        { "gpu/bad/dup-client-id", -EINVAL },
        { "gpu/bad/client-id-garbage", -EINVAL },
        { "gpu/bad/empty-region", -EINVAL },
        { "gpu/bad/no-number", -EINVAL },
        { "gpu/bad/no-newline", -EINVAL },
};

START_TEST(test_gpu_malformed) {
        char *dir = gpu_tree();
        uint64_t kb = 99;
        int r;

        add_fd(dir, 3, "/dev/dri/renderD128", bad[_i].name);
        r = proc_gpu_resident_kb(dir, PID, &kb);
        ck_assert_msg(r == bad[_i].r, "%s: got %d, want %d", bad[_i].name, r, bad[_i].r);
        ck_assert_uint_eq(kb, 99);
        tmptree_rm(dir);
}
END_TEST

static Suite *gpu_suite(void) {
        Suite *s = suite_create("gpu");
        TCase *tc = tcase_create("gpu");

        tcase_add_test(tc, test_gpu_sum);
        tcase_add_test(tc, test_gpu_none);
        tcase_add_test(tc, test_gpu_prefix_only);
        tcase_add_loop_test(tc, test_gpu_malformed, 0, ELEMENTSOF(bad));
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(gpu_suite)
