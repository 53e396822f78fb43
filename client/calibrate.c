/* SPDX-License-Identifier: GPL-2.0-only */
/* The derivation of calibrate.h: history in, recommendations out. No I/O. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "client/calibrate.h"
#include "common/readers.h"

#define MS_PER_H 3600000.0

int histogram_quantile_bin(const uint64_t bins[static HISTORY_BINS], double q) {
        uint64_t total = history_bins_total(bins), need, cum = 0;

        if (total == 0 || !(q > 0))
                return -1;
        need = (uint64_t) ceil(MIN(q, 1.0) * (double) total);
        need = MAX(need, (uint64_t) 1);
        for (int i = 0; i < HISTORY_BINS; i++) {
                cum += bins[i];
                if (cum >= need)
                        return i;
        }
        return HISTORY_BINS - 1;
}

/* To two decimals, so 0.07 is 0.07 and not 0.0700000001. */
static double round2(double x) {
        return round(x * 100.0) / 100.0;
}

static void recommend_elevated(const History *h, const CalibrateCurrent *cur, bool stalls,
                               Recommendation *r) {
        int b99 = histogram_quantile_bin(h->score_calm, 0.99);
        int s10 = stalls ? histogram_quantile_bin(h->score_stall, 0.10) : -1;
        double benign = (b99 + 1) / 100.0, v = benign + 0.01, hi = round2(cur->high_threshold - 0.01);
        size_t n = 0;
        char extra[200] = "";

        if (s10 >= 0) {
                bool overlap = s10 / 100.0 < v;

                n += (size_t) snprintf(extra, sizeof extra, "; stalls began at %.2f (10th percentile)%s",
                                       s10 / 100.0, overlap ? ", below that: calm load and stalls overlap,"
                                       " the threshold follows the stalls" : "");
                if (overlap)
                        v = s10 / 100.0;
        }
        if (v < CALIBRATE_ELEVATED_MIN) {
                v = CALIBRATE_ELEVATED_MIN;
                n += (size_t) snprintf(extra + n, sizeof extra - MIN(n, sizeof extra), "; raised to the floor %.2f",
                                       CALIBRATE_ELEVATED_MIN);
        }
        if (v > hi) {
                v = hi;
                (void) snprintf(extra + n, sizeof extra - MIN(n, sizeof extra), "; capped below"
                                " high_threshold %.2f", cur->high_threshold);
        }
        r->derived = v >= CALIBRATE_ELEVATED_MIN - 1e-9;
        r->value = round2(v);
        r->change = r->derived && fabs(r->value - cur->elevated_threshold) >= 0.005;
        (void) snprintf(r->evidence, sizeof r->evidence, "99 %% of calm time scored below %.2f%s%s",
                        benign, extra, r->derived ? "" : ": high_threshold leaves no room, raise it first");
}

static void recommend_target(const History *h, const CalibrateCurrent *cur, bool stalls,
                             Recommendation *r) {
        int a90 = histogram_quantile_bin(h->avail_stall, 0.90);
        int c50 = histogram_quantile_bin(h->avail_calm, 0.50);
        double stall_hi = a90 + 1, v;

        if (!stalls) {
                (void) snprintf(r->evidence, sizeof r->evidence, "needs %d stall episodes and %d s of stall,"
                                " the history has %" PRIu64 " and %.0f s: keeping the current value",
                                CALIBRATE_MIN_EPISODES, CALIBRATE_MIN_STALL_S, h->stall_episodes,
                                h->stall_ms / 1000.0);
                return;
        }
        if (c50 < 0 || stall_hi > c50) {
                (void) snprintf(r->evidence, sizeof r->evidence, "90 %% of stall time had MemAvailable below"
                                " %.0f %%, but calm time's median is %d %%: these stalls do not follow"
                                " MemAvailable (a cgroup limit?), no target would prevent them",
                                stall_hi, c50);
                return;
        }
        v = CLAMP(stall_hi + CALIBRATE_TARGET_MARGIN, (double) CALIBRATE_TARGET_MIN, (double) CALIBRATE_TARGET_MAX);
        r->derived = true;
        r->value = v;
        r->change = fabs(v - r->current) >= 0.5;
        (void) snprintf(r->evidence, sizeof r->evidence, "90 %% of stall time had MemAvailable below %.0f %%"
                        " of RAM (calm time's median: %d %%); %d points of headroom above that%s",
                        stall_hi, c50, CALIBRATE_TARGET_MARGIN,
                        v != stall_hi + CALIBRATE_TARGET_MARGIN ? ", bounded to 5-40" : "");
}

