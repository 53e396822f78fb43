/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * The pressure history `mgctl calibrate` derives its recommendations from. mgd feeds it once
 * per tick with the tick's score, stall, level and memory figures; it keeps fixed-size
 * histograms weighted by time (milliseconds), so nothing is allocated on the pressure path, and
 * they are persisted rarely (every 10 minutes while calm, and at a clean exit).
 *
 * A tick is *stalling* when its memory "some" stall (Score.stall_pct: the larger of avg10 and
 * the rate over the tick) is at least HISTORY_STALL_PCT. A tick while mgd holds processes
 * (frozen or checkpointed) or has an action in flight is *intervening*: mgd's own actions shape
 * its score and MemAvailable, so it counts in intervening_ms and level_ms only, never in the
 * histograms (the onset of a stall, before mgd acts, is what they record).
 *
 * The file, <state_dir>/history (written atomically: history.tmp, fsync, rename), version 1:
 *
 *     mgd-history 1
 *     since 1732252800
 *     updated 1732339200
 *     mem_total_kb 16303428
 *     observed_ms 86100000
 *     intervening_ms 300000
 *     stall_ms 95000
 *     stall_episodes 7
 *     level_ms 86050000 250000 60000 35000 5000
 *     score_calm 0:85000000 3:900000 7:105000
 *     score_stall 9:20000 16:75000
 *     avail_calm 41:52000000 55:33905000 60:100000
 *     avail_stall 6:80000 11:15000
 *
 * One "key value" per line, separated by one space, every key exactly once, in any order after
 * the header line. since/updated: CLOCK_REALTIME seconds of the first and last observation.
 * observed_ms: time observed while not intervening; stall_ms: the stalling part of it;
 * stall_episodes: calm-to-stalling transitions outside interventions. level_ms: time at each
 * level, normal to emergency, interventions included. The four histograms are sparse lists of
 * BIN:MS with BIN 0..99 strictly increasing and MS > 0: score_* by the composite score P in
 * 1 % bins (bin = floor(100 P)), avail_* by MemAvailable in percent of MemTotal (1 % bins);
 * *_calm for non-stalling, *_stall for stalling observations. The parser checks every field and
 * the sums: score_calm + score_stall = observed_ms, score_stall = avail_stall = stall_ms,
 * avail_calm = observed_ms - stall_ms, level_ms = observed_ms + intervening_ms,
 * since <= updated, and no episode without stall time.
 *
 * Trust: the file is the user's own; it is still validated field by field, and a file that
 * fails is reported as "file:line: reason" and never used.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"
#include "policy/policy.h"

#define HISTORY_VERSION 1
#define HISTORY_FILE "history"
#define HISTORY_BINS 100
#define HISTORY_STALL_PCT 10.0          /* "some" stall % that makes a tick stalling */
/* A gap between two ticks longer than this counts as this much (mgd's slowest tick). */
#define HISTORY_DT_MAX_USEC (600 * USEC_PER_SEC)
#define HISTORY_PERSIST_USEC (600 * USEC_PER_SEC)
/* Enough for every bin of every histogram with 20-digit values. */
#define HISTORY_TEXT_MAX (4 * HISTORY_BINS * 26 + 1024)

typedef struct History {
        uint64_t since, updated;        /* CLOCK_REALTIME seconds */
        uint64_t mem_total_kb;
        uint64_t observed_ms, intervening_ms, stall_ms, stall_episodes;
        uint64_t level_ms[_LEVEL_MAX];
        uint64_t score_calm[HISTORY_BINS], score_stall[HISTORY_BINS];
        uint64_t avail_calm[HISTORY_BINS], avail_stall[HISTORY_BINS];
        bool in_stall;                  /* memory only: the last tick was stalling */
} History;

/* What one tick saw. */
typedef struct HistorySample {
        double p;                       /* Score.p */
        double stall_pct;               /* Score.stall_pct */
        Level level;
        uint64_t mem_total_kb, mem_available_kb;
        bool intervening;               /* mgd holds processes or has an action in flight */
        uint64_t realtime;              /* CLOCK_REALTIME seconds */
} HistorySample;

/* 1 % bin of a fraction 0..1: floor(100 x), clamped to 0..99; NaN is 0. */
unsigned history_bin(double fraction);

/*
 * Account the dt_usec since the previous tick to what this tick saw (the score's rates describe
 * that interval). dt is capped at HISTORY_DT_MAX_USEC; a zero dt (the first tick) and a sample
 * without MemTotal only update the stalling state. Pure: no clock, no I/O.
 */
void history_observe(History *h, const HistorySample *s, usec_t dt_usec);

/* Why a state file was refused: the 1-based line (0: the file as a whole) and the reason. */
typedef struct StateError {
        unsigned line;
        char reason[160];
} StateError;

/*
 * The skeleton of mgd's line-based state files (this history, mgctl's calibration): a first
 * line "MAGIC VERSION", then "key[ value]" lines, each ended by '\n'. fn gets each line split
 * at its first space (value NULL when there is none) and returns 0 or a state_fail() error.
 * -EINVAL: not such a file, a cut or over-long line; -EPROTONOSUPPORT: another version.
 */
typedef int (*StateLineFn)(char *key, char *value, unsigned line, void *userdata, StateError *err);
int state_text_parse(const char *text, const char *magic, unsigned version, StateLineFn fn,
                     void *userdata, StateError *err, unsigned *ret_lines);
/* Fill err (if any) and return -EINVAL. */
int state_fail(StateError *err, unsigned line, const char *fmt, ...) _printf_(3, 4);
/* Read a whole state file of at most max bytes into buf (size > max): -EFBIG, NUL byte: -EINVAL. */
int state_file_read(const char *path, char *buf, size_t size, StateError *err);

/* The file's text into buf (NUL-terminated); *ret_len (optional) excludes the NUL. -ENOBUFS. */
int history_format(const History *h, char *buf, size_t size, size_t *ret_len);
/*
 * Parse the text of a history file into *ret (untouched on failure). -EINVAL for a malformed
 * file, -EPROTONOSUPPORT for another version, with *err saying where and why.
 */
int history_parse(const char *text, History *ret, StateError *err);
/*
 * Read and parse path. -ENOENT when there is none; -EFBIG for a file larger than any history;
 * parse errors as history_parse(); other -errno of the read (err->line 0).
 */
int history_load(const char *path, History *ret, StateError *err);
/*
 * Write <dir>/history atomically, formatting into buf (HISTORY_TEXT_MAX bytes; the daemon passes
 * a preallocated one, so persisting allocates nothing). 0 or -errno.
 */
int history_save(const History *h, const char *dir, char *buf, size_t size);

/* Milliseconds of histogram h[HISTORY_BINS] in all. */
uint64_t history_bins_total(const uint64_t *bins);
