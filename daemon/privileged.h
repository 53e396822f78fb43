/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

#include <stdbool.h>

#include "daemon/manager.h"

int privileged_start(Manager *m);
void privileged_stop(Manager *m);
void privileged_zram_compact(Manager *m, usec_t now);
void privileged_swap_reclaim(Manager *m, usec_t now);
/* -EAGAIN when checkpointing is unavailable or busy: the caller kills instead. */
int privileged_checkpoint(Manager *m, const Decision *d, const Candidate *cand, const char *why);
bool privileged_checkpoint_busy(void);
int privileged_restore(Manager *m, RegistryEntry *e);
