/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build-config.h"
#include "daemon/config.h"
#include "tests/check-main.h"

#define FIX CONFIG_FIXTURES
#define WARN_MAX 16

typedef struct Warnings {
        char msg[WARN_MAX][CONFIG_ERROR_MAX];
        size_t n;
} Warnings;

static void collect(const char *message, void *userdata) {
        Warnings *w = userdata;

        ck_assert_uint_lt(w->n, WARN_MAX);
        snprintf(w->msg[w->n++], CONFIG_ERROR_MAX, "%s", message);
}

static ConfigPaths paths(const char *system, const char *user) {
        ConfigPaths p = {};

        if (system)
                snprintf(p.system, sizeof(p.system), "%s/%s", FIX, system);
        if (user)
                snprintf(p.user, sizeof(p.user), "%s/%s", FIX, user);
        return p;
}

static const Rule *rule_by_name(const PolicyConfig *c, const char *name) {
        for (size_t i = 0; i < c->n_rules; i++)
                if (strcmp(c->rules[i].name, name) == 0)
                        return &c->rules[i];
        return NULL;
}

static size_t rule_index(const PolicyConfig *c, const char *name) {
        const Rule *r = rule_by_name(c, name);

        ck_assert_msg(r, "no rule '%s'", name);
        return (size_t) (r - c->rules);
}

static Candidate cand_named(const char *name) {
        Candidate c = { .pid = 4242 };

        snprintf(c.name, sizeof(c.name), "%s", name);
        snprintf(c.exe, sizeof(c.exe), "%s", name);
        snprintf(c.cmdline, sizeof(c.cmdline), "/usr/bin/%s", name);
        return c;
}

/* A candidate for a command-line example: name and exe are argv[0]'s basename. */
static Candidate cand_cmdline(const char *cmdline) {
        Candidate c = { .pid = 4242 };
        const char *sp = strchr(cmdline, ' '), *slash;
        size_t len = sp ? (size_t) (sp - cmdline) : strlen(cmdline);

        snprintf(c.cmdline, sizeof(c.cmdline), "%s", cmdline);
        slash = memrchr(cmdline, '/', len);
        if (slash) {
                len -= (size_t) (slash + 1 - cmdline);
                cmdline = slash + 1;
        }
        snprintf(c.name, sizeof(c.name), "%.*s", (int) MIN(len, 15u), cmdline);
        snprintf(c.exe, sizeof(c.exe), "%.*s", (int) len, cmdline);
        return c;
}

static int load(const ConfigPaths *p, PolicyConfig *c, ConfigError *err, Warnings *w) {
        return config_load(p, c, err, collect, w);
}

/* ---- built-ins only ---------------------------------------------------------------------- */

START_TEST(test_defaults_only) {
        PolicyConfig c, d;
        ConfigError err;
        Warnings w = {};
        ConfigPaths missing = paths("no-such-dir/mgd.conf", "no-such-file.conf");

        ck_assert_int_eq(load(NULL, &c, &err, &w), 0);
        ck_assert_str_eq(err.message, "");
        ck_assert_uint_eq(w.n, 0);
        policy_config_defaults(&d);
        ck_assert_int_eq(c.default_priority, d.default_priority);
        ck_assert_uint_eq(c.fast_tick_usec, d.fast_tick_usec);
        ck_assert_uint_eq(c.calm_step_usec, d.calm_step_usec);
        ck_assert_double_eq(c.level_threshold[LEVEL_HIGH], d.level_threshold[LEVEL_HIGH]);
        ck_assert_uint_eq(c.min_footprint_kb, d.min_footprint_kb);
        ck_assert_uint_eq(c.n_rules, builtin_rules_n);
        for (size_t i = 0; i < c.n_rules; i++) {
                ck_assert_str_eq(c.rules[i].name, builtin_rules[i].name);
                ck_assert_str_eq(c.rules[i].origin, "built-in");
                ck_assert_int_eq(c.rules[i].source, RULE_BUILTIN);
                ck_assert(c.rules[i].compiled);
                ck_assert(!c.rules[i].protect);
        }
        config_free(&c);
        ck_assert_ptr_null(c.rules);
        ck_assert_uint_eq(c.n_rules, 0);

        /* missing files are not an error */
        ck_assert_int_eq(load(&missing, &c, &err, &w), 0);
        ck_assert_uint_eq(c.n_rules, builtin_rules_n);
        ck_assert_uint_eq(w.n, 0);
        config_free(&c);
}
END_TEST

/* Every example of every built-in resolves to that very entry: no earlier entry steals it. */
START_TEST(test_builtin_examples) {
        PolicyConfig c;

        ck_assert_int_eq(config_load(NULL, &c, NULL, NULL, NULL), 0);
        for (size_t i = 0; i < builtin_rules_n; i++) {
                const BuiltinRule *b = &builtin_rules[i];

                ck_assert_msg(b->examples[0], "built-in '%s' has no example", b->name);
                ck_assert_int_le(strlen(b->name), CONFIG_ENTRY_NAME_MAX);
                for (size_t k = 0; k < BUILTIN_EXAMPLES_MAX && b->examples[k]; k++) {
                        Candidate cand = b->field == MATCH_CMDLINE ? cand_cmdline(b->examples[k]) :
                                cand_named(b->examples[k]);
                        const Rule *r = policy_match_app(&c, &cand);

                        /* comm is at most 15 bytes: a longer name example could never occur */
                        if (b->field == MATCH_NAME)
                                ck_assert_msg(strlen(b->examples[k]) <= 15, "'%s' is not a comm",
                                              b->examples[k]);
                        ck_assert_msg(r && strcmp(r->name, b->name) == 0, "'%s' resolves to '%s', not '%s'",
                                      b->examples[k], r ? r->name : "(none)", b->name);
                }
        }
        config_free(&c);
}
END_TEST

