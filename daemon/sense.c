/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sensing: the PSI sources (global and the session cgroup) with their triggers, and one
 * PressureSample per tick. Reads only small kernel text files into stack buffers: nothing here
 * allocates, so it runs unchanged under the pressure it measures.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/psi-trigger.h"
#include "daemon/sense.h"

/* The unprivileged trigger: 5 % stall of a 2 s window, the shortest window the kernel accepts
 * without CAP_SYS_RESOURCE. The PSI helper replaces it with a sub-second one where granted. */
#define TRIGGER_STALL_USEC (100 * USEC_PER_MSEC)
#define TRIGGER_WINDOW_USEC (2 * USEC_PER_SEC)

usec_t now_usec(clockid_t clock) {
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

static const char *sense_root(const Manager *m) {
        return m->opt.pressure_root ?: m->opt.proc_root;
}

static int on_psi_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        PsiSource *src = NULL;

        for (size_t i = 0; i < m->n_psi; i++)
                if (m->psi[i].trigger == s)
                        src = &m->psi[i];
        if (!src)
                return 0;

        if (revents & (EPOLLERR | EPOLLHUP)) {
                /* POLLERR: "event source is gone", e.g. the cgroup was removed. */
                log_warning("PSI trigger on %s reports the source is gone; falling back to ticks", src->path);
                src->trigger = sd_event_source_disable_unref(src->trigger);
                closep(&src->trigger_fd);
                src->trigger_fd = -1;
                return 0;
        }
        log_debug("PSI trigger fired on %s", src->path);
        sense_trigger_fired(m, src);
        return 0;
}

/* Adopt an armed trigger fd (our own or one the PSI helper passed) for source i. */
int sense_adopt_trigger(Manager *m, size_t i, int fd, bool privileged) {
        PsiSource *src = &m->psi[i];
        int r;

        src->trigger = sd_event_source_disable_unref(src->trigger);
        closep(&src->trigger_fd);
        src->trigger_fd = fd;
        src->privileged = privileged;
        r = sd_event_add_io(m->event, &src->trigger, fd, EPOLLPRI, on_psi_event, m);
        if (r < 0) {
                closep(&src->trigger_fd);
                src->trigger_fd = -1;
                return log_error_errno(r, "Cannot watch PSI trigger on %s: %m", src->path);
        }
        (void) sd_event_source_set_priority(src->trigger, SD_EVENT_PRIORITY_IMPORTANT);
        return 0;
}

static int sense_arm_unprivileged(Manager *m, size_t i) {
        PsiSource *src = &m->psi[i];
        int fd;

        if (!psi_file_is_kernel(src->path))
                return log_info_errno(-ENOTSUP, "%s is not a kernel pressure file: polling it", src->path);

        fd = psi_trigger_open(src->path, "some", TRIGGER_STALL_USEC, TRIGGER_WINDOW_USEC);
        if (fd < 0)
                return log_warning_errno(fd, "Cannot arm a PSI trigger on %s: %m", src->path);
        log_info("PSI trigger armed on %s: some %llu ms per %llu s window", src->path,
                 (unsigned long long) (TRIGGER_STALL_USEC / USEC_PER_MSEC),
                 (unsigned long long) (TRIGGER_WINDOW_USEC / USEC_PER_SEC));
        return sense_adopt_trigger(m, i, fd, false);
}

static int sense_add_source(Manager *m, const char *path) {
        PsiSource *src;
        PsiStats st;
        int r;

        if (m->n_psi >= MANAGER_PSI_SOURCES)
                return -E2BIG;
        r = psi_read(path, &st);
        if (r < 0)
                return r;
        src = &m->psi[m->n_psi++];
        memset(src, 0, sizeof *src);
        src->trigger_fd = -1;
        (void) snprintf(src->path, sizeof src->path, "%s", path);
        return 0;
}

/*
 * The session cgroup whose memory.pressure to watch: the option, else the ancestor of mgd's own
 * cgroup that matches a session pattern (user@UID.service), where mgd runs as a user service.
 */
