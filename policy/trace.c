/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The trace format of policy/trace.h: writers that format into a stack line and hand it to a
 * callback (the daemon's writes to a file, a test's to memory), and a line reader that rebuilds
 * the configuration, each observation and the decisions recorded with it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/readers.h"
#include "policy/trace.h"

/* ---- the configuration's scalars ------------------------------------------------------------- */

typedef enum ScalarType { T_INT, T_UNSIGNED, T_U64, T_DOUBLE, T_BOOL } ScalarType;

typedef struct Scalar {
        const char *name;
        size_t offset;
        ScalarType type;
} Scalar;

#define S(f, t) { #f, offsetof(PolicyConfig, f), t }
/* Every scalar of PolicyConfig: a field missing here replays with its default. */
static const Scalar scalars[] = {
        S(default_priority, T_INT), S(log_keep, T_UNSIGNED),
        { "level_threshold.elevated", offsetof(PolicyConfig, level_threshold[LEVEL_ELEVATED]), T_DOUBLE },
        { "level_threshold.high", offsetof(PolicyConfig, level_threshold[LEVEL_HIGH]), T_DOUBLE },
        { "level_threshold.critical", offsetof(PolicyConfig, level_threshold[LEVEL_CRITICAL]), T_DOUBLE },
        { "level_threshold.emergency", offsetof(PolicyConfig, level_threshold[LEVEL_EMERGENCY]), T_DOUBLE },
        S(liveness_stall_pct, T_DOUBLE), S(liveness_swapio_kbs, T_DOUBLE), S(swapio_full_scale_kbs, T_DOUBLE),
        S(spike_trend, T_DOUBLE), S(escalate_ticks, T_UNSIGNED), S(escalate_window_usec, T_U64),
        S(calm_to_normal_usec, T_U64), S(calm_step_usec, T_U64),
        S(target_available_pct, T_DOUBLE), S(min_footprint_kb, T_U64),
        S(critical_max_destructive, T_UNSIGNED), S(emergency_max_destructive, T_UNSIGNED),
        S(kill_swap_ratio, T_DOUBLE),
        S(aggressor_min_growth_kbs, T_U64), S(aggressor_window_usec, T_U64), S(aggressor_min_majflt_rate, T_U64),
        S(release_horizon_usec, T_U64), S(release_floor_pct, T_DOUBLE),
        S(thaw_batch, T_UNSIGNED), S(restore_batch, T_UNSIGNED), S(thaw_min_frozen_usec, T_U64),
        S(recover_calm_usec, T_U64), S(recover_stall_pct, T_DOUBLE), S(max_frozen_usec, T_U64),
        S(spike_mode, T_BOOL), S(spike_window_usec, T_U64), S(spike_drop_pct, T_DOUBLE),
        S(spike_min_swing_kb, T_U64), S(spike_headroom, T_DOUBLE),
        S(throttle, T_BOOL), S(throttle_weight, T_UNSIGNED), S(throttle_max_pct, T_UNSIGNED),
        S(memory_caps, T_BOOL), S(freeze_reclaim, T_BOOL), S(idle_reclaim, T_BOOL),
        S(idle_reclaim_after_usec, T_U64), S(idle_reclaim_pct, T_DOUBLE), S(idle_reclaim_min_kb, T_U64),
        S(idle_reclaim_max_swap_pct, T_DOUBLE), S(hibernate_after_usec, T_U64),
        S(fast_tick_usec, T_U64), S(slow_tick_usec, T_U64), S(term_grace_usec, T_U64),
};
#undef S

/* ---- writing ------------------------------------------------------------------------------------ */

typedef struct Line {
        char buf[TRACE_LINE_MAX];
        size_t n;
        bool overflow;
} Line;

