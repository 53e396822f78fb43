/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's use of the privileged helpers (docs/PRIVSEP.md): which features each grant turns
 * on, the sub-second PSI trigger, zram compaction at Elevated and above, swap reclaim when calm,
 * and CRIU checkpoint/restore. Every call is asynchronous: the helper answers through the event
 * loop, so a slow criu or swapoff never blocks a tick. Any failure falls back to what mgd does
 * without the helper (2 s triggers, kill instead of checkpoint).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/executor.h"
#include "daemon/helper.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/privileged.h"
#include "daemon/registry.h"
#include "daemon/sense.h"

/* Sub-second triggers through the PSI helper: lmkd's and low-memory-monitor's order of magnitude. */
#define PSI_FAST_STALL_US 150000
#define PSI_FAST_WINDOW_US 1000000
#define ZRAM_COMPACT_COOLDOWN_USEC (30 * USEC_PER_SEC)
#define ZRAM_COMPACT_MIN_USED (UINT64_C(128) << 20)
#define SWAP_RECLAIM_COOLDOWN_USEC (10 * 60 * USEC_PER_SEC)

static void on_psi_armed(HelperSet *set, int error, const ProtoReply *rep, int fd, void *userdata) {
        Manager *m = userdata;
        int r = error < 0 ? error : rep->error;
        size_t i;

        if (r < 0 || fd < 0) {
                log_info_errno(r, "The PSI helper could not arm a sub-second trigger (%m); keeping 2 s windows");
                if (fd >= 0)
                        closep(&fd);
                return;
        }
        /* the helper arms in the order asked: global first, then the session cgroup */
        i = m->psi_helper_armed++;
        if (i >= m->n_psi) {
                closep(&fd);
                return;
        }
        if (sense_adopt_trigger(m, i, fd, true) >= 0)
                log_info("Sub-second PSI trigger on %s from the PSI helper: some %u ms per %u ms",
                         m->psi[i].path, PSI_FAST_STALL_US / 1000, PSI_FAST_WINDOW_US / 1000);
}

static void psi_arm_fast(Manager *m) {
        int r;

        m->psi_helper_armed = 0;
        r = helper_psi_arm(m->helpers, PROTO_PSI_SOURCE_SYSTEM, PROTO_PSI_SOME, PSI_FAST_STALL_US,
                           PSI_FAST_WINDOW_US, on_psi_armed, m);
        /* the helper derives the session cgroup from mgd's own; only ask if we watch it too */
        if (r >= 0 && m->n_psi > 1 && !m->opt.pressure_cgroup)
                r = helper_psi_arm(m->helpers, PROTO_PSI_SOURCE_SESSION, PROTO_PSI_SOME, PSI_FAST_STALL_US,
                                   PSI_FAST_WINDOW_US, on_psi_armed, m);
        if (r < 0)
                log_info_errno(r, "Cannot ask the PSI helper for a trigger (%m); keeping 2 s windows");
}

/* helper.c has told once what is on and, for what is off, the command that would enable it. */
static void on_grant(HelperSet *set, HelperKind kind, HelperGrant grant, void *userdata) {
        Manager *m = userdata;
        bool ok = grant == HELPER_GRANT_OK;

        switch (kind) {
        case HELPER_PSI:
                if (ok)
                        psi_arm_fast(m);
                break;
        case HELPER_ZRAM:
                m->zram_compact_available = ok;
                break;
        case HELPER_SWAP:
                m->swap_reclaim_available = ok;
                break;
        case HELPER_CHECKPOINT:
                m->checkpoint_available = ok;
                break;
        default:
                return;
        }
}

int privileged_start(Manager *m) {
        HelperSetOptions o = {
                .dir = m->opt.helper_dir,
                .proc_root = m->opt.proc_root,
                .on_grant = on_grant,
                .userdata = m,
        };
        int r;

        if (m->opt.no_helpers)
                return 0;
        r = helper_set_new(m->event, &o, &m->helpers);
        if (r < 0)
                return log_warning_errno(r, "Cannot set up the helpers, running without them: %m");
        r = helper_set_start(m->helpers);
        if (r < 0)
                log_warning_errno(r, "Cannot start the helpers, running without them: %m");
        return 0;
}

void privileged_stop(Manager *m) {
        m->helpers = helper_set_free(m->helpers);
}

/* ---- zram compaction ---- */

