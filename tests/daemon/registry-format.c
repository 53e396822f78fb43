/* SPDX-License-Identifier: GPL-2.0-only */
/* The registry's line format: round trips, percent-encoding, and every kind of malformed line. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "daemon/registry.h"
#include "tests/check-main.h"

static RegistryEntry entry(pid_t pid, const char *name, RegistryHow how) {
        RegistryEntry e = {
                .pid = pid,
                .starttime = 123456,
                .priority = 80,
                .footprint_kb = 204800,
                .how = how,
                .since_realtime = 1732252800,
                .restore_failures = 2,
        };

        snprintf(e.name, sizeof(e.name), "%s", name);
        if (how == REGISTRY_CGROUP)
                strcpy(e.cgroup, "/user.slice/user-1000.slice/user@1000.service/app.slice/app-x-1.scope");
        if (how == REGISTRY_CHECKPOINT)
                strcpy(e.image_dir, "/home/u/.local/state/mgd/images/4242");
        return e;
}

static void round_trip(const RegistryEntry *e, const char *want_line) {
        char buf[REGISTRY_LINE_MAX], err[128] = "";
        RegistryEntry back;
        size_t len;

        ck_assert_int_eq(registry_entry_format(e, buf, sizeof(buf), &len), 0);
        ck_assert_uint_eq(len, strlen(buf));
        ck_assert_int_eq(buf[len - 1], '\n');
        if (want_line)
                ck_assert_str_eq(buf, want_line);
        buf[len - 1] = '\0';
        ck_assert_msg(registry_entry_parse(buf, &back, err, sizeof(err)) == 0, "%s: %s", buf, err);
        ck_assert_int_eq(back.pid, e->pid);
        ck_assert_uint_eq(back.starttime, e->starttime);
        ck_assert_str_eq(back.name, e->name);
        ck_assert_int_eq(back.priority, e->priority);
        ck_assert_uint_eq(back.footprint_kb, e->footprint_kb);
        ck_assert_int_eq(back.how, e->how);
        ck_assert_str_eq(back.cgroup, e->cgroup);
        ck_assert_uint_eq(back.since_realtime, e->since_realtime);
        ck_assert_uint_eq(back.restore_failures, e->restore_failures);
        ck_assert_str_eq(back.image_dir, e->image_dir);
}

START_TEST(test_format_exact) {
        RegistryEntry e = entry(4242, "Web Content", REGISTRY_SIGSTOP);

        round_trip(&e, "pid=4242 starttime=123456 how=sigstop since=1732252800 priority=80 "
                       "footprint_kb=204800 restore_failures=2 name=Web%20Content\n");
        e = entry(7, "gimp", REGISTRY_CGROUP);
        round_trip(&e, "pid=7 starttime=123456 how=cgroup since=1732252800 priority=80 footprint_kb=204800 "
                       "restore_failures=2 name=gimp cgroup=/user.slice/user-1000.slice/user@1000.service/"
                       "app.slice/app-x-1.scope\n");
        e = entry(9, "code", REGISTRY_CHECKPOINT);
        round_trip(&e, NULL);
}
END_TEST

START_TEST(test_awkward_names_survive) {
        static const char *const names[] = {
                "a=b c", "100%", "x)y (z", "tab\there", "new\nline", "\xc3\xa9t\xc3\xa9", "", "%41", "-_.:/@+,~",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                RegistryEntry e = entry(100 + (pid_t) i, names[i], REGISTRY_SIGSTOP);
                char buf[REGISTRY_LINE_MAX];

                round_trip(&e, NULL);
                /* One line, one space between fields: no raw space, '=' or newline inside a value. */
                ck_assert_int_eq(registry_entry_format(&e, buf, sizeof(buf), NULL), 0);
                ck_assert_ptr_eq(strchr(buf, '\n'), buf + strlen(buf) - 1);
                ck_assert_ptr_null(strchr(strstr(buf, " name=") + 6, ' '));
                ck_assert_ptr_null(strchr(strstr(buf, " name=") + 6, '='));
        }
}
END_TEST