_printf_(2, 3)
static void line_add(Line *l, const char *fmt, ...) {
        va_list ap;
        int k;

        if (l->overflow)
                return;
        va_start(ap, fmt);
        k = vsnprintf(l->buf + l->n, sizeof(l->buf) - l->n, fmt, ap);
        va_end(ap);
        if (k < 0 || (size_t) k >= sizeof(l->buf) - l->n)
                l->overflow = true;
        else
                l->n += (size_t) k;
}

static void line_str(Line *l, const char *key, const char *value) {
        char enc[3 * RULE_PATTERN_MAX + 1];

        if (pct_encode(value, enc, sizeof(enc)) < 0)
                l->overflow = true;
        else
                line_add(l, " %s=%s", key, enc);
}

static int line_emit(Line *l, TraceWriteFn w, void *userdata) {
        if (l->overflow || l->n + 1 >= sizeof(l->buf))
                return -ENOBUFS;
        l->buf[l->n++] = '\n';
        return w(l->buf, l->n, userdata);
}

static int write_scalar(const PolicyConfig *c, const Scalar *s, TraceWriteFn w, void *userdata) {
        const char *p = (const char *) c + s->offset;
        Line l = {};

        switch (s->type) {
        case T_INT: line_add(&l, "K %s=%d", s->name, *(const int *) p); break;
        case T_UNSIGNED: line_add(&l, "K %s=%u", s->name, *(const unsigned *) p); break;
        case T_U64: line_add(&l, "K %s=%" PRIu64, s->name, *(const uint64_t *) p); break;
        case T_DOUBLE: line_add(&l, "K %s=%.17g", s->name, *(const double *) p); break;
        case T_BOOL: line_add(&l, "K %s=%d", s->name, *(const bool *) p ? 1 : 0); break;
        }
        return line_emit(&l, w, userdata);
}

int trace_write_config(const PolicyConfig *c, TraceWriteFn w, void *userdata) {
        Line head = {};
        int r;

        line_add(&head, "%s", TRACE_MAGIC);
        r = line_emit(&head, w, userdata);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(scalars); i++)
                r = write_scalar(c, &scalars[i], w, userdata);
        for (size_t i = 0; r >= 0 && i < c->n_rules; i++) {
                const Rule *x = &c->rules[i];
                Line l = {};

                line_add(&l, "R");
                line_str(&l, "name", x->name);
                line_str(&l, "pattern", x->pattern);
                line_add(&l, " field=%d source=%d protect=%d priority=%d checkpoint=%d build=%d", (int) x->field,
                         (int) x->source, x->protect, x->priority, x->checkpoint, x->build);
                line_str(&l, "origin", x->origin);
                r = line_emit(&l, w, userdata);
        }
        if (r >= 0) {
                Line g = {};
                line_add(&g, "G");
                r = line_emit(&g, w, userdata);
        }
        return r;
}

int trace_write_init(usec_t now, TraceWriteFn w, void *userdata) {
        Line l = {};

        line_add(&l, "I now=%" PRIu64, (uint64_t) now);
        return line_emit(&l, w, userdata);
}

static int write_cand(const Candidate *x, TraceWriteFn w, void *userdata) {
        Line l = {};

        line_add(&l, "C pid=%d st=%" PRIu64 " ppid=%d rss=%" PRIu64 " swap=%" PRIu64 " gpu=%" PRIu64
                 " majflt=%" PRIu64 " adj=%d age=%" PRIu64 " frozen=%d ckfail=%d", (int) x->pid, x->starttime,
                 (int) x->ppid, x->rss_kb, x->swap_kb, x->gpu_kb, x->majflt, x->oom_score_adj, x->age_usec,
                 (int) x->frozen, x->checkpoint_failed);
        line_str(&l, "name", x->name);
        line_str(&l, "exe", x->exe);
        line_str(&l, "cmd", x->cmdline);
        return line_emit(&l, w, userdata);
}