static int sense_session_cgroup(Manager *m, char *buf, size_t size) {
        ProcCgroup cg;
        char *p;
        int r;

        if (m->opt.pressure_cgroup)
                return snprintf(buf, size, "%s/memory.pressure", m->opt.pressure_cgroup) >= (int) size ?
                        -ENAMETOOLONG : 0;
        if (!m->cgroup2_root[0])
                return -ENOENT;
        r = proc_cgroup_read(m->opt.proc_root, getpid(), &cg);
        if (r < 0 || !cg.has_unified)
                return r < 0 ? r : -ENOENT;
        for (size_t i = 0; i < m->filter.n_session; i++) {
                p = strstr(cg.unified, m->filter.session[i]);
                if (!p || p[-1] != '/')
                        continue;
                p += strlen(m->filter.session[i]);
                if (*p != '/' && *p != '\0')
                        continue;
                *p = '\0';
                if (snprintf(buf, size, "%s%s/memory.pressure", m->cgroup2_root, cg.unified) >= (int) size)
                        return -ENAMETOOLONG;
                return 0;
        }
        return -ENOENT;
}

int sense_setup(Manager *m) {
        char path[PATH_MAX], session[PATH_MAX];
        size_t armed = 0;
        int r;

        (void) snprintf(path, sizeof path, "%s/pressure/memory", sense_root(m));
        r = sense_add_source(m, path);
        if (r < 0)
                return log_error_errno(r, "Pressure Stall Information is required: cannot read %s: %m "
                                       "(a kernel without CONFIG_PSI, or booted without psi=1?)", path);
        if (sense_session_cgroup(m, session, sizeof session) >= 0) {
                r = sense_add_source(m, session);
                if (r < 0)
                        log_warning_errno(r, "Cannot read the session's %s, using global PSI only: %m", session);
        } else
                log_info("No session cgroup with memory.pressure found; using global PSI only");

        for (size_t i = 0; i < m->n_psi; i++)
                if (sense_arm_unprivileged(m, i) >= 0)
                        armed++;
        m->psi_polling = armed == 0;
        if (m->psi_polling)
                log_warning("No PSI trigger could be armed: polling PSI every %llu ms instead",
                            (unsigned long long) (m->config.slow_tick_usec / USEC_PER_MSEC));
        return 0;
}

void sense_teardown(Manager *m) {
        for (size_t i = 0; i < m->n_psi; i++) {
                m->psi[i].trigger = sd_event_source_disable_unref(m->psi[i].trigger);
                closep(&m->psi[i].trigger_fd);
                m->psi[i].trigger_fd = -1;
        }
}

/*
 * Read this tick's pressure figures into o: meminfo, vmstat and every PSI source. Scoring is the
 * policy's (policy_step()); a source that cannot be read is marked invalid for this tick.
 */
int sense_observe(Manager *m, usec_t now, Observation *o) {
        int r;

        o->now = now;
        o->page_size_kb = (unsigned) (sysconf(_SC_PAGESIZE) / 1024);
        r = meminfo_read(sense_root(m), &m->mem);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s/meminfo: %m", sense_root(m));
        r = vmstat_read(sense_root(m), &m->vm);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s/vmstat: %m", sense_root(m));
        o->mem = (MemFigures) { m->mem.mem_total_kb, m->mem.mem_available_kb, m->mem.swap_total_kb,
                                m->mem.swap_free_kb };
        o->pswpin = m->vm.pswpin;
        o->pswpout = m->vm.pswpout;
        o->n_psi = m->n_psi;
        for (size_t i = 0; i < m->n_psi; i++) {
                PsiSource *src = &m->psi[i];
                PsiStats st;

                r = psi_read(src->path, &st);
                if (r < 0) {
                        log_warning_errno(r, "Cannot read %s, ignoring this source this tick: %m", src->path);
                        o->psi[i] = (PsiReading) { .valid = false };
                        continue;
                }
                o->psi[i] = (PsiReading) {
                        .valid = true,
                        .some_avg10 = st.some.avg10,
                        .full_avg10 = st.has_full ? st.full.avg10 : 0,
                        .some_total_usec = st.some.total_usec,
                        .full_total_usec = st.has_full ? st.full.total_usec : 0,
                };
        }
        return 0;
}
