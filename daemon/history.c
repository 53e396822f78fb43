/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The pressure history (format and rules in history.h): observing, formatting, parsing and the
 * atomic save. No logging and no allocation: mgd calls it from its tick, mgctl to read it.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/readers.h"
#include "common/statefile.h"
#include "daemon/history.h"

#define HISTORY_HEADER "mgd-history"
#define HISTORY_LINE_MAX (HISTORY_BINS * 26 + 64)
/* 10^15 ms is 31,700 years: anything larger is damage, and keeps every sum far from 2^64. */
#define HISTORY_VALUE_MAX UINT64_C(1000000000000000)

unsigned history_bin(double fraction) {
        if (!(fraction > 0))
                return 0;
        if (fraction >= 1)
                return HISTORY_BINS - 1;
        return MIN((unsigned) (fraction * HISTORY_BINS), HISTORY_BINS - 1u);
}

void history_observe(History *h, const HistorySample *s, usec_t dt_usec) {
        bool stalling = s->stall_pct >= HISTORY_STALL_PCT;
        uint64_t ms = MIN(dt_usec, HISTORY_DT_MAX_USEC) / USEC_PER_MSEC;
        unsigned sb, ab;

        if (ms == 0 || s->mem_total_kb == 0 || (unsigned) s->level >= _LEVEL_MAX) {
                h->in_stall = stalling;
                return;
        }
        if (h->since == 0)
                h->since = s->realtime;
        h->updated = MAX(h->updated, s->realtime);
        h->mem_total_kb = s->mem_total_kb;
        h->level_ms[s->level] += ms;
        if (s->intervening) {
                /* an episode that goes on through an intervention is still the same episode */
                h->intervening_ms += ms;
                h->in_stall = stalling;
                return;
        }
        if (stalling && !h->in_stall)
                h->stall_episodes++;
        h->in_stall = stalling;
        h->observed_ms += ms;
        sb = history_bin(s->p);
        ab = history_bin((double) MIN(s->mem_available_kb, s->mem_total_kb) / (double) s->mem_total_kb);
        if (stalling) {
                h->stall_ms += ms;
                h->score_stall[sb] += ms;
                h->avail_stall[ab] += ms;
        } else {
                h->score_calm[sb] += ms;
                h->avail_calm[ab] += ms;
        }
}

uint64_t history_bins_total(const uint64_t *bins) {
        uint64_t t = 0;

        for (unsigned i = 0; i < HISTORY_BINS; i++)
                t += bins[i];
        return t;
}

/* ---- formatting ---- */

typedef struct Buf {
        char *p;
        size_t size, len;
        bool overflow;
} Buf;

_printf_(2, 3)
static void buf_printf(Buf *b, const char *fmt, ...) {
        va_list ap;
        int n;

        if (b->overflow)
                return;
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= b->size - b->len)
                b->overflow = true;
        else
                b->len += (size_t) n;
}

static void format_bins(Buf *b, const char *key, const uint64_t *bins) {
        buf_printf(b, "%s", key);
        for (unsigned i = 0; i < HISTORY_BINS; i++)
                if (bins[i] > 0)
                        buf_printf(b, " %u:%" PRIu64, i, bins[i]);
        buf_printf(b, "\n");
}

int history_format(const History *h, char *buf, size_t size, size_t *ret_len) {
        Buf b = { .p = buf, .size = size };

        if (!buf || size == 0)
                return -EINVAL;
        buf[0] = '\0';
        buf_printf(&b, HISTORY_HEADER " %d\n", HISTORY_VERSION);
        buf_printf(&b, "since %" PRIu64 "\nupdated %" PRIu64 "\nmem_total_kb %" PRIu64 "\n",
                   h->since, h->updated, h->mem_total_kb);
        buf_printf(&b, "observed_ms %" PRIu64 "\nintervening_ms %" PRIu64 "\nstall_ms %" PRIu64
                   "\nstall_episodes %" PRIu64 "\nlevel_ms", h->observed_ms, h->intervening_ms,
                   h->stall_ms, h->stall_episodes);
        for (Level l = 0; l < _LEVEL_MAX; l++)
                buf_printf(&b, " %" PRIu64, h->level_ms[l]);
        buf_printf(&b, "\n");
        format_bins(&b, "score_calm", h->score_calm);
        format_bins(&b, "score_stall", h->score_stall);
        format_bins(&b, "avail_calm", h->avail_calm);
        format_bins(&b, "avail_stall", h->avail_stall);
        if (b.overflow)
                return -ENOBUFS;
        if (ret_len)
                *ret_len = b.len;
        return 0;
}

int history_save(const History *h, const char *dir, char *buf, size_t size) {
        size_t len;
        int r;

        r = history_format(h, buf, size, &len);
        if (r < 0)
                return r;
        return write_file_atomic(dir, HISTORY_FILE, buf, len, 0600);
}

/* ---- parsing ---- */

enum {
        K_SINCE, K_UPDATED, K_MEM_TOTAL, K_OBSERVED, K_INTERVENING, K_STALL, K_EPISODES, K_LEVEL,
        K_SCORE_CALM, K_SCORE_STALL, K_AVAIL_CALM, K_AVAIL_STALL, _K_MAX,
};

