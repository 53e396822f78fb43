/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

#include <stdbool.h>

#include "common/macro.h"

/*
 * Arm a PSI trigger on `path` (/proc/pressure/memory or a cgroup's memory.pressure): "some" or
 * "full", `stall` of stall time per `window`. The kernel accepts windows that are not a whole
 * multiple of 2 s only from an opener holding CAP_SYS_RESOURCE and answers EINVAL otherwise
 * (not EPERM); the privileged PSI helper opens such fds for us and passes them over.
 * Returns the fd (O_RDWR|O_NONBLOCK|O_CLOEXEC, poll for POLLPRI; POLLERR = source gone) or -errno.
 */
int psi_trigger_open(const char *path, const char *kind, usec_t stall, usec_t window);

/* The unprivileged form of a trigger: window rounded up to a multiple of 2 s, same stall ratio. */
void psi_trigger_unprivileged(usec_t *stall, usec_t *window);

/*
 * Only a pressure file of procfs or cgroupfs takes a trigger: writing the trigger spec into a
 * regular file (a test's fixture tree) would just corrupt it, so those are polled (or, by mgctl
 * doctor, not tried).
 */
bool psi_file_is_kernel(const char *path);
