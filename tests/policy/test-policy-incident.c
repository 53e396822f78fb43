/* SPDX-License-Identifier: GPL-2.0-only */

/*
 * The seed's incident on a 16 GB laptop, replayed through the engine: at Elevated 27 low-priority
 * processes are frozen in one plan() call while the compositor, audio and the foreground IDE are
 * untouched; later, at Normal after the calm period, the 30 frozen processes come back in capped
 * batches over several recovery ticks, and not at all while headroom is short.
 */

#include "tests/check-main.h"
#include "tests/policy/policy-test.h"

#define SEC USEC_PER_SEC
#define T0 (20000 * SEC)
#define MEM_TOTAL_KB 16046868ULL        /* the seed's "16 GB" */
#define IDE_PID 4000

typedef struct Proc {
        const char *name;
        uint64_t rss_mib, swap_mib;
} Proc;

/* Browser tabs, indexers, notifiers and IDE helpers: the 27 expendables. */
static const Proc expendables[] = {
        { "Isolated Web Co", 420, 60 }, { "Isolated Web Co", 380, 20 }, { "Isolated Web Co", 350, 0 },
        { "Isolated Web Co", 300, 90 }, { "Isolated Web Co", 260, 10 }, { "Isolated Web Co", 240, 0 },
        { "Isolated Web Co", 210, 40 }, { "Isolated Web Co", 180, 0 }, { "Isolated Web Co", 150, 30 },
        { "Isolated Web Co", 120, 0 }, { "Isolated Web Co", 90, 15 }, { "Isolated Web Co", 60, 0 },
        { "Web Content", 200, 0 }, { "Web Content", 160, 20 }, { "Web Content", 130, 0 },
        { "Web Content", 110, 5 }, { "Web Content", 80, 0 }, { "Web Content", 40, 0 },
        { "baloo_file", 140, 0 }, { "baloo_file_extractor", 220, 0 },
        { "update-notifier", 45, 0 }, { "DiscoverNotifie", 90, 0 }, { "abrt-applet", 30, 0 },
        { "fsnotifier", 25, 0 }, { "jetbrains-toolb", 310, 0 }, { "full-line-infer", 900, 0 },
        { "WebExtensions", 120, 0 },
};

/* What must never be touched: the session, audio, the foreground IDE, ordinary apps. */
static const Proc keep[] = {
        { "kwin_wayland", 350, 0 }, { "Xwayland", 120, 0 }, { "pipewire", 40, 0 },
        { "pipewire-pulse", 30, 0 }, { "wireplumber", 35, 0 }, { "plasmashell", 480, 0 },
        { "rustrover", 3200, 200 },     /* the foreground IDE: 35 → 20 */
        { "konsole", 90, 0 }, { "firefox", 700, 0 }, { "node", 400, 0 }, { "tiny-helper", 8, 0 },
};

#define N_EXP ELEMENTSOF(expendables)
#define N_KEEP ELEMENTSOF(keep)
#define N_ALL (N_EXP + N_KEEP)

static size_t build(Candidate *cands) {
        size_t n = 0;

        for (size_t i = 0; i < N_EXP; i++, n++)
                cands[n] = test_cand((pid_t) (1000 + i), expendables[i].name, expendables[i].rss_mib,
                                     expendables[i].swap_mib);
        for (size_t i = 0; i < N_KEEP; i++, n++)
                cands[n] = test_cand((pid_t) (3000 + i), keep[i].name, keep[i].rss_mib, keep[i].swap_mib);
        for (size_t i = 0; i < n; i++)
                if (strcmp(cands[i].name, "rustrover") == 0)
                        cands[i].pid = IDE_PID;
        return n;
}

