/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * The cgroup settings mgd changed (cpu.weight, cpu.max, memory.high of an app's own cgroup v2
 * leaf) and the values they had before, persisted so that a crash never leaves an app throttled
 * or capped: the next start of mgd and the unit's ExecStopPost= (mgd-thaw) write the originals
 * back. Shared by the daemon and mgd-thaw: no libsystemd, no allocation after cgstate_new().
 *
 * <state_dir>/cgroups, written atomically and only when its content changed. Version 1:
 *
 *     mgd-cgroups 1
 *     path=/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-1.scope \
 *         cpu.weight=100 cpu.max=max%20100000 memory.high=max
 *
 * (one line per cgroup; a key only for the files mgd changed; values percent-encoded like the
 * registry's). Trust: the user's own state directory, validated field by field; a path must be
 * a valid cgroup path (no "..", absolute) and is only written below the cgroup2 mount, and only
 * if it is an app scope of the session (cgstate_set_session()).
 */

#include <stdbool.h>
#include <inttypes.h>
#include <stddef.h>

#include "common/readers.h"

#define CGSTATE_MAX 256
#define CGSTATE_FILE "cgroups"
#define CGSTATE_VALUE_MAX 48

typedef enum CgFile {
        CGFILE_CPU_WEIGHT,
        CGFILE_CPU_MAX,
        CGFILE_MEMORY_HIGH,
        _CGFILE_MAX,
} CgFile;

typedef struct CgEntry {
        char path[PROC_CGROUP_MAX];             /* unified path, "" for a free slot */
        bool saved[_CGFILE_MAX];                /* an original value is held for this file */
        char orig[_CGFILE_MAX][CGSTATE_VALUE_MAX];
} CgEntry;

typedef struct CgState CgState;

const char *cgfile_name(CgFile f);             /* "cpu.weight", "cpu.max", "memory.high" */

int cgstate_new(const char *state_dir, CgState **ret);
CgState *cgstate_free(CgState *s);
size_t cgstate_size(const CgState *s);
const char *cgstate_dir(const CgState *s);
/*
 * The session whose app scopes a restore may write: the unified path must have one of the
 * patterns as a component (default, from cgstate_new(): user@UID.service, user-UID.slice for
 * getuid()). Copied. -EINVAL for none, too many, or an empty one or one with '/'.
 */
int cgstate_set_session(CgState *s, const char *const *patterns, size_t n);             /* the state directory it was made for */
CgEntry *cgstate_entry(CgState *s, size_t i);
CgEntry *cgstate_find(CgState *s, const char *path);
/* The entry for path, added if missing: -ENOSPC when full, -EINVAL for an invalid path. */
int cgstate_get(CgState *s, const char *path, CgEntry **ret);
/* Drop the entry (its originals are back in place, or its cgroup is gone). */
void cgstate_drop(CgState *s, CgEntry *e);

/* One line of the file (without '\n'); -EINVAL with the reason in err. */
int cgstate_entry_parse(const char *line, CgEntry *ret, char *err, size_t errsize);
int cgstate_entry_format(const CgEntry *e, char *buf, size_t size);

typedef void (*CgStateBadLineFn)(unsigned line, const char *what, void *userdata);
/* Replace the table with the file; a missing file is empty. Returns the rejected lines (>= 0). */
int cgstate_load(CgState *s, CgStateBadLineFn bad, void *userdata);
/* Write the file atomically if its content changed (1 written, 0 unchanged); no file when empty. */
int cgstate_persist(CgState *s);
/* From now on cgstate_persist() writes nothing and returns 0 (mgd --dry-run). */
void cgstate_set_memory_only(CgState *s);

typedef void (*CgRestoreFn)(const CgEntry *e, CgFile f, int result, void *userdata);
/* Write e's saved originals back (a file that is gone, -ENOENT, counts as done); a file whose
 * write failed otherwise stays saved for the next try. Returns how many failed. */
int cgstate_restore(CgEntry *e, const char *cgroup2_root, CgRestoreFn fn, void *userdata);
/*
 * cgstate_restore() every entry, synchronously, below cgroup2_root, and drop those fully
 * restored (a cgroup that is gone too). An entry that is not an app scope (app-*.scope) of the
 * session is never written: fn hears -EPERM for each of its files and it is dropped. Returns
 * how many writes failed.
 */
int cgstate_restore_all(CgState *s, const char *cgroup2_root, CgRestoreFn fn, void *userdata);
/*
 * Does the kernel take memory.reclaim's swappiness= key (file pages only, Linux 6.13 and newer)?
 * Writes "0 swappiness=0" (a request to reclaim nothing) to <cgroup2_root><path>/memory.reclaim:
 * 0 yes; -EINVAL the key is refused; -ENOENT no memory.reclaim (no memory controller, or before
 * Linux 5.19); or another -errno of the write.
 */
int cg_cache_drop_probe(const char *cgroup2_root, const char *path);
#define CG_CACHE_DROP_FMT "%" PRIu64 " swappiness=0"
/* Write value into <cgroup2_root><path>/<file>: 0 or -errno. */
int cg_write(const char *cgroup2_root, const char *path, const char *file, const char *value);
/* Read <cgroup2_root><path>/<file>, its first line without '\n': 0 or -errno. */
int cg_read(const char *cgroup2_root, const char *path, const char *file, char *buf, size_t size);
/* The whole file (a seq file read to its end); -EFBIG when it does not fit. */
int cg_read_all(const char *cgroup2_root, const char *path, const char *file, char *buf, size_t size);
