/* SPDX-License-Identifier: GPL-2.0-only */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pwd.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "build-config.h"
#include "daemon/config.h"

/*
 * inih is the tokenizer: it splits "key = value", strips blanks and ';' comments. The reader we
 * hand it supplies what the packaged library lacks or does silently: line numbers (it is built
 * without INI_HANDLER_LINENO), section boundaries (no INI_CALL_HANDLER_ON_NEW_SECTION, so an
 * empty or repeated section would be invisible), and a strict lexical check of every line, so
 * inih never truncates a section name (49 bytes) or key (49 bytes), never splits a long line,
 * and never treats an indented line as the continuation of the previous value: the reader
 * passes each line on with its indentation removed. Parsing stops at the first error.
 */
#define SECTION_BODY_MAX 48
#define KEY_NAME_MAX 48
#define PRIORITY_UNSET (-1)
#define LOCATION_MAX (PATH_MAX + 16)
#define SECTION_KEYS_MAX 64

static const char *const match_field_table[_MATCH_MAX] = {
        [MATCH_NAME] = "name",
        [MATCH_EXE] = "exe",
        [MATCH_CMDLINE] = "cmdline",
};

const char *match_field_to_string(MatchField f) {
        return (unsigned) f < _MATCH_MAX ? match_field_table[f] : NULL;
}

/* ---- [defaults]: one key per PolicyConfig scalar ----------------------------------------- */

typedef enum ValueType {
        VALUE_INT,
        VALUE_UNSIGNED,
        VALUE_U64,
        VALUE_DOUBLE,
        VALUE_USEC,
        VALUE_MB_AS_KB,
        VALUE_BOOL,
} ValueType;

typedef struct DefaultsKey {
        const char *key;
        const char *field;              /* as policy_config_validate() names it */
        ValueType type;
        size_t offset;
        double min, max;                /* in the stored unit (µs for times, KiB for sizes) */
        const char *range;              /* the same, as the documentation writes it */
        const char *constraint;         /* what validation checks beyond the range, or NULL */
} DefaultsKey;

#define OFF(f) offsetof(PolicyConfig, f)
#define SEC 1e6
#define MSEC 1e3

static const char thresholds_rule[] =
        "the thresholds must increase: 0 < elevated_threshold < high_threshold < critical_threshold"
        " < emergency_threshold <= 1";

static const DefaultsKey defaults_keys[] = {
        { "priority", "default_priority", VALUE_INT, OFF(default_priority), 0, 100, "0-100", NULL },
        { "log_keep", "log_keep", VALUE_UNSIGNED, OFF(log_keep), 0, 100000, "0-100000", NULL },
        { "elevated_threshold", "level_threshold.elevated", VALUE_DOUBLE,
          OFF(level_threshold[LEVEL_ELEVATED]), 0, 1, "0-1", thresholds_rule },
        { "high_threshold", "level_threshold.high", VALUE_DOUBLE,
          OFF(level_threshold[LEVEL_HIGH]), 0, 1, "0-1", thresholds_rule },
        { "critical_threshold", "level_threshold.critical", VALUE_DOUBLE,
          OFF(level_threshold[LEVEL_CRITICAL]), 0, 1, "0-1", thresholds_rule },
        { "emergency_threshold", "level_threshold.emergency", VALUE_DOUBLE,
          OFF(level_threshold[LEVEL_EMERGENCY]), 0, 1, "0-1", thresholds_rule },
        { "liveness_stall_pct", "liveness_stall_pct", VALUE_DOUBLE, OFF(liveness_stall_pct),
          0, 100, "0-100", NULL },
        { "liveness_swapio_kbs", "liveness_swapio_kbs", VALUE_DOUBLE, OFF(liveness_swapio_kbs),
          0, 1e9, "0-1000000000", NULL },
        { "swapio_full_scale_kbs", "swapio_full_scale_kbs", VALUE_DOUBLE, OFF(swapio_full_scale_kbs),
          1, 1e9, "1-1000000000", NULL },
        { "spike_trend", "spike_trend", VALUE_DOUBLE, OFF(spike_trend), 1e-6, 100, "0.000001-100", NULL },
        { "escalate_ticks", "escalate_ticks", VALUE_UNSIGNED, OFF(escalate_ticks), 1, 100, "1-100",
          "escalate_window must hold escalate_ticks - 1 fast ticks" },
        { "escalate_window", "escalate_window_usec", VALUE_USEC, OFF(escalate_window_usec),
          100 * MSEC, 600 * SEC, "100ms-10min",
          "escalate_window must hold escalate_ticks - 1 fast ticks:"
          " escalate_window >= (escalate_ticks - 1) * fast_tick" },
        { "calm_to_normal", "calm_to_normal_usec", VALUE_USEC, OFF(calm_to_normal_usec),
          1 * SEC, 3600 * SEC, "1s-1h", NULL },
        { "calm_step", "calm_step_usec", VALUE_USEC, OFF(calm_step_usec),
          1 * SEC, 3600 * SEC, "1s-1h", NULL },
        { "target_available_pct", "target_available_pct", VALUE_DOUBLE, OFF(target_available_pct),
          0, 90, "0 or 1-90", "0 (scale with RAM) or 1-90" },
        { "min_footprint_mb", "min_footprint_kb", VALUE_MB_AS_KB, OFF(min_footprint_kb),
          0, 65536.0 * 1024, "0-65536", NULL },
        { "critical_max_destructive", "critical_max_destructive", VALUE_UNSIGNED,
          OFF(critical_max_destructive), 1, 1000, "1-1000", NULL },
        { "emergency_max_destructive", "emergency_max_destructive", VALUE_UNSIGNED,
          OFF(emergency_max_destructive), 1, 1000, "1-1000", NULL },
        { "kill_swap_ratio", "kill_swap_ratio", VALUE_DOUBLE, OFF(kill_swap_ratio), 0, 1, "0-1", NULL },
        { "aggressor_min_growth_kbs", "aggressor_min_growth_kbs", VALUE_U64, OFF(aggressor_min_growth_kbs),
          1, 1e9, "1-1000000000", NULL },
        { "aggressor_window", "aggressor_window_usec", VALUE_USEC, OFF(aggressor_window_usec),
          1 * SEC, 600 * SEC, "1s-10min", NULL },
        { "aggressor_min_majflt_rate", "aggressor_min_majflt_rate", VALUE_U64, OFF(aggressor_min_majflt_rate),
          1, 1e9, "1-1000000000", NULL },
        { "thaw_batch", "thaw_batch", VALUE_UNSIGNED, OFF(thaw_batch), 1, 1000, "1-1000", NULL },
        { "restore_batch", "restore_batch", VALUE_UNSIGNED, OFF(restore_batch), 1, 1000, "1-1000", NULL },
        { "thaw_min_frozen", "thaw_min_frozen_usec", VALUE_USEC, OFF(thaw_min_frozen_usec),
          0, 3600 * SEC, "0-1h", "max_frozen must be at least thaw_min_frozen + recover_calm" },
        { "recover_calm", "recover_calm_usec", VALUE_USEC, OFF(recover_calm_usec), 1 * SEC, 3600 * SEC, "1s-1h",
          "max_frozen must be at least thaw_min_frozen + recover_calm" },
        { "recover_stall_pct", "recover_stall_pct", VALUE_DOUBLE, OFF(recover_stall_pct), 0.1, 100, "0.1-100", NULL },
        { "max_frozen", "max_frozen_usec", VALUE_USEC, OFF(max_frozen_usec), 10 * SEC, 86400 * SEC, "10s-24h",
          "max_frozen must be at least thaw_min_frozen + recover_calm" },
        { "release_horizon", "release_horizon_usec", VALUE_USEC, OFF(release_horizon_usec), 100 * MSEC,
          60 * SEC, "100ms-60s", NULL },
        { "release_floor_pct", "release_floor_pct", VALUE_DOUBLE, OFF(release_floor_pct), 0, 50,
          "0 (auto) or 0.5-50", "0 (auto) or 0.5-50" },
        { "spike_mode", "spike_mode", VALUE_BOOL, OFF(spike_mode), 0, 1, "true or false", NULL },
        { "spike_window", "spike_window_usec", VALUE_USEC, OFF(spike_window_usec), 10 * SEC, 3600 * SEC,
          "10s-1h", NULL },
        { "spike_drop_pct", "spike_drop_pct", VALUE_DOUBLE, OFF(spike_drop_pct), 1, 90, "1-90", NULL },
        { "spike_min_swing_mb", "spike_min_swing_kb", VALUE_MB_AS_KB, OFF(spike_min_swing_kb), 0,
          65536 * 1024.0, "0-65536", NULL },
        { "spike_headroom", "spike_headroom", VALUE_DOUBLE, OFF(spike_headroom), 0, 10, "0-10", NULL },
        { "throttle", "throttle", VALUE_BOOL, OFF(throttle), 0, 1, "true or false", NULL },
        { "throttle_weight", "throttle_weight", VALUE_UNSIGNED, OFF(throttle_weight), 1, 10000, "1-10000", NULL },
        { "throttle_max_pct", "throttle_max_pct", VALUE_UNSIGNED, OFF(throttle_max_pct), 1, 100, "1-100", NULL },
        { "memory_caps", "memory_caps", VALUE_BOOL, OFF(memory_caps), 0, 1, "true or false", NULL },
        { "freeze_reclaim", "freeze_reclaim", VALUE_BOOL, OFF(freeze_reclaim), 0, 1, "true or false", NULL },
        { "idle_reclaim", "idle_reclaim", VALUE_BOOL, OFF(idle_reclaim), 0, 1, "true or false", NULL },
        { "cache_drop", "cache_drop", VALUE_BOOL, OFF(cache_drop), 0, 1, "true or false", NULL },
        { "idle_reclaim_after", "idle_reclaim_after_usec", VALUE_USEC, OFF(idle_reclaim_after_usec), 10 * SEC,
          86400 * SEC, "10s-24h", NULL },
        { "idle_reclaim_pct", "idle_reclaim_pct", VALUE_DOUBLE, OFF(idle_reclaim_pct), 1, 100, "1-100", NULL },
        { "idle_reclaim_min_mb", "idle_reclaim_min_kb", VALUE_MB_AS_KB, OFF(idle_reclaim_min_kb), 0,
          65536 * 1024.0, "0-65536", NULL },
        { "idle_reclaim_max_swap_pct", "idle_reclaim_max_swap_pct", VALUE_DOUBLE, OFF(idle_reclaim_max_swap_pct),
          0, 100, "0-100", NULL },
        { "hibernate_after", "hibernate_after_usec", VALUE_USEC, OFF(hibernate_after_usec), 0, 86400 * SEC,
          "0 (off) or up to 24h", NULL },
        { "fast_tick", "fast_tick_usec", VALUE_USEC, OFF(fast_tick_usec), 100 * MSEC, 60 * SEC,
          "100ms-60s",
          "escalate_window must hold escalate_ticks - 1 fast ticks, and slow_tick >= fast_tick" },
        { "slow_tick", "slow_tick_usec", VALUE_USEC, OFF(slow_tick_usec), 100 * MSEC, 600 * SEC,
          "100ms-10min", "slow_tick must be at least fast_tick" },
        { "term_grace", "term_grace_usec", VALUE_USEC, OFF(term_grace_usec), 100 * MSEC, 60 * SEC,
          "100ms-60s", NULL },
};