START_TEST(test_format_rejects_invalid_entries) {
        RegistryEntry e = entry(1, "x", REGISTRY_SIGSTOP);
        char buf[REGISTRY_LINE_MAX], small[32];
        const char *what = NULL;

        ck_assert_int_eq(registry_entry_format(&e, small, sizeof(small), NULL), -ENOBUFS);
        e.priority = 101;
        ck_assert_int_eq(registry_entry_validate(&e, &what), -EINVAL);
        ck_assert_str_eq(what, "priority");
        ck_assert_int_eq(registry_entry_format(&e, buf, sizeof(buf), NULL), -EINVAL);

        e = entry(1, "x", REGISTRY_SIGSTOP);
        strcpy(e.cgroup, "/app-x.scope");       /* a cgroup on a SIGSTOP entry */
        ck_assert_int_eq(registry_entry_validate(&e, &what), -EINVAL);
        ck_assert_str_eq(what, "cgroup");
        e = entry(1, "x", REGISTRY_CGROUP);
        strcpy(e.cgroup, "/");
        ck_assert_int_eq(registry_entry_validate(&e, NULL), -EINVAL);
        strcpy(e.cgroup, "/a/../b");
        ck_assert_int_eq(registry_entry_validate(&e, NULL), -EINVAL);
        e = entry(1, "x", REGISTRY_CHECKPOINT);
        strcpy(e.image_dir, "relative");
        ck_assert_int_eq(registry_entry_validate(&e, &what), -EINVAL);
        ck_assert_str_eq(what, "image");
        e = entry(0, "x", REGISTRY_SIGSTOP);
        ck_assert_int_eq(registry_entry_validate(&e, &what), -EINVAL);
        ck_assert_str_eq(what, "pid");
}
END_TEST

#define GOOD "pid=5 starttime=6 how=sigstop since=7 priority=50 footprint_kb=8 restore_failures=0 name=n"

static void bad(const char *line, const char *want_err) {
        char err[128] = "";
        RegistryEntry e;

        ck_assert_msg(registry_entry_parse(line, &e, err, sizeof(err)) == -EINVAL, "accepted: %s", line);
        ck_assert_msg(strstr(err, want_err), "'%s': got error '%s', want '%s'", line, err, want_err);
}

