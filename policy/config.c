/* SPDX-License-Identifier: GPL-2.0-only */

#include <errno.h>
#include <string.h>

#include "policy/policy.h"

#define KIB_PER_GIB (UINT64_C(1024) * 1024)

void policy_config_defaults(PolicyConfig *c) {
        *c = (PolicyConfig) {
                .default_priority = 50,
                .log_keep = 10,

                /*
                 * P = 0.55·S_psi + 0.20·S_swap + 0.15·S_gpu + 0.10·S_swapio. Without swap or a
                 * UMA GPU only PSI counts, so the thresholds are chosen for PSI alone to reach
                 * every level: Elevated at 9 % stall (the point where interactive latency is
                 * noticeable and where the upstream trigger wakes, yet upstream did nothing until
                 * 27 %), High at 27 %, Critical at 45 %, Emergency at 73 % (a desktop that stalls
                 * three quarters of the time is effectively hung). Swap saturation (at most 0.20)
                 * and GPU residency add on top, but the liveness gate keeps them from raising the
                 * level without real stall or swap traffic: a full zram on an idle machine stays
                 * Normal, while a full zram plus 9 % stall is Critical, because then nothing is
                 * left to swap to.
                 */
                .level_threshold = {
                        [LEVEL_ELEVATED] = 0.05,
                        [LEVEL_HIGH] = 0.15,
                        [LEVEL_CRITICAL] = 0.25,
                        [LEVEL_EMERGENCY] = 0.40,
                },
                .liveness_stall_pct = 1.0,
                .liveness_swapio_kbs = 0,      /* off: see level_target() */
                .swapio_full_scale_kbs = 51200,

                .spike_trend = 0.08,
                .escalate_ticks = 2,
                .escalate_window_usec = 5 * USEC_PER_SEC,
                .calm_to_normal_usec = 60 * USEC_PER_SEC,
                .calm_step_usec = 20 * USEC_PER_SEC,

                .target_available_pct = 0,
                .min_footprint_kb = 10240,
                .critical_max_destructive = 1,
                .emergency_max_destructive = 4,
                .kill_swap_ratio = 0.5,

                .aggressor_min_growth_kbs = 16384,
                .aggressor_window_usec = 5 * USEC_PER_SEC,
                /*
                 * A major fault is a page read back from swap or disk. A process thrashing at its
                 * limit refaults thousands of pages per second (zram serves far more), an idle or
                 * steady desktop process ~0 over a 5 s window. 200/s is 800 KiB/s of page-ins:
                 * clear of the background noise, an order of magnitude below a real thrash, and
                 * about the swap traffic the liveness gate (1000 KiB/s) already calls pressure.
                 */
                .aggressor_min_majflt_rate = 200,

                /*
                 * A victim's memory is back in well under a second when killed with
                 * process_mrelease(); the horizon leaves room for a tick, SIGTERM's first moments
                 * and a slow machine. Below the floor the kernel is seconds from its own kill.
                 */
                .release_horizon_usec = 2 * USEC_PER_SEC,
                .release_floor_pct = 0,

                .thaw_batch = 4,
                .restore_batch = 1,
                .thaw_min_frozen_usec = 10 * USEC_PER_SEC,
                /*
                 * Recovery waits for the stall to be gone, not for the level: the level also
                 * counts swap, and the swap that held it up was the frozen processes' own. 15 s
                 * below 5 % stall leaves every thaw batch done well inside a minute of calm.
                 */
                .recover_calm_usec = 15 * USEC_PER_SEC,
                .recover_stall_pct = 5.0,
                .max_frozen_usec = 180 * USEC_PER_SEC,

                /*
                 * A build's waves: a fall of 10 % (and at least 32 MiB) below the peak of the last
                 * two minutes tells a build in waves from one that only grows, and 1.25 times the
                 * climb back to that peak is kept free, as upstream's headroom_factor did.
                 */
                .spike_mode = true,
                .spike_window_usec = 120 * USEC_PER_SEC,
                .spike_drop_pct = 10,
                .spike_min_swing_kb = 32768,
                .spike_headroom = 1.25,

                /*
                 * App Nap: a tenth of the default CPU weight for background work under pressure,
                 * a quarter of one CPU for the expendable from High on (upstream: weight 1 and
                 * half a CPU). Idle reclaim: a fifth of an idle background app's memory every five
                 * minutes it stays idle, into zram, while swap is less than 60 % full.
                 */
                .throttle = true,
                .throttle_weight = 10,
                .throttle_max_pct = 25,
                .memory_caps = true,
                .freeze_reclaim = true,
                .idle_reclaim = true,
                .cache_drop = true,
                .idle_reclaim_after_usec = 300 * USEC_PER_SEC,
                .idle_reclaim_pct = 20,
                .idle_reclaim_min_kb = 51200,
                .idle_reclaim_max_swap_pct = 60,
                .hibernate_after_usec = 0,

                .fast_tick_usec = 1 * USEC_PER_SEC,
                .slow_tick_usec = 10 * USEC_PER_SEC,
                .term_grace_usec = 3 * USEC_PER_SEC,
        };
}