int trace_write_observation(const Observation *o, TraceWriteFn w, void *userdata) {
        Line l = {};
        int r;

        line_add(&l, "O now=%" PRIu64 " trig=%d cgp=%d scan=%d stale=%d fg=%d ckpt=%d busy=%d vexit=%" PRIu64
                 " vavail=%" PRIu64 " gpu=%" PRIu64 " zorig=%" PRIu64 " zused=%" PRIu64 " page=%u mem=%" PRIu64
                 " avail=%" PRIu64 " swap=%" PRIu64 " swapfree=%" PRIu64 " pswpin=%" PRIu64 " pswpout=%" PRIu64,
                 o->now, o->triggered, o->cgroup_pending, o->scanned, o->stale, (int) o->foreground, o->checkpoint_available,
                 o->destructive_busy, o->victim_exited_at, o->avail_before_victim, o->gpu_uma_kb, o->zram_orig_kb,
                 o->zram_used_kb, o->page_size_kb, o->mem.mem_total_kb, o->mem.mem_available_kb,
                 o->mem.swap_total_kb, o->mem.swap_free_kb, o->pswpin, o->pswpout);
        r = line_emit(&l, w, userdata);
        for (size_t i = 0; r >= 0 && i < o->n_psi && i < POLICY_PSI_SOURCES; i++) {
                const PsiReading *p = &o->psi[i];
                Line q = {};

                line_add(&q, "P i=%zu ok=%d some10=%.17g full10=%.17g some=%" PRIu64 " full=%" PRIu64, i, p->valid,
                         p->some_avg10, p->full_avg10, p->some_total_usec, p->full_total_usec);
                r = line_emit(&q, w, userdata);
        }
        for (size_t i = 0; r >= 0 && o->scanned && i < o->n_cands; i++)
                r = write_cand(&o->cands[i], w, userdata);
        for (size_t i = 0; r >= 0 && i < o->n_held; i++) {
                const HeldProcess *h = &o->held[i];
                Line q = {};

                line_add(&q, "H pid=%d st=%" PRIu64 " kind=%d prio=%d kb=%" PRIu64 " since=%" PRIu64 " fails=%u",
                         (int) h->pid, h->starttime, (int) h->kind, h->priority, h->footprint_kb, h->since,
                         h->restore_failures);
                r = line_emit(&q, w, userdata);
        }
        return r;
}

int trace_write_output(const StepOutput *out, TraceWriteFn w, void *userdata) {
        int r = 0;

        for (size_t i = 0; r >= 0 && i < out->n_acts; i++) {
                const StepAction *a = &out->acts[i];
                Line l = {};

                line_add(&l, "A act=%d why=%d i=%zu pid=%d st=%" PRIu64 " prio=%d kb=%" PRIu64 " agg=%d", (int) a->action,
                         (int) a->why, a->index, (int) a->pid, a->starttime, a->priority, a->footprint_kb, a->aggressor);
                r = line_emit(&l, w, userdata);
        }
        if (r >= 0) {
                Line l = {};

                line_add(&l, "S err=%d level=%d target=%d next=%" PRIu64 " held_back=%u", out->error, (int) out->level,
                         (int) out->target, out->next_tick, out->held_back);
                r = line_emit(&l, w, userdata);
        }
        return r;
}

/* ---- reading ------------------------------------------------------------------------------------ */

/* The fields of one line: "KEY=VALUE" tokens after the record letter. */
#define FIELDS_MAX 32

typedef struct Fields {
        size_t n;
        struct { const char *key; size_t key_len; const char *value; size_t value_len; bool used; } f[FIELDS_MAX];
} Fields;

static int fields_split(const char *p, const char *end, Fields *ret) {
        ret->n = 0;
        while (p < end) {
                const char *tok = p, *eq;

                while (p < end && *p != ' ')
                        p++;
                eq = memchr(tok, '=', (size_t) (p - tok));
                if (!eq || eq == tok || ret->n >= FIELDS_MAX)
                        return -EINVAL;
                ret->f[ret->n].key = tok;
                ret->f[ret->n].key_len = (size_t) (eq - tok);
                ret->f[ret->n].value = eq + 1;
                ret->f[ret->n].value_len = (size_t) (p - eq - 1);
                ret->f[ret->n].used = false;
                ret->n++;
                if (p < end)
                        p++;            /* the single space */
        }
        return 0;
}

