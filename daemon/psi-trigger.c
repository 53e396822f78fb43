/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "daemon/psi-trigger.h"

#define PSI_UNPRIV_WINDOW_STEP (2 * USEC_PER_SEC)

int psi_trigger_open(const char *path, const char *kind, usec_t stall, usec_t window) {
        _cleanup_close_ int fd = -1;
        char spec[64];
        int n;

        if (strcmp(kind, "some") != 0 && strcmp(kind, "full") != 0)
                return -EINVAL;
        if (stall == 0 || stall >= window)
                return -EINVAL;
        n = snprintf(spec, sizeof spec, "%s %" PRIu64 " %" PRIu64, kind, stall, window);
        if (n < 0 || (size_t) n >= sizeof spec)
                return -EINVAL;

        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /*
         * psi_write() copies at most 32 bytes and overwrites the last one with a NUL, so the
         * trailing NUL must be written too or the window's last digit is eaten.
         */
        if (write(fd, spec, (size_t) n + 1) < 0)
                return -errno;
        return TAKE_FD(fd);
}

void psi_trigger_unprivileged(usec_t *stall, usec_t *window) {
        usec_t w = *window, rounded;

        rounded = (w + PSI_UNPRIV_WINDOW_STEP - 1) / PSI_UNPRIV_WINDOW_STEP * PSI_UNPRIV_WINDOW_STEP;
        if (rounded == 0)
                rounded = PSI_UNPRIV_WINDOW_STEP;
        *stall = *stall * rounded / (w ?: 1);
        *window = rounded;
}

bool psi_file_is_kernel(const char *path) {
        struct statfs sfs;

        if (statfs(path, &sfs) < 0)
                return false;
        return sfs.f_type == PROC_SUPER_MAGIC || sfs.f_type == CGROUP2_SUPER_MAGIC;
}