/* docs/CONFIG.md lists every built-in entry, in table order, with its real priority. */
START_TEST(test_doc_table) {
        _cleanup_fclose_ FILE *f = fopen(CONFIG_DOC, "re");
        const BuiltinRule *missing;
        char line[1024], want[128];
        size_t next = 0;

        ck_assert_ptr_nonnull(f);
        while (next < builtin_rules_n && fgets(line, sizeof(line), f)) {
                snprintf(want, sizeof(want), "| `%s` | %d |",
                         builtin_rules[next].name, builtin_rules[next].priority);
                if (strncmp(line, want, strlen(want)) == 0)
                        next++;
        }
        missing = &builtin_rules[MIN(next, builtin_rules_n - 1)];
        ck_assert_msg(next == builtin_rules_n, "docs/CONFIG.md lacks the row \"| `%s` | %d |\""
                      " (in table order)", missing->name, missing->priority);
}
END_TEST

/*
 * The built-in table is matched through literal forms where it can be (no regex heap): every rule
 * that was converted means exactly what its regex means, on every example of every entry and on
 * variations of them (longer, shorter, prefixed, another case).
 */
START_TEST(test_builtin_literal_forms) {
        PolicyConfig c;
        size_t literal = 0;

        ck_assert_int_eq(config_load(NULL, &c, NULL, NULL, NULL), 0);
        for (size_t i = 0; i < c.n_rules; i++) {
                const Rule *rule = &c.rules[i];
                regex_t re;

                if (!rule->literal)
                        continue;
                literal++;
                ck_assert_int_eq(regcomp(&re, rule->pattern, REG_EXTENDED | REG_NOSUB), 0);
                for (size_t b = 0; b < builtin_rules_n; b++)
                        for (size_t k = 0; k < BUILTIN_EXAMPLES_MAX && builtin_rules[b].examples[k]; k++) {
                                const char *ex = builtin_rules[b].examples[k];
                                char v[5][256];

                                snprintf(v[0], sizeof(v[0]), "%s", ex);
                                snprintf(v[1], sizeof(v[1]), "%sx", ex);
                                snprintf(v[2], sizeof(v[2]), "x%s", ex);
                                snprintf(v[3], sizeof(v[3]), "%.*s", (int) strlen(ex) - 1, ex);
                                snprintf(v[4], sizeof(v[4]), "%c%s", ex[0] ^ 0x20, ex + 1);
                                for (size_t j = 0; j < ELEMENTSOF(v); j++)
                                        ck_assert_msg(literal_match(&rule->lit, v[j]) ==
                                                      (regexec(&re, v[j], 0, NULL, 0) == 0),
                                                      "[%s] %s on \"%s\"", rule->name, rule->pattern, v[j]);
                        }
                regfree(&re);
        }
        /* all but the few with optional groups or character classes (mgd, the cmdline entries) */
        ck_assert_uint_ge(literal + 4, c.n_rules);
        config_free(&c);
}
END_TEST

static int priority_of(const PolicyConfig *c, Candidate cand) {
        const Rule *r = policy_match_app(c, &cand);

        return r ? r->priority : c->default_priority;
}

START_TEST(test_builtin_tiers) {
        PolicyConfig c;

        ck_assert_int_eq(config_load(NULL, &c, NULL, NULL, NULL), 0);
        /* compositor, audio and session core: tier 0-19 */
        ck_assert_int_le(priority_of(&c, cand_named("kwin_wayland")), 19);
        ck_assert_int_le(priority_of(&c, cand_named("gnome-shell")), 19);
        ck_assert_int_le(priority_of(&c, cand_named("pipewire")), 19);
        ck_assert_int_le(priority_of(&c, cand_named("wireplumber")), 19);
        ck_assert_int_le(priority_of(&c, cand_named("plasmashell")), 19);
        ck_assert_int_le(priority_of(&c, cand_named("xdg-desktop-por")), 19);
        ck_assert_int_eq(priority_of(&c, cand_named("mgd")), 0);
        ck_assert_int_eq(priority_of(&c, cand_named("mgd-zram-helper")), 0);
        /* only mgd's own programs: another program named mgd-something is an ordinary app */
        ck_assert_int_eq(priority_of(&c, cand_named("mgd-test-hog")), c.default_priority);
        ck_assert_int_eq(priority_of(&c, cand_named("mgd-helper")), c.default_priority);
        /* the browsers' main processes are protected work (upstream: firefox at 75) */
        ck_assert_int_ge(priority_of(&c, cand_named("firefox")), 20);
        ck_assert_int_le(priority_of(&c, cand_named("firefox")), 49);
        ck_assert_int_le(priority_of(&c, cand_named("chrome")), 49);
        /* their tabs are heavy: full comm with spaces, not the first word */
        ck_assert_int_ge(priority_of(&c, cand_named("Isolated Web Co")), 80);
        ck_assert_int_ge(priority_of(&c, cand_named("Web Content")), 80);
        ck_assert_int_eq(priority_of(&c, cand_named("Isolated")), c.default_priority);
        ck_assert_int_ge(priority_of(&c, cand_cmdline("/opt/google/chrome/chrome --type=renderer --x")), 80);
        /* an Electron app's window renderer stays with its app */
        ck_assert_int_eq(priority_of(&c, cand_cmdline("/usr/share/code/code --type=renderer --x")), 30);
        ck_assert_int_le(priority_of(&c, cand_cmdline("/opt/google/chrome/chrome --type=gpu-process")), 49);
        /* expendable background */
        ck_assert_int_ge(priority_of(&c, cand_named("baloo_file")), 60);
        ck_assert_int_le(priority_of(&c, cand_named("baloo_file")), 79);
        ck_assert_int_ge(priority_of(&c, cand_named("plasma-discover")), 60);
        ck_assert_int_eq(priority_of(&c, cand_named("some-app")), 50);
        ck_assert(config_uses_match(&c, MATCH_CMDLINE));
        ck_assert(!config_uses_match(&c, MATCH_EXE));
        config_free(&c);
}
END_TEST