_Static_assert(ELEMENTSOF(defaults_keys) <= SECTION_KEYS_MAX, "too many [defaults] keys");

/* ---- app and protect entries ------------------------------------------------------------- */

typedef enum EntryKey {
        KEY_PATTERN,
        KEY_PRIORITY,
        KEY_CHECKPOINT,
        KEY_MATCH,
        KEY_UNPROTECT,
        KEY_BUILD,
        _KEY_ENTRY_MAX,
} EntryKey;

static const struct {
        const char *key;
        bool in_protect;
} entry_keys[_KEY_ENTRY_MAX] = {
        [KEY_PATTERN] = { "pattern", true },
        [KEY_PRIORITY] = { "priority", false },
        [KEY_CHECKPOINT] = { "checkpoint", false },
        [KEY_MATCH] = { "match", true },
        [KEY_UNPROTECT] = { "unprotect", false },
        [KEY_BUILD] = { "build", false },
};

typedef enum SectionKind {
        SECTION_NONE,                   /* before the first header */
        SECTION_UNKNOWN,
        SECTION_DEFAULTS,
        SECTION_APP,
        SECTION_PROTECT,
} SectionKind;

/* The section being read; app and protect sections are committed when the next one starts. */
typedef struct Section {
        SectionKind kind;
        unsigned line;
        char body[SECTION_BODY_MAX + 1];        /* between the brackets, as inih passes it */
        char name[CONFIG_ENTRY_NAME_MAX + 1];
        unsigned key_line[SECTION_KEYS_MAX];    /* where each known key was set; 0: not set */
        char pattern[RULE_PATTERN_MAX];
        regex_t re;
        bool compiled;
        bool literal;                   /* matched through lit; re was freed at once */
        LiteralSet lit;
        MatchField field;
        int priority;
        int checkpoint;
        bool unprotect;
        bool build;
} Section;

/* A rule while the layers are merged. */
typedef struct Entry {
        Rule rule;
        RuleSource home;                /* the layer where the name first appeared: its block */
        size_t seq;                     /* order of first appearance */
        const BuiltinRule *builtin;
        unsigned defined_line;          /* its section in the file being read; 0: none yet */
        bool unprotect;                 /* a file lowered its built-in protection on purpose */
} Entry;

typedef struct Loader {
        PolicyConfig cfg;               /* the scalars; cfg.rules is built at the end */
        Entry *entries;
        size_t n_entries, n_alloc;
        char defaults_origin[ELEMENTSOF(defaults_keys)][RULE_ORIGIN_MAX];

        /* the file being read */
        const char *path;
        RuleSource source;
        FILE *f;
        unsigned lineno;
        unsigned defaults_line;
        Section sec;
        char *buf;
        size_t bufsz;

        int error;                      /* the first error, -errno; parsing stops there */
        ConfigError *err;
        ConfigWarnFn warn;
        void *userdata;
} Loader;

/* ---- reporting --------------------------------------------------------------------------- */

