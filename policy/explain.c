/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <string.h>

#include "policy/explain.h"

static const char *const tier_names[_TIER_MAX] = {
        [TIER_PROTECTED] = "protected",
        [TIER_IMPORTANT] = "important",
        [TIER_BACKGROUND] = "background",
        [TIER_EXPENDABLE] = "expendable",
        [TIER_HEAVY] = "expendable-heavy",
};

const char *explain_tier_to_string(ExplainTier t) {
        return (unsigned) t < _TIER_MAX ? tier_names[t] : NULL;
}

const char *explain_exempt_to_string(ExplainExempt e) {
        switch (e) {
        case EXEMPT_NONE: return "none";
        case EXEMPT_PROTECTED: return "protected";
        case EXEMPT_SMALL: return "small";
        case EXEMPT_BUILD: return "build";
        default: return NULL;
        }
}

static ExplainTier tier_of(int prio) {
        if (prio < 0 || prio <= PRIORITY_PROTECTED_MAX)
                return TIER_PROTECTED;
        if (prio < 50)
                return TIER_IMPORTANT;
        if (prio < PRIORITY_FREEZABLE_MIN)
                return TIER_BACKGROUND;
        if (prio < PRIORITY_HEAVY_MIN)
                return TIER_EXPENDABLE;
        return TIER_HEAVY;
}

/* The matrix's decision for cand alone at level, with memory short (MemAvailable 0). */
static Action plan_alone(const PolicyConfig *c, const Candidate *cand, Level level, pid_t foreground,
                         bool aggressor, bool checkpoint_available, bool shield_builds) {
        PlanInput in = {
                .level = level, .mem = { .mem_total_kb = 16ULL << 20, .mem_available_kb = 0 },
                .cands = cand, .n_cands = 1, .foreground = foreground,
                .checkpoint_available = checkpoint_available, .aggressor = aggressor ? 0 : -1,
                .shield_builds = shield_builds,
        };
        Decision d;

        return policy_plan(c, &in, &d, 1) == 1 ? d.action : ACTION_NONE;
}

static void explain_levels(const PolicyConfig *c, const Candidate *cand, pid_t foreground, bool aggressor,
                           bool checkpoint_available, bool shield_builds, Explanation *x) {
        Candidate frozen = *cand;

        frozen.frozen = FREEZE_SIGSTOP;
        for (Level l = LEVEL_NORMAL; l < _LEVEL_MAX; l++) {
                x->now[l] = plan_alone(c, cand, l, foreground, aggressor, checkpoint_available, shield_builds);
                x->then[l] = x->now[l] != ACTION_FREEZE ? ACTION_NONE :
                        plan_alone(c, &frozen, l, foreground, aggressor, checkpoint_available, shield_builds);
        }
}

int policy_explain(const PolicyConfig *c, const Candidate *cand, pid_t foreground, bool aggressor,
                   bool checkpoint_available, bool shield_builds, Explanation *ret) {
        const Rule *prot, *app;

        if (!c || !cand || !ret)
                return -EINVAL;
        prot = policy_match_protect(c, cand);
        app = policy_match_app(c, cand);
        *ret = (Explanation) {
                .priority = policy_priority(c, cand, foreground),
                .base_priority = app ? app->priority : c->default_priority,
                .rule = prot ? prot->name : app ? app->name : NULL,
                .origin = prot ? prot->origin : app ? app->origin : "default",
                .protect_entry = prot != NULL,
                .foreground = foreground > 0 && cand->pid == foreground,
                .aggressor = aggressor,
        };
        ret->tier = prot ? TIER_PROTECTED : tier_of(ret->priority);
        if (ret->priority < 0)
                ret->exempt = EXEMPT_PROTECTED;
        else if (cand->rss_kb + cand->swap_kb < c->min_footprint_kb)
                ret->exempt = EXEMPT_SMALL;
        else if (shield_builds && cand->build != 0)
                ret->exempt = EXEMPT_BUILD;
        explain_levels(c, cand, foreground, aggressor, checkpoint_available, shield_builds, ret);
        return 0;
}