/* ---- merging ----------------------------------------------------------------------------- */

START_TEST(test_merge) {
        ConfigPaths p = paths("merge/system.conf", "merge/user.conf");
        PolicyConfig c;
        ConfigError err;
        Warnings w = {};
        const Rule *r;
        char origin[RULE_ORIGIN_MAX];

        ck_assert_int_eq(load(&p, &c, &err, &w), 0);
        ck_assert_str_eq(err.message, "");
        ck_assert_uint_eq(w.n, 0);

        /* scalars: /etc then the user file, key by key */
        ck_assert_int_eq(c.default_priority, 55);
        ck_assert_uint_eq(c.fast_tick_usec, 500 * USEC_PER_MSEC);
        ck_assert_uint_eq(c.slow_tick_usec, 120 * USEC_PER_SEC);
        ck_assert_uint_eq(c.log_keep, 3);
        ck_assert_uint_eq(c.calm_step_usec, 1500 * USEC_PER_MSEC);

        /* user entries first, then system entries, then built-ins, each in file order */
        ck_assert_uint_eq(c.n_rules, builtin_rules_n + 5);
        ck_assert_str_eq(c.rules[0].name, "user-new");
        ck_assert_str_eq(c.rules[1].name, "tool");
        ck_assert_str_eq(c.rules[2].name, "my-server");
        ck_assert_str_eq(c.rules[3].name, "system-tool");
        ck_assert_str_eq(c.rules[4].name, "my-vpn");
        for (size_t i = 0; i < builtin_rules_n; i++)
                ck_assert_str_eq(c.rules[5 + i].name, builtin_rules[i].name);

        /* overridden field by field: priority from the user, the rest from /etc */
        r = rule_by_name(&c, "my-server");
        ck_assert_int_eq(r->priority, 30);
        ck_assert_str_eq(r->pattern, "^my-server$");
        ck_assert_int_eq(r->checkpoint, 1);
        ck_assert_int_eq(r->source, RULE_USER);
        snprintf(origin, sizeof(origin), "%s/merge/user.conf:7", FIX);
        ck_assert_str_eq(r->origin, origin);

        /* a built-in overridden by name keeps its place and pattern */
        r = rule_by_name(&c, "browser-content");
        ck_assert_int_eq(r->priority, 95);
        ck_assert_str_eq(r->pattern, builtin_rules[rule_index(&c, "browser-content") - 5].pattern);
        ck_assert_int_eq(r->source, RULE_USER);

        /* no priority given: the final [defaults] priority */
        r = rule_by_name(&c, "tool");
        ck_assert_int_eq(r->priority, 55);
        ck_assert_int_eq(r->checkpoint, 0);
        r = rule_by_name(&c, "system-tool");
        ck_assert_int_eq(r->source, RULE_SYSTEM);
        ck_assert_int_eq(r->checkpoint, -1);

        /* the protect entry: still there, copied verbatim by the user */
        r = rule_by_name(&c, "my-vpn");
        ck_assert(r->protect);
        ck_assert(policy_match_protect(&c, &(Candidate) { .name = "wg-quick" }) == r);
        ck_assert_int_eq(policy_priority(&c, &(Candidate) { .name = "openvpn" }, 0), -1);

        /* user entries win over built-ins: matching goes through the merged order */
        ck_assert_int_eq(priority_of(&c, cand_named("user-new")), 70);
        ck_assert_int_eq(priority_of(&c, cand_named("Web Content")), 95);
        config_free(&c);
}
END_TEST

START_TEST(test_match_fields) {
        ConfigPaths p = paths(NULL, "match/user.conf");
        PolicyConfig c;
        ConfigError err;
        Warnings w = {};
        Candidate node = cand_cmdline("/usr/bin/node /home/u/app/node_modules/.bin/next --dev-server");
        Candidate ide = cand_named("java");

        ck_assert_int_eq(load(&p, &c, &err, &w), 0);
        ck_assert_int_eq(rule_by_name(&c, "node-dev")->field, MATCH_CMDLINE);
        ck_assert_int_eq(rule_by_name(&c, "java-ide")->field, MATCH_EXE);
        ck_assert_int_eq(rule_by_name(&c, "tabs")->field, MATCH_NAME);
        ck_assert(config_uses_match(&c, MATCH_EXE));

        ck_assert_int_eq(priority_of(&c, node), 75);
        ck_assert_int_eq(priority_of(&c, cand_cmdline("/usr/bin/node server.js")), 50);
        snprintf(ide.exe, sizeof(ide.exe), "idea.sh");
        ck_assert_int_eq(priority_of(&c, ide), 31);
        ide = cand_named("idea.sh");    /* comm alone does not match an exe entry */
        snprintf(ide.exe, sizeof(ide.exe), "java");
        ck_assert_int_eq(priority_of(&c, ide), 50);

        /* the full comm, spaces included; the first word alone is another process */
        ck_assert_int_eq(priority_of(&c, cand_named("Web Content")), 99);
        ck_assert_int_eq(priority_of(&c, cand_named("Web")), 50);
        config_free(&c);
}
END_TEST

/* ---- protection -------------------------------------------------------------------------- */

static void expect_error(const char *system, const char *user, const char *rel, unsigned line,
                         const char *reason) {
        ConfigPaths p = paths(system, user);
        PolicyConfig c;
        ConfigError err;
        Warnings w = {};
        char want[CONFIG_ERROR_MAX * 2];

        if (line > 0)
                snprintf(want, sizeof(want), "%s/%s:%u: %s", FIX, rel, line, reason);
        else
                snprintf(want, sizeof(want), "%s", reason);
        ck_assert_int_eq(load(&p, &c, &err, &w), -EINVAL);
        ck_assert_str_eq(err.message, want);
}

