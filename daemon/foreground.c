/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The foreground window, as a desktop plugin reports it: through the control socket's
 * FOREGROUND command (mgctl foreground), or on the user's session bus, where a KWin script or a
 * GNOME Shell extension can reach it (client/kwin/, client/gnome-shell/):
 *
 *     bus name io.github.mgd, object /io/github/mgd, interface io.github.mgd.Manager1
 *     SetForeground(i pid) -> (b thawed)       pid 0 clears it
 *
 * Trust: the session bus is the user's own, and the sender's uid is checked against mgd's
 * anyway; what a caller can do is what it could do through the socket: give one pid the
 * foreground bonus, and thaw it if mgd froze it. It cannot make mgd signal anything.
 */
#include <errno.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/registry.h"

#define BUS_NAME "io.github.mgd"
#define BUS_PATH "/io/github/mgd"
#define BUS_INTERFACE "io.github.mgd.Manager1"

int manager_set_foreground(Manager *m, pid_t pid, bool *ret_thawed) {
        ProcStat st;
        RegistryEntry *e;
        int r;

        *ret_thawed = false;
        if (pid < 0)
                return -EINVAL;
        if (pid == 0) {
                m->foreground = 0;
                m->foreground_starttime = 0;
                return 0;
        }
        r = proc_stat_read(m->opt.proc_root, pid, &st);
        if (r < 0)
                return -ESRCH;
        m->foreground = pid;
        m->foreground_starttime = st.starttime;
        /* the window the user just focused must not stay frozen */
        e = registry_find_pid(m->registry, pid);
        if (e && e->starttime == st.starttime && e->how != REGISTRY_CHECKPOINT) {
                (void) manager_thaw(m, e, "foreground");
                (void) registry_persist(m->registry);
                *ret_thawed = true;
        }
        return 0;
}

static int method_set_foreground(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        Manager *m = userdata;
        bool thawed;
        int32_t pid;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0 || uid != getuid())
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "only mgd's own user may set the foreground");
        r = sd_bus_message_read(msg, "i", &pid);
        if (r < 0)
                return r;
        r = manager_set_foreground(m, (pid_t) pid, &thawed);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "no such process %d", (int) pid);
        return sd_bus_reply_method_return(msg, "b", thawed);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("SetForeground", "i", "b", method_set_foreground, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* Without a session bus (a test, a console login) plugins still have the control socket. */
int manager_bus_start(Manager *m) {
        int r = sd_bus_open_user(&m->user_bus);

        if (r >= 0)
                r = sd_bus_add_object_vtable(m->user_bus, &m->user_bus_slot, BUS_PATH, BUS_INTERFACE,
                                             manager_vtable, m);
        if (r >= 0)
                r = sd_bus_request_name(m->user_bus, BUS_NAME, 0);
        if (r >= 0)
                r = sd_bus_attach_event(m->user_bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                log_info_errno(r, "No %s on the session bus (%m): desktop plugins use the control socket",
                               BUS_NAME);
                manager_bus_stop(m);
                return 0;
        }
        log_info("Desktop plugins can report the foreground window as %s %s", BUS_NAME, BUS_INTERFACE);
        return 0;
}

void manager_bus_stop(Manager *m) {
        m->user_bus_slot = sd_bus_slot_unref(m->user_bus_slot);
        m->user_bus = sd_bus_flush_close_unref(m->user_bus);
}
