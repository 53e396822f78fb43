/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * mgctl doctor: what this machine offers mgd, item by item: what was found, whether the feature
 * it enables works, and the command that would fix it. Read-only: it reads files, arms a PSI
 * trigger and closes it again (harmless: a trigger lives as long as its fd), asks libcap for
 * file capabilities, and runs nothing but `systemctl --user show` (no program is run to learn a
 * version). Every root it reads is an option, so the tests feed it fixture trees.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/macro.h"
#include "daemon/config.h"

typedef enum DoctorStatus {
        DOCTOR_OK,
        DOCTOR_INFO,                    /* nothing to fix, or not checked here */
        DOCTOR_WARN,                    /* a feature is off; mgd works without it */
        DOCTOR_FAIL,                    /* mgd cannot work (essential) */
        _DOCTOR_STATUS_MAX,
} DoctorStatus;

const char *doctor_status_to_string(DoctorStatus s);   /* "ok", "info", "warn", "fail" */

typedef struct DoctorItem {
        char id[32];
        DoctorStatus status;
        char found[512];                /* what was found */
        char effect[320];               /* what works, or does not, because of it */
        char fix[512];                  /* the command that would fix it; "" if none */
} DoctorItem;

#define DOCTOR_ITEMS_MAX 48

typedef struct DoctorReport {
        DoctorItem items[DOCTOR_ITEMS_MAX];
        size_t n;
} DoctorReport;

typedef struct DoctorOptions {
        const char *proc_root;          /* "/proc": pressure/, swaps, self/cgroup, self/mountinfo, sys/kernel/osrelease */
        const char *sys_root;           /* "/sys": block/zramN/ */
        const char *cgroup2_root;       /* NULL: from <proc_root>/self/mountinfo */
        const char *helper_dir;         /* NULL: the libexec dir fixed at build time */
        const char *criu_path;          /* NULL: the build's criu path (test builds: $MGD_TEST_CRIU) */
        const char *state_dir;          /* NULL: $XDG_STATE_HOME/mgd */
        ConfigPaths config;             /* the layers, as mgd would read them */
        uid_t uid;
} DoctorOptions;

/* Add an item (found: printf format); the last item is reused if the report is full. */
DoctorItem *doctor_add(DoctorReport *r, const char *id, DoctorStatus st, const char *fmt, ...) _printf_(4, 5);
void doctor_effect(DoctorItem *it, const char *fmt, ...) _printf_(2, 3);
void doctor_fix(DoctorItem *it, const char *fmt, ...) _printf_(2, 3);

/* Every file-based check, in report order. */
void doctor_check_environment(DoctorReport *r, const DoctorOptions *o);
/* mgd.service through `systemctl --user show` (unavailable: said so, never a failure). */
void doctor_check_unit(DoctorReport *r);
/*
 * Parse `systemctl --user show -p LoadState,UnitFileState,ActiveState,SubState,MainPID` output
 * into the unit item. Exported for the tests.
 */
void doctor_unit_from_show(DoctorReport *r, const char *text);

/* Whether an item failed (mgctl doctor then exits 5). */
bool doctor_failed(const DoctorReport *r);
void doctor_print(FILE *f, const DoctorReport *r);
void doctor_print_json(FILE *f, const DoctorReport *r);