START_TEST(test_protect_raise) {
        ConfigPaths p = paths(NULL, "protect/raise-unprotect.conf");
        PolicyConfig c;
        ConfigError err;
        Warnings w = {};
        char want[CONFIG_ERROR_MAX];

        expect_error(NULL, "protect/raise-no-unprotect.conf", "protect/raise-no-unprotect.conf", 2,
                     "[app \"compositor\"] would remove the built-in protection of 'compositor'"
                     " (priority 5 -> 60); add 'unprotect = true' to the section to do this on purpose");

        /* explicit: loads, and says what it did */
        ck_assert_int_eq(load(&p, &c, &err, &w), 0);
        ck_assert_uint_eq(w.n, 1);
        snprintf(want, sizeof(want), "%s/protect/raise-unprotect.conf:2: [app \"audio\"] removes the"
                 " built-in protection of 'audio' (priority 5 -> 60): pipewire, pipewire-pulse,"
                 " wireplumber, pipewire-media-, pulseaudio, rtkit-daemon, ... may now be frozen or killed",
                 FIX);
        ck_assert_str_eq(w.msg[0], want);
        ck_assert_int_eq(priority_of(&c, cand_named("pipewire")), 60);
        ck_assert_int_le(priority_of(&c, cand_named("kwin_wayland")), 19);
        config_free(&c);
}
END_TEST

START_TEST(test_protect_pattern) {
        ConfigPaths p = paths(NULL, "protect/widen.conf");
        PolicyConfig c;
        Warnings w = {};

        expect_error(NULL, "protect/narrow-no-unprotect.conf", "protect/narrow-no-unprotect.conf", 2,
                     "[app \"compositor\"] would remove the built-in protection of 'compositor' (it would"
                     " no longer match 'kwin_wayland_wr'); add 'unprotect = true' to the section to do this on"
                     " purpose");
        /* a pattern that still covers every process the entry exists for is fine */
        ck_assert_int_eq(load(&p, &c, NULL, &w), 0);
        ck_assert_uint_eq(w.n, 0);
        ck_assert_int_le(priority_of(&c, cand_named("my-wm")), 19);
        config_free(&c);
}
END_TEST

START_TEST(test_protect_shadow) {
        ConfigPaths p = paths(NULL, "protect/shadow-unprotect.conf");
        ConfigPaths q = paths(NULL, "protect/shadow-stricter.conf");
        PolicyConfig c;
        Warnings w = {};
        char want[CONFIG_ERROR_MAX];

        /* a broad new entry matched before the built-ins would unprotect kwin_wayland silently */
        expect_error(NULL, "protect/shadow.conf", "protect/shadow.conf", 1,
                     "[app \"k-apps\"] (priority 60) also matches 'kwin_wayland', protected by built-in"
                     " entry 'compositor' (priority 5), and is matched before it; narrow the pattern, or"
                     " add 'unprotect = true' to the section to do this on purpose");

        ck_assert_int_eq(load(&p, &c, NULL, &w), 0);
        ck_assert_uint_ge(w.n, 2);
        snprintf(want, sizeof(want), "%s/protect/shadow-unprotect.conf:1: [app \"k-apps\"] (priority 60)"
                 " takes precedence over the built-in protection of 'compositor' (kwin_wayland,"
                 " kwin_wayland_wr, kwin_x11, gnome-shell, mutter, mutter-x11-fram, ...)", FIX);
        ck_assert_str_eq(w.msg[0], want);
        ck_assert_ptr_nonnull(strstr(w.msg[1], "'session'"));
        ck_assert_int_eq(priority_of(&c, cand_named("kwin_wayland")), 60);
        config_free(&c);

        /* shadowing with a priority inside the protected tier takes nothing away */
        w.n = 0;
        ck_assert_int_eq(load(&q, &c, NULL, &w), 0);
        ck_assert_uint_eq(w.n, 0);
        ck_assert_int_eq(priority_of(&c, cand_named("pipewire")), 3);
        config_free(&c);
}
END_TEST

START_TEST(test_protect_entries) {
        ConfigPaths copy = paths("protect/system.conf", "protect/protect-copy.conf");
        ConfigPaths make = paths(NULL, "protect/make-protect.conf");
        PolicyConfig c;
        char want[CONFIG_ERROR_MAX];
        const Rule *r;

        snprintf(want, sizeof(want), "%s/protect/protect-change.conf:1: [protect \"my-vpn\"]: protect"
                 " entry 'my-vpn' (%s/protect/system.conf:1) cannot be changed or removed by a later file;"
                 " give this entry another name", FIX, FIX);
        expect_error("protect/system.conf", "protect/protect-change.conf", NULL, 0, want);
        snprintf(want, sizeof(want), "%s/protect/protect-to-app.conf:1: [app \"my-vpn\"]: 'my-vpn' is a"
                 " protect entry (%s/protect/system.conf:1); a protect entry cannot be turned into an app"
                 " entry by a later file", FIX, FIX);
        expect_error("protect/system.conf", "protect/protect-to-app.conf", NULL, 0, want);

        /* survives a verbatim copy in the user file */
        ck_assert_int_eq(config_load(&copy, &c, NULL, NULL, NULL), 0);
        r = rule_by_name(&c, "my-vpn");
        ck_assert(r && r->protect);
        ck_assert_int_eq(r->source, RULE_SYSTEM);
        ck_assert_int_eq(policy_priority(&c, &(Candidate) { .name = "openvpn" }, 0), -1);
        config_free(&c);

        /* an app entry (here a built-in) may become a protect entry, keeping its pattern */
        ck_assert_int_eq(config_load(&make, &c, NULL, NULL, NULL), 0);
        r = rule_by_name(&c, "browsers");
        ck_assert(r->protect);
        ck_assert(policy_match_protect(&c, &(Candidate) { .name = "firefox" }) == r);
        ck_assert(rule_by_name(&c, "backup")->protect);
        ck_assert_int_eq(policy_priority(&c, &(Candidate) { .name = "firefox" }, 0), -1);
        config_free(&c);
}
END_TEST