static int field_find(Fields *fs, const char *key, const char **ret, size_t *ret_len) {
        size_t k = strlen(key);

        for (size_t i = 0; i < fs->n; i++)
                if (fs->f[i].key_len == k && memcmp(fs->f[i].key, key, k) == 0) {
                        fs->f[i].used = true;
                        *ret = fs->f[i].value;
                        *ret_len = fs->f[i].value_len;
                        return 0;
                }
        return -ENOENT;
}

static bool field_present(Fields *fs, const char *key) {
        const char *v;
        size_t n;

        return field_find(fs, key, &v, &n) >= 0;
}

static int field_u64(Fields *fs, const char *key, uint64_t *ret) {
        char buf[32];
        const char *v;
        size_t n;

        if (field_find(fs, key, &v, &n) < 0 || n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, v, n);
        buf[n] = '\0';
        return safe_atou64(buf, ret);
}

static int field_i64(Fields *fs, const char *key, int64_t lo, int64_t hi, int64_t *ret) {
        char buf[32], *end;
        const char *v;
        size_t n;
        long long x;

        if (field_find(fs, key, &v, &n) < 0 || n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, v, n);
        buf[n] = '\0';
        errno = 0;
        x = strtoll(buf, &end, 10);
        if (errno != 0 || *end != '\0' || x < lo || x > hi)
                return -EINVAL;
        *ret = x;
        return 0;
}

static int field_double(Fields *fs, const char *key, double *ret) {
        char buf[64], *end;
        const char *v;
        size_t n;
        double x;

        if (field_find(fs, key, &v, &n) < 0 || n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, v, n);
        buf[n] = '\0';
        errno = 0;
        x = strtod(buf, &end);
        if (errno != 0 || *end != '\0' || !isfinite(x))
                return -EINVAL;
        *ret = x;
        return 0;
}

static int field_str(Fields *fs, const char *key, char *buf, size_t size) {
        const char *v;
        size_t n;

        return field_find(fs, key, &v, &n) < 0 ? -EINVAL : pct_decode(v, n, buf, size);
}

/* Reading fields into typed places: each reader ORs its failure into *r. */
#define GET_U64(fs, key, dst, r) do { uint64_t _v = 0; if (field_u64(fs, key, &_v) < 0) r = -EINVAL; dst = _v; } while (0)
#define GET_INT(fs, key, lo, hi, dst, r) do { int64_t _v = 0; if (field_i64(fs, key, lo, hi, &_v) < 0) r = -EINVAL; \
                                              dst = _v; } while (0)
#define GET_BOOL(fs, key, dst, r) do { int64_t _v = 0; if (field_i64(fs, key, 0, 1, &_v) < 0) r = -EINVAL; \
                                       dst = _v != 0; } while (0)
#define GET_DOUBLE(fs, key, dst, r) do { if (field_double(fs, key, &(dst)) < 0) r = -EINVAL; } while (0)

static int bad(TraceReader *rd, const char *what) {
        rd->error = what;
        return -EINVAL;
}