/* "path:line", keeping the tail of a path too long for the buffer (the file name matters most). */
static void location_format(char *buf, size_t size, const char *path, unsigned line) {
        char num[16];
        size_t len = strlen(path), room;

        (void) snprintf(num, sizeof(num), ":%u", line);
        room = size - 1 - strlen(num);
        if (len <= room)
                (void) snprintf(buf, size, "%s%s", path, num);
        else
                (void) snprintf(buf, size, "...%s%s", path + len - (room - 3), num);
}

static const char *loader_where(Loader *l, unsigned line, char buf[static LOCATION_MAX]) {
        location_format(buf, LOCATION_MAX, l->path, line);
        return buf;
}

/* "where: reason", truncated to the buffer. */
_printf_(4, 0)
static void message_format(char *buf, size_t size, const char *where, const char *fmt, va_list ap) {
        int n = snprintf(buf, size, "%s: ", where);

        if (n >= 0 && (size_t) n < size)
                (void) vsnprintf(buf + n, size - (size_t) n, fmt, ap);
}

_printf_(4, 5)
static int loader_fail(Loader *l, int error, const char *where, const char *fmt, ...) {
        va_list ap;

        if (l->error < 0)
                return l->error;        /* only the first error is reported */
        if (l->err) {
                va_start(ap, fmt);
                message_format(l->err->message, sizeof(l->err->message), where, fmt, ap);
                va_end(ap);
        }
        l->error = error;
        return error;
}

_printf_(3, 4)
static void loader_warn(Loader *l, const char *where, const char *fmt, ...) {
        char msg[CONFIG_ERROR_MAX];
        va_list ap;

        if (!l->warn)
                return;
        va_start(ap, fmt);
        message_format(msg, sizeof(msg), where, fmt, ap);
        va_end(ap);
        l->warn(msg, l->userdata);
}

#define WHERE(l, line) loader_where((l), (line), (char[LOCATION_MAX]) {})
/* -EINVAL at the line being read */
#define fail_line(l, ...) loader_fail((l), -EINVAL, WHERE((l), (l)->lineno), __VA_ARGS__)

/* ---- values ------------------------------------------------------------------------------ */