/* Written so that NaN fails: every comparison with NaN is false. */
static bool in_range(double v, double lo, double hi) {
        return v >= lo && v <= hi;
}

int policy_rule_validate(const Rule *r, const char **ret_what) {
        const char *what = NULL;

        if (!r)
                what = "rule";
        else if (r->name[0] == '\0' || !memchr(r->name, '\0', sizeof(r->name)))
                what = "rule.name";
        else if (r->pattern[0] == '\0' || !memchr(r->pattern, '\0', sizeof(r->pattern)))
                what = "rule.pattern";
        else if (!r->compiled)
                /* matching an uncompiled regex_t is undefined behaviour, not a non-match */
                what = "rule.pattern";
        else if ((unsigned) r->field >= _MATCH_MAX)
                what = "rule.match";
        else if (!r->protect && (r->priority < 0 || r->priority > 100))
                what = "rule.priority";
        else if (r->checkpoint < -1 || r->checkpoint > 1)
                what = "rule.checkpoint";

        if (ret_what)
                *ret_what = what;
        return what ? -EINVAL : 0;
}

static const char *validate_thresholds(const PolicyConfig *c) {
        static const char *const names[_LEVEL_MAX] = {
                [LEVEL_ELEVATED] = "level_threshold.elevated",
                [LEVEL_HIGH] = "level_threshold.high",
                [LEVEL_CRITICAL] = "level_threshold.critical",
                [LEVEL_EMERGENCY] = "level_threshold.emergency",
        };
        double prev = 0;

        /* strictly increasing and above 0: a zero threshold would make Elevated permanent */
        for (Level l = LEVEL_ELEVATED; l < _LEVEL_MAX; l++) {
                if (!in_range(c->level_threshold[l], 0, 1) || c->level_threshold[l] <= prev)
                        return names[l];
                prev = c->level_threshold[l];
        }
        return NULL;
}

static const char *validate_pressure(const PolicyConfig *c) {
        if (c->default_priority < 0 || c->default_priority > 100)
                return "default_priority";
        if (!in_range(c->liveness_stall_pct, 0, 100))
                return "liveness_stall_pct";
        if (!in_range(c->liveness_swapio_kbs, 0, 1e9))
                return "liveness_swapio_kbs";
        if (!in_range(c->swapio_full_scale_kbs, 1, 1e9))
                return "swapio_full_scale_kbs";
        if (!in_range(c->spike_trend, 1e-6, 100))
                return "spike_trend";
        if (c->escalate_ticks < 1 || c->escalate_ticks > 100)
                return "escalate_ticks";
        if (c->escalate_window_usec == 0)
                return "escalate_window_usec";
        /* the ticks of one escalation must fit in the window at the fast tick rate */
        if (c->escalate_ticks > 1 &&
            c->fast_tick_usec > c->escalate_window_usec / (c->escalate_ticks - 1))
                return "escalate_window_usec";
        if (c->calm_to_normal_usec == 0)
                return "calm_to_normal_usec";
        if (c->calm_step_usec == 0)
                return "calm_step_usec";
        return NULL;
}