static const char *const key_names[_K_MAX] = {
        [K_SINCE] = "since", [K_UPDATED] = "updated", [K_MEM_TOTAL] = "mem_total_kb",
        [K_OBSERVED] = "observed_ms", [K_INTERVENING] = "intervening_ms", [K_STALL] = "stall_ms",
        [K_EPISODES] = "stall_episodes", [K_LEVEL] = "level_ms", [K_SCORE_CALM] = "score_calm",
        [K_SCORE_STALL] = "score_stall", [K_AVAIL_CALM] = "avail_calm", [K_AVAIL_STALL] = "avail_stall",
};

int state_fail(StateError *err, unsigned line, const char *fmt, ...) {
        va_list ap;

        if (err) {
                err->line = line;
                va_start(ap, fmt);
                (void) vsnprintf(err->reason, sizeof err->reason, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static uint64_t *scalar_field(History *h, unsigned k) {
        uint64_t *f[] = {
                [K_SINCE] = &h->since, [K_UPDATED] = &h->updated, [K_MEM_TOTAL] = &h->mem_total_kb,
                [K_OBSERVED] = &h->observed_ms, [K_INTERVENING] = &h->intervening_ms,
                [K_STALL] = &h->stall_ms, [K_EPISODES] = &h->stall_episodes,
        };
        return k < ELEMENTSOF(f) ? f[k] : NULL;
}

static uint64_t *bins_field(History *h, unsigned k) {
        switch (k) {
        case K_SCORE_CALM: return h->score_calm;
        case K_SCORE_STALL: return h->score_stall;
        case K_AVAIL_CALM: return h->avail_calm;
        case K_AVAIL_STALL: return h->avail_stall;
        default: return NULL;
        }
}

static int parse_value(const char *s, uint64_t *ret) {
        uint64_t v;
        int r = safe_atou64(s, &v);

        if (r < 0)
                return r;
        if (v > HISTORY_VALUE_MAX)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* "BIN:MS ..." with strictly increasing bins and MS > 0 (the writer omits empty bins). */
static int parse_bins(char *v, uint64_t *bins, const char *key, unsigned line, StateError *err) {
        int prev = -1;

        for (char *save = NULL, *t = v ? strtok_r(v, " ", &save) : NULL; t; t = strtok_r(NULL, " ", &save)) {
                char *colon = strchr(t, ':');
                uint64_t bin, ms;

                if (!colon)
                        return state_fail(err, line, "%s: '%.20s' is not BIN:MS", key, t);
                *colon = '\0';
                if (safe_atou64(t, &bin) < 0 || bin >= HISTORY_BINS)
                        return state_fail(err, line, "%s: bin '%.20s' is not 0..%d", key, t, HISTORY_BINS - 1);
                if ((int) bin <= prev)
                        return state_fail(err, line, "%s: bin %" PRIu64 " out of order", key, bin);
                if (parse_value(colon + 1, &ms) < 0 || ms == 0)
                        return state_fail(err, line, "%s: bin %" PRIu64 ": '%.20s' is not a positive"
                                          " number of milliseconds", key, bin, colon + 1);
                bins[bin] = ms;
                prev = (int) bin;
        }
        return 0;
}

static int parse_levels(char *v, History *h, unsigned line, StateError *err) {
        char *save = NULL, *t = v ? strtok_r(v, " ", &save) : NULL;

        for (Level l = 0; l < _LEVEL_MAX; l++, t = strtok_r(NULL, " ", &save))
                if (!t || parse_value(t, &h->level_ms[l]) < 0)
                        return state_fail(err, line, "level_ms: expected %d numbers of milliseconds"
                                          " (normal to emergency)", _LEVEL_MAX);
        if (t)
                return state_fail(err, line, "level_ms: more than %d values", _LEVEL_MAX);
        return 0;
}

typedef struct HistoryParse {
        History h;
        unsigned seen[_K_MAX];          /* the line of each key, 0: not yet */
} HistoryParse;

static int parse_line(char *key, char *v, unsigned line, void *userdata, StateError *err) {
        HistoryParse *hp = userdata;
        History *h = &hp->h;
        uint64_t *f;
        unsigned k;

        for (k = 0; k < _K_MAX && strcmp(key, key_names[k]) != 0; k++)
                ;
        if (k == _K_MAX)
                return state_fail(err, line, "unknown key '%.32s'", key);
        if (hp->seen[k])
                return state_fail(err, line, "duplicate key '%s' (first at line %u)", key_names[k], hp->seen[k]);
        hp->seen[k] = line;
        if (k == K_LEVEL)
                return parse_levels(v, h, line, err);
        if ((f = bins_field(h, k)))
                return parse_bins(v, f, key_names[k], line, err);
        f = scalar_field(h, k);
        if (!v || parse_value(v, f) < 0)
                return state_fail(err, line, "%s: expected an integer from 0 to 10^15", key_names[k]);
        return 0;
}

/*
 * The sums cannot wrap: parse_value() refuses anything above HISTORY_VALUE_MAX, and at most
 * 100 values are added.
 */
static int check_sums(const History *h, const unsigned line[static _K_MAX], StateError *err) {
        uint64_t calm = history_bins_total(h->score_calm), stall = history_bins_total(h->score_stall);
        uint64_t levels = 0;

        for (Level l = 0; l < _LEVEL_MAX; l++)
                levels += h->level_ms[l];
        if (h->since > h->updated)
                return state_fail(err, line[K_UPDATED], "since (%" PRIu64 ") is after updated (%" PRIu64 ")",
                                  h->since, h->updated);
        if (calm + stall != h->observed_ms)
                return state_fail(err, line[K_OBSERVED], "score_calm + score_stall (%" PRIu64 " ms) is not observed_ms"
                                  " (%" PRIu64 ")", calm + stall, h->observed_ms);
        if (stall != h->stall_ms || history_bins_total(h->avail_stall) != h->stall_ms)
                return state_fail(err, line[K_STALL], "score_stall and avail_stall do not both sum to stall_ms");
        if (history_bins_total(h->avail_calm) != calm)
                return state_fail(err, line[K_AVAIL_CALM], "avail_calm does not sum to observed_ms - stall_ms");
        if (levels != h->observed_ms + h->intervening_ms)
                return state_fail(err, line[K_LEVEL], "level_ms does not sum to observed_ms + intervening_ms");
        if (h->stall_episodes > h->stall_ms)
                return state_fail(err, line[K_EPISODES], "%" PRIu64 " stall episodes in %" PRIu64 " ms of stall",
                                  h->stall_episodes, h->stall_ms);
        return 0;
}

static int parse_header(const char *text, const char *magic, unsigned version, const char **ret_body,
                        StateError *err) {
        const char *nl = strchr(text, '\n');
        size_t hl = strlen(magic);
        uint64_t v;
        char ver[16];

        if (!nl || strncmp(text, magic, hl) != 0 || text[hl] != ' ' || (size_t) (nl - text) - hl - 1 >= sizeof ver)
                return state_fail(err, 1, "not an %s file (the first line is not \"%s %u\")", magic, magic, version);
        memcpy(ver, text + hl + 1, (size_t) (nl - text) - hl - 1);
        ver[(size_t) (nl - text) - hl - 1] = '\0';
        if (safe_atou64(ver, &v) < 0)
                return state_fail(err, 1, "bad version '%s'", ver);
        if (v != version) {
                (void) state_fail(err, 1, "unsupported %s version %" PRIu64 " (this version reads %u)",
                                  magic, v, version);
                return -EPROTONOSUPPORT;
        }
        *ret_body = nl + 1;
        return 0;
}

int state_text_parse(const char *text, const char *magic, unsigned version, StateLineFn fn,
                     void *userdata, StateError *err, unsigned *ret_lines) {
        char line[HISTORY_LINE_MAX];
        unsigned lineno = 1;
        const char *p = NULL;
        int r;

        if (!text)
                return -EINVAL;
        r = parse_header(text, magic, version, &p, err);
        if (r < 0)
                return r;
        for (const char *nl; *p; p = nl + 1) {
                char *v;

                lineno++;
                nl = strchr(p, '\n');
                if (!nl)
                        return state_fail(err, lineno, "incomplete last line (no newline): the file is cut");
                if ((size_t) (nl - p) >= sizeof line)
                        return state_fail(err, lineno, "line too long");
                memcpy(line, p, (size_t) (nl - p));
                line[nl - p] = '\0';
                v = strchr(line, ' ');
                if (v)
                        *v++ = '\0';
                r = fn(line, v, lineno, userdata, err);
                if (r < 0)
                        return r;
        }
        if (ret_lines)
                *ret_lines = lineno;
        return 0;
}

int history_parse(const char *text, History *ret, StateError *err) {
        HistoryParse hp = {};
        unsigned lines = 0;
        int r;

        if (!ret)
                return -EINVAL;
        r = state_text_parse(text, HISTORY_HEADER, HISTORY_VERSION, parse_line, &hp, err, &lines);
        if (r < 0)
                return r;
        for (unsigned k = 0; k < _K_MAX; k++)
                if (!hp.seen[k])
                        return state_fail(err, lines + 1, "missing key '%s' (the file is cut or damaged)",
                                          key_names[k]);
        r = check_sums(&hp.h, hp.seen, err);
        if (r < 0)
                return r;
        *ret = hp.h;
        return 0;
}

int state_file_read(const char *path, char *buf, size_t size, StateError *err) {
        int r;

        r = statefile_read(path, buf, size, NULL);
        if (r < 0 && err) {
                err->line = 0;
                (void) snprintf(err->reason, sizeof err->reason, "%s", statefile_strerror(r));
        }
        return r;
}

int history_load(const char *path, History *ret, StateError *err) {
        char text[HISTORY_TEXT_MAX + 1];
        int r;

        r = state_file_read(path, text, sizeof text, err);
        if (r < 0)
                return r;
        return history_parse(text, ret, err);
}