/* The level machine reaches Elevated from a real stall, two ticks in a row. */
static Level escalate(const PolicyConfig *c, LevelMachine *m, ScoreState *st) {
        Level level = LEVEL_NORMAL;

        level_machine_init(m, T0);
        score_state_init(st, c);
        for (unsigned k = 0; k < 3; k++) {
                PressureSample x = {
                        .now = T0 + k * SEC, .some_avg10 = 4, .some_total_usec = k * 120000,
                        .mem_total_kb = MEM_TOTAL_KB, .mem_available_kb = 900 * MIB,
                        .page_size_kb = 4,
                };
                Score s = score_update(st, &x);

                level = level_machine_update(m, c, level_target(c, &s), s.trend, x.now);
        }
        return level;
}

START_TEST(test_incident_freeze_27) {
        PolicyConfig c;
        TestRules r;
        Candidate cands[N_ALL];
        LevelMachine m;
        ScoreState st;
        PlanInput in;
        Decision d[N_ALL];
        size_t n;

        test_config(&c, &r);
        ck_assert_int_eq(escalate(&c, &m, &st), LEVEL_ELEVATED);

        in = (PlanInput) {
                .level = m.current,
                .mem = { .mem_total_kb = MEM_TOTAL_KB, .mem_available_kb = 900 * MIB },
                .cands = cands,
                .n_cands = build(cands),
                .foreground = IDE_PID,
                .checkpoint_available = true,
                .aggressor = -1,
        };
        n = policy_plan(&c, &in, d, ELEMENTSOF(d));

        ck_assert_uint_eq(n, 27);
        for (size_t i = 0; i < n; i++) {
                ck_assert_int_eq(d[i].action, ACTION_FREEZE);
                ck_assert_int_ge(d[i].pid, 1000);
                ck_assert_int_lt(d[i].pid, 1000 + (pid_t) N_EXP);
                ck_assert_int_ge(d[i].priority, 60);
        }
        /* every expendable exactly once */
        for (size_t e = 0; e < N_EXP; e++) {
                size_t seen = 0;

                for (size_t i = 0; i < n; i++)
                        seen += d[i].pid == (pid_t) (1000 + e);
                ck_assert_uint_eq(seen, 1);
        }
        /* the most expendable first: notifiers (90, bigger first), crash reporter (88), the AI
         * helper (85), then the tabs (80) */
        ck_assert_str_eq(cands[d[0].index].name, "DiscoverNotifie");
        ck_assert_str_eq(cands[d[1].index].name, "update-notifier");
        ck_assert_str_eq(cands[d[2].index].name, "abrt-applet");
        ck_assert_str_eq(cands[d[3].index].name, "full-line-infer");
        test_rules_free(&r);
}
END_TEST

/* Frozen by the incident: the 27, plus cargo, cef_server and a new tab caught mid-incident. */
static size_t held_after_incident(HeldProcess *held) {
        static const struct {
                const char *name;
                int prio;
        } late[] = { { "cargo", 70 }, { "cef_server", 80 }, { "Isolated Web Co", 80 } };
        PolicyConfig c;
        TestRules r;
        Candidate cands[N_ALL];
        size_t n = 0;

        test_config(&c, &r);
        (void) build(cands);
        for (size_t i = 0; i < N_EXP; i++, n++)
                held[n] = (HeldProcess) {
                        .pid = cands[i].pid, .starttime = cands[i].starttime, .kind = HELD_FROZEN,
                        .priority = policy_priority(&c, &cands[i], IDE_PID),
                        .footprint_kb = cands[i].rss_kb + cands[i].swap_kb,
                        .since = T0 + 2 * SEC,
                };
        for (size_t i = 0; i < ELEMENTSOF(late); i++, n++)
                held[n] = (HeldProcess) {
                        .pid = (pid_t) (2000 + i), .starttime = 5, .kind = HELD_FROZEN,
                        .priority = late[i].prio, .footprint_kb = 300 * MIB,
                        .since = T0 + (30 + 5 * i) * SEC,
                };
        test_rules_free(&r);
        return n;
}

