/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Fixtures shared by the policy tests: a small rule table shaped like the shipped built-ins
 * (full comm names, spaces included), compiled with regcomp exactly as the loader does, and a
 * candidate builder. Everything is static storage: the tests never touch /proc.
 */

#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"

typedef struct RuleSpec {
        const char *name;
        const char *pattern;
        int priority;
        MatchField field;
        RuleSource source;
        bool protect;
        int checkpoint;
        bool build;
} RuleSpec;

#define APP(n, p, prio) { .name = n, .pattern = p, .priority = prio, .field = MATCH_NAME, \
                          .source = RULE_BUILTIN, .checkpoint = -1 }

/* A subset of the built-in table, in its order. */
static const RuleSpec test_builtin_rules[] _unused_ = {
        APP("compositor", "^(kwin_wayland|kwin_x11|Xwayland|xdg-desktop-portal-kde)$", 10),
        APP("audio", "^(pipewire|pipewire-pulse|wireplumber|pulseaudio)$", 10),
        APP("kde-session", "^(plasmashell|kded6|ksmserver)$", 10),
        APP("jetbrains-ides", "^(rustrover|idea|clion|pycharm)$", 35),
        APP("editors", "^(code|codium|zed)$", 38),
        APP("browsers-main", "^(firefox|chromium)$", 45),
        APP("terminals", "^(konsole|alacritty|kitty)$", 50),
        APP("dev-runtimes", "^(node|python3|java)$", 55),
        APP("browser-helpers", "^(plasma-browser-|WebExtensions)$", 68),
        APP("build-orchestrators", "^(cargo|make|ninja)$", 70),
        APP("jetbrains-toolbox", "^(jetbrains-toolb|fsnotifier)$", 70),
        APP("file-indexers", "^(baloo_file|baloo_file_extractor|tracker-miner-fs)$", 78),
        APP("browser-isolated",
            "^(Isolated Web Co|Isolated Servic|Web Content|RDD Process|Utility Process|cef_server)$", 80),
        APP("ai-inference", "^full-line-infer$", 85),
        APP("compiler-workers", "^(rustc|cc1|ld)$", 85),
        APP("crash-reporters", "^(abrt-applet|drkonqi-coredum)$", 88),
        APP("update-notifiers", "^(update-notifier|DiscoverNotifie)$", 90),
};

/* Bounded copy (truncating, always terminated). */
static inline void test_copy(char *dst, size_t size, const char *src) {
        size_t n = strnlen(src, size - 1);

        memcpy(dst, src, n);
        dst[n] = '\0';
}

#define TEST_RULES_MAX 64

typedef struct TestRules {
        Rule rules[TEST_RULES_MAX];
        size_t n;
} TestRules;

/* Append specs to r (compiled); returns r->rules for PolicyConfig.rules. */
static inline Rule *test_rules_add(TestRules *r, const RuleSpec *specs, size_t n) {
        for (size_t i = 0; i < n; i++) {
                Rule *rule = &r->rules[r->n];

                ck_assert_uint_lt(r->n, TEST_RULES_MAX);
                memset(rule, 0, sizeof(*rule));
                test_copy(rule->name, sizeof(rule->name), specs[i].name);
                test_copy(rule->pattern, sizeof(rule->pattern), specs[i].pattern);
                snprintf(rule->origin, sizeof(rule->origin), "test:%zu", i);
                ck_assert_int_eq(regcomp(&rule->re, specs[i].pattern, REG_EXTENDED | REG_NOSUB), 0);
                rule->compiled = true;
                rule->field = specs[i].field;
                rule->source = specs[i].source;
                rule->protect = specs[i].protect;
                rule->priority = specs[i].priority;
                rule->checkpoint = specs[i].checkpoint;
                rule->build = specs[i].build;
                r->n++;
        }
        return r->rules;
}

static inline void test_rules_free(TestRules *r) {
        for (size_t i = 0; i < r->n; i++)
                if (r->rules[i].compiled)
                        regfree(&r->rules[i].re);
        r->n = 0;
}

/* Defaults plus the built-in-like table. */
static inline void test_config(PolicyConfig *c, TestRules *r) {
        policy_config_defaults(c);
        r->n = 0;
        c->rules = test_rules_add(r, test_builtin_rules, ELEMENTSOF(test_builtin_rules));
        c->n_rules = r->n;
}

#define MIB 1024ULL

static inline Candidate test_cand(pid_t pid, const char *name, uint64_t rss_mib, uint64_t swap_mib) {
        Candidate c = {
                .pid = pid,
                .starttime = 100000 + (uint64_t) pid,
                .rss_kb = rss_mib * MIB,
                .swap_kb = swap_mib * MIB,
        };

        test_copy(c.name, sizeof(c.name), name);
        test_copy(c.exe, sizeof(c.exe), name);
        test_copy(c.cmdline, sizeof(c.cmdline), name);
        return c;
}

/* A 16 GiB machine with MemAvailable `avail_mib`. */
static inline MemFigures test_mem(uint64_t avail_mib) {
        return (MemFigures) {
                .mem_total_kb = 16 * 1024 * MIB,
                .mem_available_kb = avail_mib * MIB,
        };
}
