/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * The cgroup actuators (policy/cgroups.c decides): CPU throttling ("App Nap": cpu.weight, and
 * cpu.max for the expendable), memory caps (memory.high at the current usage), reclaim into zram
 * (memory.reclaim) of what mgd froze and of idle background apps. Each acts only on an app's own
 * cgroup v2 leaf below the session that holds nothing but the user's managed processes, saves the
 * value it replaces first (persisted in <state_dir>/cgroups, daemon/cgstate.h) and writes it back
 * when the reason is gone, at exit, and after a crash (the next start, or mgd-thaw).
 *
 * memory.reclaim and memory.high make the writer reclaim memory itself, for up to seconds under
 * pressure, so those writes run on one worker thread made at start-up; the event loop only
 * queues them (a fixed ring, no allocation) and logs their results. cpu.weight and cpu.max
 * writes return at once and are made inline.
 */

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "common/procscan.h"
#include "policy/policy.h"

typedef struct CgActs CgActs;

typedef struct CgActsStats {
        unsigned throttled, quota, capped;      /* cgroups with each actuator in force */
        uint64_t reclaim_requests, reclaimed_kb;        /* since start: writes, and what they freed */
        bool cpu, memory, reclaim;              /* the kernel offers cpu.weight, memory.high, memory.reclaim */
} CgActsStats;

/* cgroup2_root NULL: every actuator is off. dry_run: every decision is made and logged as
 * "would ...", held in memory only; no cgroup file and no state file is written. */
int cgacts_new(sd_event *e, const char *cgroup2_root, const char *state_dir, bool dry_run, CgActs **ret);
/* The session whose app scopes a recovery may write back (cgstate_set_session()). */
int cgacts_set_session(CgActs *a, const char *const *patterns, size_t n);
/* Stops the worker; does not restore anything (cgacts_restore_all() does). */
CgActs *cgacts_free(CgActs *a);

/* Write back what a previous instance left changed (its state file). */
int cgacts_recover(CgActs *a);
/*
 * This tick's scan (procs[i].cgroup, cands[i] with their frozen state and builds): apply or undo
 * each cgroup's actuators for the level; undo those of cgroups gone from the scan. Persists.
 */
void cgacts_update(CgActs *a, const PolicyConfig *c, Level level, const ProcEntry *procs, const Candidate *cands,
                   size_t n, pid_t foreground);
/* Idle reclaim at Normal, from a scan: at most a few cgroups per call. */
void cgacts_idle(CgActs *a, const PolicyConfig *c, Level level, const ProcEntry *procs, const Candidate *cands,
                 size_t n, pid_t foreground, const MemFigures *mem, usec_t now);
/* memory.reclaim of a cgroup mgd just froze (queued; the result is logged). */
void cgacts_freeze_reclaim(CgActs *a, const PolicyConfig *c, const char *cgroup, pid_t pid, const char *comm,
                           int priority);
/* The page-cache drop at High: 1 the kernel takes swappiness=, 0 not tried yet, -errno refused. */
int cgacts_cache_drop(const CgActs *a);
/* Synchronously write back everything (shutdown). Returns how many writes failed. */
int cgacts_restore_all(CgActs *a);
void cgacts_stats(const CgActs *a, CgActsStats *ret);
/* Some setting is in force: the daemon keeps scanning until it is undone. */
bool cgacts_pending(const CgActs *a);
