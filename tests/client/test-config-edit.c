/* SPDX-License-Identifier: GPL-2.0-only */
/* client/config-edit.c on fixture configurations: exact results, and each result loads. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "../check-main.h"
#include "../common/fixture.h"
#include "client/config-edit.h"
#include "daemon/config.h"

static const ConfigSetting both[] = {
        { "elevated_threshold", "0.08" },
        { "target_available_pct", "14" },
};

static char *load_fixture(const char *name) {
        char path[PATH_MAX], buf[8192];
        size_t len = 0;

        ck_assert_int_lt(snprintf(path, sizeof path, "%s/calibrate/%s", getenv("FIXTURES"), name), (int) sizeof path);
        ck_assert_msg(read_small_file(path, buf, sizeof buf, &len) == 0, "cannot read %s", path);
        return strndup(buf, len);
}

/* The edited text, loaded through the real loader as the user layer. */
static void assert_loads(const char *text, double elevated, double target) {
        char *dir = tmptree_new();
        ConfigPaths paths = {};
        PolicyConfig c = {};
        ConfigError err = {};

        write_text(dir, "mgd.conf", text);
        ck_assert_int_lt(snprintf(paths.user, sizeof paths.user, "%s/mgd.conf", dir), (int) sizeof paths.user);
        ck_assert_msg(config_load(&paths, &c, &err, NULL, NULL) == 0, "does not load: %s\n%s", err.message, text);
        ck_assert_double_eq_tol(c.level_threshold[LEVEL_ELEVATED], elevated, 1e-9);
        ck_assert_double_eq_tol(c.target_available_pct, target, 1e-9);
        config_free(&c);
        tmptree_rm(dir);
}

START_TEST(test_fixtures) {
        static const char *const names[] = {
                "with-defaults", "no-defaults", "crlf", "header-last", "no-newline", "empty",
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char in[64], want[64];
                _cleanup_free_ char *text = NULL, *expected = NULL, *out = NULL;

                (void) snprintf(in, sizeof in, "%s.conf", names[i]);
                (void) snprintf(want, sizeof want, "%s.expected", names[i]);
                text = load_fixture(in);
                expected = load_fixture(want);
                ck_assert_int_eq(config_edit_defaults(text, both, ELEMENTSOF(both), "set by mgctl calibrate", &out), 0);
                ck_assert_msg(strcmp(out, expected) == 0, "%s:\n--- got ---\n%s--- want ---\n%s", names[i], out, expected);
                assert_loads(out, 0.08, 14);
        }
}
END_TEST

/* A missing file, a second application (idempotent), and every protection kept. */
START_TEST(test_missing_and_again) {
        _cleanup_free_ char *once = NULL, *twice = NULL, *text = load_fixture("with-defaults.conf");

        ck_assert_int_eq(config_edit_defaults(NULL, both, 1, NULL, &once), 0);
        ck_assert_str_eq(once, "[defaults]\nelevated_threshold = 0.08\n");
        free(once);
        once = NULL;
        ck_assert_int_eq(config_edit_defaults(text, both, ELEMENTSOF(both), "set by mgctl calibrate", &once), 0);
        ck_assert_int_eq(config_edit_defaults(once, both, ELEMENTSOF(both), "set by mgctl calibrate", &twice), 0);
        ck_assert_str_eq(once, twice);
        /* the other sections survive byte for byte */
        ck_assert_ptr_nonnull(strstr(twice, "[app \"my-server\"]\npattern = ^my-server$\npriority = 25\nelevated_threshold = 0.5\n"));
        ck_assert_ptr_nonnull(strstr(twice, "[protect \"vpn\"]\npattern = ^(openvpn|wg-quick)$\n"));
}
END_TEST

/* A value without spaces or comment, a key that only starts like ours, a tab before the comment. */
START_TEST(test_lines) {
        static const struct { const char *in, *out; } t[] = {
                { "[defaults]\nelevated_threshold=0.05\n", "[defaults]\nelevated_threshold=0.08\n" },
                { "[defaults]\nelevated_threshold = 0.05\t; why\n", "[defaults]\nelevated_threshold = 0.08\t; why\n" },
                { "[defaults]\nelevated_thresholds = 1\n", "[defaults]\nelevated_thresholds = 1\nelevated_threshold = 0.08\n" },
                { "[defaults] ; the scalars\n# elevated_threshold = 0.01\n",
                  "[defaults] ; the scalars\nelevated_threshold = 0.08\n# elevated_threshold = 0.01\n" },
                { "\xef\xbb\xbf[defaults]\nx = 1\n", "\xef\xbb\xbf[defaults]\nx = 1\nelevated_threshold = 0.08\n" },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *out = NULL;

                ck_assert_int_eq(config_edit_defaults(t[i].in, both, 1, NULL, &out), 0);
                ck_assert_msg(strcmp(out, t[i].out) == 0, "case %zu: got '%s'", i, out);
        }
}
END_TEST

static Suite *edit_suite(void) {
        Suite *s = suite_create("config-edit");
        TCase *tc = tcase_create("config-edit");

        tcase_add_test(tc, test_fixtures);
        tcase_add_test(tc, test_missing_and_again);
        tcase_add_test(tc, test_lines);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(edit_suite)
