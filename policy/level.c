/* SPDX-License-Identifier: GPL-2.0-only */

#include <errno.h>
#include <strings.h>

#include "policy/policy.h"

static const char *const level_names[_LEVEL_MAX] = {
        [LEVEL_NORMAL] = "normal",
        [LEVEL_ELEVATED] = "elevated",
        [LEVEL_HIGH] = "high",
        [LEVEL_CRITICAL] = "critical",
        [LEVEL_EMERGENCY] = "emergency",
};

const char *level_to_string(Level l) {
        if ((unsigned) l >= _LEVEL_MAX)
                return NULL;
        return level_names[l];
}

int level_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (Level l = 0; l < _LEVEL_MAX; l++)
                if (strcasecmp(s, level_names[l]) == 0)
                        return l;
        return -EINVAL;
}

Level level_target(const PolicyConfig *c, const Score *s) {
        /*
         * The liveness gate: swap saturation and GPU residency describe how full memory is, not
         * whether anyone waits for it. Without real stall or swap traffic the machine is fine,
         * however full the (idle) zram is, and no level above Normal may be pinned by it.
         */
        /*
         * Swap traffic alone opens the gate only when liveness_swapio_kbs is set (default off):
         * processes thawed after an incident page their memory back in at megabytes per second
         * without anyone stalling, and counting that as pressure froze them again at once.
         */
        if (!(s->stall_pct >= c->liveness_stall_pct) &&
            !(c->liveness_swapio_kbs > 0 && s->swapio_kbs >= c->liveness_swapio_kbs))
                return LEVEL_NORMAL;

        for (Level l = LEVEL_EMERGENCY; l > LEVEL_NORMAL; l--)
                if (s->p >= c->level_threshold[l])
                        return l;
        return LEVEL_NORMAL;
}

void level_machine_init(LevelMachine *m, usec_t now) {
        *m = (LevelMachine) {
                .current = LEVEL_NORMAL,
                .pending = LEVEL_NORMAL,
                .calm_max = LEVEL_NORMAL,
                .entered_at = now,
        };
}

static void level_enter(LevelMachine *m, Level l, usec_t now) {
        m->current = l;
        m->entered_at = now;
        m->pending = l;
        m->pending_ticks = 0;
        m->pending_since = 0;
        m->calm_since = 0;
        m->calm_max = l;
}

/*
 * Counting ticks above the current level. The run must fit in the escalation window from its
 * first tick: a pending count that survives a long quiet gap would let two unrelated blips
 * minutes apart escalate. The machine escalates to the LOWEST target of the run, so a target
 * that alternates between High and Elevated still escalates (to Elevated) instead of
 * restarting the count on every change.
 */
static void level_escalate_tick(LevelMachine *m, const PolicyConfig *c, Level target, double trend,
                                usec_t now) {
        m->calm_since = 0;
        m->calm_max = m->current;

        if (target >= LEVEL_CRITICAL && trend > c->spike_trend) {
                level_enter(m, target, now);
                return;
        }

        if (m->pending_ticks > 0 && now >= m->pending_since &&
            now - m->pending_since <= c->escalate_window_usec) {
                m->pending_ticks++;
                m->pending = MIN(m->pending, target);
        } else {
                m->pending = target;
                m->pending_ticks = 1;
                m->pending_since = now;
        }

        if (m->pending_ticks >= c->escalate_ticks)
                level_enter(m, m->pending, now);
}

/*
 * Counting calm below the current level. The machine steps down to the highest target seen
 * while calming, never below it, after calm_to_normal_usec when that is Normal and calm_step_usec
 * otherwise. A target that alternates below the current level therefore always comes down (to
 * the top of its range); only a target at or above the current level restarts the calm.
 */
static void level_calm_tick(LevelMachine *m, const PolicyConfig *c, Level target, usec_t now) {
        usec_t need;

        m->pending = m->current;
        m->pending_ticks = 0;

        if (m->calm_since == 0 || now < m->calm_since) {
                m->calm_since = now > 0 ? now : 1;      /* 0 means "not calming" */
                m->calm_max = target;
        } else
                m->calm_max = MAX(m->calm_max, target);

        need = m->calm_max == LEVEL_NORMAL ? c->calm_to_normal_usec : c->calm_step_usec;
        if (now - m->calm_since >= need)
                level_enter(m, m->calm_max, now);
}

Level level_machine_update(LevelMachine *m, const PolicyConfig *c, Level target, double trend,
                           usec_t now) {
        if ((unsigned) target >= _LEVEL_MAX)
                return m->current;      /* a corrupt target is no evidence either way */

        if (target > m->current)
                level_escalate_tick(m, c, target, trend, now);
        else if (target < m->current)
                level_calm_tick(m, c, target, now);
        else {
                /* at the current level: neither a run of escalation ticks nor calm */
                m->pending = m->current;
                m->pending_ticks = 0;
                m->calm_since = 0;
                m->calm_max = m->current;
        }
        return m->current;
}