/* ---- errors: every kind, with its exact "file:line: reason" -------------------------------- */

typedef struct ErrorCase {
        const char *file;
        unsigned line;
        const char *reason;
} ErrorCase;

static const ErrorCase error_cases[] = {
        { "bad-duration.conf", 2,
          "[defaults] fast_tick = 10x: expected a duration such as 500ms, 10s, 2min or bare seconds" },
        { "bad-number.conf", 2, "[defaults] thaw_batch = four: expected an integer" },
        { "bad-double.conf", 2, "[defaults] spike_trend = 1e3: expected a number such as 0.5 or 12" },
        { "default-out-of-range.conf", 2, "[defaults] fast_tick = 0: out of range (100ms-60s)" },
        { "default-negative.conf", 2, "[defaults] log_keep = -2: out of range (0-100000)" },
        { "priority-101.conf", 3, "[app \"x\"] priority = 101: out of range (0-100)" },
        { "priority-negative.conf", 3, "[app \"x\"] priority = -1: out of range (0-100)" },
        { "priority-word.conf", 3, "[app \"x\"] priority = high: expected an integer 0-100" },
        { "missing-pattern.conf", 1, "[app \"nopattern\"]: missing required key 'pattern'" },
        { "missing-pattern-eof.conf", 4, "[protect \"p\"]: missing required key 'pattern'" },
        { "section-unquoted.conf", 1, "malformed section header [app firefox]: expected [app \"NAME\"]" },
        { "section-unterminated.conf", 1, "malformed section header [app \"x\": missing ']'" },
        { "section-bad-name.conf", 1,
          "malformed section header [app \"fire fox\"]: a name is 1-32 characters of"
          " A-Z a-z 0-9 . _ + @ -" },
        { "section-trailing.conf", 1, "malformed section header [defaults] priority = 3: text after ']'" },
        { "section-no-name.conf", 1, "malformed section header [app]: expected [app \"NAME\"]" },
        { "section-defaults-named.conf", 1,
          "malformed section header [defaults \"x\"]: [defaults] takes no name" },
        { "duplicate-key.conf", 4, "duplicate key 'priority' in [app \"dup\"] (first at line 3)" },
        { "duplicate-entry.conf", 4, "duplicate entry 'x' (first at line 1)" },
        { "duplicate-defaults.conf", 3, "duplicate section [defaults] (first at line 1)" },
        { "syntax.conf", 2, "expected 'key = value' or a [section] header" },
        { "syntax-colon.conf", 2, "expected 'key = value' or a [section] header" },
        { "bad-bool.conf", 3, "[app \"x\"] checkpoint = maybe: expected true or false" },
        { "bad-match.conf", 3, "[app \"x\"] match = path: expected name, exe or cmdline" },
        { "quoted-pattern.conf", 2, "[app \"x\"] pattern = \"^x$\": values are not quoted; write the regular"
          " expression as is" },
        { "hash-in-pattern.conf", 2,
          "[app \"x\"] pattern = ^x$ # trailing comment: '#' starts a comment only at the beginning of a"
          " line; end a line with '; comment', or write [#] for a literal '#'" },
        { "empty-pattern.conf", 2, "[app \"x\"] pattern is empty" },
        { "thresholds.conf", 2,
          "[defaults] high_threshold: the thresholds must increase: 0 < elevated_threshold < high_threshold"
          " < critical_threshold < emergency_threshold <= 1" },
        { "line-too-long.conf", 2, "line too long (293 characters, at most 198)" },
        { "nul-byte.conf", 2, "line contains a NUL byte" },
};

START_TEST(test_error_cases) {
        const ErrorCase *e = &error_cases[_i];
        char rel[128];

        snprintf(rel, sizeof(rel), "errors/%s", e->file);
        expect_error(NULL, rel, rel, e->line, e->reason);
        /* the same file as /etc fails the same way, naming /etc even when a user file follows */
        expect_error(rel, "match/user.conf", rel, e->line, e->reason);
}
END_TEST

/* An over-long line is refused after CONFIG_RAW_LINE_MAX bytes, not read whole into memory. */
START_TEST(test_huge_line_is_not_read) {
        char path[] = "/tmp/mgd-test-config-XXXXXX", want[CONFIG_ERROR_MAX];
        ConfigPaths p = {};
        PolicyConfig c;
        ConfigError err;
        Warnings w = {};
        struct rusage before, after;
        int fd = mkstemp(path);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "[defaults]\nfast_tick = ", 24), 24);
        /* 256 MiB of one line, sparse: it costs no disk, but reading it whole costs the memory */
        ck_assert_int_eq(ftruncate(fd, 256L << 20), 0);
        ck_assert_int_eq(close(fd), 0);
        snprintf(p.user, sizeof(p.user), "%s", path);

        ck_assert_int_eq(getrusage(RUSAGE_SELF, &before), 0);
        ck_assert_int_eq(load(&p, &c, &err, &w), -EINVAL);
        ck_assert_int_eq(getrusage(RUSAGE_SELF, &after), 0);
        ck_assert_msg(after.ru_maxrss - before.ru_maxrss < 16 * 1024, "peak RSS grew by %ld kB",
                      after.ru_maxrss - before.ru_maxrss);
        snprintf(want, sizeof(want), "%s:2: line too long (more than 4096 characters, not read further)", path);
        ck_assert_str_eq(err.message, want);
        ck_assert_int_eq(unlink(path), 0);
}
END_TEST

/* A file's rule that would take any name of the protected tier out of it is refused, not only the
 * first examples': the kwin_x11, niri, cosmic-comp, jackd, pipewire-media-, and lockers. */