void calibrate_recommend(const History *h, const CalibrateCurrent *cur, Calibration *ret) {
        uint64_t calm_ms = h->observed_ms - MIN(h->stall_ms, h->observed_ms);

        *ret = (Calibration) {
                .elevated = { .key = "elevated_threshold", .current = cur->elevated_threshold },
                .target = { .key = "target_available_pct",
                            .current = cur->target_available_pct > 0 ? cur->target_available_pct :
                                    cur->target_available_auto },
        };
        if (calm_ms < (uint64_t) CALIBRATE_MIN_CALM_H * 3600000) {
                (void) snprintf(ret->refusal, sizeof ret->refusal, "too little history: %.1f h of calm"
                                " observation, %d h are needed (%.1f h more of mgd running)",
                                calm_ms / MS_PER_H, CALIBRATE_MIN_CALM_H,
                                CALIBRATE_MIN_CALM_H - calm_ms / MS_PER_H);
                return;
        }
        ret->enough = true;
        ret->stall_evidence = h->stall_episodes >= CALIBRATE_MIN_EPISODES &&
                h->stall_ms >= (uint64_t) CALIBRATE_MIN_STALL_S * 1000;
        recommend_elevated(h, cur, ret->stall_evidence, &ret->elevated);
        recommend_target(h, cur, ret->stall_evidence, &ret->target);
}

/* ---- the recommendation file ---- */

int calibration_format(const Calibration *cal, uint64_t created, uint64_t observed_ms, char *buf,
                       size_t size) {
        int n;

        if (!cal->elevated.change && !cal->target.change)
                return -ENODATA;
        n = snprintf(buf, size, "mgd-calibration %d\ncreated %" PRIu64 "\nobserved_ms %" PRIu64 "\n",
                     CALIBRATION_VERSION, created, observed_ms);
        if (n >= 0 && (size_t) n < size && cal->elevated.change)
                n += snprintf(buf + n, size - (size_t) n, "elevated_threshold %.2f\n", cal->elevated.value);
        if (n >= 0 && (size_t) n < size && cal->target.change)
                n += snprintf(buf + n, size - (size_t) n, "target_available_pct %.0f\n", cal->target.value);
        return n < 0 || (size_t) n >= size ? -ENOBUFS : n;
}

typedef struct CalParse {
        CalibrationFile f;
        unsigned seen[4];
} CalParse;

static int calibration_line(char *key, char *v, unsigned line, void *userdata, StateError *err) {
        static const char *const keys[] = { "created", "observed_ms", "elevated_threshold", "target_available_pct" };
        CalParse *cp = userdata;
        uint64_t u;
        double d;
        size_t k;

        for (k = 0; k < ELEMENTSOF(keys) && strcmp(key, keys[k]) != 0; k++)
                ;
        if (k == ELEMENTSOF(keys))
                return state_fail(err, line, "unknown key '%.32s'", key);
        if (cp->seen[k])
                return state_fail(err, line, "duplicate key '%s' (first at line %u)", keys[k], cp->seen[k]);
        cp->seen[k] = line;
        switch (k) {
        case 0:
        case 1:
                if (!v || safe_atou64(v, &u) < 0)
                        return state_fail(err, line, "%s: expected a non-negative integer", keys[k]);
                *(k == 0 ? &cp->f.created : &cp->f.observed_ms) = u;
                return 0;
        case 2:
                if (!v || safe_atod(v, &d) < 0 || !(d > 0 && d < 1))
                        return state_fail(err, line, "elevated_threshold: expected a number between 0 and 1");
                cp->f.elevated_threshold = d;
                cp->f.has_elevated = true;
                return 0;
        default:
                if (!v || safe_atou64(v, &u) < 0 || u < 1 || u > 90)
                        return state_fail(err, line, "target_available_pct: expected an integer from 1 to 90");
                cp->f.target_available_pct = (unsigned) u;
                cp->f.has_target = true;
                return 0;
        }
}

int calibration_parse(const char *text, CalibrationFile *ret, StateError *err) {
        CalParse cp = {};
        unsigned lines = 0;
        int r;

        r = state_text_parse(text, "mgd-calibration", CALIBRATION_VERSION, calibration_line, &cp, err, &lines);
        if (r < 0)
                return r;
        if (!cp.seen[0] || !cp.seen[1])
                return state_fail(err, lines + 1, "missing key '%s'", cp.seen[0] ? "observed_ms" : "created");
        if (!cp.f.has_elevated && !cp.f.has_target)
                return state_fail(err, lines + 1, "no setting to apply (elevated_threshold or"
                                  " target_available_pct)");
        *ret = cp.f;
        return 0;
}
