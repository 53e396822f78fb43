/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * A footprint history: the last AGGRESSOR_SAMPLES (time, footprint, major fault count) samples of
 * one process (aggressor.c) or of one build (spike.c), and the rates over a window. Internal to
 * policy/: pure arithmetic on a fixed ring, no allocation.
 */

#include "policy/policy.h"

/* Append a sample; a second sample at the same time replaces the first. */
void track_push(FootprintTrack *f, uint64_t kb, uint64_t majflt, usec_t now);
/* Footprint growth in KiB/s from the oldest sample inside the window to the newest one. */
double track_growth_kbs(const FootprintTrack *f, usec_t now, usec_t window);
/* Major faults per second from the oldest trusted sample inside the window to the newest one. */
double track_majflt_rate(const FootprintTrack *f, usec_t now, usec_t window);