/* An optional '-' and digits, nothing else: "+5", " 5", "5x" and "" are all rejected. */
static int parse_int64(const char *s, int64_t *ret) {
        bool neg = *s == '-';
        uint64_t v = 0;
        const char *p = s + neg;

        if (!isdigit((unsigned char) *p))
                return -EINVAL;
        for (; isdigit((unsigned char) *p); p++) {
                unsigned d = (unsigned) (*p - '0');

                if (v > ((uint64_t) INT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (*p)
                return -EINVAL;
        *ret = neg ? -(int64_t) v : (int64_t) v;
        return 0;
}

/* Digits with an optional fraction: no sign, exponent, hex, "inf" or "nan" that strtod takes. */
static int parse_double(const char *s, double *ret) {
        const char *p = s;
        char *end;

        if (!isdigit((unsigned char) *p))
                return -EINVAL;
        while (isdigit((unsigned char) *p))
                p++;
        if (*p == '.') {
                p++;
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                while (isdigit((unsigned char) *p))
                        p++;
        }
        if (*p)
                return -EINVAL;
        errno = 0;
        *ret = strtod(s, &end);
        return errno == ERANGE ? -ERANGE : 0;
}

static const struct {
        const char *suffix;
        usec_t mult;
} time_units[] = {
        { "us", 1 }, { "usec", 1 },
        { "ms", USEC_PER_MSEC }, { "msec", USEC_PER_MSEC },
        { "s", USEC_PER_SEC }, { "sec", USEC_PER_SEC },
        { "m", 60 * USEC_PER_SEC }, { "min", 60 * USEC_PER_SEC },
        { "h", 3600 * USEC_PER_SEC },
};

/* "10s", "500ms", "2min", "1.5s" or bare seconds ("10"). Exact integer arithmetic. */
static int parse_usec(const char *s, usec_t *ret) {
        uint64_t whole = 0, frac = 0, scale = 1;
        usec_t mult = USEC_PER_SEC;
        const char *p = s;

        if (!isdigit((unsigned char) *p))
                return -EINVAL;
        for (; isdigit((unsigned char) *p); p++) {
                unsigned d = (unsigned) (*p - '0');

                if (whole > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                whole = whole * 10 + d;
        }
        if (*p == '.') {
                if (!isdigit((unsigned char) *++p))
                        return -EINVAL;
                for (; isdigit((unsigned char) *p); p++)
                        if (scale < 1000000000) {       /* digits past 1 ns are dropped */
                                frac = frac * 10 + (unsigned) (*p - '0');
                                scale *= 10;
                        }
        }
        while (*p == ' ')
                p++;
        if (*p) {
                size_t i;

                for (i = 0; i < ELEMENTSOF(time_units); i++)
                        if (strcmp(p, time_units[i].suffix) == 0)
                                break;
                if (i >= ELEMENTSOF(time_units))
                        return -EINVAL;
                mult = time_units[i].mult;
        }
        if (whole > (UINT64_MAX - mult) / mult)
                return -ERANGE;
        *ret = whole * mult + frac * mult / scale;
        return 0;
}

static int parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "true", "yes", "on", "1" };
        static const char *const no[] = { "false", "no", "off", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
                        *ret = strcasecmp(s, yes[i]) == 0;
                        return 0;
                }
        return -EINVAL;
}

static int parse_match(const char *s, MatchField *ret) {
        for (MatchField f = 0; f < _MATCH_MAX; f++)
                if (strcmp(s, match_field_table[f]) == 0) {
                        *ret = f;
                        return 0;
                }
        return -EINVAL;
}

/* Parse one [defaults] value into the number it stores, before the range check. */
static int defaults_parse(const DefaultsKey *k, const char *value, double *ret) {
        int64_t i;
        usec_t u;
        bool b;
        int r;

        switch (k->type) {
        case VALUE_INT:
        case VALUE_UNSIGNED:
        case VALUE_U64:
        case VALUE_MB_AS_KB:
                r = parse_int64(value, &i);
                if (r < 0)
                        return r;
                *ret = (double) i * (k->type == VALUE_MB_AS_KB ? 1024 : 1);
                return 0;
        case VALUE_DOUBLE:
                return parse_double(value, ret);
        case VALUE_BOOL:
                r = parse_bool(value, &b);
                if (r < 0)
                        return r;
                *ret = b;
                return 0;
        case VALUE_USEC:
                r = parse_usec(value, &u);
                if (r < 0)
                        return r;
                *ret = (double) u;
                return 0;
        }
        return -EINVAL;
}

/* Ranges are checked first, so every integer conversion below is exact and in range. */
static void defaults_store(PolicyConfig *c, const DefaultsKey *k, double v) {
        void *p = (uint8_t *) c + k->offset;

        switch (k->type) {
        case VALUE_INT:
                *(int *) p = (int) v;
                break;
        case VALUE_UNSIGNED:
                *(unsigned *) p = (unsigned) v;
                break;
        case VALUE_U64:
        case VALUE_MB_AS_KB:
                *(uint64_t *) p = (uint64_t) v;
                break;
        case VALUE_DOUBLE:
                *(double *) p = v;
                break;
        case VALUE_USEC:
                *(usec_t *) p = (usec_t) v;
                break;
        case VALUE_BOOL:
                *(bool *) p = v != 0;
                break;
        }
}

static const char *value_expected(ValueType t) {
        switch (t) {
        case VALUE_INT:
        case VALUE_UNSIGNED:
        case VALUE_U64:
        case VALUE_MB_AS_KB:
                return "expected an integer";
        case VALUE_DOUBLE:
                return "expected a number such as 0.5 or 12";
        case VALUE_USEC:
                return "expected a duration such as 500ms, 10s, 2min or bare seconds";
        case VALUE_BOOL:
                return "expected true or false";
        }
        return "invalid";
}

static int defaults_set(Loader *l, const char *key, const char *value) {
        const DefaultsKey *k = NULL;
        size_t i;
        double v;
        int r;

        for (i = 0; i < ELEMENTSOF(defaults_keys); i++)
                if (strcmp(key, defaults_keys[i].key) == 0) {
                        k = &defaults_keys[i];
                        break;
                }
        if (!k) {
                loader_warn(l, WHERE(l, l->lineno), "unknown key '%s' in [defaults], ignoring", key);
                return 0;
        }
        if (l->sec.key_line[i] > 0)
                return fail_line(l, "duplicate key '%s' in [defaults] (first at line %u)",
                                 key, l->sec.key_line[i]);
        l->sec.key_line[i] = l->lineno;

        r = defaults_parse(k, value, &v);
        if (r == -EINVAL)
                return fail_line(l, "[defaults] %s = %s: %s", key, value, value_expected(k->type));
        if (r < 0 || !(v >= k->min && v <= k->max))
                return fail_line(l, "[defaults] %s = %s: out of range (%s)", key, value, k->range);
        defaults_store(&l->cfg, k, v);
        location_format(l->defaults_origin[i], RULE_ORIGIN_MAX, l->path, l->lineno);
        return 0;
}

/* ---- entries ----------------------------------------------------------------------------- */

static void section_clear(Section *s) {
        if (s->compiled && !s->literal)
                regfree(&s->re);
        *s = (Section) {};
}

/*
 * Compile a pattern: always through regcomp(), which decides what is valid and words the error;
 * a plain alternation then trades its regex for the literal form at once (policy.h, LiteralSet:
 * the same meaning without the regex's 10-20 KiB of heap), so loading the table never holds more
 * than one regex it does not need.
 */
static int pattern_compile(const char *pattern, regex_t *re, LiteralSet *lit, bool *literal,
                           char *msg, size_t size) {
        int r = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);

        if (r != 0) {
                (void) regerror(r, re, msg, size);
                return -EINVAL;         /* a failed regcomp() leaves nothing to regfree() */
        }
        *literal = literal_compile(pattern, lit) >= 0;
        if (*literal) {
                regfree(re);
                memset(re, 0, sizeof(*re));
        }
        return 0;
}

static bool pattern_matches(const regex_t *re, const LiteralSet *lit, bool literal, const char *s) {
        return literal ? literal_match(lit, s) : regexec(re, s, 0, NULL, 0) == 0;
}

static Entry *entry_find(Loader *l, const char *name) {
        for (size_t i = 0; i < l->n_entries; i++)
                if (strcmp(l->entries[i].rule.name, name) == 0)
                        return &l->entries[i];
        return NULL;
}

static int entry_new(Loader *l, const char *name, const char *where, Entry **ret) {
        Entry *e;

        if (l->n_entries >= CONFIG_ENTRIES_MAX)
                return loader_fail(l, -EINVAL, where, "too many entries (at most %d)", CONFIG_ENTRIES_MAX);
        if (l->n_entries == l->n_alloc) {
                size_t n = l->n_alloc ? l->n_alloc * 2 : 64;
                Entry *p = reallocarray(l->entries, n, sizeof(Entry));

                if (!p)
                        return loader_fail(l, -ENOMEM, where, "out of memory");
                l->entries = p;
                l->n_alloc = n;
        }
        e = &l->entries[l->n_entries];
        *e = (Entry) {
                .home = l->source,
                .seq = l->n_entries,
                .rule.field = MATCH_NAME,
                .rule.priority = PRIORITY_UNSET,
                .rule.checkpoint = -1,
        };
        (void) snprintf(e->rule.name, sizeof(e->rule.name), "%s", name);
        l->n_entries++;
        *ret = e;
        return 0;
}

/* Match a built-in's example against a pattern meant for another field (see protection checks). */
static bool regex_matches_example(const regex_t *re, const LiteralSet *lit, bool literal, MatchField field,
                                  const char *example) {
        char cmdline[CAND_CMDLINE_MAX];

        /* comm is a prefix of the exe basename; a command line starts with the executable's path */
        if (field == MATCH_CMDLINE) {
                (void) snprintf(cmdline, sizeof(cmdline), "/usr/bin/%s", example);
                if (pattern_matches(re, lit, literal, cmdline))
                        return true;
        }
        return pattern_matches(re, lit, literal, example);
}

#define EXAMPLES_SHOWN 6

/* The comm names a protected built-in exists for, for messages: "kwin_wayland, gnome-shell, ...". */
static const char *examples_join(const BuiltinRule *b, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < BUILTIN_EXAMPLES_MAX && b->examples[i] && len < size; i++) {
                int n = i < EXAMPLES_SHOWN ?
                        snprintf(buf + len, size - len, "%s%s", i > 0 ? ", " : "", b->examples[i]) :
                        snprintf(buf + len, size - len, ", ...");

                if (n < 0 || i >= EXAMPLES_SHOWN)
                        break;
                len += (size_t) n;
        }
        return buf;
}

static bool entry_is_protected_builtin(const Entry *e) {
        return e->builtin && !e->rule.protect && e->rule.priority >= 0 &&
                e->rule.priority <= PRIORITY_PROTECTED_MAX;
}

/*
 * A file changes a built-in entry of the protected tier (0-19) by name. Raising its priority out
 * of the tier, or changing pattern/match so it no longer covers every process it exists for,
 * takes protection away from the compositor, audio or session: allowed only with
 * "unprotect = true" in the same section, and then still warned about.
 */
static int entry_check_unprotect(Loader *l, Entry *e, const Section *s) {
        const BuiltinRule *b = e->builtin;
        int prio = s->key_line[KEY_PRIORITY] ? s->priority : e->rule.priority;
        MatchField field = s->key_line[KEY_MATCH] ? s->field : e->rule.field;
        const regex_t *re = s->compiled ? &s->re : &e->rule.re;
        const LiteralSet *lit = s->compiled ? &s->lit : &e->rule.lit;
        bool literal = s->compiled ? s->literal : e->rule.literal;
        const char *lost = NULL;
        char what[160], list[256];
        unsigned line;

        if (!entry_is_protected_builtin(e))
                return 0;
        if (s->key_line[KEY_PATTERN] || s->key_line[KEY_MATCH])
                for (size_t i = 0; i < BUILTIN_EXAMPLES_MAX && b->examples[i] && !lost; i++)
                        if (!regex_matches_example(re, lit, literal, field, b->examples[i]))
                                lost = b->examples[i];
        if (prio <= PRIORITY_PROTECTED_MAX && !lost)
                return 0;

        if (prio > PRIORITY_PROTECTED_MAX)
                (void) snprintf(what, sizeof(what), "priority %d -> %d", e->rule.priority, prio);
        else
                (void) snprintf(what, sizeof(what), "it would no longer match '%s'", lost);
        if (!s->unprotect) {
                line = prio > PRIORITY_PROTECTED_MAX ? s->key_line[KEY_PRIORITY] :
                        s->key_line[KEY_PATTERN] ? s->key_line[KEY_PATTERN] : s->key_line[KEY_MATCH];
                return loader_fail(l, -EINVAL, WHERE(l, line),
                                   "[%s] would remove the built-in protection of '%s' (%s);"
                                   " add 'unprotect = true' to the section to do this on purpose",
                                   s->body, e->rule.name, what);
        }
        loader_warn(l, WHERE(l, s->line),
                    "[%s] removes the built-in protection of '%s' (%s): %s may now be frozen or killed",
                    s->body, e->rule.name, what, examples_join(b, list, sizeof(list)));
        e->unprotect = true;
        return 0;
}

