/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Recorded traces (mgd --trace, policy/trace.h) replayed through today's policy_step(): the
 * guest runs of the scenario matrix and the failures seen there, kept in tests/policy/traces/.
 * The recorded decisions were those of the mgd that ran; what is checked here is what today's
 * step decides on the same observations, tick by tick:
 *   - no action on the 0-19 tier, a protect entry or the foreground;
 *   - no process is ended (terminate, kill, checkpoint) while a less important one that may die
 *     lives and is not itself on its way out, the runaway excepted (the decision's aggressor, and
 *     only while it holds a quarter of RAM or more);
 *   - the same trace replayed twice decides the same (no hidden state, no clock, no I/O).
 * And the reader: comments, a bad record named with its line.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/release.h"
#include "policy/trace.h"
#include "tests/check-main.h"

#ifndef TRACE_DIR
#error "TRACE_DIR: the directory of the trace fixtures"
#endif

#define DOOMED_MAX 4096

typedef struct Replay {
        TraceReader rd;
        PolicyState st;
        StepAction acts[2 * STEP_CANDS_MAX];
        /* every process today's step has ended so far: pid, start time */
        pid_t doomed_pid[DOOMED_MAX];
        uint64_t doomed_st[DOOMED_MAX];
        size_t n_doomed;
        unsigned steps, actions;
        uint64_t digest;                /* of every decision, to compare two replays */
} Replay;

static bool doomed(const Replay *r, pid_t pid, uint64_t st) {
        for (size_t i = 0; i < r->n_doomed; i++)
                if (r->doomed_pid[i] == pid && r->doomed_st[i] == st)
                        return true;
        return false;
}

static void digest_add(Replay *r, uint64_t v) {
        r->digest = (r->digest ^ v) * UINT64_C(0x100000001b3);
}

static bool destructive(Action a) {
        return a == ACTION_TERMINATE || a == ACTION_KILL || a == ACTION_CHECKPOINT;
}

static const Candidate *cand_of(const Observation *o, pid_t pid, uint64_t st) {
        for (size_t i = 0; i < o->n_cands; i++)
                if (o->cands[i].pid == pid && o->cands[i].starttime == st)
                        return &o->cands[i];
        return NULL;
}

/* The contract on one step's decisions, against the observation it was given. */
static void check_step(Replay *r, const char *file, const Observation *o, const StepOutput *out) {
        const PolicyConfig *c = &r->rd.config;

        for (size_t i = 0; i < out->n_acts; i++) {
                const StepAction *a = &out->acts[i];
                const Candidate *v = cand_of(o, a->pid, a->starttime);

                if (a->action == ACTION_THAW || a->action == ACTION_RESTORE || !v)
                        continue;
                ck_assert_msg(!(o->foreground > 0 && v->pid == o->foreground), "%s line %u: %s of the foreground %s (%d)",
                              file, r->rd.line, action_to_string(a->action), v->name, (int) v->pid);
                ck_assert_msg(policy_priority(c, v, o->foreground) > PRIORITY_PROTECTED_MAX,
                              "%s line %u: %s of %s (%d), priority %d", file, r->rd.line, action_to_string(a->action),
                              v->name, (int) v->pid, policy_priority(c, v, o->foreground));
                if (destructive(a->action) && r->n_doomed < DOOMED_MAX) {
                        r->doomed_pid[r->n_doomed] = a->pid;
                        r->doomed_st[r->n_doomed++] = a->starttime;
                }
        }
        for (size_t i = 0; i < out->n_acts; i++) {
                const StepAction *a = &out->acts[i];
                const Candidate *v = cand_of(o, a->pid, a->starttime);
                int vp;

                /* out of turn only a runaway holding a quarter of RAM at least (a burst's compiler waits) */
                if (!destructive(a->action) || !v ||
                    (a->aggressor && (v->rss_kb + v->swap_kb) * 4 >= o->mem.mem_total_kb))
                        continue;
                vp = policy_priority(c, v, o->foreground);
                for (size_t k = 0; k < o->n_cands; k++) {
                        const Candidate *x = &o->cands[k];
                        int xp = policy_priority(c, x, o->foreground);

                        if (x == v || xp <= vp || x->rss_kb + x->swap_kb < MAX((uint64_t) RELEASE_MIN_FOOTPRINT_KB, c->min_footprint_kb) ||
                            (o->foreground > 0 && x->pid == o->foreground) || doomed(r, x->pid, x->starttime))
                                continue;
                        ck_abort_msg("%s line %u: %s of %s (%d, priority %d) while %s (%d, priority %d) lives",
                                     file, r->rd.line, action_to_string(a->action), v->name, (int) v->pid, vp, x->name,
                                     (int) x->pid, xp);
                }
        }
}

