/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Strict number parsing. strtoull() accepts leading spaces, a sign (and wraps "-1" to
 * UINT64_MAX), "0x" prefixes and trailing junk, and reports nothing for an empty string; the
 * kernel never writes any of these, so each of them here is an error, not a value.
 */

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "common/macro.h"
#include "common/readers-internal.h"
#include "common/readers.h"

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

int parse_u64_until(const char *s, const char *ends, const char **ret_end, uint64_t *ret) {
        const char *e;
        uint64_t v;
        int r;

        if (!s)
                return -EINVAL;
        r = parse_digits(s, s + strlen(s), &e, &v);
        if (r < 0)
                return r;
        if (*e != '\0' && !strchr(ends, *e))
                return -EINVAL;
        if (ret_end)
                *ret_end = e;
        *ret = v;
        return 0;
}

int parse_u64_token(const char *s, const char **ret_end, uint64_t *ret) {
        return parse_u64_until(s, " \t\n", ret_end, ret);
}

int safe_atou64(const char *s, uint64_t *ret) {
        return parse_u64_until(s, "", NULL, ret);
}

int safe_atoi(const char *s, int *ret) {
        bool neg;
        uint64_t v;
        int r;

        if (!s)
                return -EINVAL;
        neg = *s == '-';
        r = safe_atou64(s + neg, &v);
        if (r < 0)
                return r;
        if (v > (uint64_t) INT_MAX + neg)
                return -ERANGE;
        *ret = neg ? (int) -(int64_t) v : (int) v;
        return 0;
}

static const double pow10_table[] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
        1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
};

/*
 * digits[.digits] over [s, end). The value is an integer mantissa divided by an exact power of
 * ten, so "12.34" gives the same double as the literal 12.34 (no locale, unlike strtod()).
 * More precision than a uint64_t mantissa and 18 decimals can hold is -ERANGE.
 */
static int parse_decimal(const char *s, const char *end, const char **ret_end, double *ret) {
        const char *p;
        uint64_t m;
        size_t frac = 0;
        int r;

        r = parse_digits(s, end, &p, &m);
        if (r < 0)
                return r;
        if (p < end && *p == '.') {
                p++;
                if (p >= end || !is_digit(*p))
                        return -EINVAL;
                for (; p < end && is_digit(*p); p++, frac++) {
                        unsigned d = (unsigned) (*p - '0');

                        if (frac >= ELEMENTSOF(pow10_table) - 1 || m > (UINT64_MAX - d) / 10)
                                return -ERANGE;
                        m = m * 10 + d;
                }
        }
        *ret_end = p;
        *ret = (double) m / pow10_table[frac];
        return 0;
}

int safe_atod(const char *s, double *ret) {
        const char *end, *e;
        bool neg;
        double v;
        int r;

        if (!s)
                return -EINVAL;
        neg = *s == '-';
        end = s + strlen(s);
        r = parse_decimal(s + neg, end, &e, &v);
        if (r < 0)
                return r;
        if (e != end)
                return -EINVAL;
        *ret = neg ? -v : v;
        return 0;
}

int parse_pid(const char *s, pid_t *ret) {
        uint64_t v;
        int r;

        /* The kernel never writes "0700"; such a name in a /proc listing is not a process. */
        if (s && s[0] == '0')
                return -EINVAL;
        r = safe_atou64(s, &v);
        if (r < 0)
                return r;
        if (v == 0)
                return -EINVAL;
        if (v > INT_MAX)
                return -ERANGE;
        *ret = (pid_t) v;
        return 0;
}

/* ---- cursor ---- */

bool cursor_lit(Cursor *c, const char *lit) {
        size_t n = strlen(lit);

        if ((size_t) (c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
                return false;
        c->p += n;
        return true;
}

size_t cursor_skip(Cursor *c, const char *set) {
        const char *start = c->p;

        while (c->p < c->end && strchr(set, *c->p))
                c->p++;
        return (size_t) (c->p - start);
}

int cursor_token(Cursor *c, const char *set, const char **ret, size_t *ret_len) {
        const char *start = c->p;

        if (set[0] && !set[1]) {
                const char *hit = memchr(c->p, set[0], (size_t) (c->end - c->p));

                c->p = hit ? hit : c->end;
        } else
                while (c->p < c->end && !strchr(set, *c->p))
                        c->p++;
        if (c->p == start)
                return -EINVAL;
        *ret = start;
        *ret_len = (size_t) (c->p - start);
        return 0;
}

int cursor_i64(Cursor *c, int64_t *ret) {
        bool neg = c->p < c->end && *c->p == '-';
        const char *p = c->p + neg;
        uint64_t v;
        int r;

        r = parse_digits(p, c->end, &p, &v);
        if (r < 0)
                return r;
        if (v > (uint64_t) INT64_MAX + neg)
                return -ERANGE;
        c->p = p;
        *ret = neg ? (int64_t) (0 - v) : (int64_t) v;
        return 0;
}

int cursor_double(Cursor *c, double *ret) {
        return parse_decimal(c->p, c->end, &c->p, ret);
}

int text_next_line(const char **text, Cursor *ret) {
        const char *s = *text, *nl;

        if (*s == '\0')
                return 0;
        nl = strchr(s, '\n');
        if (!nl)
                return -EINVAL;
        *ret = (Cursor) { .p = s, .end = nl };
        *text = nl + 1;
        return 1;
}

int span_u64(const char *s, size_t len, uint64_t *ret) {
        const char *e;
        uint64_t v;
        int r;

        r = parse_digits(s, s + len, &e, &v);
        if (r < 0)
                return r;
        if (e != s + len)
                return -EINVAL;
        *ret = v;
        return 0;
}

bool pct_byte_is_plain(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != '\0' && strchr("-_.:/@+,~", c));
}

int pct_encode(const char *s, char *buf, size_t size) {
        static const char hex[] = "0123456789ABCDEF";
        size_t o = 0;

        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                bool plain = pct_byte_is_plain(c);

                if (o + (plain ? 1 : 3) >= size)
                        return -ENOBUFS;
                if (plain)
                        buf[o++] = (char) c;
                else {
                        buf[o++] = '%';
                        buf[o++] = hex[c >> 4];
                        buf[o++] = hex[c & 15];
                }
        }
        if (size == 0)
                return -ENOBUFS;
        buf[o] = '\0';
        return (int) o;
}

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

int pct_decode(const char *s, size_t len, char *buf, size_t size) {
        size_t o = 0;

        for (size_t i = 0; i < len; i++) {
                int c = (unsigned char) s[i];

                if (c == '%') {
                        int hi = i + 2 < len ? hex_value(s[i + 1]) : -1;
                        int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;

                        if (lo < 0 || (hi == 0 && lo == 0))
                                return -EINVAL;
                        c = hi * 16 + lo;
                        i += 2;
                } else if (!pct_byte_is_plain((unsigned char) c))
                        return -EINVAL;
                if (o + 1 >= size)
                        return -ENAMETOOLONG;
                buf[o++] = (char) c;
        }
        if (size == 0)
                return -ENAMETOOLONG;
        buf[o] = '\0';
        return 0;
}
