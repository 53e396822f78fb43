/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgw-stamp: put the harness's clock on lines that carry none. With no option it copies stdin
 * to stdout, each line prefixed with the CLOCK_MONOTONIC time in ms at which it arrived (for a
 * peer daemon's output in the busybox guest, which has no journal). "mgw-stamp -n [LABEL...]"
 * prints the current time once, followed by the label: the scenario's marks.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "wl.h"

int main(int argc, char **argv) {
        char line[4096];

        if (argc >= 2 && strcmp(argv[1], "-n") == 0) {
                printf("%" PRIu64, wl_now_ms());
                for (int i = 2; i < argc; i++)
                        printf(" %s", argv[i]);
                putchar('\n');
                return 0;
        }
        if (argc != 1) {
                fprintf(stderr, "usage: mgw-stamp [-n [LABEL...]] (without -n: stamps stdin lines)\n");
                return 2;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        while (fgets(line, sizeof line, stdin))
                printf("%" PRIu64 " %s%s", wl_now_ms(), line, strchr(line, '\n') ? "" : "\n");
        return 0;
}
