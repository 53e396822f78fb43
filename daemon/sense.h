/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

#include <stdbool.h>
#include <time.h>

#include "daemon/manager.h"

usec_t now_usec(clockid_t clock);
int sense_setup(Manager *m);
void sense_teardown(Manager *m);
int sense_adopt_trigger(Manager *m, size_t i, int fd, bool privileged);
/* The pressure part of this tick's observation (PSI sources, meminfo, vmstat). */
int sense_observe(Manager *m, usec_t now, Observation *o);
/* tick.c: a trigger event runs a tick now and a confirming one shortly after */
void sense_trigger_fired(Manager *m, const PsiSource *src);
