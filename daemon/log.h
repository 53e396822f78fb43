/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Daemon logging: to journald with structured fields when stderr is connected to the journal
 * (systemd sets $JOURNAL_STREAM for that), to stderr otherwise. Every action mgd takes on a
 * process is also written to the per-run action log under $XDG_STATE_HOME/mgd/log/.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <syslog.h>

#include "common/macro.h"

void log_setup(void);                           /* decide journal vs stderr, once */
void log_set_max_level(int level);              /* LOG_DEBUG .. LOG_ERR; default LOG_INFO */
bool log_to_journal(void);

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *fmt, ...) _printf_(6, 7);

/* log_*_errno() returns -abs(error), so "return log_error_errno(r, ...)" works. */
#define log_full_errno(level, error, ...) \
        log_internal(level, error, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

/* A message with a MESSAGE_ID (daemon/log-ids.h) and extra "FIELD=value" journal fields. */
void log_internal_id(int level, const char *message_id, const char *const *extra, size_t n_extra,
                     const char *file, int line, const char *func, const char *fmt, ...) _printf_(8, 9);
#define log_notice_id(id, extra, n_extra, ...) \
        log_internal_id(LOG_NOTICE, id, extra, n_extra, __FILE__, __LINE__, __func__, __VA_ARGS__)

/* The MESSAGE_ID of an action record (freeze, thaw, terminate and kill, checkpoint, restore), or NULL. */
const char *log_action_message_id(const char *action);

/* One action on one process, with the fields `journalctl --user -u mgd MGD_ACTION=kill` finds. */
typedef struct ActionRecord {
        const char *action;             /* freeze, thaw, terminate, kill, checkpoint, restore, ... */
        pid_t pid;
        const char *comm;
        int priority;
        const char *level;
        double score;
        uint64_t footprint_kb;
        const char *method;             /* sigstop, cgroup, ... or NULL */
        const char *result;             /* "ok", "dry-run", or an error text */
        const char *reason;             /* why (aggressor, deficit, recovery, manual, ...) or NULL */
        bool would;                     /* --dry-run: decided, not done; the line reads "would ACTION" */
} ActionRecord;

void log_action(const ActionRecord *a);

/*
 * The per-run action log file: mgd-YYYYmmdd-HHMMSS-PID.log in dir (created 0700), keeping the newest
 * `keep` files (0 = all). Opened once at start-up; a failure is logged and the file log is off.
 */
int action_log_open(const char *dir, unsigned keep);
void action_log_close(void);

/*
 * A state file under dir that cannot be used (error: its load error; reason: a parser's words, or
 * NULL for statefile_strerror(error)) is moved aside as NAME.corrupt-TIME (statefile_quarantine())
 * with one log line, so that mgd starts without it. Logs and goes on if even that fails.
 */
void log_state_set_aside(const char *dir, const char *name, int error, const char *reason);
