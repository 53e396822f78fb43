/* SPDX-License-Identifier: GPL-2.0-only */
/* daemon/history.c: observing ticks, the file format, the fixtures, the atomic save. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../check-main.h"
#include "../common/fixture.h"
#include "daemon/history.h"

#define S (1000 * USEC_PER_MSEC)

static const char *history_fixture(const char *name, char *buf, size_t size) {
        ck_assert_int_lt(snprintf(buf, size, "%s/history/%s", getenv("FIXTURES"), name), (int) size);
        return buf;
}

START_TEST(test_bin) {
        static const struct { double x; unsigned bin; } t[] = {
                { 0, 0 }, { -0.5, 0 }, { 0.0099, 0 }, { 0.01, 1 }, { 0.055, 5 }, { 0.999, 99 },
                { 1.0, 99 }, { 7.0, 99 }, { __builtin_nan(""), 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                ck_assert_msg(history_bin(t[i].x) == t[i].bin, "bin(%g) = %u, want %u", t[i].x,
                              history_bin(t[i].x), t[i].bin);
}
END_TEST

/* A sequence of ticks and what each counter must be afterwards. */
START_TEST(test_observe) {
        static const struct {
                HistorySample s;
                usec_t dt;
        } ticks[] = {
                /* the first tick has no interval: nothing is counted */
                { { .p = 0.02, .stall_pct = 0, .mem_total_kb = 1000, .mem_available_kb = 500, .realtime = 100 }, 0 },
                { { .p = 0.02, .stall_pct = 0.5, .mem_total_kb = 1000, .mem_available_kb = 500, .realtime = 110 }, 10 * S },
                /* an episode: 2 stalling ticks */
                { { .p = 0.16, .stall_pct = 30, .level = LEVEL_ELEVATED, .mem_total_kb = 1000,
                    .mem_available_kb = 80, .realtime = 111 }, 1 * S },
                { { .p = 0.17, .stall_pct = 30, .level = LEVEL_ELEVATED, .mem_total_kb = 1000,
                    .mem_available_kb = 70, .realtime = 112 }, 1 * S },
                /* mgd froze something: the stall goes on, but only level_ms and intervening_ms count */
                { { .p = 0.30, .stall_pct = 50, .level = LEVEL_HIGH, .mem_total_kb = 1000,
                    .mem_available_kb = 50, .intervening = true, .realtime = 113 }, 1 * S },
                /* released while still stalling: the same episode */
                { { .p = 0.12, .stall_pct = 20, .level = LEVEL_ELEVATED, .mem_total_kb = 1000,
                    .mem_available_kb = 90, .realtime = 114 }, 1 * S },
                /* calm again, a long gap is capped at 10 minutes */
                { { .p = 0.0, .stall_pct = 0, .mem_total_kb = 1000, .mem_available_kb = 600, .realtime = 2000 }, 3600 * S },
                /* a second episode */
                { { .p = 0.08, .stall_pct = 10, .mem_total_kb = 1000, .mem_available_kb = 100, .realtime = 2001 }, 1 * S },
        };
        History h = {};

        for (size_t i = 0; i < ELEMENTSOF(ticks); i++)
                history_observe(&h, &ticks[i].s, ticks[i].dt);
        ck_assert_uint_eq(h.since, 110);
        ck_assert_uint_eq(h.updated, 2001);
        ck_assert_uint_eq(h.observed_ms, 10000 + 1000 + 1000 + 1000 + 600000 + 1000);
        ck_assert_uint_eq(h.intervening_ms, 1000);
        ck_assert_uint_eq(h.stall_ms, 4000);
        ck_assert_uint_eq(h.stall_episodes, 2);
        ck_assert_uint_eq(h.level_ms[LEVEL_NORMAL], 10000 + 600000 + 1000);
        ck_assert_uint_eq(h.level_ms[LEVEL_ELEVATED], 3000);
        ck_assert_uint_eq(h.level_ms[LEVEL_HIGH], 1000);
        ck_assert_uint_eq(h.score_calm[2], 10000);
        ck_assert_uint_eq(h.score_calm[0], 600000);
        ck_assert_uint_eq(h.score_stall[16], 1000);
        ck_assert_uint_eq(h.score_stall[17], 1000);
        ck_assert_uint_eq(h.score_stall[12], 1000);
        ck_assert_uint_eq(h.score_stall[8], 1000);
        ck_assert_uint_eq(h.score_stall[30], 0);
        ck_assert_uint_eq(h.avail_calm[50], 10000);
        ck_assert_uint_eq(h.avail_calm[60], 600000);
        ck_assert_uint_eq(h.avail_stall[8], 1000);
        ck_assert_uint_eq(h.avail_stall[7], 1000);
        ck_assert_uint_eq(h.avail_stall[9], 1000);
        ck_assert_uint_eq(h.avail_stall[10], 1000);
        ck_assert_uint_eq(h.mem_total_kb, 1000);
}
END_TEST