static void replay_file(Replay *r, const char *path, const char *file) {
        FILE *f = fopen(path, "re");
        char *line = NULL;
        size_t size = 0;
        ssize_t n;
        bool configured = false, initialised = false;

        ck_assert_msg(f, "%s: %s", path, strerror(errno));
        memset(r, 0, sizeof(*r));
        trace_reader_init(&r->rd);
        while ((n = getline(&line, &size, f)) >= 0) {
                int e;

                if (n > 0 && line[n - 1] == '\n')
                        line[--n] = '\0';
                e = trace_read_line(&r->rd, line, (size_t) n);
                ck_assert_msg(e >= 0, "%s line %u: %s", file, r->rd.line, r->rd.error);
                if (e == TRACE_CONFIG && configured)
                        policy_state_reconfigure(&r->st, &r->rd.config);
                configured |= e == TRACE_CONFIG;
                if (e == TRACE_INIT) {
                        policy_state_init(&r->st, &r->rd.config, r->rd.init_now);
                        initialised = true;
                }
                if (e == TRACE_STEP) {
                        StepOutput out = { .acts = r->acts, .max_acts = ELEMENTSOF(r->acts) };

                        ck_assert_msg(initialised, "%s line %u: a step before the I record", file, r->rd.line);
                        policy_step(&r->rd.config, &r->st, &r->rd.obs, &out);
                        check_step(r, file, &r->rd.obs, &out);
                        digest_add(r, (uint64_t) out.level << 8 | (uint64_t) out.target);
                        digest_add(r, out.next_tick);
                        for (size_t i = 0; i < out.n_acts; i++) {
                                digest_add(r, (uint64_t) out.acts[i].action << 32 | (uint64_t) out.acts[i].pid);
                                digest_add(r, out.acts[i].starttime);
                        }
                        r->steps++;
                        r->actions += (unsigned) out.n_acts;
                }
        }
        free(line);
        (void) fclose(f);
        trace_reader_done(&r->rd);
        ck_assert_msg(r->steps > 0, "%s: no step in the trace", file);
}

static int trace_file(const struct dirent *d) {
        size_t n = strlen(d->d_name);

        return n > 6 && strcmp(d->d_name + n - 6, ".trace") == 0;
}

START_TEST(test_fixtures_hold_the_contract) {
        static Replay a, b;
        struct dirent **names;
        int n = scandir(TRACE_DIR, &names, trace_file, alphasort);

        ck_assert_msg(n > 0, "no *.trace in %s", TRACE_DIR);
        for (int i = 0; i < n; i++) {
                char path[4096];

                (void) snprintf(path, sizeof(path), "%s/%s", TRACE_DIR, names[i]->d_name);
                replay_file(&a, path, names[i]->d_name);
                replay_file(&b, path, names[i]->d_name);
                ck_assert_msg(a.digest == b.digest && a.actions == b.actions,
                              "%s: two replays decided differently", names[i]->d_name);
                printf("# %s: %u steps, %u decisions\n", names[i]->d_name, a.steps, a.actions);
                free(names[i]);
        }
        free(names);
}
END_TEST

static int feed(TraceReader *rd, const char *text) {
        int r = TRACE_MORE;

        for (const char *p = text; *p && r >= 0;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t) (nl - p) : strlen(p);

                r = trace_read_line(rd, p, len);
                p += len + (nl != NULL);
        }
        return r;
}

START_TEST(test_reader_comments_and_errors) {
        static TraceReader rd;

        trace_reader_init(&rd);
        ck_assert_int_eq(feed(&rd, "mgd-trace 1\n# a comment\n\nI now=5000000"), TRACE_INIT);
        ck_assert_uint_eq(rd.init_now, 5000000);
        trace_reader_done(&rd);

        trace_reader_init(&rd);
        ck_assert_int_eq(feed(&rd, "# before the magic\nmgd-trace 1"), -EINVAL);
        ck_assert_uint_eq(rd.line, 1);
        trace_reader_done(&rd);

        trace_reader_init(&rd);
        ck_assert_int_eq(feed(&rd, "mgd-trace 1\nI now=soon"), -EINVAL);
        ck_assert_uint_eq(rd.line, 2);
        ck_assert_ptr_nonnull(strstr(rd.error, "init"));
        trace_reader_done(&rd);
}
END_TEST

static Suite *trace_suite(void) {
        Suite *s = suite_create("policy-trace");
        TCase *tc = tcase_create("replay");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_fixtures_hold_the_contract);
        tcase_add_test(tc, test_reader_comments_and_errors);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(trace_suite)
