/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The incident family in the closed-loop model (sim.h), hundreds of seeds: RAM of 1 or 2 GiB;
 * zram as large as RAM, half, a quarter, or no swap; a runaway from 10 to 300 MB/s, one process
 * or many small ones, a child of the IDE, one that ignores SIGTERM; a burst of short-lived heavy
 * newcomers bigger than RAM plus swap, or of 200 small ones; a build in waves. In every run:
 *   - mgd never freezes or kills the 0-19 tier, a protect entry or the foreground;
 *   - the kernel's OOM killer never runs while an expendable process lives;
 *   - nothing dies while a less important process lives (the runaway mgd named excepted);
 *   - nothing is frozen 60 s after the last stall, nor longer than max_frozen.
 * MGD_SIM_VERBOSE=1 prints every run's figures next to the kernel-only run of the same seed.
 *
 * And the trace: a run recorded as mgd --trace records it (policy/trace.h), read back and replayed
 * through policy_step() from a fresh state, decides exactly what the run decided, tick by tick.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/trace.h"
#include "tests/check-main.h"
#include "tests/policy/policy-test.h"
#include "tests/policy/sim.h"

#define SIM_MIB 1024.0
#define SEC USEC_PER_SEC

typedef struct Rng {
        uint64_t s;
} Rng;

