/* SPDX-License-Identifier: GPL-2.0-only */

#include <errno.h>
#include <string.h>

#include "policy/policy.h"

/*
 * The literal form of a pattern (see literal_compile()). Parsing is strict: whatever this grammar
 * does not know is left to regcomp(), so a pattern either means exactly what the regex means or
 * is not converted at all. The pattern was already accepted by regcomp(), which the loader runs
 * first, so malformed input reaches here only as "not a literal".
 */

#define ALTS_MAX 64
#define PART_MAX RULE_PATTERN_MAX

static bool is_meta(char ch) {
        return ch && strchr(".[]()*+?{}|^$\\", ch);
}

/* One literal run: plain characters and escaped metacharacters, up to a metacharacter. */
static const char *parse_run(const char *p, char *out, size_t *len) {
        while (*p) {
                if (*p == '\\') {
                        if (!is_meta(p[1]))
                                return NULL;    /* \w, \1, ... are not literals */
                        if (*len + 1 >= PART_MAX)
                                return NULL;
                        out[(*len)++] = p[1];
                        p += 2;
                        continue;
                }
                if (is_meta(*p))
                        break;
                if (*len + 1 >= PART_MAX)
                        return NULL;
                out[(*len)++] = *p++;
        }
        out[*len] = '\0';
        return p;
}

typedef struct Alt {
        char s[PART_MAX];
        size_t len;
        bool open;                      /* ended in ".*" */
} Alt;

typedef struct Parse {
        char head[PART_MAX], tail[PART_MAX];
        size_t head_len, tail_len;
        Alt alts[ALTS_MAX];
        size_t n_alts;
        bool group, open_end, dollar;
} Parse;

/* "(a|b.*|c)": the alternatives; p points after '('. */
static const char *parse_group(const char *p, Parse *x) {
        for (;;) {
                Alt *a;

                if (x->n_alts >= ALTS_MAX)
                        return NULL;
                a = &x->alts[x->n_alts++];
                a->len = 0;
                p = parse_run(p, a->s, &a->len);
                if (!p || a->len == 0)
                        return NULL;    /* an empty alternative: leave it to the regex */
                if (p[0] == '.' && p[1] == '*') {
                        a->open = true;
                        p += 2;
                }
                if (*p == '|') {
                        p++;
                        continue;
                }
                return *p == ')' ? p + 1 : NULL;
        }
}

static int parse(const char *p, Parse *x, bool *anchored) {
        memset(x, 0, sizeof(*x));
        *anchored = *p == '^';
        p += *anchored;
        p = parse_run(p, x->head, &x->head_len);
        if (p && *p == '(') {
                x->group = true;
                p = parse_group(p + 1, x);
                if (p)
                        p = parse_run(p, x->tail, &x->tail_len);
        }
        if (!p)
                return -ENOTSUP;
        if (p[0] == '.' && p[1] == '*') {
                x->open_end = true;
                p += 2;
        }
        if (*p == '$') {
                x->dollar = true;
                p++;
        }
        if (*p != '\0')
                return -ENOTSUP;
        /* ".*" only as prefix semantics: the pattern must be anchored at the start */
        if (!*anchored && (x->open_end || (x->group && x->alts[0].open)))
                return -ENOTSUP;
        for (size_t i = 0; i < x->n_alts; i++)
                if (x->alts[i].open && (x->tail_len > 0 || x->open_end))
                        return -ENOTSUP;
        return 0;
}

static int emit(LiteralSet *l, size_t *used, bool open, const char *a, const char *b, const char *c) {
        size_t need = 1 + strlen(a) + strlen(b) + strlen(c) + 1;

        if (*used + need > sizeof(l->buf))
                return -ENOTSUP;
        l->buf[(*used)++] = open ? 'o' : 'x';
        *used += (size_t) stpcpy(stpcpy(stpcpy(l->buf + *used, a), b), c) - (size_t) (l->buf + *used) + 1;
        l->n++;
        return 0;
}

int literal_compile(const char *pattern, LiteralSet *ret) {
        static Parse x;         /* 16 KiB: not on the stack; the loader is single-threaded */
        LiteralSet l = {};
        size_t used = 0;
        bool open;
        int r;

        if (!pattern || strnlen(pattern, RULE_PATTERN_MAX) >= RULE_PATTERN_MAX)
                return -ENOTSUP;
        r = parse(pattern, &x, &l.anchored);
        if (r < 0)
                return r;
        if (!x.group)
                r = emit(&l, &used, x.open_end || !x.dollar, x.head, "", "");
        for (size_t i = 0; r >= 0 && i < x.n_alts; i++) {
                open = x.open_end || x.alts[i].open || !x.dollar;
                r = emit(&l, &used, open, x.head, x.alts[i].s, x.tail);
        }
        if (r < 0)
                return r;
        *ret = l;
        return 0;
}

static bool alt_match(bool anchored, bool open, const char *alt, const char *s) {
        size_t n = strlen(alt), len = strlen(s);

        if (anchored)
                return open ? strncmp(s, alt, n) == 0 : strcmp(s, alt) == 0;
        if (!open)
                return len >= n && strcmp(s + len - n, alt) == 0;
        return strstr(s, alt) != NULL;
}

bool literal_match(const LiteralSet *l, const char *s) {
        const char *p = l->buf;

        for (unsigned i = 0; i < l->n; i++) {
                bool open = *p++ == 'o';

                if (alt_match(l->anchored, open, p, s))
                        return true;
                p += strlen(p) + 1;
        }
        return false;
}