/* Apply the keys the section set, field by field; everything else stays as it was. */
static void entry_apply(Loader *l, Entry *e, Section *s) {
        if (s->key_line[KEY_PATTERN]) {
                if (e->rule.compiled && !e->rule.literal)
                        regfree(&e->rule.re);
                memcpy(e->rule.pattern, s->pattern, sizeof(e->rule.pattern));
                e->rule.re = s->re;             /* the compiled pattern moves into the entry */
                e->rule.lit = s->lit;
                e->rule.literal = s->literal;
                e->rule.compiled = true;
                s->compiled = false;
                s->literal = false;
        }
        if (s->key_line[KEY_MATCH])
                e->rule.field = s->field;
        if (s->key_line[KEY_PRIORITY])
                e->rule.priority = s->priority;
        if (s->key_line[KEY_CHECKPOINT])
                e->rule.checkpoint = s->checkpoint;
        if (s->key_line[KEY_BUILD])
                e->rule.build = s->build;
        /* a built-in's flag is set by entry_check_unprotect(), only when it really loses protection */
        if (s->unprotect && !e->builtin)
                e->unprotect = true;
        e->rule.source = l->source;
        e->defined_line = s->line;
        location_format(e->rule.origin, sizeof(e->rule.origin), l->path, s->line);
}

static int section_commit_app(Loader *l, Section *s) {
        Entry *e = entry_find(l, s->name);
        int r;

        if (e && e->rule.protect)
                return loader_fail(l, -EINVAL, WHERE(l, s->line),
                                   "[%s]: '%s' is a protect entry (%s); a protect entry cannot be turned"
                                   " into an app entry by a later file", s->body, s->name, e->rule.origin);
        if (!e) {
                if (!s->key_line[KEY_PATTERN])
                        return loader_fail(l, -EINVAL, WHERE(l, s->line),
                                           "[%s]: missing required key 'pattern'", s->body);
                r = entry_new(l, s->name, WHERE(l, s->line), &e);
        } else
                r = entry_check_unprotect(l, e, s);
        if (r < 0)
                return r;
        entry_apply(l, e, s);
        return 0;
}

/* A protect entry can be added, or turn an app entry into one; never changed or removed later. */
static int section_commit_protect(Loader *l, Section *s) {
        Entry *e = entry_find(l, s->name);
        int r;

        if (e && e->rule.protect) {
                bool same = (!s->key_line[KEY_PATTERN] || strcmp(s->pattern, e->rule.pattern) == 0) &&
                        (!s->key_line[KEY_MATCH] || s->field == e->rule.field);

                if (!same)
                        return loader_fail(l, -EINVAL, WHERE(l, s->line),
                                           "[%s]: protect entry '%s' (%s) cannot be changed or removed by"
                                           " a later file; give this entry another name",
                                           s->body, s->name, e->rule.origin);
                e->defined_line = s->line;      /* a verbatim copy: nothing changes */
                return 0;
        }
        if (!e) {
                if (!s->key_line[KEY_PATTERN])
                        return loader_fail(l, -EINVAL, WHERE(l, s->line),
                                           "[%s]: missing required key 'pattern'", s->body);
                r = entry_new(l, s->name, WHERE(l, s->line), &e);
                if (r < 0)
                        return r;
        }
        entry_apply(l, e, s);
        e->rule.protect = true;
        e->rule.priority = 0;
        e->rule.checkpoint = -1;
        e->rule.build = false;
        return 0;
}

static int section_end(Loader *l) {
        int r = 0;

        if (l->sec.kind == SECTION_APP)
                r = section_commit_app(l, &l->sec);
        else if (l->sec.kind == SECTION_PROTECT)
                r = section_commit_protect(l, &l->sec);
        section_clear(&l->sec);
        return r;
}

static int entry_set_pattern(Loader *l, Section *s, const char *key, const char *value) {
        size_t len = strlen(value);
        char msg[256];
        int r;

        if (len == 0)
                return fail_line(l, "[%s] %s is empty", s->body, key);
        if (len >= RULE_PATTERN_MAX)
                return fail_line(l, "[%s] %s is too long (%zu characters, at most %d)",
                                 s->body, key, len, RULE_PATTERN_MAX - 1);
        if (len >= 2 && value[0] == '"' && value[len - 1] == '"')
                return fail_line(l, "[%s] %s = %s: values are not quoted; write the regular expression"
                                 " as is", s->body, key, value);
        if (strstr(value, " #"))
                return fail_line(l, "[%s] %s = %s: '#' starts a comment only at the beginning of a line;"
                                 " end a line with '; comment', or write [#] for a literal '#'",
                                 s->body, key, value);
        r = pattern_compile(value, &s->re, &s->lit, &s->literal, msg, sizeof(msg));
        if (r < 0)
                return fail_line(l, "[%s] %s = %s: invalid regular expression: %s",
                                 s->body, key, value, msg);
        s->compiled = true;
        memcpy(s->pattern, value, len + 1);
        return 0;
}

static int entry_set(Loader *l, Section *s, EntryKey k, const char *key, const char *value) {
        int64_t prio;
        bool b;

        switch (k) {
        case KEY_PATTERN:
                return entry_set_pattern(l, s, key, value);
        case KEY_PRIORITY:
                if (parse_int64(value, &prio) == -EINVAL)
                        return fail_line(l, "[%s] %s = %s: expected an integer 0-100", s->body, key, value);
                if (prio < 0 || prio > 100)     /* ERANGE lands here too */
                        return fail_line(l, "[%s] %s = %s: out of range (0-100)", s->body, key, value);
                s->priority = (int) prio;
                return 0;
        case KEY_CHECKPOINT:
        case KEY_UNPROTECT:
        case KEY_BUILD:
                if (parse_bool(value, &b) < 0)
                        return fail_line(l, "[%s] %s = %s: expected true or false", s->body, key, value);
                if (k == KEY_CHECKPOINT)
                        s->checkpoint = b;
                else if (k == KEY_BUILD)
                        s->build = b;
                else
                        s->unprotect = b;
                return 0;
        case KEY_MATCH:
                if (parse_match(value, &s->field) < 0)
                        return fail_line(l, "[%s] %s = %s: expected name, exe or cmdline",
                                         s->body, key, value);
                return 0;
        case _KEY_ENTRY_MAX:
                break;
        }
        return -EINVAL;
}