static int read_scalar(TraceReader *rd, Fields *fs) {
        for (size_t i = 0; i < ELEMENTSOF(scalars); i++) {
                const Scalar *s = &scalars[i];
                char *p = (char *) &rd->config + s->offset;
                int r = 0;

                if (fs->n != 1 || fs->f[0].key_len != strlen(s->name) ||
                    memcmp(fs->f[0].key, s->name, fs->f[0].key_len) != 0)
                        continue;
                switch (s->type) {
                case T_INT: GET_INT(fs, s->name, INT32_MIN, INT32_MAX, *(int *) p, r); break;
                case T_UNSIGNED: GET_INT(fs, s->name, 0, UINT32_MAX, *(unsigned *) p, r); break;
                case T_U64: GET_U64(fs, s->name, *(uint64_t *) p, r); break;
                case T_DOUBLE: GET_DOUBLE(fs, s->name, *(double *) p, r); break;
                case T_BOOL: GET_BOOL(fs, s->name, *(bool *) p, r); break;
                }
                return r < 0 ? bad(rd, "a configuration value does not parse") : TRACE_MORE;
        }
        return TRACE_MORE;              /* a key of another version: its default stays */
}

static void rules_free(TraceReader *rd) {
        for (size_t i = 0; i < rd->n_rules; i++)
                if (rd->rules[i].compiled)
                        regfree(&rd->rules[i].re);
        rd->n_rules = 0;
}

/* A new configuration starts with its first K or R line after a G (or at the start). */
static void config_begin(TraceReader *rd) {
        if (rd->in_config)
                return;
        rules_free(rd);
        policy_config_defaults(&rd->config);
        rd->in_config = true;
}

static int read_rule(TraceReader *rd, Fields *fs) {
        Rule *x;
        int r = 0;

        if (rd->n_rules >= TRACE_RULES_MAX)
                return bad(rd, "too many rules");
        x = &rd->rules[rd->n_rules];
        memset(x, 0, sizeof(*x));
        if (field_str(fs, "name", x->name, sizeof(x->name)) < 0 ||
            field_str(fs, "pattern", x->pattern, sizeof(x->pattern)) < 0 ||
            field_str(fs, "origin", x->origin, sizeof(x->origin)) < 0)
                return bad(rd, "a rule's name, pattern or origin does not decode");
        GET_INT(fs, "field", 0, _MATCH_MAX - 1, x->field, r);
        GET_INT(fs, "source", RULE_BUILTIN, RULE_USER, x->source, r);
        GET_BOOL(fs, "protect", x->protect, r);
        GET_INT(fs, "priority", 0, 100, x->priority, r);
        GET_INT(fs, "checkpoint", -1, 1, x->checkpoint, r);
        GET_BOOL(fs, "build", x->build, r);
        if (r < 0)
                return bad(rd, "a rule's field does not parse");
        if (regcomp(&x->re, x->pattern, REG_EXTENDED | REG_NOSUB) != 0)
                return bad(rd, "a rule's pattern is not a valid regular expression");
        x->compiled = true;
        rd->n_rules++;
        return TRACE_MORE;
}

static int read_observation(TraceReader *rd, Fields *fs) {
        Observation *o = &rd->obs;
        int r = 0;

        memset(o, 0, sizeof(*o));
        o->cands = rd->cands;
        o->held = rd->held;
        GET_U64(fs, "now", o->now, r);
        GET_BOOL(fs, "trig", o->triggered, r);
        GET_BOOL(fs, "cgp", o->cgroup_pending, r);
        GET_BOOL(fs, "scan", o->scanned, r);
        if (field_present(fs, "stale"))         /* traces before it have none: fresh scans */
                GET_BOOL(fs, "stale", o->stale, r);
        GET_INT(fs, "fg", 0, INT32_MAX, o->foreground, r);
        GET_BOOL(fs, "ckpt", o->checkpoint_available, r);
        GET_BOOL(fs, "busy", o->destructive_busy, r);
        GET_U64(fs, "vexit", o->victim_exited_at, r);
        GET_U64(fs, "vavail", o->avail_before_victim, r);
        GET_U64(fs, "gpu", o->gpu_uma_kb, r);
        GET_U64(fs, "zorig", o->zram_orig_kb, r);
        GET_U64(fs, "zused", o->zram_used_kb, r);
        GET_INT(fs, "page", 1, 1 << 20, o->page_size_kb, r);
        GET_U64(fs, "mem", o->mem.mem_total_kb, r);
        GET_U64(fs, "avail", o->mem.mem_available_kb, r);
        GET_U64(fs, "swap", o->mem.swap_total_kb, r);
        GET_U64(fs, "swapfree", o->mem.swap_free_kb, r);
        GET_U64(fs, "pswpin", o->pswpin, r);
        GET_U64(fs, "pswpout", o->pswpout, r);
        rd->recorded = (StepOutput) { .acts = rd->acts, .max_acts = ELEMENTSOF(rd->acts) };
        return r < 0 ? bad(rd, "an observation's field does not parse") : TRACE_MORE;
}

