/* SPDX-License-Identifier: GPL-2.0-only */
/* config-edit.h: edit the [defaults] keys of a configuration text, keep everything else. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/config-edit.h"
#include "common/macro.h"

#define SETTINGS_MAX 16

typedef struct Out {
        FILE *f;
        char *buf;
        size_t len;
} Out;

/* The line [s, e) without its line end, blanks (and a BOM on line 1) skipped at the start. */
static const char *line_start(const char *s, const char *e, bool first) {
        if (first && e - s >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
                s += 3;
        while (s < e && isspace((unsigned char) *s))
                s++;
        return s;
}

/* A header line: is it [defaults]? (The loader already accepted the file: no need to be strict.) */
static bool header_is_defaults(const char *s, const char *e) {
        return e - s >= 10 && memcmp(s, "[defaults]", 10) == 0;
}

/* The key of a "key = value" line, or -1 if it is not one of set's. */
static int line_key(const char *s, const char *e, const ConfigSetting *set, size_t n, const char **ret_eq) {
        const char *eq = memchr(s, '=', (size_t) (e - s)), *k = eq;

        if (!eq || *s == '#' || *s == ';' || *s == '[')
                return -1;
        while (k > s && isspace((unsigned char) k[-1]))
                k--;
        for (size_t i = 0; i < n; i++)
                if ((size_t) (k - s) == strlen(set[i].key) && memcmp(s, set[i].key, (size_t) (k - s)) == 0) {
                        *ret_eq = eq;
                        return (int) i;
                }
        return -1;
}

/* Write the line with its value replaced: what precedes the value and a trailing comment stay. */
static void put_replaced(FILE *f, const char *s, const char *e, const char *eq, const char *value) {
        const char *v = eq + 1, *end = e, *c;

        while (v < e && (*v == ' ' || *v == '\t'))
                v++;
        /* inih's inline comment: ';' after whitespace */
        for (c = v; c < e; c++)
                if (*c == ';' && c > v && isspace((unsigned char) c[-1])) {
                        end = c;
                        break;
                }
        while (end > v && isspace((unsigned char) end[-1]))
                end--;
        fwrite(s, 1, (size_t) (v - s), f);
        fputs(value, f);
        fwrite(end, 1, (size_t) (e - end), f);
}

static void put_added(FILE *f, const ConfigSetting *set, size_t n, const bool *done, const char *comment,
                      const char *nl) {
        if (comment)
                fprintf(f, "# %s%s", comment, nl);
        for (size_t i = 0; i < n; i++)
                if (!done[i])
                        fprintf(f, "%s = %s%s", set[i].key, set[i].value, nl);
}

static bool any_missing(const bool *done, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!done[i])
                        return true;
        return false;
}

typedef struct Scan {
        long insert_at;                 /* output offset after [defaults]' last key line (or header) */
        bool in_defaults, had_defaults;
} Scan;

/* Copy the text, replacing known keys in [defaults]; note where missing keys go. */
static void copy_lines(FILE *f, const char *text, const ConfigSetting *set, size_t n, bool *done, Scan *sc) {
        bool first = true;

        for (const char *p = text; *p; first = false) {
                const char *nl = strchr(p, '\n'), *next = nl ? nl + 1 : p + strlen(p);
                const char *e = nl ? nl : next, *s, *eq = NULL;
                bool mark = false;
                int k;

                if (e > p && e[-1] == '\r')
                        e--;
                s = line_start(p, e, first);
                if (s < e && *s == '[') {
                        sc->in_defaults = header_is_defaults(s, e);
                        sc->had_defaults |= sc->in_defaults;
                        mark = sc->in_defaults;
                } else if (sc->in_defaults && (k = line_key(s, e, set, n, &eq)) >= 0 && !done[k]) {
                        put_replaced(f, p, e, eq, set[k].value);
                        p = e;
                        done[k] = mark = true;
                } else
                        mark = sc->in_defaults && s < e && *s != '#' && *s != ';';
                fwrite(p, 1, (size_t) (next - p), f);
                if (mark)
                        sc->insert_at = ftell(f);
                p = next;
        }
}

int config_edit_defaults(const char *text, const ConfigSetting *set, size_t n, const char *comment,
                         char **ret) {
        _cleanup_free_ char *copy = NULL;
        const char *nl = "\n", *first_nl;
        bool done[SETTINGS_MAX] = {};
        size_t len = 0, at;
        Scan sc = {};
        FILE *f;

        if (n > SETTINGS_MAX)
                return -EINVAL;
        text = text ?: "";
        first_nl = strchr(text, '\n');
        if (first_nl && first_nl > text && first_nl[-1] == '\r')
                nl = "\r\n";
        f = open_memstream(&copy, &len);
        if (!f)
                return -ENOMEM;
        copy_lines(f, text, set, n, done, &sc);
        if (fclose(f) != 0)
                return -ENOMEM;

        f = open_memstream(ret, &len);
        if (!f)
                return -ENOMEM;
        at = sc.had_defaults ? (size_t) sc.insert_at : strlen(copy);
        fwrite(copy, 1, at, f);
        if (any_missing(done, n)) {
                if (at > 0 && copy[at - 1] != '\n')
                        fputs(nl, f);
                if (!sc.had_defaults)
                        fprintf(f, "%s[defaults]%s", at > 0 ? nl : "", nl);
                put_added(f, set, n, done, comment, nl);
        }
        fputs(copy + at, f);
        return fclose(f) == 0 ? 0 : -ENOMEM;
}
