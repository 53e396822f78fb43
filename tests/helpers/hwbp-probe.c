/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * hwbp-probe: prints 1 if hardware breakpoints fire on this machine, 0 if they do not (criu then
 * needs CRIU_FAULT=130, as the checkpoint helper gives it), and exits 1 with the reason when the
 * probe could not run. For criu-env.sh, which probes criu under the helper's conditions.
 */
#include <stdio.h>
#include <string.h>

#include "common/hwbp.h"

int main(void) {
        int r = hwbp_probe(200);

        if (r < 0) {
                fprintf(stderr, "hwbp-probe: %s\n", strerror(-r));
                return 1;
        }
        printf("%d\n", r);
        return 0;
}
