/* SPDX-License-Identifier: GPL-2.0-only */

#include "policy/policy.h"

/*
 * Bringing processes back is what pushes a recovered machine straight into pressure again, so
 * it only happens at Normal (which the level machine reaches after a full calm period), a few
 * per tick, and each only when MemAvailable still covers the reserve (policy_thaw_reserve_kb())
 * plus what the process may bring back with it. Upstream thawed in hash order with a gate that ignored the process's own
 * size, and retried failed restores forever; neither is repeated here.
 */

static bool recover_eligible(const PolicyConfig *c, const RecoveryInput *in, const HeldProcess *h) {
        switch (h->kind) {
        case HELD_FROZEN:
                /* thawing what was frozen moments ago invites a freeze/thaw ping-pong */
                return h->since <= in->now && in->now - h->since >= c->thaw_min_frozen_usec;
        case HELD_CHECKPOINTED:
                return h->restore_failures < POLICY_RESTORE_FAILURES_MAX;
        default:
                return false;
        }
}

/* Most important first, then the longest held; the index makes the order strict. */
static bool held_before(const HeldProcess *held, size_t a, size_t b) {
        if (held[a].priority != held[b].priority)
                return held[a].priority < held[b].priority;
        if (held[a].since != held[b].since)
                return held[a].since < held[b].since;
        return a < b;
}

/* The eligible entry right after prev in that order (prev < 0: the first); -1 at the end. */
static ssize_t recover_next(const PolicyConfig *c, const RecoveryInput *in, ssize_t prev) {
        ssize_t best = -1;

        for (size_t i = 0; i < in->n_held; i++) {
                if (!recover_eligible(c, in, &in->held[i]))
                        continue;
                if (prev >= 0 && !held_before(in->held, (size_t) prev, i))
                        continue;
                if (best < 0 || held_before(in->held, i, (size_t) best))
                        best = (ssize_t) i;
        }
        return best;
}

/* MemAvailable − granted ≥ reserve + footprint, without unsigned wrap-around. */
static bool recover_fits(uint64_t available, uint64_t target, uint64_t granted, uint64_t footprint) {
        uint64_t room;

        if (available < target)
                return false;
        room = available - target;
        if (room < granted)
                return false;
        return footprint <= room - granted;
}

size_t policy_recover(const PolicyConfig *c, const RecoveryInput *in, size_t *out, size_t max) {
        uint64_t target, granted = 0;
        unsigned thaws = 0, restores = 0;
        size_t n = 0;

        if ((in->level != LEVEL_NORMAL && !in->calm) || !in->held || max == 0)
                return 0;
        target = policy_thaw_reserve_kb(c, in->mem.mem_total_kb) + in->extra_reserve_kb;

        for (ssize_t i = recover_next(c, in, -1); i >= 0 && n < max; i = recover_next(c, in, i)) {
                const HeldProcess *h = &in->held[i];
                bool thaw = h->kind == HELD_FROZEN;

                if (thaws >= c->thaw_batch && restores >= c->restore_batch)
                        break;
                if (thaw ? thaws >= c->thaw_batch : restores >= c->restore_batch)
                        continue;
                /* a misfit is skipped, not a barrier: the next, smaller one may still fit */
                uint64_t cost = h->cost_known && h->kind == HELD_FROZEN ? h->thaw_cost_kb : h->footprint_kb;

                if (!recover_fits(in->mem.mem_available_kb, target, granted, cost))
                        continue;

                granted += cost;
                if (thaw)
                        thaws++;
                else
                        restores++;
                out[n++] = (size_t) i;
        }
        return n;
}