START_TEST(test_round_trip) {
        History h = { .since = 5, .updated = 9, .mem_total_kb = 4096, .observed_ms = 3500, .stall_ms = 500,
                      .stall_episodes = 1, .intervening_ms = 100 }, back;
        char buf[HISTORY_TEXT_MAX], small[64];
        StateError err = {};
        size_t len;

        h.level_ms[LEVEL_NORMAL] = 3000;
        h.level_ms[LEVEL_CRITICAL] = 600;
        h.score_calm[0] = 2000;
        h.score_calm[99] = 1000;
        h.score_stall[40] = 500;
        h.avail_calm[3] = 3000;
        h.avail_stall[1] = 500;
        ck_assert_int_eq(history_format(&h, buf, sizeof buf, &len), 0);
        ck_assert_uint_eq(len, strlen(buf));
        ck_assert_ptr_nonnull(strstr(buf, "\nscore_calm 0:2000 99:1000\n"));
        ck_assert_ptr_nonnull(strstr(buf, "\nlevel_ms 3000 0 0 600 0\n"));
        ck_assert_int_eq(history_parse(buf, &back, &err), 0);
        ck_assert_int_eq(memcmp(&h, &back, sizeof h), 0);
        ck_assert_int_eq(history_format(&h, small, sizeof small, NULL), -ENOBUFS);

        /* every bin of every histogram filled with the largest value still fits */
        for (unsigned i = 0; i < HISTORY_BINS; i++)
                h.score_calm[i] = h.score_stall[i] = h.avail_calm[i] = h.avail_stall[i] = UINT64_MAX;
        ck_assert_int_eq(history_format(&h, buf, sizeof buf, NULL), 0);
}
END_TEST

START_TEST(test_good_fixture) {
        char path[PATH_MAX];
        StateError err = {};
        History h;

        ck_assert_int_eq(history_load(history_fixture("good.txt", path, sizeof path), &h, &err), 0);
        ck_assert_uint_eq(h.observed_ms, 86100000);
        ck_assert_uint_eq(h.stall_episodes, 7);
        ck_assert_uint_eq(h.score_stall[16], 75000);
        ck_assert_uint_eq(h.avail_calm[55], 33905000);
        ck_assert_uint_eq(h.level_ms[LEVEL_EMERGENCY], 5000);
        ck_assert(!h.in_stall);
}
END_TEST

/* Every damaged file is refused with the line and a reason that names what is wrong. */
START_TEST(test_bad_fixtures) {
        static const struct {
                const char *file;
                int error;
                unsigned line;
                const char *reason;
        } t[] = {
                { "truncated.txt", -EINVAL, 12, "incomplete last line" },
                { "version2.txt", -EPROTONOSUPPORT, 1, "unsupported mgd-history version 2" },
                { "no-header.txt", -EINVAL, 1, "not an mgd-history file" },
                { "bad-bin.txt", -EINVAL, 11, "bin '100' is not 0..99" },
                { "out-of-order.txt", -EINVAL, 11, "bin 9 out of order" },
                { "zero-bin.txt", -EINVAL, 13, "bin 11: '0' is not a positive" },
                { "bad-sum.txt", -EINVAL, 7, "score_stall and avail_stall do not both sum to stall_ms" },
                { "bad-number.txt", -EINVAL, 8, "stall_episodes: expected an integer" },
                { "duplicate-key.txt", -EINVAL, 4, "duplicate key 'since' (first at line 2)" },
                { "unknown-key.txt", -EINVAL, 3, "unknown key 'whatever'" },
                { "bad-levels.txt", -EINVAL, 9, "level_ms: expected 5 numbers" },
                { "missing.txt", -ENOENT, 0, "No such file" },
        };
        char path[PATH_MAX];

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                History h = { .observed_ms = 42 };
                StateError err = {};
                int r = history_load(history_fixture(t[i].file, path, sizeof path), &h, &err);

                ck_assert_msg(r == t[i].error, "%s: %d, want %d", t[i].file, r, t[i].error);
                ck_assert_msg(err.line == t[i].line, "%s: line %u, want %u (%s)", t[i].file, err.line,
                              t[i].line, err.reason);
                ck_assert_msg(strstr(err.reason, t[i].reason), "%s: '%s' lacks '%s'", t[i].file,
                              err.reason, t[i].reason);
                ck_assert_uint_eq(h.observed_ms, 42);   /* untouched */
        }
}
END_TEST