static int entry_key(Loader *l, const char *key, const char *value) {
        Section *s = &l->sec;
        EntryKey k;

        for (k = 0; k < _KEY_ENTRY_MAX; k++)
                if (strcmp(key, entry_keys[k].key) == 0 &&
                    (s->kind == SECTION_APP || entry_keys[k].in_protect))
                        break;
        if (k >= _KEY_ENTRY_MAX) {
                loader_warn(l, WHERE(l, l->lineno), "unknown key '%s' in [%s], ignoring", key, s->body);
                return 0;
        }
        if (s->key_line[k] > 0)
                return fail_line(l, "duplicate key '%s' in [%s] (first at line %u)",
                                 key, s->body, s->key_line[k]);
        s->key_line[k] = l->lineno;
        return entry_set(l, s, k, key, value);
}

/* ---- the reader: line numbers, section headers, strictness -------------------------------- */

static bool entry_name_valid(const char *name, size_t len) {
        if (len == 0 || len > CONFIG_ENTRY_NAME_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!isalnum((unsigned char) name[i]) && !strchr("._+@-", name[i]))
                        return false;
        return true;
}

static bool section_word_valid(const char *w, size_t len) {
        if (len == 0)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!isalnum((unsigned char) w[i]) && w[i] != '_' && w[i] != '-')
                        return false;
        return true;
}

/* Set s->kind from the word before the name (wlen bytes of s->body). */
static int section_classify(Loader *l, Section *s, size_t wlen, bool named, const char *where) {
        if (wlen == 3 && strncmp(s->body, "app", 3) == 0)
                s->kind = SECTION_APP;
        else if (wlen == 7 && strncmp(s->body, "protect", 7) == 0)
                s->kind = SECTION_PROTECT;
        else if (wlen == 8 && strncmp(s->body, "defaults", 8) == 0)
                s->kind = SECTION_DEFAULTS;
        else
                s->kind = SECTION_UNKNOWN;

        if (s->kind == SECTION_DEFAULTS && named)
                return loader_fail(l, -EINVAL, where,
                                   "malformed section header [%s]: [defaults] takes no name", s->body);
        if ((s->kind == SECTION_APP || s->kind == SECTION_PROTECT) && !named)
                return loader_fail(l, -EINVAL, where,
                                   "malformed section header [%s]: expected [%s \"NAME\"]",
                                   s->body, s->body);
        return 0;
}

/*
 * "[defaults]", "[app "NAME"]" or "[protect "NAME"]"; any other well-formed [word] or
 * [word "NAME"] is an unknown section (warned about, its keys ignored).
 */
static int section_parse(Loader *l, const char *line, Section *s) {
        const char *close = strchr(line, ']'), *after, *sp, *q;
        const char *where = WHERE(l, l->lineno);
        size_t len, wlen;

        if (!close)
                return loader_fail(l, -EINVAL, where, "malformed section header %s: missing ']'", line);
        after = close + 1 + strspn(close + 1, " \t");
        if (*after && *after != '#' && *after != ';')
                return loader_fail(l, -EINVAL, where, "malformed section header %s: text after ']'", line);
        len = (size_t) (close - line - 1);
        if (len > SECTION_BODY_MAX)
                return loader_fail(l, -EINVAL, where, "malformed section header: longer than %d characters",
                                   SECTION_BODY_MAX);
        memcpy(s->body, line + 1, len);
        s->body[len] = '\0';

        sp = strchr(s->body, ' ');
        wlen = sp ? (size_t) (sp - s->body) : len;
        if (!section_word_valid(s->body, wlen))
                return loader_fail(l, -EINVAL, where, "malformed section header [%s]: expected [word] or"
                                   " [word \"NAME\"]", s->body);
        if (sp) {
                size_t nlen;

                q = sp[1] == '"' ? strchr(sp + 2, '"') : NULL;
                if (!q || q[1] != '\0')
                        return loader_fail(l, -EINVAL, where, "malformed section header [%s]: expected"
                                           " [%.*s \"NAME\"]", s->body, (int) wlen, s->body);
                nlen = (size_t) (q - sp - 2);
                if (!entry_name_valid(sp + 2, nlen))
                        return loader_fail(l, -EINVAL, where, "malformed section header [%s]: a name is 1-%d"
                                           " characters of A-Z a-z 0-9 . _ + @ -",
                                           s->body, CONFIG_ENTRY_NAME_MAX);
                memcpy(s->name, sp + 2, nlen);
                s->name[nlen] = '\0';
        }

        return section_classify(l, s, wlen, sp != NULL, where);
}

static int section_begin(Loader *l, const char *line) {
        Section *s = &l->sec;
        Entry *e;
        int r;

        r = section_end(l);
        if (r < 0)
                return r;
        r = section_parse(l, line, s);
        if (r < 0)
                return r;
        s->line = l->lineno;
        s->priority = PRIORITY_UNSET;
        s->checkpoint = -1;

        switch (s->kind) {
        case SECTION_UNKNOWN:
                loader_warn(l, WHERE(l, l->lineno), "unknown section [%s], ignoring", s->body);
                return 0;
        case SECTION_DEFAULTS:
                if (l->defaults_line > 0)
                        return fail_line(l, "duplicate section [defaults] (first at line %u)",
                                         l->defaults_line);
                l->defaults_line = l->lineno;
                return 0;
        case SECTION_APP:
        case SECTION_PROTECT:
                e = entry_find(l, s->name);
                if (e && e->defined_line > 0)
                        return fail_line(l, "duplicate entry '%s' (first at line %u)",
                                         s->name, e->defined_line);
                return 0;
        case SECTION_NONE:
                break;
        }
        return 0;
}

/* A key line must have '=' before any ':' or inline comment, and a key inih will not truncate. */
static int key_line_check(Loader *l, const char *line) {
        const char *p, *end;
        bool prev_space = false;

        for (p = line; *p && *p != '='; p++) {
                if (*p == ':' || (*p == ';' && prev_space))
                        break;
                prev_space = isspace((unsigned char) *p);
        }
        if (*p != '=')
                return fail_line(l, "expected 'key = value' or a [section] header");
        for (end = p; end > line && isspace((unsigned char) end[-1]); end--)
                ;
        if (end == line)
                return fail_line(l, "missing key name before '='");
        if (end - line > KEY_NAME_MAX)
                return fail_line(l, "key name longer than %d characters", KEY_NAME_MAX);
        return 0;
}

/* A raw line (blanks around the text included) longer than this is refused unread. */
#define CONFIG_RAW_LINE_MAX 4096