START_TEST(test_parse_good) {
        char err[128];
        RegistryEntry e;

        ck_assert_int_eq(registry_entry_parse(GOOD, &e, err, sizeof(err)), 0);
        ck_assert_int_eq(e.pid, 5);
        ck_assert_uint_eq(e.starttime, 6);
        /* Field order is free. */
        ck_assert_int_eq(registry_entry_parse("name=n restore_failures=0 footprint_kb=8 priority=50 since=7 "
                                              "how=sigstop starttime=6 pid=5", &e, err, sizeof(err)), 0);
        ck_assert_int_eq(registry_entry_parse(GOOD " cgroup=/x/app-a.scope", &e, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(test_parse_bad_lines) {
        bad("", "empty line");
        bad(GOOD " pid=6", "duplicate key 'pid'");
        bad(GOOD " colour=blue", "unknown key 'colour'");
        bad(GOOD " junk", "field without '='");
        bad(GOOD " ", "field without '='");
        bad(GOOD "  x=1", "field without '='");
        bad("pid=5 starttime=6 how=sigstop since=7 priority=50 footprint_kb=8 name=n", "missing key 'restore_failures'");
        bad("starttime=6 how=sigstop since=7 priority=50 footprint_kb=8 restore_failures=0 name=n", "missing key 'pid'");
        bad("pid=-5 starttime=6 how=sigstop since=7 priority=50 footprint_kb=8 restore_failures=0 name=n",
            "bad value for 'pid'");
        bad("pid=0 starttime=6 how=sigstop since=7 priority=50 footprint_kb=8 restore_failures=0 name=n",
            "bad value for 'pid'");
        bad("pid=99999999 starttime=6 how=sigstop since=7 priority=50 footprint_kb=8 restore_failures=0 name=n",
            "bad value for 'pid'");
        bad("pid=5 starttime=18446744073709551616 how=sigstop since=7 priority=50 footprint_kb=8 restore_failures=0 "
            "name=n", "bad value for 'starttime'");
        bad("pid=5 starttime=6 how=stopped since=7 priority=50 footprint_kb=8 restore_failures=0 name=n",
            "bad value for 'how'");
        bad("pid=5 starttime=6 how=sigstop since=7 priority=101 footprint_kb=8 restore_failures=0 name=n",
            "bad value for 'priority'");
        bad("pid=5 starttime=6 how=sigstop since=7 priority=5x footprint_kb=8 restore_failures=0 name=n",
            "bad value for 'priority'");
        bad("pid=5 starttime=6 how=sigstop since=7 priority=50 footprint_kb= restore_failures=0 name=n",
            "bad value for 'footprint_kb'");
        bad(GOOD "%2", "bad encoding");
        bad(GOOD "%zz", "bad encoding");
        bad(GOOD "%00x", "bad encoding");
        bad(GOOD "\t", "bad encoding");
        bad(GOOD "\xc3\xa9", "bad encoding");
        bad("pid=5 starttime=6 how=cgroup since=7 priority=50 footprint_kb=8 restore_failures=0 name=n",
            "invalid or misplaced 'cgroup'");
        bad("pid=5 starttime=6 how=cgroup since=7 priority=50 footprint_kb=8 restore_failures=0 name=n "
            "cgroup=/a/../b", "'cgroup'");
        /* only an app's own scope is ever frozen through its cgroup: a slice or service is not */
        bad("pid=5 starttime=6 how=cgroup since=7 priority=50 footprint_kb=8 restore_failures=0 name=n "
            "cgroup=/system.slice", "'cgroup'");
        bad("pid=5 starttime=6 how=cgroup since=7 priority=50 footprint_kb=8 restore_failures=0 name=n "
            "cgroup=/user.slice/user-1000.slice/session-2.scope", "'cgroup'");
        bad("pid=5 starttime=6 how=checkpoint since=7 priority=50 footprint_kb=8 restore_failures=0 name=n",
            "'image'");
        bad(GOOD " image=/x", "'image'");
        bad("pid=5 starttime=6 how=sigstop since=7 priority=50 footprint_kb=8 restore_failures=0 "
            "name=0123456789012345678901234567890123456789012345678901234567890123456789", "'name'");
}
END_TEST

START_TEST(test_error_text_is_sanitized) {
        char err[128] = "";
        RegistryEntry e;

        ck_assert_int_eq(registry_entry_parse(GOOD " \x1b[31mevil=1", &e, err, sizeof(err)), -EINVAL);
        ck_assert_ptr_null(strchr(err, '\x1b'));
        ck_assert_ptr_nonnull(strstr(err, "unknown key"));
}
END_TEST

START_TEST(test_how_strings) {
        ck_assert_str_eq(registry_how_to_string(REGISTRY_SIGSTOP), "sigstop");
        ck_assert_str_eq(registry_how_to_string(REGISTRY_CGROUP), "cgroup");
        ck_assert_str_eq(registry_how_to_string(REGISTRY_CHECKPOINT), "checkpoint");
        ck_assert_ptr_null(registry_how_to_string(_REGISTRY_HOW_MAX));
        ck_assert_int_eq(registry_how_from_string("cgroup"), REGISTRY_CGROUP);
        ck_assert_int_eq(registry_how_from_string("SIGSTOP"), -EINVAL);
        ck_assert_int_eq(registry_how_freeze_method(REGISTRY_CGROUP), FREEZE_CGROUP);
        ck_assert_int_eq(registry_how_freeze_method(REGISTRY_SIGSTOP), FREEZE_SIGSTOP);
        ck_assert_int_eq(registry_how_freeze_method(REGISTRY_CHECKPOINT), FREEZE_NONE);
}
END_TEST

static Suite *registry_format_suite(void) {
        Suite *s = suite_create("registry-format");
        TCase *tc = tcase_create("format");

        tcase_add_test(tc, test_format_exact);
        tcase_add_test(tc, test_awkward_names_survive);
        tcase_add_test(tc, test_format_rejects_invalid_entries);
        tcase_add_test(tc, test_parse_good);
        tcase_add_test(tc, test_parse_bad_lines);
        tcase_add_test(tc, test_error_text_is_sanitized);
        tcase_add_test(tc, test_how_strings);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(registry_format_suite)
