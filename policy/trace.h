/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Traces: what policy_step() was given and what it decided, tick after tick, as text. mgd writes
 * one with --trace FILE; a unit test reads it back and replays every observation through the
 * pure step, so a failure seen under real pressure becomes a test that runs in milliseconds.
 *
 * The format (one record per line, "KEY=VALUE" fields separated by single spaces, values that
 * are not numbers percent-encoded as in the state files):
 *
 *   mgd-trace 1                          first line
 *   K name=VALUE                         a configuration scalar (policy_config_defaults() names)
 *   R name= pattern= field= source= protect= priority= checkpoint= build= origin=
 *   G                                    the configuration above is complete (and after a reload)
 *   I now=                               policy_state_init() ran at now (once, after the first G)
 *   # ...                                a comment (fixtures say what they hold); empty lines too
 *   O now= trig= cgp= scan= stale= fg= ckpt= busy= vexit= vavail= gpu= zorig= zused= page=
 *     mem= avail= swap= swapfree= pswpin= pswpout=   (stale= may be missing: 0)
 *   P i= ok= some10= full10= some= full=           one per PSI source
 *   C pid= st= ppid= rss= swap= gpu= majflt= adj= age= frozen= ckfail= name= exe= cmd=
 *   H pid= st= kind= prio= kb= since= fails=
 *   A act= why= i= pid= st= prio= kb= agg=          each decision, in order
 *   S err= level= target= next= held_back=          the step's summary; ends the record
 *
 * Numbers are decimal; doubles are printed with 17 significant digits, which read back to the
 * same bits, so a replay with the same code decides exactly what was recorded.
 */

#include <stddef.h>

#include "policy/step.h"

#define TRACE_MAGIC "mgd-trace 1"
#define TRACE_LINE_MAX 4096
#define TRACE_RULES_MAX 512

/* Where formatted lines go (each ends in '\n'); a negative return stops the writer with it. */
typedef int (*TraceWriteFn)(const char *line, size_t len, void *userdata);

int trace_write_config(const PolicyConfig *c, TraceWriteFn w, void *userdata);
int trace_write_observation(const Observation *o, TraceWriteFn w, void *userdata);
int trace_write_output(const StepOutput *out, TraceWriteFn w, void *userdata);
/* The time the policy state was initialised at (policy_state_init()): a replay starts from it. */
int trace_write_init(usec_t now, TraceWriteFn w, void *userdata);

/* The reader's events, from trace_read_line(). */
typedef enum TraceEvent {
        TRACE_MORE,                     /* nothing complete yet */
        TRACE_CONFIG,                   /* r->config holds a (new) configuration */
        TRACE_INIT,                     /* the state was initialised at r->init_now */
        TRACE_STEP,                     /* r->obs and r->recorded hold one whole tick */
} TraceEvent;

typedef struct TraceReader {
        unsigned line;                  /* of the last line read, for errors */
        const char *error;              /* what was wrong with it */
        bool magic;
        PolicyConfig config;
        Rule rules[TRACE_RULES_MAX];
        size_t n_rules;
        bool in_config;
        usec_t init_now;
        Observation obs;
        Candidate cands[STEP_CANDS_MAX];
        HeldProcess held[STEP_HELD_MAX];
        StepOutput recorded;
        StepAction acts[2 * STEP_CANDS_MAX];
} TraceReader;

void trace_reader_init(TraceReader *r);
/* Frees the compiled rules. */
void trace_reader_done(TraceReader *r);
/* One line (without its '\n'). A TraceEvent, or -EINVAL with r->error and r->line set. */
int trace_read_line(TraceReader *r, const char *line, size_t len);
