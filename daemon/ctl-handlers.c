/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's answers to the control socket's commands (docs/PROTOCOL.md). The server has
 * already authenticated the peer (same uid) and parsed the line; these only read and change
 * the manager's state.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "daemon/cgroups.h"
#include "daemon/config.h"
#include "daemon/ctl.h"
#include "daemon/executor.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/registry.h"
#include "daemon/sense.h"
#include "policy/explain.h"

static const char *blame_to_string(Blame b) {
        return b == BLAME_BUILD ? "build" : b == BLAME_OTHER ? "other" : "unknown";
}

/* Spike mode: the builds of the last scan, how many allocate in waves, and what is blamed. */
static void status_spike(Manager *m, CtlReply *r) {
        unsigned builds = 0, waves = 0;

        for (unsigned k = 1; k <= SPIKE_GROUPS_MAX; k++) {
                const BuildGroup *g = spike_group(&m->ps->spike, k);

                builds += g != NULL;
                waves += g && g->waves;
        }
        (void) ctl_reply_line(r, "spike_mode=%s builds=%u builds_in_waves=%u blame=%s spike_reserve_kb=%" PRIu64,
                              m->config.spike_mode ? "on" : "off", builds, waves,
                              blame_to_string(aggressor_blame(&m->ps->aggressor)),
                              spike_reserve_kb(&m->ps->spike, &m->config));
}

/* The memory model of the last tick (policy/release.h), and how fast trigger events were decided. */
static void status_memory(Manager *m, CtlReply *r) {
        const MemModel *mm = &m->memm;
        char left[32] = "inf";

        if (isfinite(mm->left_usec))
                (void) snprintf(left, sizeof left, "%.1f", mm->left_usec / USEC_PER_SEC);
        (void) ctl_reply_line(r, "headroom_kb=%" PRIu64 " floor_kb=%" PRIu64 " decline_kbs=%.0f left_s=%s"
                              " need_kb=%" PRIi64 " triggers=%" PRIu64 " decision_worst_ms=%.1f",
                              mm->headroom_kb, mm->floor_kb, mm->decline_kbs, left,
                              MAX(mm->need_kb, (int64_t) 0), m->decisions,
                              (double) m->decision_worst_usec / USEC_PER_MSEC);
}

/* The cgroup actuators: what is in force now, and the reclaim done since start. */
static void status_cgroups(Manager *m, CtlReply *r) {
        CgActsStats st;

        cgacts_stats(m->cgacts, &st);
        (void) ctl_reply_line(r, "throttled=%u cpu_quota=%u memory_capped=%u reclaim_requests=%" PRIu64
                              " reclaimed_kb=%" PRIu64 " hibernate=%s cache_drop=%s",
                              st.throttled, st.quota, st.capped, st.reclaim_requests, st.reclaimed_kb,
                              m->config.hibernate_after_usec > 0 ? "on" : "off",
                              !m->config.cache_drop ? "off" : cgacts_cache_drop(m->cgacts) > 0 ? "yes" :
                              cgacts_cache_drop(m->cgacts) == 0 ? "untried" : "no");
}

static int h_status(void *userdata, CtlReply *r) {
        Manager *m = userdata;
        size_t n = registry_size(m->registry), frozen = 0;
        const char *trigger = "polling";

        for (size_t i = 0; i < n; i++)
                frozen += registry_entry(m->registry, i)->how != REGISTRY_CHECKPOINT;
        for (size_t i = 0; i < m->n_psi; i++)
                if (m->psi[i].trigger_fd >= 0)
                        trigger = m->psi[i].privileged ? "subsecond" : "2s";

        (void) ctl_reply_line(r, "level=%s target=%s score=%.3f trend=%+.4f",
                              level_to_string(m->level), level_to_string(m->target), m->score.p, m->score.trend);
        (void) ctl_reply_line(r, "s_psi=%.3f s_swap=%.3f s_gpu=%.3f s_swapio=%.3f stall_pct=%.1f full_stall_pct=%.1f swapio_kbs=%.0f",
                              m->score.s_psi, m->score.s_swap, m->score.s_gpu, m->score.s_swapio,
                              m->score.stall_pct, m->score.full_stall_pct, m->score.swapio_kbs);
        (void) ctl_reply_line(r, "mem_total_kb=%" PRIu64 " mem_available_kb=%" PRIu64
                              " swap_total_kb=%" PRIu64 " swap_free_kb=%" PRIu64,
                              m->mem.mem_total_kb, m->mem.mem_available_kb, m->mem.swap_total_kb,
                              m->mem.swap_free_kb);
        (void) ctl_reply_line(r, "frozen=%zu checkpointed=%zu in_flight=%u managed=%zu foreground=%d",
                              frozen, n - frozen, executor_in_flight(m->executor), m->n_procs,
                              (int) m->foreground);
        (void) ctl_reply_line(r, "psi_trigger=%s cgroup_freeze=%s checkpoint=%s zram_compact=%s swap_reclaim=%s "
                              "dry_run=%s", trigger, m->cgroup2_root[0] ? "yes" : "no",
                              m->checkpoint_available ? "yes" : "no", m->zram_compact_available ? "yes" : "no",
                              m->swap_reclaim_available ? "yes" : "no", m->opt.dry_run ? "yes" : "no");
        status_memory(m, r);
        status_spike(m, r);
        status_cgroups(m, r);
        return 0;
}