static uint64_t rng_next(Rng *r) {
        uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static double rng_uniform(Rng *r, double lo, double hi) {
        return lo + (hi - lo) * (double) (rng_next(r) >> 11) / (double) (UINT64_C(1) << 53);
}

static unsigned rng_below(Rng *r, unsigned n) {
        return (unsigned) (rng_next(r) % n);
}

typedef enum Runaway { RUN_NONE, RUN_ONE, RUN_MANY, RUN_CHILD, RUN_DEAF, _RUN_MAX } Runaway;
typedef enum Burst { BURST_NONE, BURST_HEAVY, BURST_SMALL, BURST_BUILD, _BURST_MAX } Burst;

static const char *const runaway_names[] = { "none", "one", "many", "child-of-ide", "ignores-sigterm" };
static const char *const burst_names[] = { "none", "heavy-burst", "200-small", "build" };

typedef struct Scenario {
        unsigned seed;
        double ram_gib, swap_frac, rate_mbs;
        Runaway runaway;
        Burst burst;
} Scenario;

static TestRules rules;
static PolicyConfig config;
static PolicyState *state;
static Sim *sim;

static const RuleSpec protect_spec[] = {
        { .name = "password-manager", .pattern = "^keepassxc$", .field = MATCH_NAME, .source = RULE_USER,
          .protect = true, .checkpoint = -1 },
};

static void setup(void) {
        policy_config_defaults(&config);
        config.rules = test_rules_add(&rules, protect_spec, ELEMENTSOF(protect_spec));
        config.rules = test_rules_add(&rules, test_builtin_rules, ELEMENTSOF(test_builtin_rules));
        config.n_rules = rules.n;
        state = calloc(1, sizeof(*state));
        sim = calloc(1, sizeof(*sim));
        ck_assert(state && sim);
}

static void teardown(void) {
        test_rules_free(&rules);
        free(state);
        free(sim);
}

/* The priority the rule table gives a name (the model's ground truth), or -1 when protected. */
static int prio_of(const char *name) {
        Candidate c = { .pid = 1 };

        test_copy(c.name, sizeof(c.name), name);
        return policy_priority(&config, &c, 0);
}

static SimProc *add(const char *name, double mib, double target_mib, double rate_mbs, double hot,
                    usec_t at, usec_t life) {
        int prio = prio_of(name);

        return sim_add(sim, name, prio < 0 ? 0 : prio, prio < 0, mib * SIM_MIB, target_mib * SIM_MIB, rate_mbs * SIM_MIB, hot,
                       at, life);
}

/* The seed's desktop, about 530 MiB (tests/vm/scenarios/desktop.spec). */
static void add_desktop(void) {
        SimProc *ide;

        add("kwin_wayland", 40, 0, 0, 0.5, 0, 0);
        add("pipewire", 16, 0, 0, 0.3, 0, 0);
        add("wireplumber", 12, 0, 0, 0.05, 0, 0);
        add("plasmashell", 48, 0, 0, 0.1, 0, 0);
        add("keepassxc", 16, 0, 0, 0.02, 0, 0);
        ide = add("code", 64, 0, 0, 0.1, 0, 0);
        sim->foreground = ide->pid;
        add("code", 16, 0, 0, 0.02, 0, 0);
        add("code", 16, 0, 0, 0.02, 0, 0);
        add("firefox", 48, 0, 0, 0.05, 0, 0);
        for (int i = 0; i < 6; i++)
                add("Isolated Web Co", 24, 0, 0, 0.02, 0, 0);
        for (int i = 0; i < 2; i++)
                add("Web Content", 16, 0, 0, 0.02, 0, 0);
        add("baloo_file", 24, 0, 0, 0.01, 0, 0);
        add("DiscoverNotifie", 12, 0, 0, 0.005, 0, 0);
        add("update-notifier", 12, 0, 0, 0.005, 0, 0);
}

static void add_runaway(const Scenario *sc, Rng *r) {
        double total = (sc->ram_gib * (1 + sc->swap_frac)) * 1024 * rng_uniform(r, 1.2, 1.8);
        usec_t at = 15 * SEC, life = (usec_t) (total / sc->rate_mbs * SEC) + 30 * SEC;
        SimProc *x;

        switch (sc->runaway) {
        case RUN_ONE:
        case RUN_DEAF:
                x = add("node", 10, total, sc->rate_mbs, 0.1, at, life);
                x->ignores_term = sc->runaway == RUN_DEAF;
                x->culprit = true;
                break;
        case RUN_CHILD:
                x = add("node", 10, total, sc->rate_mbs, 0.1, at, life);
                x->ppid = sim->foreground;
                x->culprit = true;
                break;
        case RUN_MANY:
                for (int i = 0; i < 30; i++) {
                        x = add("node", 2, total / 30, sc->rate_mbs / 30, 0.1, at + (usec_t) i * 100000, life);
                        x->ppid = 999;
                        x->culprit = true;
                }
                break;
        default:
                break;
        }
}

static void add_burst(const Scenario *sc, Rng *r) {
        double ram = sc->ram_gib * 1024, budget = ram * (1 + sc->swap_frac) * 1.3, sum = 0;
        /* with the runaway's first seconds, as the guest's matrix has it, or later in the incident */
        usec_t at = (usec_t) (rng_uniform(r, 17, 27) * SEC);

        switch (sc->burst) {
        case BURST_HEAVY:
                /* short-lived heavy newcomers, a few alive at once, bigger than RAM + swap in all */
                while (sum < budget) {
                        double mib = rng_uniform(r, 100, 250);

                        add("cc1plus", 5, mib, mib / rng_uniform(r, 0.5, 2), 0.3, at, (usec_t) rng_uniform(r, 3, 8) * SEC);
                        sum += mib;
                        at += (usec_t) rng_uniform(r, 0.5, 2) * SEC;
                }
                break;
        case BURST_SMALL:
                for (int i = 0; i < 200; i++)
                        add("worker", 1, rng_uniform(r, 4, 9), 20, 0.3, at + (usec_t) (i * 100000),
                            (usec_t) rng_uniform(r, 2, 10) * SEC);
                break;
        case BURST_BUILD: {
                /* cargo and its waves of rustc workers, as a real build is a tree */
                SimProc *cargo = add("cargo", 20, 0, 0, 0.05, at - SEC, 70 * SEC);

                for (int w = 0; w < 5; w++)
                        for (int j = 0; j < 3; j++)
                                add("rustc", 10, ram * 0.13, 60, 0.4, at + (usec_t) w * 12 * SEC, 6 * SEC)->ppid =
                                        cargo->pid;
                break;
        }
        default:
                break;
        }
}

static void scenario_of(unsigned seed, Scenario *sc) {
        static const double swaps[] = { 1.0, 0.5, 0.25, 0.0 };
        Rng r = { .s = seed * UINT64_C(7919) + 17 };

        *sc = (Scenario) {
                .seed = seed,
                .ram_gib = rng_below(&r, 2) ? 2 : 1,
                .swap_frac = swaps[rng_below(&r, 4)],
                .rate_mbs = rng_uniform(&r, 10, 300),
                .runaway = (Runaway) rng_below(&r, _RUN_MAX),
                .burst = (Burst) rng_below(&r, _BURST_MAX),
        };
        if (sc->runaway == RUN_NONE && sc->burst == BURST_NONE)
                sc->runaway = RUN_ONE;
}

/* MGD_SIM_DEBUG=SEED: every step of that seed's mgd run that decided something, and each second's figures. */
static void debug_step(void *userdata, const Observation *o, const StepOutput *out) {
        static usec_t last;

        if (out->n_acts == 0 && o->now < last + SEC)
                return;
        last = o->now;
        printf("# t=%5.1f lvl=%d tgt=%d stall_now=%5.1f avail=%4llu swapfree=%4llu H=%4llu D=%3llu R=%6.0f left=%5.1f "
               "need=%5lld held=%zu\n", (double) o->now / SEC - 10, out->level, out->target, out->score.stall_now_pct,
               (unsigned long long) o->mem.mem_available_kb / 1024, (unsigned long long) o->mem.swap_free_kb / 1024,
               (unsigned long long) out->mem.headroom_kb / 1024, (unsigned long long) out->mem.floor_kb / 1024,
               out->mem.decline_kbs / 1024, out->mem.left_usec / SEC, (long long) out->mem.need_kb / 1024, o->n_held);
        for (size_t i = 0; i < out->n_acts; i++) {
                const StepAction *a = &out->acts[i];
                const char *name = "?";

                for (size_t k = 0; k < o->n_cands; k++)
                        if (o->cands[k].pid == a->pid)
                                name = o->cands[k].name;
                printf("#     %s %s pid %d prio %d (%s)\n", action_to_string(a->action), name, (int) a->pid,
                       a->priority, step_why_to_string(a->why));
        }
}

static bool debugging(unsigned seed) {
        const char *v = getenv("MGD_SIM_DEBUG");
        return v && strtoul(v, NULL, 10) == seed;
}

/* ---- recording a run as a trace ---- */

typedef struct Recorder {
        FILE *f;
        bool started;
        int error;
} Recorder;

static Recorder *recorder;              /* run() records the mgd run into it when set */

static int rec_write(const char *line, size_t len, void *userdata) {
        return fwrite(line, 1, len, userdata) == len ? 0 : -EIO;
}

static void rec_observe(void *userdata, const Observation *o) {
        Recorder *r = userdata;

        if (!r->started) {
                r->started = true;
                if (r->error >= 0)
                        r->error = trace_write_config(&config, rec_write, r->f);
                if (r->error >= 0)
                        r->error = trace_write_init(10 * SEC, rec_write, r->f);     /* sim_init()'s now */
        }
        if (r->error >= 0)
                r->error = trace_write_observation(o, rec_write, r->f);
}

static void rec_step(void *userdata, const Observation *o, const StepOutput *out) {
        Recorder *r = userdata;

        if (r->error >= 0)
                r->error = trace_write_output(out, rec_write, r->f);
}

static SimStats run(const Scenario *sc, bool mgd) {
        Rng r = { .s = sc->seed };
        SimParams p = {
                .ram_kb = sc->ram_gib * 1024 * SIM_MIB, .swap_kb = sc->ram_gib * sc->swap_frac * 1024 * SIM_MIB,
                .zram_ratio = rng_uniform(&r, 2.5, 3.5), .file_kb = 150 * SIM_MIB, .file_ws_kb = 60 * SIM_MIB,
                .reclaim_kbs = 300 * SIM_MIB, .duration = 240 * SEC, .mgd = mgd,
                .oom_delay_usec = (usec_t) (rng_uniform(&r, 3, 10) * SEC),
        };

        sim_init(sim, &p, &config, state);
        add_desktop();
        sim->n_desktop = sim->n;
        add_runaway(sc, &r);
        add_burst(sc, &r);
        if (mgd && debugging(sc->seed))
                sim->on_step = debug_step;
        if (mgd && recorder) {
                sim->on_observe = rec_observe;
                sim->on_step = rec_step;
                sim->userdata = recorder;
        }
        sim_run(sim);
        return sim->st;
}

static void describe(const Scenario *sc, char *buf, size_t size) {
        (void) snprintf(buf, size, "seed %u: %.0f GiB, swap %.2f x RAM, runaway %s at %.0f MB/s, %s", sc->seed,
                        sc->ram_gib, sc->swap_frac, runaway_names[sc->runaway], sc->rate_mbs, burst_names[sc->burst]);
}

static bool verbose(void) {
        const char *v = getenv("MGD_SIM_VERBOSE");
        return v && *v == '1';
}

static unsigned seeds(void) {
        const char *v = getenv("MGD_SIM_SEEDS");
        return v ? (unsigned) strtoul(v, NULL, 10) : 300;
}

START_TEST(test_family) {
        unsigned failed = 0;

        for (unsigned seed = getenv("MGD_SIM_DEBUG") ? (unsigned) strtoul(getenv("MGD_SIM_DEBUG"), NULL, 10) : 1;
             seed <= seeds(); seed++) {
                Scenario sc;
                SimStats none, m;
                char what[160], why[512] = "";

                scenario_of(seed, &sc);
                describe(&sc, what, sizeof(what));
                none = run(&sc, false);
                m = run(&sc, true);
                if (m.mgd_actions_protected)
                        (void) snprintf(why + strlen(why), sizeof(why) - strlen(why), " protected touched %u;",
                                        m.mgd_actions_protected);
                if (m.kernel_kills_while_expendable || m.kernel_kills_protected)
                        (void) snprintf(why + strlen(why), sizeof(why) - strlen(why),
                                        " kernel OOM kills %u (%u protected, %u while an expendable lived);",
                                        m.kernel_kills, m.kernel_kills_protected, m.kernel_kills_while_expendable);
                if (m.inversions)
                        (void) snprintf(why + strlen(why), sizeof(why) - strlen(why), " %u inversions: %s;",
                                        m.inversions, m.inversion);
                if (m.frozen_after_calm)
                        (void) snprintf(why + strlen(why), sizeof(why) - strlen(why),
                                        " still frozen %.0f s after the last stall;",
                                        (double) m.frozen_after_calm / SEC);
                if (m.frozen_longest > config.max_frozen_usec + 10 * SEC)
                        (void) snprintf(why + strlen(why), sizeof(why) - strlen(why), " frozen for %.0f s;",
                                        (double) m.frozen_longest / SEC);

                if (verbose() || why[0])
                        printf("# %s: stall %.1f s (kernel alone %.1f s), kills mgd %u kernel %u (alone %u), "
                               "freezes %u thaws %u, longest freeze %.0f s, %u frozen at the end%s%s\n", what,
                               m.full_usec / SEC, none.full_usec / SEC, m.mgd_kills, m.kernel_kills, none.kernel_kills,
                               m.mgd_freezes, m.mgd_thaws, (double) m.frozen_longest / SEC, m.frozen_at_end,
                               why[0] ? ": FAILED:" : "", why);
                (void) fflush(stdout);
                failed += why[0] != '\0';
        }
        ck_assert_msg(failed == 0, "%u of %u scenarios broke an invariant (see the # lines)", failed, seeds());
}
END_TEST

static void assert_same_step(const StepOutput *got, const StepOutput *want, unsigned line) {
        ck_assert_msg(got->error == want->error && got->level == want->level && got->target == want->target &&
                      got->next_tick == want->next_tick && got->held_back == want->held_back &&
                      got->n_acts == want->n_acts,
                      "trace line %u: the replay decided level %d target %d next %llu held_back %u, %zu actions; "
                      "the run level %d target %d next %llu held_back %u, %zu actions", line, got->level, got->target,
                      (unsigned long long) got->next_tick, got->held_back, got->n_acts, want->level, want->target,
                      (unsigned long long) want->next_tick, want->held_back, want->n_acts);
        for (size_t i = 0; i < got->n_acts; i++) {
                const StepAction *a = &got->acts[i], *b = &want->acts[i];

                ck_assert_msg(a->action == b->action && a->why == b->why && a->index == b->index && a->pid == b->pid &&
                              a->starttime == b->starttime && a->priority == b->priority &&
                              a->footprint_kb == b->footprint_kb && a->aggressor == b->aggressor,
                              "trace line %u, action %zu: the replay decided %s pid %d (%s), the run %s pid %d (%s)",
                              line, i, action_to_string(a->action), (int) a->pid, step_why_to_string(a->why),
                              action_to_string(b->action), (int) b->pid, step_why_to_string(b->why));
        }
}

/* Replays a whole trace through policy_step(); returns the steps replayed. */
static unsigned replay_exact(char *text, size_t size) {
        static TraceReader rd;
        static StepAction acts[2 * STEP_CANDS_MAX];
        PolicyState *st = calloc(1, sizeof(*st));
        unsigned steps = 0;
        bool configured = false;
        char *p = text, *end = text + size;

        ck_assert(st);
        trace_reader_init(&rd);
        while (p < end) {
                char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                int r = trace_read_line(&rd, p, len);

                ck_assert_msg(r >= 0, "trace line %u: %s", rd.line, rd.error);
                if (r == TRACE_CONFIG && configured)
                        policy_state_reconfigure(st, &rd.config);
                configured |= r == TRACE_CONFIG;
                if (r == TRACE_INIT)
                        policy_state_init(st, &rd.config, rd.init_now);
                if (r == TRACE_STEP) {
                        StepOutput out = { .acts = acts, .max_acts = ELEMENTSOF(acts) };

                        policy_step(&rd.config, st, &rd.obs, &out);
                        assert_same_step(&out, &rd.recorded, rd.line);
                        steps++;
                }
                p += len + 1;
        }
        trace_reader_done(&rd);
        free(st);
        return steps;
}

/* Seeds of every kind of scenario: their recorded runs replay to the very same decisions. */
START_TEST(test_trace_replays_exactly) {
        for (unsigned seed = 1; seed <= 12; seed++) {
                Recorder rec = {};
                char *text = NULL;
                size_t size = 0;
                Scenario sc;
                unsigned steps;

                rec.f = open_memstream(&text, &size);
                ck_assert(rec.f);
                scenario_of(seed, &sc);
                recorder = &rec;
                (void) run(&sc, true);
                recorder = NULL;
                ck_assert_int_eq(fclose(rec.f), 0);
                ck_assert_msg(rec.error >= 0, "seed %u: writing the trace failed: %s", seed, strerror(-rec.error));
                steps = replay_exact(text, size);
                ck_assert_msg(steps == sim->st.steps, "seed %u: %u steps replayed of %u", seed, steps, sim->st.steps);
                free(text);
        }
}
END_TEST

/*
 * A runaway thawed on probation that grows again is frozen again and then killed at once: frozen,
 * it would hold its memory from everyone until its bound (without swap, all of it in RAM).
 * Slow runaways on the family's machines, until enough of them went through a probation.
 */
START_TEST(test_relapse_is_resolved) {
        unsigned relapses = 0;

        for (unsigned seed = 1; seed <= 400 && relapses < 5; seed++) {
                Scenario sc = {
                        .seed = seed, .ram_gib = 1 + seed % 2, .swap_frac = (double) (seed % 3) / 2,
                        .rate_mbs = 10 + seed % 30, .runaway = RUN_ONE, .burst = BURST_NONE,
                };
                const SimProc *x = NULL;

                (void) run(&sc, true);
                for (size_t i = sim->n_desktop; i < sim->n; i++)
                        if (sim->procs[i].culprit)
                                x = &sim->procs[i];
                ck_assert(x);
                if (x->thaws == 0 || x->freezes < 2)
                        continue;
                relapses++;
                ck_assert_msg(x->end == SIM_KILLED_MGD, "seed %u: the relapsed runaway ended %d", seed, (int) x->end);
                ck_assert_msg(x->end_at - x->frozen_at <= 5 * SEC,
                              "seed %u: the relapsed runaway stayed frozen %.1f s before its kill", seed,
                              (double) (x->end_at - x->frozen_at) / SEC);
        }
        ck_assert_msg(relapses > 0, "no runaway went through a probation and relapsed");
}
END_TEST

static Suite *sim_suite(void) {
        Suite *s = suite_create("policy-sim");
        TCase *tc = tcase_create("family");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, test_family);
        tcase_add_test(tc, test_relapse_is_resolved);
        suite_add_tcase(s, tc);
        tc = tcase_create("trace");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_trace_replays_exactly);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(sim_suite)
