/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgd --trace FILE: every tick's observation, before policy_step(), and what it decided, after,
 * in the format of policy/trace.h, with the configuration at start and after each reload. For
 * guest runs and bug reports: a trace replays through the pure step in a unit test. It costs a
 * write per tick, so it is off unless asked for; a write that fails turns it off, with a warning.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/manager.h"
#include "policy/trace.h"

static int trace_write(const char *line, size_t len, void *userdata) {
        FILE *f = userdata;

        return fwrite(line, 1, len, f) == len ? 0 : -EIO;
}

static void trace_failed(Manager *m, int r) {
        log_warning_errno(r, "Cannot write the trace to %s, no longer tracing: %m", m->opt.trace_path);
        manager_trace_close(m);
}

int manager_trace_open(Manager *m) {
        int fd;

        if (!m->opt.trace_path)
                return 0;
        fd = open(m->opt.trace_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
        if (fd < 0)
                return log_error_errno(-errno, "Cannot open the trace file %s: %m", m->opt.trace_path);
        m->trace = fdopen(fd, "w");
        if (!m->trace) {
                (void) close(fd);
                return log_error_errno(-errno, "Cannot open the trace file %s: %m", m->opt.trace_path);
        }
        log_info("Tracing every tick to %s", m->opt.trace_path);
        manager_trace_config(m);
        if (m->trace && trace_write_init(m->ps_init_at, trace_write, m->trace) < 0)
                trace_failed(m, -EIO);
        return 0;
}

void manager_trace_config(Manager *m) {
        int r;

        if (!m->trace)
                return;
        r = trace_write_config(&m->config, trace_write, m->trace);
        if (r >= 0 && fflush(m->trace) != 0)
                r = -errno;
        if (r < 0)
                trace_failed(m, r);
}

void manager_trace_observation(Manager *m, const Observation *o) {
        int r;

        if (!m->trace)
                return;
        r = trace_write_observation(o, trace_write, m->trace);
        if (r < 0)
                trace_failed(m, r);
}

void manager_trace_output(Manager *m, const StepOutput *out) {
        int r;

        if (!m->trace)
                return;
        r = trace_write_output(out, trace_write, m->trace);
        if (r >= 0 && fflush(m->trace) != 0)
                r = -errno;
        if (r < 0)
                trace_failed(m, r);
}

void manager_trace_close(Manager *m) {
        if (m->trace)
                (void) fclose(m->trace);
        m->trace = NULL;
}
