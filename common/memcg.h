/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Memory cgroup headroom, for the swap helper's swapoff: swapoff charges every page it brings
 * back to the memcg that swapped it out, and a memcg at its limit then reclaims, OOM-kills (a
 * frozen process too) and swapoff fails with ENOMEM (testbed.md §2).
 */

#include <stdint.h>

/* fds a walk keeps open at its deepest (two per level) */
#define MEMCG_WALK_FDS (MEMCG_DEPTH_MAX * 2)
#define MEMCG_DEPTH_MAX 16

/*
 * Every memcg with a limit below sys_root/fs/cgroup (v1 memory.limit_in_bytes, v2 memory.max,
 * the hybrid's unified tree too) must have usage + its swap + a margin (16 MiB or 1/16 of the
 * limit) under that limit; a memcg that shows no swap counter is assumed to hold `fallback`
 * bytes of it. 0, or -EDQUOT (logged, naming the memcg), -E2BIG for a tree too deep or large,
 * or the -errno of a read.
 */
int memcg_headroom_check(const char *sys_root, uint64_t fallback);