/* Check one raw line and return it stripped of the blanks around it (and of a leading BOM). */
static int line_prepare(Loader *l, size_t n, int size, char **ret) {
        char *s = l->buf, *end;
        size_t len;

        if (strlen(s) != n)
                return fail_line(l, "line contains a NUL byte");
        if (l->lineno == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
                s += 3;
        while (isspace((unsigned char) *s))
                s++;
        end = s + strlen(s);
        while (end > s && isspace((unsigned char) end[-1]))
                *--end = '\0';
        len = (size_t) (end - s);
        /* inih reads at most size - 1 bytes per call, the newline included */
        if (size < 3 || len > (size_t) size - 2)
                return fail_line(l, "line too long (%zu characters, at most %d)", len, size - 2);
        *ret = s;
        if (*s == '\0' || *s == '#' || *s == ';')
                return 0;
        if (*s == '[')
                return section_begin(l, s);
        return key_line_check(l, s);
}

/*
 * One raw line into l->buf, reading at most CONFIG_RAW_LINE_MAX bytes of it: its length, -1 at
 * the end of the file or on a read error, -E2BIG for a longer line, of which nothing more is
 * read (a 200 MB line on RELOAD must not be read whole, into memory, on the event loop).
 */
static ssize_t line_read_bounded(Loader *l) {
        size_t n = 0;
        int c;

        if (!l->buf) {
                l->bufsz = CONFIG_RAW_LINE_MAX + 1;
                l->buf = malloc(l->bufsz);
                if (!l->buf)
                        return -ENOMEM;
        }
        while ((c = getc(l->f)) != EOF) {
                if (n == CONFIG_RAW_LINE_MAX)
                        return -E2BIG;
                l->buf[n++] = (char) c;
                if (c == '\n')
                        break;
        }
        if (n == 0)
                return -1;
        l->buf[n] = '\0';
        return (ssize_t) n;
}

static char *loader_read(char *str, int size, void *stream) {
        Loader *l = stream;
        char *line = NULL;
        ssize_t n;

        if (l->error < 0)
                return NULL;            /* stop inih at the first error */
        errno = 0;
        n = line_read_bounded(l);
        if (n == -E2BIG || n == -ENOMEM) {
                l->lineno++;
                (void) fail_line(l, n == -ENOMEM ? "out of memory" :
                                 "line too long (more than %d characters, not read further)", CONFIG_RAW_LINE_MAX);
                return NULL;
        }
        if (n < 0) {
                if (ferror(l->f)) {
                        int e = errno > 0 ? errno : EIO;

                        (void) loader_fail(l, -e, l->path, "read failed: %s", strerror(e));
                }
                return NULL;
        }
        l->lineno++;
        if (line_prepare(l, (size_t) n, size, &line) < 0)
                return NULL;
        (void) snprintf(str, (size_t) size, "%s\n", line);
        return str;
}

static int loader_handle(void *userdata, const char *section, const char *key, const char *value) {
        Loader *l = userdata;
        int r = 0;

        if (l->error < 0)
                return 0;
        if (strcmp(section, l->sec.body) != 0) {
                /* the reader validated every header; inih disagreeing would be a bug, not bad input */
                (void) fail_line(l, "internal error: section [%s] is not [%s]", section, l->sec.body);
                return 0;
        }
        switch (l->sec.kind) {
        case SECTION_NONE:
                loader_warn(l, WHERE(l, l->lineno), "key '%s' outside any section, ignoring", key);
                break;
        case SECTION_UNKNOWN:
                break;                  /* warned about once, at its header */
        case SECTION_DEFAULTS:
                r = defaults_set(l, key, value);
                break;
        case SECTION_APP:
        case SECTION_PROTECT:
                r = entry_key(l, key, value);
                break;
        }
        return r < 0 ? 0 : 1;
}

/* ---- files ------------------------------------------------------------------------------- */

/* Returns 1 with *ret open, 0 if the file does not exist, or the error. */
static int loader_open(Loader *l, const char *path, FILE **ret) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        FILE *f;

        /* O_NONBLOCK: a FIFO at the path must not hang the daemon; a regular file ignores it */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                return loader_fail(l, -errno, path, "cannot open: %s", strerror(errno));
        }
        if (fstat(fd, &st) < 0)
                return loader_fail(l, -errno, path, "cannot stat: %s", strerror(errno));
        if (S_ISDIR(st.st_mode))
                return loader_fail(l, -EISDIR, path, "cannot read: %s", strerror(EISDIR));
        if (!S_ISREG(st.st_mode))
                return loader_fail(l, -EINVAL, path, "cannot read: not a regular file");
        f = fdopen(fd, "re");
        if (!f)
                return loader_fail(l, -errno, path, "cannot open: %s", strerror(errno));
        TAKE_FD(fd);
        *ret = f;
        return 1;
}

static int loader_parse_file(Loader *l, const char *path, RuleSource source) {
        int r;

        if (!path || !path[0])
                return 0;
        l->path = path;
        l->source = source;
        r = loader_open(l, path, &l->f);
        if (r <= 0)
                return r;
        l->lineno = 0;
        l->defaults_line = 0;
        for (size_t i = 0; i < l->n_entries; i++)
                l->entries[i].defined_line = 0;

        r = ini_parse_stream(loader_read, l, loader_handle, l);
        if (l->error == 0) {
                if (r == -2)
                        (void) loader_fail(l, -ENOMEM, path, "out of memory");
                else if (r > 0)
                        (void) loader_fail(l, -EINVAL, WHERE(l, (unsigned) r), "syntax error");
                else if (r < 0)
                        (void) loader_fail(l, -EIO, path, "cannot parse");
                else
                        (void) section_end(l);  /* the last section ends with the file */
        }
        section_clear(&l->sec);
        fclose(l->f);
        l->f = NULL;
        return l->error;
}

/* ---- merge, checks, result ---------------------------------------------------------------- */

static int loader_add_builtins(Loader *l) {
        char msg[256];
        Entry *e;
        int r;

        l->path = "built-in";
        l->source = RULE_BUILTIN;
        for (size_t i = 0; i < builtin_rules_n; i++) {
                const BuiltinRule *b = &builtin_rules[i];

                r = entry_new(l, b->name, "built-in", &e);
                if (r < 0)
                        return r;
                (void) snprintf(e->rule.pattern, sizeof(e->rule.pattern), "%s", b->pattern);
                (void) snprintf(e->rule.origin, sizeof(e->rule.origin), "built-in");
                e->rule.field = b->field;
                e->rule.priority = b->priority;
                e->rule.checkpoint = b->checkpoint;
                e->rule.build = b->build;
                e->rule.source = RULE_BUILTIN;
                e->builtin = b;
                /* compiled exactly like a file's pattern: a broken built-in fails loudly, in tests */
                r = pattern_compile(b->pattern, &e->rule.re, &e->rule.lit, &e->rule.literal, msg, sizeof(msg));
                if (r < 0)
                        return loader_fail(l, -EINVAL, "built-in", "[app \"%s\"] pattern = %s: invalid"
                                           " regular expression: %s", b->name, b->pattern, msg);
                e->rule.compiled = true;
        }
        return 0;
}

