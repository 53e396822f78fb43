/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * The configuration loader: built-in defaults, then /etc/mgd/mgd.conf, then the user's
 * $XDG_CONFIG_HOME/mgd/mgd.conf, merged entry by entry into one PolicyConfig. The syntax, the
 * merge rules and every key are documented in docs/CONFIG.md and mgd.conf(5).
 *
 * Trust: the system file is the administrator's, the user file the session owner's; mgd runs as
 * that user, so neither is hostile, but both are hand-written. Every value is checked, every
 * mistake is an error naming "file:line", and nothing a file says can silently take the
 * compositor's or the audio stack's built-in protection away.
 */

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

#define CONFIG_ERROR_MAX 512
#define CONFIG_ENTRY_NAME_MAX 32        /* [app "NAME"]: 1-32 of A-Z a-z 0-9 . _ + @ - */
#define CONFIG_ENTRIES_MAX 4096         /* built-ins and file entries together */

/* Where to look. An empty string means "no such layer". */
typedef struct ConfigPaths {
        char system[PATH_MAX];
        char user[PATH_MAX];
} ConfigPaths;

typedef struct ConfigError {
        char message[CONFIG_ERROR_MAX]; /* "file:line: reason" ("file: reason" for I/O) */
} ConfigError;

/* A tolerated oddity ("file:line: unknown key 'x' in [defaults], ignoring"). */
typedef void (*ConfigWarnFn)(const char *message, void *userdata);

/*
 * Fill the default paths: MGD_SYSCONFDIR/mgd/mgd.conf and $XDG_CONFIG_HOME/mgd/mgd.conf
 * ($XDG_CONFIG_HOME only if absolute; else $HOME/.config, else the passwd entry's home).
 * Returns 0; -ENOENT if no home directory is known (ret->user is then "" and ret->system is
 * still set, so the caller may log and go on); -ENAMETOOLONG if a path does not fit.
 */
int config_paths_default(ConfigPaths *ret);

/*
 * Load built-ins, then paths->system, then paths->user (paths NULL: built-ins only). A missing
 * file is skipped; a file that exists but cannot be read is an error. On success *ret owns a
 * fresh rule array (release it with config_free()) and ret_err->message is "". On failure
 * *ret is not touched, so a reload keeps the running configuration, and ret_err->message says
 * "file:line: reason". Warnings go to warn (may be NULL).
 * Returns 0, -EINVAL (bad configuration), -ENOMEM, or the -errno of the failed open/read.
 *
 * The merged c->rules: app and protect entries of the user file, then of the system file, then
 * the built-ins, each block in file order; an entry overridden by name keeps the position where
 * its name first appeared. Rule.origin and Rule.source name the layer that last changed it.
 */
int config_load(const ConfigPaths *paths, PolicyConfig *ret, ConfigError *ret_err,
                ConfigWarnFn warn, void *userdata);

/* Free the rules (regfree each) and empty the array; the scalars stay. NULL is fine. */
void config_free(PolicyConfig *c);

/* Does any rule match on this field? (The process scan reads exe/cmdline only if so.) */
bool config_uses_match(const PolicyConfig *c, MatchField field);

/* "name", "exe", "cmdline"; NULL if out of range. */
const char *match_field_to_string(MatchField f);

/* ---- the built-in table (daemon/builtin-rules.c) --------------------------------------- */

#define BUILTIN_EXAMPLES_MAX 40

typedef struct BuiltinRule {
        const char *name;
        const char *pattern;
        MatchField field;
        int priority;
        int checkpoint;                 /* -1 unset */
        /*
         * Real values of the matched field (comm, or a command line) that this entry exists for,
         * NULL-terminated. The unit tests check each one resolves to this entry; for the
         * protected tiers the loader checks that no file entry takes them away silently.
         */
        const char *examples[BUILTIN_EXAMPLES_MAX];
        bool build;                     /* a build tool (spike mode) */
} BuiltinRule;

extern const BuiltinRule builtin_rules[];
extern const size_t builtin_rules_n;
