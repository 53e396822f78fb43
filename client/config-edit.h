/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Setting [defaults] keys in a configuration file's text without touching anything else: every
 * other line, comment, section and entry stays byte for byte. Pure: text in, text out; the caller
 * validates the result with the real loader (daemon/config.c) before it replaces any file.
 *
 * A key already in [defaults] gets its value replaced in place (indentation, the spacing around
 * '=' and a trailing "; comment" are kept); a missing key is added after the section's last key
 * line; a file without [defaults] gets one appended at its end. The comment, if any, is written
 * as a "# ..." line above keys that are added. Line ends follow the file's first line (CRLF or
 * LF). The input must be a file the loader accepts (at most one [defaults], no duplicate keys).
 */

#include <stddef.h>

typedef struct ConfigSetting {
        const char *key;
        const char *value;
} ConfigSetting;

/* *ret: the new text (malloc'ed, NUL-terminated). text NULL: an empty (missing) file. -ENOMEM. */
int config_edit_defaults(const char *text, const ConfigSetting *set, size_t n, const char *comment,
                         char **ret);