START_TEST(test_parse_text) {
        static const struct { const char *text; const char *reason; } t[] = {
                { "", "not an mgd-history file" },
                { "mgd-history 1", "not an mgd-history file" },
                { "mgd-history x\n", "bad version 'x'" },
                { "mgd-history 1\nsince\n", "since: expected an integer" },
                { "mgd-history 1\nsince 10000000000000000\n", "since: expected an integer from 0 to 10^15" },
                { "mgd-history 1\nscore_calm 3\n", "'3' is not BIN:MS" },
                { "mgd-history 1\nlevel_ms 1 2 3 4 5 6\n", "more than 5 values" },
                { "mgd-history 1\n", "missing key 'since'" },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                StateError err = {};
                History h;

                ck_assert_int_lt(history_parse(t[i].text, &h, &err), 0);
                ck_assert_msg(strstr(err.reason, t[i].reason), "'%s': '%s' lacks '%s'", t[i].text,
                              err.reason, t[i].reason);
        }
}
END_TEST

START_TEST(test_save) {
        char *dir = tmptree_new(), sub[PATH_MAX], path[PATH_MAX], buf[HISTORY_TEXT_MAX];
        History h = { .since = 1, .updated = 2, .mem_total_kb = 1, .observed_ms = 10 }, back;
        StateError err = {};
        struct stat st;

        h.score_calm[0] = h.avail_calm[0] = h.level_ms[0] = 10;
        /* the state directory may not exist yet */
        ck_assert_int_lt(snprintf(sub, sizeof sub, "%s/state/mgd", dir), (int) sizeof sub);
        ck_assert_int_eq(history_save(&h, sub, buf, sizeof buf), 0);
        ck_assert_int_lt(snprintf(path, sizeof path, "%s/history", sub), (int) sizeof path);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
        ck_assert_int_eq(history_load(path, &back, &err), 0);
        ck_assert_uint_eq(back.observed_ms, 10);
        ck_assert_int_lt(snprintf(path, sizeof path, "%s/history.tmp", sub), (int) sizeof path);
        ck_assert_int_eq(stat(path, &st), -1);
        /* a directory in the way of the file: the save fails and the old file stays */
        ck_assert_int_lt(snprintf(path, sizeof path, "%s/history.tmp", sub), (int) sizeof path);
        ck_assert_int_eq(mkdir(path, 0700), 0);
        h.observed_ms = h.score_calm[0] = h.avail_calm[0] = h.level_ms[0] = 20;
        ck_assert_int_lt(history_save(&h, sub, buf, sizeof buf), 0);
        ck_assert_int_lt(snprintf(path, sizeof path, "%s/history", sub), (int) sizeof path);
        ck_assert_int_eq(history_load(path, &back, &err), 0);
        ck_assert_uint_eq(back.observed_ms, 10);
        tmptree_rm(dir);
}
END_TEST

static Suite *history_suite(void) {
        Suite *s = suite_create("history");
        TCase *tc = tcase_create("history");

        tcase_add_test(tc, test_bin);
        tcase_add_test(tc, test_observe);
        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_good_fixture);
        tcase_add_test(tc, test_bad_fixtures);
        tcase_add_test(tc, test_parse_text);
        tcase_add_test(tc, test_save);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(history_suite)