static int h_list(void *userdata, CtlReply *r) {
        Manager *m = userdata;
        usec_t now = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 0; i < registry_size(m->registry); i++) {
                const RegistryEntry *e = registry_entry(m->registry, i);
                char pid[16], prio[16], fp[32], age[32];

                (void) snprintf(pid, sizeof pid, "%d", (int) e->pid);
                (void) snprintf(prio, sizeof prio, "%d", e->priority);
                (void) snprintf(fp, sizeof fp, "%" PRIu64, e->footprint_kb);
                (void) snprintf(age, sizeof age, "%" PRIu64, now > e->since ? (now - e->since) / USEC_PER_SEC : 0);
                (void) ctl_reply_kv(r, "pid", pid, "name", e->name, "priority", prio, "frozen_for_s", age,
                                    "how", registry_how_to_string(e->how), "footprint_kb", fp, NULL);
        }
        return 0;
}

static int h_unfreeze(void *userdata, pid_t pid, const char *name, CtlReply *r) {
        Manager *m = userdata;
        size_t idx[REGISTRY_MAX], n;
        struct { pid_t pid; uint64_t starttime; } ids[REGISTRY_MAX];

        if (pid > 0) {
                RegistryEntry *e = registry_find_pid(m->registry, pid);
                if (!e || e->how == REGISTRY_CHECKPOINT) {
                        (void) ctl_reply_error(r, "pid %d is not frozen by mgd", (int) pid);
                        return -ESRCH;
                }
                ids[0].pid = e->pid;
                ids[0].starttime = e->starttime;
                n = 1;
        } else {
                n = registry_find_name(m->registry, name, idx, REGISTRY_MAX);
                if (n == 0) {
                        (void) ctl_reply_error(r, "no frozen process is named '%s'", name);
                        return -ESRCH;
                }
                for (size_t i = 0; i < n; i++) {
                        ids[i].pid = registry_entry(m->registry, idx[i])->pid;
                        ids[i].starttime = registry_entry(m->registry, idx[i])->starttime;
                }
        }
        /* by identity: thawing one entry removes it and moves the others */
        for (size_t i = 0; i < n; i++) {
                RegistryEntry *e = registry_find_pid(m->registry, ids[i].pid);
                char ps[16], nm[CAND_NAME_MAX];
                int k;

                if (!e || e->starttime != ids[i].starttime || e->how == REGISTRY_CHECKPOINT)
                        continue;
                (void) snprintf(nm, sizeof nm, "%s", e->name);
                k = manager_thaw(m, e, "manual");
                (void) snprintf(ps, sizeof ps, "%d", (int) ids[i].pid);
                (void) ctl_reply_kv(r, "pid", ps, "name", nm, "result", k >= 0 ? "ok" : ctl_errno_name(k), NULL);
        }
        (void) registry_persist(m->registry);
        return 0;
}

static int h_reload(void *userdata, CtlReply *r) {
        Manager *m = userdata;
        char err[CONFIG_ERROR_MAX];
        int k = manager_reload(m, err, sizeof err);

        if (k < 0) {
                (void) ctl_reply_error(r, "configuration refused, keeping the running one: %s", err);
                return k;
        }
        (void) ctl_reply_line(r, "rules=%zu", m->config.n_rules);
        return 0;
}

static int h_foreground(void *userdata, pid_t pid, CtlReply *r) {
        Manager *m = userdata;
        bool thawed = false;
        int k = manager_set_foreground(m, pid, &thawed);

        if (k < 0) {
                (void) ctl_reply_error(r, "no such process %d", (int) pid);
                return k;
        }
        if (thawed)
                (void) ctl_reply_line(r, "thawed=%d", (int) pid);
        return 0;
}

/* "freeze", "freeze,kill" (frozen first, then killed while the level holds), "none". */
static void explain_action(const Explanation *x, Level l, char *buf, size_t size) {
        if (x->then[l] != ACTION_NONE)
                (void) snprintf(buf, size, "%s,%s", action_to_string(x->now[l]), action_to_string(x->then[l]));
        else
                (void) snprintf(buf, size, "%s", action_to_string(x->now[l]));
}

/* What mgd holds of this process: how, since when (epoch s, and for how long), why. */
static void explain_held(Manager *m, const Candidate *c, char how[static 16], char since[static 24],
                         char held_for[static 24], const char **why) {
        RegistryEntry *e = registry_find_pid(m->registry, c->pid);
        usec_t now = now_usec(CLOCK_MONOTONIC);

        if (!e || e->starttime != c->starttime) {
                (void) snprintf(how, 16, "no");
                (void) snprintf(since, 24, "-");
                (void) snprintf(held_for, 24, "-");
                *why = "-";
                return;
        }
        (void) snprintf(how, 16, "%s", registry_how_to_string(e->how));
        (void) snprintf(since, 24, "%" PRIu64, e->since_realtime);
        (void) snprintf(held_for, 24, "%" PRIu64, now > e->since ? (now - e->since) / USEC_PER_SEC : 0);
        *why = e->why[0] ? e->why : "unknown";
}