START_TEST(test_whole_protected_tier_is_checked) {
        static const char *const names[] = {
                "kwin_x11", "niri", "cosmic-comp", "jackd", "pipewire-media-", "Xorg", "i3",
                "xfce4-panel", "lxqt-policykit-", "fcitx5", "swaylock", "xfce4-screensav", "gnome-screensav",
        };
        char path[] = "/tmp/mgd-test-config-XXXXXX", want[CONFIG_ERROR_MAX];
        ConfigPaths p = {};
        PolicyConfig c;
        ConfigError err;
        Warnings w = {};
        FILE *f;

        ck_assert_int_ge(close(mkstemp(path)), 0);
        snprintf(p.user, sizeof(p.user), "%s", path);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                f = fopen(path, "we");
                ck_assert_ptr_nonnull(f);
                fprintf(f, "[app \"t\"]\npattern = ^%s$\npriority = 90\n", names[i]);
                fclose(f);
                ck_assert_msg(load(&p, &c, &err, &w) == -EINVAL, "^%s$ at 90 was accepted", names[i]);
                snprintf(want, sizeof(want), "[app \"t\"] (priority 90) also matches '%s', protected by built-in",
                         names[i]);
                ck_assert_msg(strstr(err.message, want), "%s: %s", names[i], err.message);
        }
        ck_assert_int_eq(unlink(path), 0);
}
END_TEST

START_TEST(test_error_regex) {
        char want[CONFIG_ERROR_MAX], text[256];
        regex_t re;
        int r;

        /* the reason carries regcomp's own text */
        r = regcomp(&re, "^(foo", REG_EXTENDED | REG_NOSUB);
        ck_assert_int_ne(r, 0);
        regerror(r, &re, text, sizeof(text));
        snprintf(want, sizeof(want), "[app \"broken\"] pattern = ^(foo: invalid regular expression: %s",
                 text);
        expect_error(NULL, "errors/bad-regex.conf", "errors/bad-regex.conf", 3, want);
}
END_TEST

START_TEST(test_error_cross_field) {
        /* a key the file never set, named with where its value came from */
        expect_error(NULL, "errors/fast-tick-window.conf", NULL, 0,
                     "built-in default: [defaults] escalate_window: escalate_window must hold"
                     " escalate_ticks - 1 fast ticks: escalate_window >= (escalate_ticks - 1) * fast_tick");
}
END_TEST

START_TEST(test_warnings) {
        ConfigPaths p = paths(NULL, "warnings/unknown.conf");
        PolicyConfig c;
        ConfigError err;
        Warnings w = {};
        char want[CONFIG_ERROR_MAX];
        const char *expected[] = {
                "1: key 'stray' outside any section, ignoring",
                "5: unknown key 'colour' in [app \"x\"], ignoring",
                "7: unknown section [mystery], ignoring",
                "12: unknown key 'priority' in [protect \"p\"], ignoring",
        };

        ck_assert_int_eq(load(&p, &c, &err, &w), 0);
        ck_assert_str_eq(err.message, "");
        ck_assert_uint_eq(w.n, ELEMENTSOF(expected));
        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                snprintf(want, sizeof(want), "%s/warnings/unknown.conf:%s", FIX, expected[i]);
                ck_assert_str_eq(w.msg[i], want);
        }
        ck_assert(rule_by_name(&c, "x"));
        ck_assert(rule_by_name(&c, "p")->protect);
        config_free(&c);
}
END_TEST

START_TEST(test_format) {
        ConfigPaths p = paths(NULL, "format/bom-crlf.conf");
        PolicyConfig c;
        Warnings w = {};
        const Rule *r;

        ck_assert_int_eq(load(&p, &c, NULL, &w), 0);
        ck_assert_uint_eq(w.n, 0);
        ck_assert_int_eq(c.default_priority, 45);
        ck_assert_uint_eq(c.thaw_batch, 7);
        r = rule_by_name(&c, "crlf");
        ck_assert_str_eq(r->pattern, "^crlf-app$");
        ck_assert_int_eq(r->priority, 66);
        ck_assert_int_eq(priority_of(&c, cand_named("crlf-app")), 66);
        config_free(&c);
}
END_TEST

/* Every key the documentation lists is a real key: a bad value is an error naming it, not an
 * unknown-key warning. */
START_TEST(test_documented_keys) {
        static const char *const keys[] = {
                "priority", "log_keep", "elevated_threshold", "high_threshold", "critical_threshold",
                "emergency_threshold", "liveness_stall_pct", "liveness_swapio_kbs", "swapio_full_scale_kbs",
                "spike_trend", "escalate_ticks", "escalate_window", "calm_to_normal", "calm_step",
                "target_available_pct", "min_footprint_mb", "critical_max_destructive",
                "emergency_max_destructive", "kill_swap_ratio", "aggressor_min_growth_kbs",
                "aggressor_window",
                "spike_mode", "spike_window", "spike_drop_pct", "spike_min_swing_mb", "spike_headroom",
                "throttle", "throttle_weight", "throttle_max_pct", "memory_caps", "freeze_reclaim",
                "idle_reclaim", "idle_reclaim_after", "idle_reclaim_pct", "idle_reclaim_min_mb",
                "idle_reclaim_max_swap_pct", "hibernate_after",
                "thaw_batch", "restore_batch", "thaw_min_frozen", "fast_tick", "slow_tick", "term_grace",
        };
        char path[] = "/tmp/mgd-test-config-XXXXXX", want[CONFIG_ERROR_MAX];
        ConfigPaths p = {};
        PolicyConfig c;
        ConfigError err;
        Warnings w = {};
        FILE *f;

        ck_assert_int_ge(close(mkstemp(path)), 0);
        snprintf(p.user, sizeof(p.user), "%s", path);
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                f = fopen(path, "we");
                ck_assert_ptr_nonnull(f);
                fprintf(f, "[defaults]\n%s = bogus\n", keys[i]);
                fclose(f);
                ck_assert_int_eq(load(&p, &c, &err, &w), -EINVAL);
                snprintf(want, sizeof(want), "%s:2: [defaults] %s = bogus: expected ", path, keys[i]);
                ck_assert_msg(strncmp(err.message, want, strlen(want)) == 0, "%s", err.message);
        }
        ck_assert_uint_eq(w.n, 0);
        ck_assert_int_eq(unlink(path), 0);
}
END_TEST

