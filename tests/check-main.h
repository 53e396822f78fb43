/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Every check-based test binary ends with MGD_CHECK_MAIN(suite_function). It writes TAP to
 * stdout (one "ok"/"not ok" line per test case) so the suite runner counts every test, not
 * every binary; register the binary in meson with protocol : 'tap'.
 */

#include <check.h>
#include <stdlib.h>

#define MGD_CHECK_MAIN(make_suite)                                      \
        int main(void) {                                                \
                SRunner *sr = srunner_create(make_suite());             \
                int failed;                                             \
                srunner_set_tap(sr, "-");                               \
                srunner_run_all(sr, CK_SILENT);                         \
                failed = srunner_ntests_failed(sr);                     \
                srunner_free(sr);                                       \
                return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;       \
        }
