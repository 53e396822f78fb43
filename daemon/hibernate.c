/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Emergency hibernate, the seed's last resort (off by default): after hibernate_after at
 * Emergency, ask logind to hibernate. A D-Bus call, not `systemctl hibernate`: mgd never forks on
 * the pressure path, and the system bus connection is made at start-up (or when a reload turns
 * the setting on), so asking costs one message. Whether the user may hibernate is logind's and
 * polkit's decision; their answer is logged.
 */
#include <errno.h>

#include "daemon/log.h"
#include "daemon/manager.h"

/* Connect when the setting is on and there is no connection yet; a failure turns it off for now. */
void manager_hibernate_setup(Manager *m) {
        int r;

        if (m->config.hibernate_after_usec == 0 || m->bus)
                return;
        r = sd_bus_open_system(&m->bus);
        if (r >= 0)
                r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                log_warning_errno(r, "hibernate_after is set, but the system bus is not reachable (%m):"
                                  " emergency hibernate is off");
                m->bus = sd_bus_flush_close_unref(m->bus);
        }
}

void manager_hibernate_teardown(Manager *m) {
        m->bus = sd_bus_flush_close_unref(m->bus);
}

static int on_hibernate_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (e)
                log_error("logind refused to hibernate: %s (%s)", e->message ?: "no reason given",
                          e->name ?: "error");
        else
                log_notice("logind accepted the request to hibernate");
        return 0;
}

/* Called every tick: track the time at Emergency and ask once per incident. */
void manager_hibernate_tick(Manager *m, usec_t now) {
        int r;

        if (m->level < LEVEL_EMERGENCY) {
                m->emergency_since = 0;
                if (m->level == LEVEL_NORMAL)
                        m->hibernate_requested = false;
                return;
        }
        if (!m->emergency_since)
                m->emergency_since = now;
        if (m->config.hibernate_after_usec == 0 || m->hibernate_requested ||
            now - m->emergency_since < m->config.hibernate_after_usec)
                return;
        m->hibernate_requested = true;
        if (!m->bus || m->opt.dry_run) {
                log_warning("Emergency for %llu s: would ask logind to hibernate, but %s",
                            (unsigned long long) ((now - m->emergency_since) / USEC_PER_SEC),
                            m->opt.dry_run ? "this is a dry run" : "the system bus is not connected");
                return;
        }
        log_notice("Emergency for %llu s: asking logind to hibernate (hibernate_after)",
                   (unsigned long long) ((now - m->emergency_since) / USEC_PER_SEC));
        r = sd_bus_call_method_async(m->bus, NULL, "org.freedesktop.login1", "/org/freedesktop/login1",
                                     "org.freedesktop.login1.Manager", "Hibernate", on_hibernate_reply, m,
                                     "b", false);
        if (r < 0)
                log_error_errno(r, "Cannot ask logind to hibernate: %m");
}