static int read_psi(TraceReader *rd, Fields *fs) {
        PsiReading p = {};
        int64_t i = 0;
        int r = 0;

        if (field_i64(fs, "i", 0, POLICY_PSI_SOURCES - 1, &i) < 0)
                return bad(rd, "a PSI source's index is out of range");
        GET_BOOL(fs, "ok", p.valid, r);
        GET_DOUBLE(fs, "some10", p.some_avg10, r);
        GET_DOUBLE(fs, "full10", p.full_avg10, r);
        GET_U64(fs, "some", p.some_total_usec, r);
        GET_U64(fs, "full", p.full_total_usec, r);
        if (r < 0)
                return bad(rd, "a PSI source's field does not parse");
        rd->obs.psi[i] = p;
        rd->obs.n_psi = MAX(rd->obs.n_psi, (size_t) i + 1);
        return TRACE_MORE;
}

static int read_cand(TraceReader *rd, Fields *fs) {
        Candidate *x;
        int r = 0;

        if (rd->obs.n_cands >= STEP_CANDS_MAX)
                return bad(rd, "too many candidates");
        x = &rd->cands[rd->obs.n_cands];
        memset(x, 0, sizeof(*x));
        GET_INT(fs, "pid", 1, INT32_MAX, x->pid, r);
        GET_U64(fs, "st", x->starttime, r);
        GET_INT(fs, "ppid", 0, INT32_MAX, x->ppid, r);
        GET_U64(fs, "rss", x->rss_kb, r);
        GET_U64(fs, "swap", x->swap_kb, r);
        GET_U64(fs, "gpu", x->gpu_kb, r);
        GET_U64(fs, "majflt", x->majflt, r);
        GET_INT(fs, "adj", -1000, 1000, x->oom_score_adj, r);
        GET_U64(fs, "age", x->age_usec, r);
        GET_INT(fs, "frozen", FREEZE_NONE, FREEZE_CGROUP, x->frozen, r);
        GET_BOOL(fs, "ckfail", x->checkpoint_failed, r);
        if (r < 0 || field_str(fs, "name", x->name, sizeof(x->name)) < 0 ||
            field_str(fs, "exe", x->exe, sizeof(x->exe)) < 0 || field_str(fs, "cmd", x->cmdline, sizeof(x->cmdline)) < 0)
                return bad(rd, "a candidate's field does not parse");
        rd->obs.n_cands++;
        return TRACE_MORE;
}

static int read_held(TraceReader *rd, Fields *fs) {
        HeldProcess *h;
        int r = 0;

        if (rd->obs.n_held >= STEP_HELD_MAX)
                return bad(rd, "too many held processes");
        h = &rd->held[rd->obs.n_held];
        memset(h, 0, sizeof(*h));
        GET_INT(fs, "pid", 1, INT32_MAX, h->pid, r);
        GET_U64(fs, "st", h->starttime, r);
        GET_INT(fs, "kind", HELD_FROZEN, HELD_CHECKPOINTED, h->kind, r);
        GET_INT(fs, "prio", -1, 100, h->priority, r);
        GET_U64(fs, "kb", h->footprint_kb, r);
        GET_U64(fs, "since", h->since, r);
        GET_INT(fs, "fails", 0, UINT32_MAX, h->restore_failures, r);
        if (r < 0)
                return bad(rd, "a held process's field does not parse");
        rd->obs.n_held++;
        return TRACE_MORE;
}

