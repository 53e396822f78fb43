/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Every check-based test binary ends with MGD_CHECK_MAIN(suite_function). It writes TAP to
 * stdout (one "ok"/"not ok" line per test case) so the suite runner counts every test, not
 * every binary; register the binary in meson with protocol : 'tap'.
 *
 * A case whose probe finds that the host kernel cannot do what it tests calls
 * MGD_SKIP("reason", ...): check has no skips, so the case ends as a failure whose message
 * starts with "SKIP: ", and the TAP written here turns exactly that into "ok N - ... # SKIP
 * reason". Only a probe of the host may skip; anything else that fails stays a failure.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MGD_SKIP_PREFIX "SKIP: "
#define MGD_SKIP(...) ck_abort_msg(MGD_SKIP_PREFIX __VA_ARGS__)

/* Copy check's TAP from path to stdout, skips rewritten; returns how many skips it saw. */
static inline int mgd_check_relay_tap(const char *path) {
        char line[4096];
        int skips = 0;
        FILE *f = fopen(path, "re");

        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                char *skip = strstr(line, ": " MGD_SKIP_PREFIX);

                if (strncmp(line, "not ok ", 7) == 0 && skip) {
                        char *reason = skip + 2 + strlen(MGD_SKIP_PREFIX);

                        reason[strcspn(reason, "\n")] = '\0';
                        *skip = '\0';
                        printf("ok %s # SKIP %s\n", line + 7, reason);
                        skips++;
                } else
                        fputs(line, stdout);
        }
        (void) fclose(f);
        (void) fflush(stdout);
        return skips;
}

static inline int mgd_check_run(Suite *suite) {
        const char *tmp = getenv("TMPDIR");
        char path[4096];
        SRunner *sr = srunner_create(suite);
        int fd, failed, skips;

        (void) snprintf(path, sizeof(path), "%s/mgd-tap-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
        fd = mkstemp(path);
        if (fd < 0) {
                perror("mkstemp");
                return EXIT_FAILURE;
        }
        (void) close(fd);
        srunner_set_tap(sr, path);
        srunner_run_all(sr, CK_SILENT);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        skips = mgd_check_relay_tap(path);
        (void) unlink(path);
        return failed - skips == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#define MGD_CHECK_MAIN(make_suite)                                      \
        int main(void) {                                                \
                return mgd_check_run(make_suite());                     \
        }