/* User block first, then system, then built-ins; within a block, order of first appearance. */
static int entry_compare(const void *a, const void *b) {
        const Entry *x = a, *y = b;

        if (x->home != y->home)
                return x->home > y->home ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The first example of protected built-in b that e's pattern matches, or NULL. */
static const char *entry_shadows(const Entry *e, const Entry *b) {
        if (!entry_is_protected_builtin(b) || b->unprotect || entry_compare(e, b) >= 0)
                return NULL;
        for (size_t k = 0; k < BUILTIN_EXAMPLES_MAX && b->builtin->examples[k]; k++)
                if (regex_matches_example(&e->rule.re, &e->rule.lit, e->rule.literal, e->rule.field,
                                          b->builtin->examples[k]))
                        return b->builtin->examples[k];
        return NULL;
}

/*
 * File entries are matched before every built-in, so a new entry whose pattern also matches a
 * protected built-in's process (a broad "^k" at priority 60 matches kwin_wayland) would take its
 * protection away without naming it. That needs "unprotect = true" too, and is warned about.
 */
static int shadow_report(Loader *l, const Entry *e, const Entry *b, const char *hit) {
        char list[256];

        if (!e->unprotect)
                return loader_fail(l, -EINVAL, e->rule.origin,
                                   "[app \"%s\"] (priority %d) also matches '%s', protected by built-in"
                                   " entry '%s' (priority %d), and is matched before it; narrow the pattern,"
                                   " or add 'unprotect = true' to the section to do this on purpose",
                                   e->rule.name, e->rule.priority, hit, b->rule.name, b->rule.priority);
        loader_warn(l, e->rule.origin,
                    "[app \"%s\"] (priority %d) takes precedence over the built-in protection of '%s' (%s)",
                    e->rule.name, e->rule.priority, b->rule.name,
                    examples_join(b->builtin, list, sizeof(list)));
        return 0;
}

static int loader_check_shadowing(Loader *l) {
        for (size_t i = 0; i < l->n_entries; i++) {
                const Entry *e = &l->entries[i];

                if (e->rule.protect || e->rule.priority <= PRIORITY_PROTECTED_MAX)
                        continue;
                for (size_t j = 0; j < l->n_entries; j++) {
                        const char *hit = entry_shadows(e, &l->entries[j]);
                        int r;

                        if (!hit)
                                continue;
                        r = shadow_report(l, e, &l->entries[j], hit);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int loader_validate(Loader *l, const PolicyConfig *c) {
        const char *what = NULL;

        for (size_t i = 0; i < c->n_rules; i++)
                if (policy_rule_validate(&c->rules[i], &what) < 0)
                        return loader_fail(l, -EINVAL, c->rules[i].origin, "[%s \"%s\"]: invalid %s",
                                           c->rules[i].protect ? "protect" : "app", c->rules[i].name, what);
        if (policy_config_validate(c, &what) >= 0)
                return 0;
        for (size_t i = 0; what && i < ELEMENTSOF(defaults_keys); i++)
                if (strcmp(what, defaults_keys[i].field) == 0) {
                        const DefaultsKey *k = &defaults_keys[i];
                        const char *origin = l->defaults_origin[i][0] ? l->defaults_origin[i] :
                                "built-in default";

                        return loader_fail(l, -EINVAL, origin, "[defaults] %s: %s",
                                           k->key, k->constraint ? k->constraint : k->range);
                }
        return loader_fail(l, -EINVAL, "configuration", "rejected: invalid %s", what ? what : "value");
}

/* Build the final PolicyConfig in *ret; on failure nothing is left allocated. */
static int loader_finish(Loader *l, PolicyConfig *ret) {
        PolicyConfig c = l->cfg;
        int r;

        for (size_t i = 0; i < l->n_entries; i++)
                if (!l->entries[i].rule.protect && l->entries[i].rule.priority == PRIORITY_UNSET)
                        l->entries[i].rule.priority = c.default_priority;
        r = loader_check_shadowing(l);
        if (r < 0)
                return r;

        qsort(l->entries, l->n_entries, sizeof(Entry), entry_compare);
        c.rules = calloc(MAX(l->n_entries, 1u), sizeof(Rule));
        if (!c.rules)
                return loader_fail(l, -ENOMEM, "configuration", "out of memory");
        for (size_t i = 0; i < l->n_entries; i++) {
                c.rules[i] = l->entries[i].rule;        /* the compiled regex moves with it */
                l->entries[i].rule.compiled = false;
        }
        c.n_rules = l->n_entries;

        r = loader_validate(l, &c);
        if (r < 0) {
                config_free(&c);
                return r;
        }
        *ret = c;
        return 0;
}

static void loader_done(Loader *l) {
        for (size_t i = 0; i < l->n_entries; i++)
                if (l->entries[i].rule.compiled && !l->entries[i].rule.literal)
                        regfree(&l->entries[i].rule.re);
        free(l->entries);
        section_clear(&l->sec);
        free(l->buf);
        if (l->f)
                fclose(l->f);
}

int config_load(const ConfigPaths *paths, PolicyConfig *ret, ConfigError *ret_err,
                ConfigWarnFn warn, void *userdata) {
        _cleanup_free_ Loader *l = NULL;
        int r;

        if (ret_err)
                ret_err->message[0] = '\0';
        l = calloc(1, sizeof(Loader));
        if (!l) {
                if (ret_err)
                        (void) snprintf(ret_err->message, sizeof(ret_err->message),
                                        "configuration: out of memory");
                return -ENOMEM;
        }
        l->err = ret_err;
        l->warn = warn;
        l->userdata = userdata;
        policy_config_defaults(&l->cfg);

        r = loader_add_builtins(l);
        if (r >= 0 && paths)
                r = loader_parse_file(l, paths->system, RULE_SYSTEM);
        if (r >= 0 && paths)
                r = loader_parse_file(l, paths->user, RULE_USER);
        if (r >= 0)
                r = loader_finish(l, ret);
        loader_done(l);
        free(TAKE_PTR(l));
        /* what the regexes used while each pattern was checked goes back to the system */
        (void) malloc_trim(0);
        return r < 0 ? r : 0;
}

void config_free(PolicyConfig *c) {
        if (!c)
                return;
        for (size_t i = 0; c->rules && i < c->n_rules; i++)
                if (c->rules[i].compiled) {
                        if (!c->rules[i].literal)
                                regfree(&c->rules[i].re);
                        c->rules[i].compiled = false;
                        c->rules[i].literal = false;
                }
        free(c->rules);
        c->rules = NULL;
        c->n_rules = 0;
}

bool config_uses_match(const PolicyConfig *c, MatchField field) {
        for (size_t i = 0; i < c->n_rules; i++)
                if (c->rules[i].field == field)
                        return true;
        return false;
}

/* ---- default paths ----------------------------------------------------------------------- */

static int path_join(char *buf, size_t size, const char *dir, const char *rest) {
        int n = snprintf(buf, size, "%s/%s", dir, rest);

        if (n < 0 || (size_t) n >= size) {
                buf[0] = '\0';
                return -ENAMETOOLONG;
        }
        return 0;
}

int config_paths_default(ConfigPaths *ret) {
        char pwbuf[4096];
        struct passwd pw, *p = NULL;
        const char *xdg, *home;
        int r;

        *ret = (ConfigPaths) {};
        r = path_join(ret->system, sizeof(ret->system), MGD_SYSCONFDIR, "mgd/mgd.conf");
        if (r < 0)
                return r;

        /* the XDG base directory spec: a relative $XDG_CONFIG_HOME is invalid and ignored */
        xdg = secure_getenv("XDG_CONFIG_HOME");
        if (xdg && xdg[0] == '/')
                return path_join(ret->user, sizeof(ret->user), xdg, "mgd/mgd.conf");
        home = secure_getenv("HOME");
        if (!home || home[0] != '/') {
                if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &p) != 0 || !p)
                        return -ENOENT;
                home = p->pw_dir;
        }
        if (!home || home[0] != '/')
                return -ENOENT;
        return path_join(ret->user, sizeof(ret->user), home, ".config/mgd/mgd.conf");
}
