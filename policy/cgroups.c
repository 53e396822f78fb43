/* SPDX-License-Identifier: GPL-2.0-only */

#include "policy/policy.h"

#define BACKGROUND_MIN 50       /* normal background and below: CPU throttling, idle reclaim */

/* Nothing for what must never be touched, the user's focus, a build, or an empty cgroup. */
static bool cgroup_untouchable(const CgroupView *v) {
        return v->n == 0 || v->min_priority <= PRIORITY_PROTECTED_MAX || v->foreground || v->build;
}

unsigned policy_cgroup_acts(const PolicyConfig *c, Level level, const CgroupView *v) {
        unsigned acts = 0;

        if (cgroup_untouchable(v) || v->frozen)
                return 0;
        if (c->throttle && level >= LEVEL_ELEVATED && v->min_priority >= BACKGROUND_MIN)
                acts |= CG_THROTTLE;
        if (level >= LEVEL_HIGH && v->min_priority >= PRIORITY_FREEZABLE_MIN) {
                if (c->throttle)
                        acts |= CG_QUOTA;
                if (c->memory_caps)
                        acts |= CG_MEMCAP;
        }
        return acts;
}

uint64_t policy_cache_drop_bytes(const PolicyConfig *c, Level level, const CgroupView *v, usec_t idle_usec,
                                 uint64_t current_kb) {
        bool expendable, idle;

        if (!c->cache_drop || level < LEVEL_HIGH || cgroup_untouchable(v) || v->frozen || current_kb < 1024)
                return 0;
        expendable = v->min_priority >= PRIORITY_FREEZABLE_MIN;
        idle = v->min_priority >= BACKGROUND_MIN && idle_usec >= c->idle_reclaim_after_usec;
        return expendable || idle ? current_kb * 1024 : 0;
}

static bool swap_too_full(const PolicyConfig *c, const MemFigures *mem) {
        uint64_t used;

        if (mem->swap_total_kb == 0)
                return false;   /* no swap: reclaim drops clean page cache only, harmless */
        used = mem->swap_total_kb - MIN(mem->swap_free_kb, mem->swap_total_kb);
        return (double) used * 100.0 / (double) mem->swap_total_kb > c->idle_reclaim_max_swap_pct;
}

uint64_t policy_idle_reclaim_bytes(const PolicyConfig *c, Level level, const CgroupView *v, usec_t idle_usec,
                                   uint64_t current_kb, const MemFigures *mem) {
        if (!c->idle_reclaim || level != LEVEL_NORMAL || cgroup_untouchable(v) || v->frozen)
                return 0;
        if (v->min_priority < BACKGROUND_MIN || idle_usec < c->idle_reclaim_after_usec)
                return 0;
        if (current_kb < c->idle_reclaim_min_kb || swap_too_full(c, mem))
                return 0;
        return (uint64_t) ((double) current_kb * 1024.0 * c->idle_reclaim_pct / 100.0);
}
