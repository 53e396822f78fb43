/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

#include <stddef.h>
#include <stdio.h>

/* A malloc'ed copy safe for a terminal: controls and invalid UTF-8 become '?'. *ret_width: code points. */
char *printable(const char *s, size_t n, size_t *ret_width);
/* s as a JSON string (quotes included): escapes, \ufffd for invalid UTF-8. */
void json_string(FILE *f, const char *s, size_t n);
/* A NUL-terminated s as a JSON string, or null for NULL. */
void json_cstring(FILE *f, const char *s);