static int explain_one(Manager *m, const Candidate *c, CtlReply *r) {
        char pid[16], prio[16], base[16], fp[24], rss[24], swp[24], gpu[24], grow[24], flt[24];
        char how[16], since[24], held_for[24], act[_LEVEL_MAX][32];
        bool aggressor = aggressor_is_flagged(&m->ps->aggressor, c->pid, c->starttime);
        bool shield = spike_shield(&m->config, aggressor_blame(&m->ps->aggressor));
        double growth, faults;
        const char *why;
        Explanation x;
        int k;

        k = policy_explain(&m->config, c, m->foreground, aggressor, m->checkpoint_available, shield, &x);
        if (k < 0)
                return k;
        (void) aggressor_rates(&m->ps->aggressor, c->pid, c->starttime, now_usec(CLOCK_MONOTONIC), &growth, &faults);
        explain_held(m, c, how, since, held_for, &why);
        (void) snprintf(pid, sizeof pid, "%d", (int) c->pid);
        (void) snprintf(prio, sizeof prio, "%d", x.priority);
        (void) snprintf(base, sizeof base, "%d", x.base_priority);
        (void) snprintf(fp, sizeof fp, "%" PRIu64, c->rss_kb + c->swap_kb + c->gpu_kb);
        (void) snprintf(rss, sizeof rss, "%" PRIu64, c->rss_kb);
        (void) snprintf(swp, sizeof swp, "%" PRIu64, c->swap_kb);
        (void) snprintf(gpu, sizeof gpu, "%" PRIu64, c->gpu_kb);
        (void) snprintf(grow, sizeof grow, "%.0f", growth);
        (void) snprintf(flt, sizeof flt, "%.0f", faults);
        for (Level l = LEVEL_ELEVATED; l < _LEVEL_MAX; l++)
                explain_action(&x, l, act[l], sizeof act[l]);
        return ctl_reply_kv(r, "pid", pid, "name", c->name, "priority", prio, "base_priority", base,
                            "rule", x.rule ?: "-", "origin", x.origin, "tier", explain_tier_to_string(x.tier),
                            "exempt", explain_exempt_to_string(x.exempt), "foreground", x.foreground ? "yes" : "no",
                            "aggressor", aggressor ? "yes" : "no", "footprint_kb", fp, "rss_kb", rss,
                            "swap_kb", swp, "gpu_kb", gpu, "growth_kbs", grow, "majflt_rate", flt,
                            "level", level_to_string(m->level), "at_elevated", act[LEVEL_ELEVATED],
                            "at_high", act[LEVEL_HIGH], "at_critical", act[LEVEL_CRITICAL],
                            "at_emergency", act[LEVEL_EMERGENCY], "held", how, "held_since", since,
                            "held_for_s", held_for, "held_why", why, NULL);
}

/* A fresh scan, then one record per process of it with that pid or exact name. */
static int h_explain(void *userdata, pid_t pid, const char *name, CtlReply *r) {
        Manager *m = userdata;
        unsigned found = 0;
        int k;

        k = manager_scan(m);
        if (k < 0) {
                (void) ctl_reply_error(r, "the process scan failed: %s", strerror(-k));
                return k;
        }
        for (size_t i = 0; i < m->n_procs; i++) {
                const Candidate *c = &m->cands[i];

                if (pid > 0 ? c->pid != pid : strcmp(c->name, name) != 0)
                        continue;
                k = explain_one(m, c, r);
                if (k < 0)
                        return k;
                found++;
        }
        if (found > 0)
                return 0;
        if (pid > 0)
                (void) ctl_reply_error(r, "pid %d is not a process mgd manages (not the user's, outside the "
                                       "session, or gone)", (int) pid);
        else
                (void) ctl_reply_error(r, "no process mgd manages is named '%s'", name);
        return -ESRCH;
}

static const CtlHandlers handlers = {
        .status = h_status,
        .list = h_list,
        .unfreeze = h_unfreeze,
        .reload = h_reload,
        .foreground = h_foreground,
        .explain = h_explain,
};

int manager_ctl_start(Manager *m) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (m->opt.socket_path) {
                path = strdup(m->opt.socket_path);
                if (!path)
                        return -ENOMEM;
        } else {
                r = ctl_socket_path_default(getuid(), &path);
                if (r < 0)
                        return r;
        }
        (void) snprintf(m->socket_path, sizeof m->socket_path, "%s", path);
        r = ctl_server_new(m->event, path, getuid(), &handlers, m, &m->ctl);
        if (r < 0)
                return r;
        log_info("Control socket at %s", path);
        return 0;
}
