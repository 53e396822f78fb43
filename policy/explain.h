/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * mgctl explain: why mgd treats one process the way it does. Pure: the caller hands in the
 * candidate from a scan and what the daemon knows about it (foreground, aggressor, its growth);
 * policy_explain() resolves its priority and where the priority came from, its tier, and what the
 * plan's action matrix (policy/plan.c) would do to it at each level right now, with memory short.
 */

#include "policy/policy.h"

typedef enum ExplainTier {
        TIER_PROTECTED,                 /* 0-19 or a [protect] entry: never touched */
        TIER_IMPORTANT,                 /* 20-49 */
        TIER_BACKGROUND,                /* 50-59 */
        TIER_EXPENDABLE,                /* 60-79: frozen from Elevated on */
        TIER_HEAVY,                     /* 80-100: also killed at High once frozen */
        _TIER_MAX,
} ExplainTier;

const char *explain_tier_to_string(ExplainTier t);    /* "protected", ...; NULL if out of range */

/* Why it is left alone at every level, whatever its tier. */
typedef enum ExplainExempt {
        EXEMPT_NONE,
        EXEMPT_PROTECTED,
        EXEMPT_SMALL,                   /* under min_footprint */
        EXEMPT_BUILD,                   /* a build's member while builds are shielded */
} ExplainExempt;

const char *explain_exempt_to_string(ExplainExempt e);        /* "none", "protected", ... */

typedef struct Explanation {
        int priority;                   /* effective (foreground bonus applied); -1: protected */
        int base_priority;              /* the entry's or the default, before the bonus */
        const char *rule;               /* the matching entry's name; NULL: the default */
        const char *origin;             /* "built-in", "FILE:LINE", or "default" */
        bool protect_entry;             /* a [protect] entry matched */
        ExplainTier tier;
        bool foreground;
        bool aggressor;
        ExplainExempt exempt;
        /* what the matrix decides now at each level (NONE at Normal), and, for a freeze, what it
         * decides once the process is frozen */
        Action now[_LEVEL_MAX];
        Action then[_LEVEL_MAX];
} Explanation;

/*
 * Explain cand (a scan's candidate, its frozen state included). shield_builds: builds are
 * shielded now (spike mode, the incident not blamed on anything else). Returns 0, or -EINVAL for
 * a NULL argument.
 */
int policy_explain(const PolicyConfig *c, const Candidate *cand, pid_t foreground, bool aggressor,
                   bool checkpoint_available, bool shield_builds, Explanation *ret);