static const char *validate_actions(const PolicyConfig *c) {
        /* 0 = scale with RAM; an explicit target above 90 % would keep mgd acting forever */
        if (c->target_available_pct != 0 && !in_range(c->target_available_pct, 1, 90))
                return "target_available_pct";
        if (c->critical_max_destructive < 1)
                return "critical_max_destructive";
        if (c->emergency_max_destructive < 1)
                return "emergency_max_destructive";
        if (!in_range(c->kill_swap_ratio, 0, 1))
                return "kill_swap_ratio";
        if (c->aggressor_min_growth_kbs == 0)
                return "aggressor_min_growth_kbs";
        if (c->aggressor_window_usec == 0)
                return "aggressor_window_usec";
        /* 0 would make every eligible process with a fault an aggressor */
        if (c->aggressor_min_majflt_rate == 0)
                return "aggressor_min_majflt_rate";
        if (c->thaw_batch < 1)
                return "thaw_batch";
        if (c->restore_batch < 1)
                return "restore_batch";
        if (c->release_horizon_usec < 100 * USEC_PER_MSEC || c->release_horizon_usec > 60 * USEC_PER_SEC)
                return "release_horizon_usec";
        if (c->release_floor_pct != 0 && !in_range(c->release_floor_pct, 0.5, 50))
                return "release_floor_pct";
        if (c->recover_calm_usec == 0)
                return "recover_calm_usec";
        if (!in_range(c->recover_stall_pct, 0.1, 100))
                return "recover_stall_pct";
        /* the bound must leave room for the calm and a thaw first */
        if (c->max_frozen_usec < c->thaw_min_frozen_usec + c->recover_calm_usec)
                return "max_frozen_usec";
        if (c->spike_window_usec < SPIKE_BUCKETS)
                return "spike_window_usec";
        if (!in_range(c->spike_drop_pct, 1, 90))
                return "spike_drop_pct";
        if (!in_range(c->spike_headroom, 0, 10))
                return "spike_headroom";
        if (c->throttle_weight < 1 || c->throttle_weight > 10000)
                return "throttle_weight";
        if (c->throttle_max_pct < 1 || c->throttle_max_pct > 100)
                return "throttle_max_pct";
        if (c->idle_reclaim_after_usec == 0)
                return "idle_reclaim_after_usec";
        if (!in_range(c->idle_reclaim_pct, 1, 100))
                return "idle_reclaim_pct";
        if (!in_range(c->idle_reclaim_max_swap_pct, 0, 100))
                return "idle_reclaim_max_swap_pct";
        if (c->fast_tick_usec == 0)
                return "fast_tick_usec";
        if (c->slow_tick_usec < c->fast_tick_usec)
                return "slow_tick_usec";
        if (c->term_grace_usec == 0)
                return "term_grace_usec";
        return NULL;
}

int policy_config_validate(const PolicyConfig *c, const char **ret_what) {
        const char *what;

        what = validate_thresholds(c);
        if (!what)
                what = validate_pressure(c);
        if (!what)
                what = validate_actions(c);
        if (!what && c->n_rules > 0 && !c->rules)
                what = "rules";
        for (size_t i = 0; !what && i < c->n_rules; i++)
                (void) policy_rule_validate(&c->rules[i], &what);

        if (ret_what)
                *ret_what = what;
        return what ? -EINVAL : 0;
}

uint64_t policy_thaw_reserve_kb(const PolicyConfig *c, uint64_t mem_total_kb) {
        return policy_target_available_kb(c, mem_total_kb) / 2;
}

uint64_t policy_target_available_kb(const PolicyConfig *c, uint64_t mem_total_kb) {
        uint64_t pct;

        if (c->target_available_pct > 0)
                return (uint64_t) ((double) mem_total_kb * c->target_available_pct / 100.0);

        /* small machines need proportionally more headroom: the desktop's own set is fixed */
        if (mem_total_kb < 8 * KIB_PER_GIB)
                pct = 20;
        else if (mem_total_kb < 16 * KIB_PER_GIB)
                pct = 15;
        else if (mem_total_kb < 32 * KIB_PER_GIB)
                pct = 12;
        else
                pct = 10;
        return mem_total_kb / 100 * pct + mem_total_kb % 100 * pct / 100;
}
