/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * mgctl calibrate: recommended [defaults] values derived from the pressure history mgd records
 * (daemon/history.h). Pure functions: a History and the current values in, a Calibration out.
 *
 * The method (also in mgctl(1)):
 *
 *   Enough history: at least CALIBRATE_MIN_CALM_H hours of calm (non-stalling, non-intervening)
 *   observation; less is refused, saying how much there is. Stall evidence, needed for
 *   target_available_pct and for the overlap rule below: at least CALIBRATE_MIN_EPISODES stall
 *   episodes and CALIBRATE_MIN_STALL_S seconds of stall.
 *
 *   elevated_threshold: one 1 % bin above the bin that holds the 99th percentile of the score
 *   during calm time, so that normal load stays below it 99 % of the time (and the liveness gate
 *   holds the rest back unless the stall is real). If stall evidence exists and the 10th
 *   percentile of the score while stalling lies below that, calm load and stalls overlap; the
 *   threshold then follows the stalls (the lower edge of that bin): a missed stall costs more
 *   than an early freeze. Bounded to CALIBRATE_ELEVATED_MIN .. high_threshold - 0.01, so the
 *   thresholds still increase.
 *
 *   target_available_pct: MemAvailable (in % of MemTotal) that 90 % of stall time stayed below
 *   (the upper edge of its bin) plus CALIBRATE_TARGET_MARGIN points: where stall begins, and a
 *   little headroom above it, is what mgd should restore. Not derived when stalls happen at a
 *   MemAvailable that calm time also has half of the time (the calm median): such stalls do not
 *   follow MemAvailable (a cgroup limit, I/O), and no target would prevent them. Bounded to
 *   CALIBRATE_TARGET_MIN .. CALIBRATE_TARGET_MAX.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/history.h"

#define CALIBRATE_MIN_CALM_H 24
#define CALIBRATE_MIN_EPISODES 5
#define CALIBRATE_MIN_STALL_S 60
#define CALIBRATE_ELEVATED_MIN 0.03
#define CALIBRATE_TARGET_MARGIN 2
#define CALIBRATE_TARGET_MIN 5
#define CALIBRATE_TARGET_MAX 40

/*
 * The bin holding the q-quantile (0 < q <= 1) of a histogram: the first bin where the
 * cumulative time reaches ceil(q * total). -1 for an empty histogram.
 */
int histogram_quantile_bin(const uint64_t bins[static HISTORY_BINS], double q);

/* What the configuration says now (the merged layers, as mgd would load them). */
typedef struct CalibrateCurrent {
        double elevated_threshold;
        double high_threshold;
        double target_available_pct;    /* 0: scales with RAM */
        double target_available_auto;   /* the % that 0 means for this MemTotal */
} CalibrateCurrent;

typedef struct Recommendation {
        const char *key;                /* the [defaults] key */
        bool derived;                   /* a value was derived (else: evidence says why not) */
        bool change;                    /* derived and different from the current value */
        double current;                 /* the effective current value */
        double value;
        char evidence[320];
} Recommendation;

typedef struct Calibration {
        bool enough;                    /* false: refused, and refusal says why */
        char refusal[256];
        bool stall_evidence;
        Recommendation elevated, target;
} Calibration;

void calibrate_recommend(const History *h, const CalibrateCurrent *cur, Calibration *ret);

/*
 * The recommendation file mgctl calibrate writes and --apply reads, <state_dir>/calibration:
 *
 *     mgd-calibration 1
 *     created 1732339200
 *     observed_ms 86100000
 *     elevated_threshold 0.08
 *     target_available_pct 14
 *
 * created: CLOCK_REALTIME seconds; observed_ms: the history it came from. Then the keys to set,
 * at least one: elevated_threshold (0 < x < 1, two decimals) and target_available_pct (an
 * integer 1..90). Every key at most once; anything else is an error naming the line.
 */
#define CALIBRATION_FILE "calibration"
#define CALIBRATION_VERSION 1
#define CALIBRATION_TEXT_MAX 1024

typedef struct CalibrationFile {
        uint64_t created;
        uint64_t observed_ms;
        bool has_elevated, has_target;
        double elevated_threshold;
        unsigned target_available_pct;
} CalibrationFile;

/* The file's text for cal's changed recommendations; -ENODATA when nothing changes. */
int calibration_format(const Calibration *cal, uint64_t created, uint64_t observed_ms, char *buf,
                       size_t size);
int calibration_parse(const char *text, CalibrationFile *ret, StateError *err);
