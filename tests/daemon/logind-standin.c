/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A stand-in for logind on a test bus: owns org.freedesktop.login1, answers
 * org.freedesktop.login1.Manager.Hibernate(b interactive) with success (or, with --refuse, with
 * org.freedesktop.DBus.Error.AccessDenied) and appends "Hibernate interactive=N uid=U" per call
 * to RECORD_FILE.
 *   logind-standin BUS_ADDRESS RECORD_FILE [--refuse]
 * Prints "ready" once the name is owned; exits on SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

static const char *record;
static int refuse;

static int method_hibernate(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        int interactive = 0;
        uid_t uid = (uid_t) -1;
        sd_bus_creds *creds = NULL;
        FILE *f;
        int r;

        r = sd_bus_message_read(m, "b", &interactive);
        if (r < 0)
                return r;
        if (sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds) >= 0)
                (void) sd_bus_creds_get_euid(creds, &uid);
        sd_bus_creds_unref(creds);
        f = fopen(record, "ae");
        if (f) {
                fprintf(f, "Hibernate interactive=%d uid=%d\n", interactive, (int) uid);
                fclose(f);
        }
        if (refuse)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Not allowed by the test");
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Hibernate", "b", NULL, method_hibernate, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

int main(int argc, char **argv) {
        sd_bus *bus = NULL;
        sd_event *e = NULL;
        sigset_t ss;
        int r;

        if (argc < 3) {
                fprintf(stderr, "usage: logind-standin BUS_ADDRESS RECORD_FILE [--refuse]\n");
                return 2;
        }
        record = argv[2];
        refuse = argc > 3 && strcmp(argv[3], "--refuse") == 0;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        r = sd_event_default(&e);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, argv[1]);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
                                             manager_vtable, NULL);
        if (r >= 0)
                r = sd_bus_request_name(bus, "org.freedesktop.login1", 0);
        if (r >= 0)
                r = sd_bus_attach_event(bus, e, 0);
        if (r < 0) {
                fprintf(stderr, "logind-standin: %s\n", strerror(-r));
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        r = sd_event_loop(e);
        sd_bus_flush_close_unref(bus);
        sd_event_unref(e);
        return r < 0 ? 1 : 0;
}
