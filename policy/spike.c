/* SPDX-License-Identifier: GPL-2.0-only */

#include <string.h>

#include "policy/policy.h"
#include "policy/track.h"

/*
 * Spike mode. A parallel build is the desktop's most common memory spike and the one a per-process
 * view gets most wrong: every wave of compiler workers grows fast, so each worker in turn looks
 * like a runaway, and freezing or killing one stalls or breaks the build while the next wave comes
 * anyway. Upstream tracked single pids and needed one to reach 512 MiB; here a build is the whole
 * tree under its build tool, sampled as one footprint. Everything is a fixed table: spike_feed()
 * runs on the pressure path.
 */

#define DEPTH_MAX 64            /* ancestors followed; a deeper tree is cut off there */
#define YOUNG_USEC (60 * USEC_PER_SEC)  /* as aggressor.c: judged by footprint / age this young */

void spike_init(SpikeTracker *t) {
        memset(t, 0, sizeof(*t));
}

bool spike_shield(const PolicyConfig *c, Blame blame) {
        return c->spike_mode && blame != BLAME_OTHER;
}

/*
 * The first matching app entry says build = true. Only the (few) build rules are tried first, so
 * the common case, a process no build rule matches, costs no walk over the whole table.
 */
static bool is_build_tool(const PolicyConfig *c, const Candidate *cand) {
        bool any = false;
        const Rule *app;

        for (size_t i = 0; i < c->n_rules && !any; i++)
                any = c->rules[i].build && !c->rules[i].protect;
        if (!any)
                return false;
        app = policy_match_app(c, cand);
        return app && app->build && !policy_match_protect(c, cand);
}

/* Index of pid in cands (sorted by pid), or -1. */
static ssize_t cand_find(const Candidate *cands, size_t n, pid_t pid) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (cands[mid].pid == pid)
                        return (ssize_t) mid;
                if (cands[mid].pid < pid)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -1;
}

/* The topmost build tool among i and its ancestors inside cands, or -1. */
static ssize_t build_root(const Candidate *cands, size_t n, size_t i) {
        ssize_t root = -1, k = (ssize_t) i;

        for (unsigned depth = 0; k >= 0 && depth < DEPTH_MAX; depth++) {
                if (cands[k].build_tool)
                        root = k;
                if (cands[k].ppid <= 0 || cands[k].ppid == cands[k].pid)
                        break;
                k = cand_find(cands, n, cands[k].ppid);
        }
        return root;
}

static BuildGroup *group_for(SpikeTracker *t, const Candidate *root, usec_t now) {
        BuildGroup *free_slot = NULL;

        for (size_t i = 0; i < SPIKE_GROUPS_MAX; i++) {
                BuildGroup *g = &t->groups[i];

                if (g->pid == root->pid && g->starttime == root->starttime)
                        return g;
                if (g->pid == 0 && !free_slot)
                        free_slot = g;
        }
        if (!free_slot)
                return NULL;            /* more builds than slots: the rest are ordinary processes */
        *free_slot = (BuildGroup) { .pid = root->pid, .starttime = root->starttime, .first_seen = now };
        memcpy(free_slot->name, root->name, sizeof(free_slot->name));
        return free_slot;
}

static usec_t bucket_len(const PolicyConfig *c) {
        return MAX(c->spike_window_usec / SPIKE_BUCKETS, (usec_t) 1);
}

/* The peak over the window, kept as the maximum per slice of window/SPIKE_BUCKETS. */
static void bucket_feed(BuildGroup *g, const PolicyConfig *c, usec_t now) {
        usec_t len = bucket_len(c);
        unsigned steps = 0;

        if (g->bucket_at == 0 || now < g->bucket_at || now >= g->bucket_at + SPIKE_BUCKETS * len) {
                /* the first sample, or a gap longer than the window: everything is forgotten */
                memset(g->bucket_max, 0, sizeof(g->bucket_max));
                memset(g->bucket_min, 0xff, sizeof(g->bucket_min));
                g->bucket_head = 0;
                g->bucket_at = now;
        }
        while (now >= g->bucket_at + len && steps++ < SPIKE_BUCKETS) {
                g->bucket_head = (g->bucket_head + 1) % SPIKE_BUCKETS;
                g->bucket_max[g->bucket_head] = 0;
                g->bucket_min[g->bucket_head] = UINT64_MAX;
                g->bucket_at += len;
        }
        g->bucket_max[g->bucket_head] = MAX(g->bucket_max[g->bucket_head], g->kb);
        g->bucket_min[g->bucket_head] = MIN(g->bucket_min[g->bucket_head], g->kb);
}

static uint64_t group_peak(const BuildGroup *g) {
        uint64_t peak = 0;

        for (size_t i = 0; i < SPIKE_BUCKETS; i++)
                peak = MAX(peak, g->bucket_max[i]);
        return peak;
}

static uint64_t group_trough(const BuildGroup *g) {
        uint64_t low = UINT64_MAX;

        for (size_t i = 0; i < SPIKE_BUCKETS; i++)
                low = MIN(low, g->bucket_min[i]);
        return low == UINT64_MAX ? g->kb : low;
}

