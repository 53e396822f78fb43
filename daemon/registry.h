/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * The registry of processes mgd holds: frozen (SIGSTOP or cgroup freezer) or checkpointed.
 * It lives in a preallocated table and is persisted under the state directory, so a crash or a
 * stop never leaves a process frozen for good: the next start (registry_thaw_leftovers()) and the
 * unit's ExecStopPost= (mgd-thaw, which runs this same code) thaw what is still there.
 *
 * The file, <state_dir>/registry, is written atomically (registry.tmp, fsync, rename, fsync of
 * the directory) and only when its content changed. Format, version 1:
 *
 *     mgd-registry 1
 *     pid=4242 starttime=81234 how=sigstop since=1732252800 priority=80 footprint_kb=204800 \
 *         restore_failures=0 name=Web%20Content
 *     pid=4250 starttime=81301 how=cgroup since=... name=gimp cgroup=/user.slice/.../app-gimp-1.scope
 *     pid=4260 starttime=81377 how=checkpoint since=... name=code image=/home/u/.local/state/mgd/img/4260
 *
 * (the first entry is one line in the file; "..." stands for the other keys)
 *
 * One entry per line, fields separated by one space, every key exactly once (cgroup= only and
 * always with how=cgroup, image= only and always with how=checkpoint). Values are percent-encoded:
 * every byte other than [A-Za-z0-9] and "-_.:/@+,~" is written as %XX, so a comm with spaces,
 * '=' or newlines survives. `since` is CLOCK_REALTIME seconds; the monotonic time is in memory only.
 *
 * Trust: the file is in the user's own state directory (checked at start: the user's, 0700),
 * so its content is only as trusted as the user; it is still validated field by field (a cgroup
 * must be an app-*.scope), and nothing in it is acted on unless the pid's starttime still
 * matches (a pid reused by another process is never signalled), the process is still the user's
 * and, for SIGSTOP, still stopped, and, for a cgroup freeze, that cgroup still holds it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/macro.h"
#include "common/readers.h"
#include "daemon/pidref.h"
#include "policy/policy.h"

/*
 * 1024 held processes is far more than a desktop session freezes; each entry carries a full
 * cgroup path, so the table is about 1 MiB, made once at start-up (and locked by mlockall).
 */
#define REGISTRY_MAX 1024
#define REGISTRY_IMAGE_MAX 256
#define REGISTRY_LINE_MAX 4096          /* a line longer than this is malformed */
#define REGISTRY_VERSION 1
/*
 * A thaw that fails (EPERM, say: not a process mgd can signal after all) is retried this many
 * times in all, then the entry is dropped with one log line: retrying every tick only floods the
 * log and keeps a process listed as frozen that mgd cannot resume anyway.
 */
#define REGISTRY_THAW_TRIES 3
#define REGISTRY_FILE "registry"
#define REGISTRY_TMP_FILE "registry.tmp"

typedef enum RegistryHow {
        REGISTRY_SIGSTOP,
        REGISTRY_CGROUP,
        REGISTRY_CHECKPOINT,
        _REGISTRY_HOW_MAX,
} RegistryHow;

typedef struct RegistryEntry {
        pid_t pid;
        uint64_t starttime;             /* clock ticks since boot: with pid, the identity */
        char name[CAND_NAME_MAX];       /* full comm */
        int priority;                   /* effective priority when it was taken, 0..100 */
        uint64_t footprint_kb;
        RegistryHow how;
        char cgroup[PROC_CGROUP_MAX];   /* how == REGISTRY_CGROUP: the frozen cgroup */
        uint64_t since_realtime;        /* seconds since the epoch (persisted) */
        usec_t since;                   /* CLOCK_MONOTONIC (memory only; derived on load) */
        unsigned restore_failures;
        unsigned thaw_failures;         /* memory only: failed thaws since the entry was loaded */
        char image_dir[REGISTRY_IMAGE_MAX];     /* how == REGISTRY_CHECKPOINT */
        char why[32];                   /* the decision's reason (memory only; "" after a restart) */
} RegistryEntry;

typedef struct Registry Registry;

const char *registry_how_to_string(RegistryHow how);   /* "sigstop", "cgroup", "checkpoint" */
int registry_how_from_string(const char *s);            /* RegistryHow or -EINVAL */
/* FREEZE_SIGSTOP / FREEZE_CGROUP for frozen entries, FREEZE_NONE for checkpoints. */
FreezeMethod registry_how_freeze_method(RegistryHow how);

/* -EINVAL when a field is out of range; *ret_what (optional) names the field. */
int registry_entry_validate(const RegistryEntry *e, const char **ret_what);
/*
 * One entry as a line (with its '\n'), NUL-terminated; *ret_len (optional) excludes the NUL.
 * No stdio and no allocation: persisting may run on the pressure path. -ENOBUFS if it does not fit.
 */
int registry_entry_format(const RegistryEntry *e, char *buf, size_t size, size_t *ret_len);
/*
 * Parse one line (without its '\n'). -EINVAL for a malformed line, with the reason written to
 * err (e.g. "duplicate key 'pid'", "missing key 'starttime'", "bad value for 'priority'").
 * ret->since is left 0 (the loader derives it).
 */