static void on_compacted(HelperSet *set, int error, const ProtoReply *rep, int fd, void *userdata) {
        int r = error < 0 ? error : rep->error;

        if (r == -EAGAIN)
                return;         /* the pool is below the minimum: nothing worth compacting */
        if (r < 0) {
                log_info_errno(r, "zram compaction failed: %m");
                return;
        }
        log_info("zram compacted: %" PRIu64 " -> %" PRIu64 " KiB of pool memory",
                 rep->zram_compact.used_before >> 10, rep->zram_compact.used_after >> 10);
}

void privileged_zram_compact(Manager *m, usec_t now) {
        SwapDevice devs[SWAPS_MAX];
        size_t n = 0;

        if (!m->helpers || !m->zram_compact_available || now < m->zram_compact_next)
                return;
        m->zram_compact_next = now + ZRAM_COMPACT_COOLDOWN_USEC;
        if (m->opt.dry_run) {
                log_info("Dry run: would ask the zram helper to compact the zram swap devices");
                return;
        }
        if (swaps_read(m->opt.proc_root, devs, SWAPS_MAX, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                if (devs[i].is_zram)
                        (void) helper_zram_compact(m->helpers, devs[i].zram_index, ZRAM_COMPACT_MIN_USED,
                                                   on_compacted, m);
}

/* ---- swap reclaim when calm ---- */

static void on_reclaimed(HelperSet *set, int error, const ProtoReply *rep, int fd, void *userdata) {
        int r = error < 0 ? error : rep->error;

        if (r < 0)
                log_info_errno(r, "Swap reclaim refused or failed, trying again later: %m");
        else
                log_notice("Swap reclaim: %" PRIu64 " MiB pulled back from %u zram device(s)",
                           rep->swap_reclaim.bytes >> 20, rep->swap_reclaim.devices);
}

/*
 * policy_step() said the zram swap may be cycled now (calm, nothing held, swap at least 30 %
 * used): do it at most every 10 minutes. The helper refuses on its own unless RAM (and every
 * memory cgroup) has room for the pages.
 */
void privileged_swap_reclaim(Manager *m, usec_t now) {
        if (!m->helpers || !m->swap_reclaim_available || now < m->swap_reclaim_next)
                return;
        m->swap_reclaim_next = now + SWAP_RECLAIM_COOLDOWN_USEC;
        if (m->opt.dry_run) {
                log_info("Dry run: would ask the swap helper to pull the zram swap back into RAM");
                return;
        }
        (void) helper_swap_reclaim(m->helpers, on_reclaimed, m);
}

/* ---- checkpoint and restore ---- */

typedef struct CheckpointCall {
        Manager *m;
        Candidate cand;
        Decision d;
        char why[32];
        bool busy;
} CheckpointCall;

static CheckpointCall calls[8];

static void image_path(uint64_t id, char *buf, size_t size) {
        const char *home = secure_getenv("HOME");

        (void) snprintf(buf, size, "%s/.local/state/mgd/checkpoints/%016" PRIx64,
                        home && home[0] == '/' ? home : "/", id);
}

static uint64_t image_id_of(const char *path) {
        const char *b = strrchr(path, '/');

        return b ? strtoull(b + 1, NULL, 16) : 0;
}

static void on_dumped(HelperSet *set, int error, const ProtoReply *rep, int fd, void *userdata) {
        CheckpointCall *c = userdata;
        Manager *m = c->m;
        int r = error < 0 ? error : rep->error;
        RegistryEntry e = {};
        char res[160];

        c->busy = false;
        if (r < 0) {
                /* a criu failure was logged with the command that fixes criu's grant (helper.c) */
                (void) snprintf(res, sizeof res, "failed (%s), falling back to kill", strerror(-r));
                manager_record(m, "checkpoint", &c->cand, c->d.priority, c->d.footprint_kb, NULL, res, "deficit");
                manager_checkpoint_failed(m, c->cand.name);
                c->d.action = ACTION_KILL;
                (void) manager_destroy(m, &c->d, &c->cand, "checkpoint failed");
                return;
        }
        /* criu's dump ended the process; it is held as an image until restored */
        (void) registry_remove(m->registry, c->cand.pid, c->cand.starttime);
        e.pid = c->cand.pid;
        e.starttime = c->cand.starttime;
        (void) snprintf(e.name, sizeof e.name, "%s", c->cand.name);
        e.priority = c->d.priority;
        e.footprint_kb = c->d.footprint_kb;
        e.how = REGISTRY_CHECKPOINT;
        (void) snprintf(e.why, sizeof e.why, "%s", c->why);
        image_path(rep->checkpoint.image_id, e.image_dir, sizeof e.image_dir);
        e.since_realtime = now_usec(CLOCK_REALTIME) / USEC_PER_SEC;
        e.since = now_usec(CLOCK_MONOTONIC);
        (void) registry_add(m->registry, &e);
        (void) registry_persist(m->registry);
        manager_record(m, "checkpoint", &c->cand, c->d.priority, c->d.footprint_kb, "criu", "ok", "deficit");
        m->victim_exited_at = now_usec(CLOCK_MONOTONIC);
        manager_schedule_tick(m, 0);
}

int privileged_checkpoint(Manager *m, const Decision *d, const Candidate *cand, const char *why) {
        CheckpointCall *c = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(calls); i++)
                if (!calls[i].busy) {
                        c = &calls[i];
                        break;
                }
        if (!m->helpers || !m->checkpoint_available || !c)
                return -EAGAIN;
        *c = (CheckpointCall) { .m = m, .cand = *cand, .d = *d, .busy = true };
        (void) snprintf(c->why, sizeof c->why, "%s", why);
        m->avail_before_destructive = m->mem.mem_available_kb;
        r = helper_checkpoint_dump(m->helpers, cand->pid, cand->starttime, on_dumped, c);
        if (r < 0)
                c->busy = false;
        return r;
}

bool privileged_checkpoint_busy(void) {
        for (size_t i = 0; i < ELEMENTSOF(calls); i++)
                if (calls[i].busy)
                        return true;
        return false;
}

typedef struct RestoreCall {
        Manager *m;
        pid_t pid;
        uint64_t starttime;
        bool busy;
} RestoreCall;

static RestoreCall restore_call;

static void on_discarded(HelperSet *set, int error, const ProtoReply *rep, int fd, void *userdata) {
        int r = error < 0 ? error : rep->error;

        if (r < 0)
                log_info_errno(r, "Cannot discard a checkpoint image, ignoring: %m");
}

static void on_restored(HelperSet *set, int error, const ProtoReply *rep, int fd, void *userdata) {
        RestoreCall *c = userdata;
        Manager *m = c->m;
        RegistryEntry *e = registry_find_pid(m->registry, c->pid);
        int r = error < 0 ? error : rep->error;
        Candidate cand = { .pid = c->pid };
        char res[160];

        c->busy = false;
        if (!e || e->starttime != c->starttime || e->how != REGISTRY_CHECKPOINT)
                return;
        (void) snprintf(cand.name, sizeof cand.name, "%s", e->name);
        if (r == -EBUSY)
                return;         /* the dumped pid is not reaped yet: try on a later tick */
        if (r >= 0) {
                manager_record(m, "restore", &cand, e->priority, e->footprint_kb, "criu", "ok", "recovery");
                (void) registry_remove(m->registry, c->pid, c->starttime);
        } else if (++e->restore_failures >= POLICY_RESTORE_FAILURES_MAX) {
                (void) snprintf(res, sizeof res, "failed (%s), giving up and discarding the image", strerror(-r));
                manager_record(m, "restore", &cand, e->priority, e->footprint_kb, "criu", res, "recovery");
                (void) helper_checkpoint_discard(m->helpers, image_id_of(e->image_dir), on_discarded, m);
                (void) registry_remove(m->registry, c->pid, c->starttime);
        } else {
                (void) snprintf(res, sizeof res, "failed (%s), attempt %u of %d", strerror(-r),
                                e->restore_failures, POLICY_RESTORE_FAILURES_MAX);
                manager_record(m, "restore", &cand, e->priority, e->footprint_kb, "criu", res, "recovery");
        }
        (void) registry_persist(m->registry);
}

int privileged_restore(Manager *m, RegistryEntry *e) {
        int r;

        if (!m->helpers || restore_call.busy)
                return -EAGAIN;
        restore_call = (RestoreCall) { .m = m, .pid = e->pid, .starttime = e->starttime, .busy = true };
        r = helper_checkpoint_restore(m->helpers, image_id_of(e->image_dir), on_restored, &restore_call);
        if (r < 0)
                restore_call.busy = false;
        else
                log_debug("Restoring pid %d (%s) from %s", (int) e->pid, e->name, e->image_dir);
        return r;
}
