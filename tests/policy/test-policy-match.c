/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The literal form of patterns: which patterns are converted, and that a converted pattern means
 * exactly what its regex means, on every string of a corpus built from the patterns' own words.
 */

#include <regex.h>

#include "tests/check-main.h"
#include "policy/policy.h"

typedef struct Case {
        const char *pattern;
        bool literal;                   /* expected to be converted */
} Case;

static const Case cases[] = {
        { "^(kwin_wayland|kwin_x11|Xwayland)$", true },
        { "^akonadi", true },
        { "^xdg-(desktop-por|document-po|permission-)", true },
        { "^(systemd|systemd-.*|\\(sd-pam\\))$", true },
        { "^(polkit-.*|lxpolkit)$", true },
        { "^(baloo_file|localsearch.*)$", true },
        { "^(soffice\\.bin|gimp)$", true },
        { "^cef_server$", true },
        { "^evolution-(addre|calen)", true },
        { "^(Isolated Web Co|Web Content)$", true },
        { "^firefox.*$", true },
        { "^firefox.*", true },
        { "firefox", true },
        { "(web|tab)content$", true },
        { "fire(fox|bird)", true },
        { "^a(b|c)d$", true },
        { "^a(b|c)d", true },
        /* beyond the grammar: kept as regexes */
        { "^mgd(-[a-z]+)?$", false },
        { "^([^ ]*/)?ollama runner( |$)", false },
        { "^(a|b)(c|d)$", false },
        { "^(a|b.*)c$", false },
        { "^a.*b$", false },
        { "a|b", false },
        { "^(a|)$", false },
        { "^a+$", false },
        { "^a?$", false },
        { "^[ab]$", false },
        { "^a{2}$", false },
        { "^\\w$", false },
        { "firefox.*", false },
        { "^.$", false },
        { "^(a(b|c))$", false },
};

static const char *const words[] = {
        "", "a", "b", "ab", "ac", "abd", "acd", "abdx", "xabd", "d",
        "kwin_wayland", "kwin_wayland_wr", "Xwayland", "xwayland", "kwin_x11 ", "akonadi", "akonadiserver",
        "xakonadi", "xdg-desktop-por", "xdg-desktop-portal", "xdg-permission-store", "xdg-", "systemd",
        "systemd-", "systemd-journal", "(sd-pam)", "sd-pam", "polkit-", "polkit-kde", "lxpolkit",
        "lxpolkit2", "baloo_file", "baloo_file_extr", "localsearch", "localsearch-3", "soffice.bin",
        "sofficeXbin", "gimp", "cef_server", "cef_server2", "evolution-addre", "evolution-calendar",
        "evolution-", "Isolated Web Co", "Isolated", "Web Content", "firefox", "firefox-esr",
        "myfirefox", "webcontent", "tabcontent", "tabcontent2", "firebird", "fire", "mgd", "mgd-zram",
        "/usr/bin/ollama runner --x", "c", "ad", "bc",
};

START_TEST(test_conversion_and_meaning) {
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                LiteralSet l;
                regex_t re;
                int r = literal_compile(cases[i].pattern, &l);

                ck_assert_msg((r == 0) == cases[i].literal, "%s: literal_compile() = %d", cases[i].pattern, r);
                ck_assert_int_eq(regcomp(&re, cases[i].pattern, REG_EXTENDED | REG_NOSUB), 0);
                for (size_t w = 0; r == 0 && w < ELEMENTSOF(words); w++) {
                        bool want = regexec(&re, words[w], 0, NULL, 0) == 0;

                        ck_assert_msg(literal_match(&l, words[w]) == want, "%s on \"%s\": literal %d, regex %d",
                                      cases[i].pattern, words[w], !want, want);
                }
                regfree(&re);
        }
}
END_TEST

START_TEST(test_limits) {
        char big[RULE_PATTERN_MAX + 8];
        LiteralSet l;
        size_t n = 0;

        /* more alternatives than the buffer holds: kept as a regex */
        n += (size_t) snprintf(big, sizeof(big), "^(");
        while (n + 20 < RULE_PATTERN_MAX)
                n += (size_t) snprintf(big + n, sizeof(big) - n, "abcdefghijklmn|");
        (void) snprintf(big + n, sizeof(big) - n, "z)$");
        ck_assert_int_eq(literal_compile("^a-long-prefix(a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q|r|s|t|u|v|w|x|y|z"
                                         "|A|B|C|D|E|F|G|H|I|J|K|L|M|N|O|P|Q|R|S|T|U|V|W|X|Y|Z)$", &l), -ENOTSUP);
        ck_assert_int_eq(literal_compile(big, &l), 0);
        ck_assert(literal_match(&l, "abcdefghijklmn") && literal_match(&l, "z") && !literal_match(&l, "zz"));
        ck_assert_int_eq(literal_compile(NULL, &l), -ENOTSUP);
}
END_TEST

static Suite *policy_match_suite(void) {
        Suite *s = suite_create("policy-match");
        TCase *tc = tcase_create("match");

        tcase_add_test(tc, test_conversion_and_meaning);
        tcase_add_test(tc, test_limits);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(policy_match_suite)