/* The sample loads as shipped, and with every commented setting enabled it spells out exactly
 * the built-in defaults and entries that load without a warning. */
START_TEST(test_example) {
        char path[] = "/tmp/mgd-test-config-XXXXXX", line[512];
        ConfigPaths p = {};
        PolicyConfig c, d;
        ConfigError err;
        Warnings w = {};
        FILE *in, *out;
        size_t enabled = 0;

        snprintf(p.user, sizeof(p.user), "%s", CONFIG_EXAMPLE);
        ck_assert_int_eq(load(&p, &c, &err, &w), 0);
        ck_assert_uint_eq(w.n, 0);
        ck_assert_uint_eq(c.n_rules, builtin_rules_n);
        config_free(&c);

        /* "#key = value" and "#[section" are settings; "# text" is prose */
        in = fopen(CONFIG_EXAMPLE, "re");
        ck_assert_ptr_nonnull(in);
        out = fdopen(mkstemp(path), "w");
        ck_assert_ptr_nonnull(out);
        while (fgets(line, sizeof(line), in)) {
                bool setting = line[0] == '#' && (line[1] == '[' || (line[1] >= 'a' && line[1] <= 'z'));

                enabled += setting;
                fputs(setting ? line + 1 : line, out);
        }
        fclose(in);
        fclose(out);
        ck_assert_uint_ge(enabled, 27);

        snprintf(p.user, sizeof(p.user), "%s", path);
        ck_assert_int_eq(load(&p, &c, &err, &w), 0);
        ck_assert_msg(w.n == 0, "%s", w.msg[0]);
        policy_config_defaults(&d);
        ck_assert_int_eq(c.default_priority, d.default_priority);
        ck_assert_uint_eq(c.log_keep, d.log_keep);
        for (Level l = LEVEL_ELEVATED; l < _LEVEL_MAX; l++)
                ck_assert_double_eq(c.level_threshold[l], d.level_threshold[l]);
        ck_assert_double_eq(c.liveness_stall_pct, d.liveness_stall_pct);
        ck_assert_double_eq(c.liveness_swapio_kbs, d.liveness_swapio_kbs);
        ck_assert_double_eq(c.swapio_full_scale_kbs, d.swapio_full_scale_kbs);
        ck_assert_double_eq(c.spike_trend, d.spike_trend);
        ck_assert_uint_eq(c.escalate_ticks, d.escalate_ticks);
        ck_assert_uint_eq(c.escalate_window_usec, d.escalate_window_usec);
        ck_assert_uint_eq(c.calm_to_normal_usec, d.calm_to_normal_usec);
        ck_assert_uint_eq(c.calm_step_usec, d.calm_step_usec);
        ck_assert_double_eq(c.target_available_pct, d.target_available_pct);
        ck_assert_uint_eq(c.min_footprint_kb, d.min_footprint_kb);
        ck_assert_uint_eq(c.critical_max_destructive, d.critical_max_destructive);
        ck_assert_uint_eq(c.emergency_max_destructive, d.emergency_max_destructive);
        ck_assert_double_eq(c.kill_swap_ratio, d.kill_swap_ratio);
        ck_assert_uint_eq(c.aggressor_min_growth_kbs, d.aggressor_min_growth_kbs);
        ck_assert_uint_eq(c.aggressor_window_usec, d.aggressor_window_usec);
        ck_assert_uint_eq(c.thaw_batch, d.thaw_batch);
        ck_assert_uint_eq(c.restore_batch, d.restore_batch);
        ck_assert_uint_eq(c.thaw_min_frozen_usec, d.thaw_min_frozen_usec);
        ck_assert_uint_eq(c.fast_tick_usec, d.fast_tick_usec);
        ck_assert_uint_eq(c.slow_tick_usec, d.slow_tick_usec);
        ck_assert_uint_eq(c.term_grace_usec, d.term_grace_usec);
        ck_assert(rule_by_name(&c, "my-server"));
        ck_assert(rule_by_name(&c, "vpn")->protect);
        ck_assert_int_eq(rule_by_name(&c, "browser-content")->priority, 95);
        config_free(&c);
        ck_assert_int_eq(unlink(path), 0);
}
END_TEST

/* ---- unreadable files, untouched results ------------------------------------------------- */