START_TEST(test_incident_staggered_thaw) {
        PolicyConfig c;
        HeldProcess held[40];
        bool thawed[40] = {};
        LevelMachine m;
        size_t n_held = held_after_incident(held), remaining = n_held, calls = 0, out[40];
        uint64_t available = 6 * 1024 * MIB;
        usec_t now;

        policy_config_defaults(&c);
        ck_assert_uint_eq(n_held, 30);

        /* pressure ended at t+51 s; the machine is at Elevated and needs its full calm */
        level_machine_init(&m, T0);
        (void) level_machine_update(&m, &c, LEVEL_ELEVATED, 0, T0 + 50 * SEC);
        (void) level_machine_update(&m, &c, LEVEL_ELEVATED, 0, T0 + 51 * SEC);
        ck_assert_int_eq(m.current, LEVEL_ELEVATED);

        for (now = T0 + 52 * SEC; remaining > 0; now += 3 * SEC) {
                RecoveryInput in;
                HeldProcess live[40];
                size_t map[40], n_live = 0, n;

                ck_assert_uint_lt(now, T0 + 600 * SEC);         /* it must finish */
                (void) level_machine_update(&m, &c, LEVEL_NORMAL, 0, now);
                for (size_t i = 0; i < n_held; i++)
                        if (!thawed[i]) {
                                map[n_live] = i;
                                live[n_live++] = held[i];
                        }
                in = (RecoveryInput) {
                        .level = m.current, .now = now, .level_since = m.entered_at,
                        .mem = { .mem_total_kb = MEM_TOTAL_KB, .mem_available_kb = available },
                        .held = live, .n_held = n_live,
                };
                n = policy_recover(&c, &in, out, ELEMENTSOF(out));
                if (m.current != LEVEL_NORMAL) {
                        ck_assert_uint_eq(n, 0);        /* never before the calm is over */
                        continue;
                }
                ck_assert_uint_le(n, c.thaw_batch);
                for (size_t k = 0; k < n; k++) {
                        /* most important first: nothing still held is more important */
                        for (size_t j = 0; j < n_live; j++)
                                if (!thawed[map[j]] && live[j].priority < live[out[k]].priority)
                                        ck_assert_msg(false, "thawed prio %d before %d",
                                                      live[out[k]].priority, live[j].priority);
                        thawed[map[out[k]]] = true;
                        available -= live[out[k]].footprint_kb / 4;     /* it touches some back */
                        remaining--;
                }
                if (n > 0)
                        calls++;
        }
        ck_assert_uint_eq(calls, (30 + c.thaw_batch - 1) / c.thaw_batch);
        ck_assert_uint_ge(m.entered_at, T0 + 51 * SEC + c.calm_to_normal_usec);
}
END_TEST

START_TEST(test_incident_no_thaw_when_headroom_short) {
        PolicyConfig c;
        HeldProcess held[40];
        size_t n_held = held_after_incident(held), out[40];
        RecoveryInput in = {
                .level = LEVEL_NORMAL, .now = T0 + 200 * SEC, .level_since = T0 + 120 * SEC,
                .mem = { .mem_total_kb = MEM_TOTAL_KB }, .held = held, .n_held = n_held,
        };
        uint64_t target;

        policy_config_defaults(&c);
        target = policy_thaw_reserve_kb(&c, MEM_TOTAL_KB);

        /* MemAvailable right at the target: no room for anyone, however small */
        in.mem.mem_available_kb = target;
        ck_assert_uint_eq(policy_recover(&c, &in, out, ELEMENTSOF(out)), 0);
        /* room for the smallest (25 MiB) only */
        in.mem.mem_available_kb = target + 26 * MIB;
        ck_assert_uint_eq(policy_recover(&c, &in, out, ELEMENTSOF(out)), 1);
        ck_assert_uint_eq(held[out[0]].footprint_kb, 25 * MIB);
}
END_TEST

static Suite *policy_incident_suite(void) {
        Suite *s = suite_create("policy-incident");
        TCase *tc = tcase_create("incident");

        tcase_add_test(tc, test_incident_freeze_27);
        tcase_add_test(tc, test_incident_staggered_thaw);
        tcase_add_test(tc, test_incident_no_thaw_when_headroom_short);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(policy_incident_suite)
