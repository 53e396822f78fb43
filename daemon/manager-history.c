/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgd's side of the pressure history (daemon/history.h): loaded at start-up, fed by every tick,
 * saved every HISTORY_PERSIST_USEC while at Normal and at a clean exit. The recorder and its
 * write buffer are allocated once at start-up, so the tick neither allocates nor formats into
 * anything it did not own already.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon/executor.h"
#include "daemon/history.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/registry.h"
#include "daemon/sense.h"

struct HistoryRecorder {
        History h;
        usec_t last;                    /* CLOCK_MONOTONIC of the last tick fed, 0: none yet */
        usec_t next_save;
        bool dirty;
        char buf[HISTORY_TEXT_MAX];
};

void manager_history_start(Manager *m) {
        HistoryRecorder *rec = calloc(1, sizeof *rec);
        char path[PATH_MAX];
        StateError err = {};
        int r;

        if (!rec) {
                log_warning("Out of memory for the pressure history, running without it");
                return;
        }
        if (snprintf(path, sizeof path, "%s/" HISTORY_FILE, m->state_dir) >= (int) sizeof path) {
                log_warning("State directory path too long, running without the pressure history");
                free(rec);
                return;
        }
        r = history_load(path, &rec->h, &err);
        if (r == -ENOENT)
                log_debug("No pressure history at %s yet", path);
        else if (r == -ENOMEM)
                log_warning_errno(r, "Cannot read %s: %m; a new history starts", path);
        else if (r < 0 && err.line > 0) {
                log_warning("%s:%u: %s; ignoring the file, a new history starts", path, err.line, err.reason);
                log_state_set_aside(m->state_dir, HISTORY_FILE, r, "it does not parse");
        } else if (r < 0)
                log_state_set_aside(m->state_dir, HISTORY_FILE, r, err.reason);
        else
                log_info("Pressure history: %.1f h observed, %llu stall episodes", rec->h.observed_ms / 3.6e6,
                         (unsigned long long) rec->h.stall_episodes);
        rec->next_save = now_usec(CLOCK_MONOTONIC) + HISTORY_PERSIST_USEC;
        m->history = rec;
}

static void history_save_now(Manager *m) {
        HistoryRecorder *rec = m->history;
        int r;

        r = history_save(&rec->h, m->state_dir, rec->buf, sizeof rec->buf);
        if (r < 0)
                log_warning_errno(r, "Cannot save the pressure history in %s, ignoring: %m", m->state_dir);
        else
                rec->dirty = false;
}

void manager_history_tick(Manager *m, usec_t now) {
        HistoryRecorder *rec = m->history;
        HistorySample s;

        if (!rec)
                return;
        s = (HistorySample) {
                .p = m->score.p,
                .stall_pct = m->score.stall_pct,
                .level = m->level,
                .mem_total_kb = m->mem.mem_total_kb,
                .mem_available_kb = m->mem.mem_available_kb,
                .intervening = registry_size(m->registry) > 0 || executor_in_flight(m->executor) > 0,
                .realtime = now_usec(CLOCK_REALTIME) / USEC_PER_SEC,
        };
        history_observe(&rec->h, &s, rec->last ? now - rec->last : 0);
        rec->last = now;
        rec->dirty = true;
        /* no disk I/O while acting: the next calm tick saves */
        if (now >= rec->next_save && m->level == LEVEL_NORMAL) {
                rec->next_save = now + HISTORY_PERSIST_USEC;
                history_save_now(m);
        }
}

void manager_history_stop(Manager *m) {
        if (!m->history)
                return;
        if (m->history->dirty)
                history_save_now(m);
        free(m->history);
        m->history = NULL;
}
