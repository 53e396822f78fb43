/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Text that reaches a terminal or a JSON document: whatever the daemon, a process name or a file
 * says, control characters and invalid UTF-8 never get through unescaped.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/text.h"

/* Length of the valid UTF-8 sequence at s (code point in *cp), or 0 if invalid. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
        size_t len;
        uint32_t v, min;

        if (s[0] < 0x80) {
                *cp = s[0];
                return 1;
        }
        if ((s[0] & 0xe0) == 0xc0)
                len = 2, v = s[0] & 0x1f, min = 0x80;
        else if ((s[0] & 0xf0) == 0xe0)
                len = 3, v = s[0] & 0x0f, min = 0x800;
        else if ((s[0] & 0xf8) == 0xf0)
                len = 4, v = s[0] & 0x07, min = 0x10000;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                v = v << 6 | (s[i] & 0x3f);
        }
        if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
                return 0;
        *cp = v;
        return len;
}

static bool codepoint_is_control(uint32_t cp) {
        return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

/* A copy safe for a terminal: controls and invalid UTF-8 become '?'. *ret_width: code points. */
char *printable(const char *s, size_t n, size_t *ret_width) {
        const unsigned char *u = (const unsigned char *) s;
        size_t o = 0, width = 0;
        char *out = malloc(n + 1);

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; width++) {
                uint32_t cp;
                size_t l = utf8_next(u + i, n - i, &cp);

                if (l == 0 || codepoint_is_control(cp)) {
                        out[o++] = '?';
                        i += l ?: 1;
                        continue;
                }
                memcpy(out + o, s + i, l);
                o += l;
                i += l;
        }
        out[o] = '\0';
        if (ret_width)
                *ret_width = width;
        return out;
}

void json_string(FILE *f, const char *s, size_t n) {
        const unsigned char *u = (const unsigned char *) s;

        fputc('"', f);
        for (size_t i = 0; i < n;) {
                uint32_t cp;
                size_t l = utf8_next(u + i, n - i, &cp);

                if (l == 0) {
                        fputs("\\ufffd", f);    /* JSON strings are Unicode; a stray byte is not */
                        i++;
                } else if (cp == '"' || cp == '\\') {
                        fprintf(f, "\\%c", (char) cp);
                        i++;
                } else if (cp < 0x20 || cp == 0x7f) {
                        fprintf(f, "\\u%04x", (unsigned) cp);
                        i++;
                } else {
                        fwrite(s + i, 1, l, f);
                        i += l;
                }
        }
        fputc('"', f);
}


void json_cstring(FILE *f, const char *s) {
        if (s)
                json_string(f, s, strlen(s));
        else
                fputs("null", f);
}