static int read_action(TraceReader *rd, Fields *fs) {
        StepOutput *out = &rd->recorded;
        StepAction *a;
        int r = 0;

        if (out->n_acts >= out->max_acts)
                return bad(rd, "too many actions");
        a = &out->acts[out->n_acts];
        memset(a, 0, sizeof(*a));
        GET_INT(fs, "act", ACTION_FREEZE, _ACTION_MAX - 1, a->action, r);
        GET_INT(fs, "why", 0, _WHY_MAX - 1, a->why, r);
        GET_U64(fs, "i", a->index, r);
        GET_INT(fs, "pid", 1, INT32_MAX, a->pid, r);
        GET_U64(fs, "st", a->starttime, r);
        GET_INT(fs, "prio", -1, 100, a->priority, r);
        GET_U64(fs, "kb", a->footprint_kb, r);
        GET_BOOL(fs, "agg", a->aggressor, r);
        if (r < 0)
                return bad(rd, "an action's field does not parse");
        out->n_acts++;
        return TRACE_MORE;
}

static int read_summary(TraceReader *rd, Fields *fs) {
        StepOutput *out = &rd->recorded;
        int r = 0;

        GET_INT(fs, "err", -4095, 0, out->error, r);
        GET_INT(fs, "level", LEVEL_NORMAL, LEVEL_EMERGENCY, out->level, r);
        GET_INT(fs, "target", LEVEL_NORMAL, LEVEL_EMERGENCY, out->target, r);
        GET_U64(fs, "next", out->next_tick, r);
        GET_INT(fs, "held_back", 0, UINT32_MAX, out->held_back, r);
        return r < 0 ? bad(rd, "a summary's field does not parse") : TRACE_STEP;
}

void trace_reader_init(TraceReader *r) {
        memset(r, 0, sizeof(*r));
        policy_config_defaults(&r->config);
        r->obs.cands = r->cands;
        r->obs.held = r->held;
}

void trace_reader_done(TraceReader *r) {
        rules_free(r);
}

int trace_read_line(TraceReader *rd, const char *line, size_t len) {
        const char *end = line + len;
        Fields fs;

        rd->line++;
        rd->error = NULL;
        if (len == strlen(TRACE_MAGIC) && memcmp(line, TRACE_MAGIC, len) == 0) {
                rd->magic = true;
                return TRACE_MORE;
        }
        if (!rd->magic)
                return bad(rd, "not a trace: the first line is not \"" TRACE_MAGIC "\"");
        if (len == 0 || line[0] == '#')
                return TRACE_MORE;
        if (len == 0 || (len > 1 && line[1] != ' '))
                return bad(rd, "not a record");
        if (fields_split(line + MIN(len, (size_t) 2), end, &fs) < 0)
                return bad(rd, "a field is not KEY=VALUE");
        switch (line[0]) {
        case 'K':
                config_begin(rd);
                return read_scalar(rd, &fs);
        case 'R':
                config_begin(rd);
                return read_rule(rd, &fs);
        case 'G':
                config_begin(rd);
                rd->in_config = false;
                rd->config.rules = rd->rules;
                rd->config.n_rules = rd->n_rules;
                return TRACE_CONFIG;
        case 'I': {
                int r = 0;

                GET_U64(&fs, "now", rd->init_now, r);
                return r < 0 ? bad(rd, "the init record's time does not parse") : TRACE_INIT;
        }
        case 'O': return read_observation(rd, &fs);
        case 'P': return read_psi(rd, &fs);
        case 'C': return read_cand(rd, &fs);
        case 'H': return read_held(rd, &fs);
        case 'A': return read_action(rd, &fs);
        case 'S': return read_summary(rd, &fs);
        default:
                return bad(rd, "unknown record");
        }
}
