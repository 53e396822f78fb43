/* SPDX-License-Identifier: GPL-2.0-only */

#include "policy/policy.h"

static const char *candidate_field(const Candidate *cand, MatchField f) {
        switch (f) {
        case MATCH_NAME:
                return cand->name;
        case MATCH_EXE:
                return cand->exe;
        case MATCH_CMDLINE:
                return cand->cmdline;
        default:
                return NULL;
        }
}

static bool rule_matches(const Rule *r, const Candidate *cand) {
        const char *s;

        /* the loader compiles and validates every rule; an uncompiled one must not reach
         * regexec (undefined behaviour), so it simply never matches */
        if (!r->compiled)
                return false;
        s = candidate_field(cand, r->field);
        if (!s)
                return false;
        return r->literal ? literal_match(&r->lit, s) : regexec(&r->re, s, 0, NULL, 0) == 0;
}

/* Rules are in precedence order (user, system, built-in): the first match wins. */
static const Rule *match_first(const PolicyConfig *c, const Candidate *cand, bool protect) {
        if (!c->rules)
                return NULL;
        for (size_t i = 0; i < c->n_rules; i++)
                if (c->rules[i].protect == protect && rule_matches(&c->rules[i], cand))
                        return &c->rules[i];
        return NULL;
}

const Rule *policy_match_app(const PolicyConfig *c, const Candidate *cand) {
        return match_first(c, cand, false);
}

const Rule *policy_match_protect(const PolicyConfig *c, const Candidate *cand) {
        return match_first(c, cand, true);
}

int policy_priority(const PolicyConfig *c, const Candidate *cand, pid_t foreground) {
        const Rule *app;
        int prio;

        if (policy_match_protect(c, cand))
                return -1;

        app = policy_match_app(c, cand);
        prio = app ? app->priority : c->default_priority;
        if (prio <= PRIORITY_PROTECTED_MAX)
                return -1;

        /* the focused window is shielded, but never into the system tier: the floor keeps
         * it a candidate, so an Emergency can still reach it */
        if (foreground > 0 && cand->pid == foreground)
                prio = MAX(prio - PRIORITY_FOREGROUND_BONUS, PRIORITY_PROTECTED_MAX + 1);
        return prio;
}