START_TEST(test_unreadable) {
        char dir[] = "/tmp/mgd-test-config-XXXXXX", file[64], want[CONFIG_ERROR_MAX];
        ConfigPaths p = {};
        PolicyConfig c;
        ConfigError err;
        pid_t pid;
        int status, r;

        ck_assert_ptr_nonnull(mkdtemp(dir));

        /* a directory where the file should be */
        snprintf(p.user, sizeof(p.user), "%s", dir);
        ck_assert_int_eq(config_load(&p, &c, &err, NULL, NULL), -EISDIR);
        snprintf(want, sizeof(want), "%s: cannot read: Is a directory", dir);
        ck_assert_str_eq(err.message, want);

        /* a path through a regular file */
        snprintf(file, sizeof(file), "%s/f", dir);
        ck_assert_int_ge(close(open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)), 0);
        snprintf(p.user, sizeof(p.user), "%s/mgd.conf", file);
        ck_assert_int_eq(config_load(&p, &c, &err, NULL, NULL), -ENOTDIR);
        snprintf(want, sizeof(want), "%s/mgd.conf: cannot open: Not a directory", file);
        ck_assert_str_eq(err.message, want);

        /* no read permission: root reads anything, so the check runs as nobody in a child */
        ck_assert_int_eq(chmod(file, 0), 0);
        ck_assert_int_eq(chmod(dir, 0755), 0);
        snprintf(p.user, sizeof(p.user), "%s", file);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                                       setresuid(65534, 65534, 65534) < 0))
                        _exit(2);
                snprintf(want, sizeof(want), "%s: cannot open: Permission denied", file);
                r = config_load(&p, &c, &err, NULL, NULL);
                _exit(r == -EACCES && strcmp(err.message, want) == 0 ? 0 : 1);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);

        ck_assert_int_eq(unlink(file), 0);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_error_leaves_ret_untouched) {
        ConfigPaths good = paths("merge/system.conf", "merge/user.conf");
        ConfigPaths bad = paths("merge/system.conf", "errors/priority-101.conf");
        PolicyConfig c, before, sentinel;
        ConfigError err;

        memset(&sentinel, 0xa5, sizeof(sentinel));
        c = sentinel;
        ck_assert_int_eq(config_load(&bad, &c, &err, NULL, NULL), -EINVAL);
        ck_assert_int_eq(memcmp(&c, &sentinel, sizeof(c)), 0);

        /* a reload that fails keeps the running configuration whole and usable */
        ck_assert_int_eq(config_load(&good, &c, &err, NULL, NULL), 0);
        before = c;
        ck_assert_int_eq(config_load(&bad, &c, &err, NULL, NULL), -EINVAL);
        ck_assert_int_eq(memcmp(&c, &before, sizeof(c)), 0);
        ck_assert_int_eq(priority_of(&c, cand_named("my-server")), 30);
        config_free(&c);
}
END_TEST

/* ---- values and paths -------------------------------------------------------------------- */

START_TEST(test_durations) {
        char path[] = "/tmp/mgd-test-config-XXXXXX";
        ConfigPaths p = {};
        PolicyConfig c;
        ConfigError err;
        FILE *f;
        int fd;

        fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        f = fdopen(fd, "w");
        fputs("[defaults]\nfast_tick = 250ms\nslow_tick = 2min\nterm_grace = 5\ncalm_to_normal = 1.25min\n"
              "calm_step = 1h\nthaw_min_frozen = 0\nescalate_window = 7 s\nmin_footprint_mb = 64\n"
              "target_available_pct = 12.5\nelevated_threshold = 0.1\n", f);
        fclose(f);
        snprintf(p.user, sizeof(p.user), "%s", path);
        ck_assert_int_eq(config_load(&p, &c, &err, NULL, NULL), 0);
        ck_assert_uint_eq(c.fast_tick_usec, 250 * USEC_PER_MSEC);
        ck_assert_uint_eq(c.slow_tick_usec, 120 * USEC_PER_SEC);
        ck_assert_uint_eq(c.term_grace_usec, 5 * USEC_PER_SEC);
        ck_assert_uint_eq(c.calm_to_normal_usec, 75 * USEC_PER_SEC);
        ck_assert_uint_eq(c.calm_step_usec, 3600 * USEC_PER_SEC);
        ck_assert_uint_eq(c.thaw_min_frozen_usec, 0);
        ck_assert_uint_eq(c.escalate_window_usec, 7 * USEC_PER_SEC);
        ck_assert_uint_eq(c.min_footprint_kb, 64 * 1024);
        ck_assert_double_eq(c.target_available_pct, 12.5);
        ck_assert_double_eq(c.level_threshold[LEVEL_ELEVATED], 0.1);
        config_free(&c);
        ck_assert_int_eq(unlink(path), 0);
}
END_TEST

START_TEST(test_paths_default) {
        ConfigPaths p;

        ck_assert_int_eq(setenv("XDG_CONFIG_HOME", "/x/conf", 1), 0);
        ck_assert_int_eq(config_paths_default(&p), 0);
        ck_assert_str_eq(p.user, "/x/conf/mgd/mgd.conf");
        ck_assert_str_eq(p.system, MGD_SYSCONFDIR "/mgd/mgd.conf");

        /* a relative $XDG_CONFIG_HOME is invalid: $HOME/.config */
        ck_assert_int_eq(setenv("XDG_CONFIG_HOME", "rel/conf", 1), 0);
        ck_assert_int_eq(setenv("HOME", "/home/u", 1), 0);
        ck_assert_int_eq(config_paths_default(&p), 0);
        ck_assert_str_eq(p.user, "/home/u/.config/mgd/mgd.conf");
        ck_assert_int_eq(unsetenv("XDG_CONFIG_HOME"), 0);
        ck_assert_int_eq(config_paths_default(&p), 0);
        ck_assert_str_eq(p.user, "/home/u/.config/mgd/mgd.conf");
}
END_TEST

static Suite *config_suite(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("config");

        tcase_add_test(tc, test_defaults_only);
        tcase_add_test(tc, test_builtin_examples);
        tcase_add_test(tc, test_builtin_tiers);
        tcase_add_test(tc, test_builtin_literal_forms);
        tcase_add_test(tc, test_doc_table);
        tcase_add_test(tc, test_merge);
        tcase_add_test(tc, test_match_fields);
        tcase_add_test(tc, test_protect_raise);
        tcase_add_test(tc, test_protect_pattern);
        tcase_add_test(tc, test_protect_shadow);
        tcase_add_test(tc, test_protect_entries);
        tcase_add_loop_test(tc, test_error_cases, 0, ELEMENTSOF(error_cases));
        tcase_add_test(tc, test_error_regex);
        tcase_add_test(tc, test_huge_line_is_not_read);
        tcase_add_test(tc, test_whole_protected_tier_is_checked);
        tcase_add_test(tc, test_error_cross_field);
        tcase_add_test(tc, test_warnings);
        tcase_add_test(tc, test_format);
        tcase_add_test(tc, test_documented_keys);
        tcase_add_test(tc, test_example);
        tcase_add_test(tc, test_unreadable);
        tcase_add_test(tc, test_error_leaves_ret_untouched);
        tcase_add_test(tc, test_durations);
        tcase_add_test(tc, test_paths_default);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(config_suite)