int registry_entry_parse(const char *line, RegistryEntry *ret, char *err, size_t errsize);

/* $XDG_STATE_HOME/mgd if that is an absolute path, else $HOME/.local/state/mgd; -ENXIO without either. */
int registry_default_dir(char *buf, size_t size);

/* An empty registry for an absolute state directory; nothing is read or created yet. */
int registry_new(const char *state_dir, Registry **ret);
Registry *registry_free(Registry *r);
static inline void registry_freep(Registry **r) {
        if (*r)
                *r = registry_free(*r);
}
#define _cleanup_registry_ _cleanup_(registry_freep)

const char *registry_dir(const Registry *r);

typedef void (*RegistryBadLineFn)(unsigned line, const char *what, void *userdata);

/*
 * Replace the table with the file's content. A missing file is an empty registry (0). Each
 * malformed line is reported through bad_line (line number and reason) and skipped; every valid
 * line is kept. Returns the number of rejected lines (>= 0), or -errno when the file cannot be
 * read, -EINVAL when its first line is not a registry header, -EPROTONOSUPPORT for another
 * version (the table is then left empty).
 */
int registry_load(Registry *r, RegistryBadLineFn bad_line, void *userdata);
/* The reason for a registry_load() error, for the line that says the file was set aside. */
const char *registry_load_strerror(int r);
/*
 * Write the file atomically if its content differs from what was last written or loaded:
 * 0 unchanged (nothing touched), 1 written, -errno on failure (the old file stays intact and
 * no registry.tmp is left). Creates the state directory (0700) if needed. No allocation.
 * Change detection compares a 64-bit FNV-1a hash and the length of the serialized content, so
 * it does no I/O; a hash collision (odds 2^-64 per change) would skip one write.
 */
int registry_persist(Registry *r);
/*
 * The write-ahead record of a freeze, written before the process is stopped, so that a crash of
 * mgd at any point leaves no process frozen without an entry (a restart and mgd-thaw thaw what
 * the file names). It is registry_persist(), fsyncs included: without them a power cut during a
 * first freeze could leave an empty or cut registry (which the next start would have to set
 * aside, learning nothing from it); the two fsyncs cost a few ms on the pressure path.
 */
int registry_persist_ahead(Registry *r);
/* Remove the file (and a stale registry.tmp); the next persist writes again. 0 if already gone. */
int registry_unlink(Registry *r);
/* From now on registry_persist(), registry_persist_ahead() and registry_unlink() write nothing and
 * return 0: the table lives in memory only (mgd --dry-run). */
void registry_set_memory_only(Registry *r);

size_t registry_size(const Registry *r);
/* Entry i < registry_size(); pointers stay valid until the next add, remove or load. */
RegistryEntry *registry_entry(Registry *r, size_t i);

/*
 * Add e (validated). 0 added; 1 replaced a stale entry for the same pid with another starttime
 * (that process is gone: a pid names one live process); -EEXIST if pid + starttime is already
 * held; -ENOSPC when full; -EINVAL for an invalid entry. A zero since_realtime or since is set to
 * the current time.
 */
int registry_add(Registry *r, const RegistryEntry *e);
/* Remove pid + starttime: 0, or -ENOENT. */
int registry_remove(Registry *r, pid_t pid, uint64_t starttime);

RegistryEntry *registry_find_pid(Registry *r, pid_t pid);
/*
 * Entries whose name equals `name` exactly (case-sensitive, the full comm: "Web Content" does not
 * match "web content" or "Web"): writes up to max indexes to out, returns how many matched.
 * Exact, because mgctl acts on what matches and a substring would catch unrelated processes.
 */
size_t registry_find_name(const Registry *r, const char *name, size_t *out, size_t max);

/* The policy's view (index i of out is entry i); returns how many were written. */
size_t registry_to_held(const Registry *r, HeldProcess *out, size_t max);

/*
 * result: 0 thawed; -ESRCH the process is gone or its pid now names another process (nothing was
 * signalled); -ENOENT its cgroup is gone or no longer holds it (nothing was written); other
 * -errno: the thaw failed and the entry is kept. `what` names the failed step.
 */
typedef void (*RegistryThawFn)(const RegistryEntry *e, int result, const char *what, void *userdata);

/*
 * Thaw every frozen entry whose identity still matches, and drop it; entries whose process is
 * gone are dropped too. Checkpointed entries hold no process: they are kept, since dropping them
 * would orphan their images. Returns the number of entries whose thaw failed (kept), >= 0.
 * Does not persist (the daemon's shutdown path persists once at the end).
 */
int registry_thaw_all(Registry *r, const ProcRoots *roots, RegistryThawFn fn, void *userdata);
/*
 * Start-up recovery: what a previous instance left frozen is thawed (registry_thaw_all()) and the
 * registry persisted. Returns as registry_thaw_all(), or the persist error.
 */
int registry_thaw_leftovers(Registry *r, const ProcRoots *roots, RegistryThawFn fn, void *userdata);
