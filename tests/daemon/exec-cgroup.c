/* SPDX-License-Identifier: GPL-2.0-only */
/* The executor's pure cgroup helpers: mountinfo parsing, path validation, the app-scope rule. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "daemon/pidref.h"
#include "tests/check-main.h"

#define L_ROOT "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
#define L_TMPFS "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
#define L_V1 "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
#define L_UNIFIED "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
#define L_PURE "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"

START_TEST(test_mountinfo_hybrid) {
        char buf[PATH_MAX];

        /* This host's layout: v1 controllers, cgroup2 at .../unified. */
        ck_assert_int_eq(cgroup2_root_from_mountinfo(L_ROOT L_TMPFS L_V1 L_UNIFIED, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "/sys/fs/cgroup/unified");
}
END_TEST

START_TEST(test_mountinfo_pure_v2_preferred) {
        char buf[PATH_MAX];

        ck_assert_int_eq(cgroup2_root_from_mountinfo(L_ROOT
                         "50 22 0:40 / /mnt/other\\040cg rw - cgroup2 none rw\n" L_PURE, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "/sys/fs/cgroup");
}
END_TEST

START_TEST(test_mountinfo_escapes_and_first) {
        char buf[PATH_MAX];

        /* Optional fields before "-", an escaped space in the mount point. */
        ck_assert_int_eq(cgroup2_root_from_mountinfo(L_ROOT
                         "50 22 0:40 / /mnt/my\\040cg rw shared:7 master:3 - cgroup2 none rw\n", buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "/mnt/my cg");
}
END_TEST

START_TEST(test_mountinfo_subtree_bind_ignored) {
        char buf[PATH_MAX] = "untouched";

        /* A bind mount of a subtree: /proc/PID/cgroup paths would not map onto it. */
        ck_assert_int_eq(cgroup2_root_from_mountinfo(L_ROOT
                         "50 22 0:40 /user.slice /mnt/cg rw - cgroup2 none rw\n", buf, sizeof(buf)), -ENOMEDIUM);
        ck_assert_int_eq(cgroup2_root_from_mountinfo(L_ROOT L_TMPFS L_V1, buf, sizeof(buf)), -ENOMEDIUM);
        ck_assert_int_eq(cgroup2_root_from_mountinfo("", buf, sizeof(buf)), -ENOMEDIUM);
        ck_assert_str_eq(buf, "untouched");
}
END_TEST

START_TEST(test_mountinfo_malformed) {
        char buf[PATH_MAX], small[8];

        ck_assert_int_eq(cgroup2_root_from_mountinfo("41 31 0:38 /\n", buf, sizeof(buf)), -EINVAL);
        /* No "-" separator. */
        ck_assert_int_eq(cgroup2_root_from_mountinfo("41 31 0:38 / /x rw cgroup2 cgroup2 rw\n", buf, sizeof(buf)),
                         -EINVAL);
        /* Bad escapes: not octal, truncated, NUL. */
        ck_assert_int_eq(cgroup2_root_from_mountinfo("41 31 0:38 / /a\\09x rw - cgroup2 c rw\n", buf, sizeof(buf)),
                         -EINVAL);
        ck_assert_int_eq(cgroup2_root_from_mountinfo("41 31 0:38 / /a\\04 rw - cgroup2 c rw\n", buf, sizeof(buf)),
                         -EINVAL);
        ck_assert_int_eq(cgroup2_root_from_mountinfo("41 31 0:38 / /a\\000 rw - cgroup2 c rw\n", buf, sizeof(buf)),
                         -EINVAL);
        ck_assert_int_eq(cgroup2_root_from_mountinfo(L_UNIFIED, small, sizeof(small)), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_cgroup_path_valid) {
        char longp[PROC_CGROUP_MAX + 8];

        ck_assert(cgroup_path_is_valid("/"));
        ck_assert(cgroup_path_is_valid("/user.slice/user-1000.slice/user@1000.service/app.slice/app-x.scope"));
        ck_assert(cgroup_path_is_valid("/a b/c"));
        ck_assert(!cgroup_path_is_valid(NULL));
        ck_assert(!cgroup_path_is_valid(""));
        ck_assert(!cgroup_path_is_valid("relative/x"));
        ck_assert(!cgroup_path_is_valid("/a//b"));
        ck_assert(!cgroup_path_is_valid("/a/"));
        ck_assert(!cgroup_path_is_valid("/a/../b"));
        ck_assert(!cgroup_path_is_valid("/.."));
        ck_assert(!cgroup_path_is_valid("/a/."));
        /* What /proc/PID/cgroup shows for a cgroup outside our namespace. */
        ck_assert(!cgroup_path_is_valid("/../../user.slice"));
        ck_assert(!cgroup_path_is_valid("/a\nb"));
        ck_assert(cgroup_path_is_valid("/..a/b.."));

        memset(longp, 'a', sizeof(longp));
        longp[0] = '/';
        longp[PROC_CGROUP_MAX] = '\0';
        ck_assert(!cgroup_path_is_valid(longp));
        longp[PROC_CGROUP_MAX - 1] = '\0';
        ck_assert(cgroup_path_is_valid(longp));
}
END_TEST

START_TEST(test_app_scope_rule) {
        ck_assert(cgroup_leaf_is_app_scope("/user.slice/user-1000.slice/user@1000.service/app.slice/"
                                           "app-gnome-firefox-4242.scope"));
        ck_assert(cgroup_leaf_is_app_scope("/app-flatpak-org.gimp.GIMP-1234.scope"));
        ck_assert(cgroup_leaf_is_app_scope("/x/app-k.scope"));
        /* The user manager itself, a login session, a service, the slice: never. */
        ck_assert(!cgroup_leaf_is_app_scope("/user.slice/user-1000.slice/user@1000.service/init.scope"));
        ck_assert(!cgroup_leaf_is_app_scope("/user.slice/user-1000.slice/session-2.scope"));
        ck_assert(!cgroup_leaf_is_app_scope("/user.slice/user-1000.slice/user@1000.service/app.slice/"
                                            "app-firefox@autostart.service"));
        ck_assert(!cgroup_leaf_is_app_scope("/user.slice/user-1000.slice/user@1000.service/app.slice"));
        ck_assert(!cgroup_leaf_is_app_scope("/app-.scope"));
        ck_assert(!cgroup_leaf_is_app_scope("/app-x.scope/child"));
        ck_assert(!cgroup_leaf_is_app_scope("/"));
        ck_assert(!cgroup_leaf_is_app_scope("/../app-x.scope"));
        ck_assert(!cgroup_leaf_is_app_scope("app-x.scope"));
}
END_TEST

static Suite *exec_cgroup_suite(void) {
        Suite *s = suite_create("exec-cgroup");
        TCase *tc = tcase_create("cgroup");

        tcase_add_test(tc, test_mountinfo_hybrid);
        tcase_add_test(tc, test_mountinfo_pure_v2_preferred);
        tcase_add_test(tc, test_mountinfo_escapes_and_first);
        tcase_add_test(tc, test_mountinfo_subtree_bind_ignored);
        tcase_add_test(tc, test_mountinfo_malformed);
        tcase_add_test(tc, test_cgroup_path_valid);
        tcase_add_test(tc, test_app_scope_rule);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(exec_cgroup_suite)