/* In waves: the footprint fell below its peak by spike_drop_pct and at least spike_min_swing_kb. */
static bool group_fell(const BuildGroup *g, const PolicyConfig *c) {
        uint64_t peak = group_peak(g), drop = (uint64_t) ((double) peak * c->spike_drop_pct / 100.0);

        return peak > g->kb && peak - g->kb >= MAX(drop, c->spike_min_swing_kb);
}

/* Sample every build seen in this feed and forget the others; how many turned in waves. */
static unsigned groups_update(SpikeTracker *t, const PolicyConfig *c, usec_t now) {
        unsigned turned = 0;

        for (size_t i = 0; i < SPIKE_GROUPS_MAX; i++) {
                BuildGroup *g = &t->groups[i];

                if (g->pid == 0)
                        continue;
                if (g->seen != now) {
                        memset(g, 0, sizeof(*g));       /* the build tool is gone */
                        continue;
                }
                track_push(&g->track, g->kb, 0, now);
                bucket_feed(g, c, now);
                if (!g->waves && group_fell(g, c)) {
                        g->waves = true;
                        turned++;
                }
        }
        return turned;
}

/* Mark the build tools, then give every candidate the build of its topmost tool ancestor. */
static void groups_assign(SpikeTracker *t, const PolicyConfig *c, Candidate *cands, size_t n, usec_t now) {
        for (size_t i = 0; i < n; i++)
                cands[i].build_tool = is_build_tool(c, &cands[i]);
        for (size_t i = 0; i < n; i++) {
                ssize_t root = build_root(cands, n, i);
                BuildGroup *g;

                if (root < 0 || !(g = group_for(t, &cands[root], now)))
                        continue;
                if (g->seen != now) {
                        g->seen = now;
                        g->members = 0;
                        g->kb = 0;
                        g->young_kbs = 0;
                }
                g->members++;
                g->kb += cands[i].rss_kb + cands[i].swap_kb;
                if (cands[i].age_usec > 0 && cands[i].age_usec <= YOUNG_USEC)
                        g->young_kbs += (double) (cands[i].rss_kb + cands[i].swap_kb) * (double) USEC_PER_SEC /
                                (double) cands[i].age_usec;
                cands[i].build = (unsigned) (g - t->groups) + 1;
        }
}

unsigned spike_feed(SpikeTracker *t, const PolicyConfig *c, Candidate *cands, size_t n, usec_t now) {
        for (size_t i = 0; i < n; i++) {
                cands[i].build = 0;
                cands[i].build_tool = false;
        }
        if (!c->spike_mode || !cands) {
                spike_init(t);
                return 0;
        }
        groups_assign(t, c, cands, n, now);
        return groups_update(t, c, now);
}

const BuildGroup *spike_group(const SpikeTracker *t, unsigned k) {
        if (k == 0 || k > SPIKE_GROUPS_MAX || t->groups[k - 1].pid == 0)
                return NULL;
        return &t->groups[k - 1];
}

double spike_growth_kbs(const SpikeTracker *t, const PolicyConfig *c, unsigned k, usec_t now) {
        const BuildGroup *g = spike_group(t, k);
        usec_t window = c->aggressor_window_usec > 0 ? c->aggressor_window_usec : 5 * USEC_PER_SEC;

        if (!g)
                return 0;
        return g->track.n < 2 ? g->young_kbs : track_growth_kbs(&g->track, now, window);
}

uint64_t spike_peak_kb(const SpikeTracker *t, const PolicyConfig *c, unsigned k, usec_t now) {
        const BuildGroup *g = spike_group(t, k);

        return g ? group_peak(g) : 0;
}

bool spike_active(const SpikeTracker *t) {
        for (size_t i = 0; i < SPIKE_GROUPS_MAX; i++)
                if (t->groups[i].pid != 0 && t->groups[i].waves)
                        return true;
        return false;
}

uint64_t spike_headroom_kb(const SpikeTracker *t, const PolicyConfig *c, usec_t now) {
        uint64_t sum = 0;

        for (size_t i = 0; i < SPIKE_GROUPS_MAX; i++) {
                const BuildGroup *g = &t->groups[i];
                uint64_t peak;

                if (g->pid == 0 || !g->waves)
                        continue;
                peak = group_peak(g);
                if (peak > g->kb)
                        sum += (uint64_t) ((double) (peak - g->kb) * c->spike_headroom);
        }
        return sum;
}

uint64_t spike_reserve_kb(const SpikeTracker *t, const PolicyConfig *c) {
        uint64_t sum = 0;

        for (size_t i = 0; i < SPIKE_GROUPS_MAX; i++) {
                const BuildGroup *g = &t->groups[i];
                uint64_t peak, low;

                if (g->pid == 0 || !g->waves)
                        continue;
                peak = group_peak(g);
                low = MIN(group_trough(g), g->kb);
                if (peak > low)
                        sum += (uint64_t) ((double) (peak - low) * c->spike_headroom);
        }
        return sum;
}
