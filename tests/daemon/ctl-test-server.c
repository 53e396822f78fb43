/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A control server with fake handlers, for the integration tests: the real ctl.c on a real
 * sd-event loop and a real socket, with replies the tests can predict.
 *
 *   ctl-test-server --socket PATH [--idle-ms N] [--list-lines N] [--config FILE]
 *
 * Prints "ready" on stdout once the socket listens; exits 0 on SIGTERM, unlinking the socket.
 * LIST has three fixed entries plus (N - 3) padded fillers of about 200 bytes each. RELOAD fails
 * with the file's "path:line: ..." when a line of FILE says "bad", else reports rules=<lines>.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "daemon/ctl.h"

typedef struct Fake {
        unsigned list_lines;
        const char *config;
        pid_t foreground;
} Fake;

static const struct {
        pid_t pid;
        const char *name;
        int priority;
        const char *how;
        unsigned frozen_for;
        unsigned footprint_kb;
        const char *unfreeze_result;
} fixed[] = {
        { 4242, "Web Content", 80, "sigstop", 125, 524288, "ok" },
        { 4243, "baloo_file", 65, "cgroup", 7300, 81920, "ok" },
        /* a hostile name: escape sequence, '=', '%' and non-ASCII must all survive encoding */
        { 4244, "evil\033[31m=%\xc3\xa9", 90, "checkpoint", 90000, 1024, "EPERM" },
};

static int fake_status(void *userdata, CtlReply *reply) {
        Fake *f = userdata;
        char fg[16];
        int r;

        snprintf(fg, sizeof fg, "%d", (int) f->foreground);
        r = ctl_reply_line(reply, "level=elevated score=0.42 trend=+0.0150");
        if (r >= 0)
                r = ctl_reply_line(reply, "mem_available_kb=%d mem_total_kb=%d", 1048576, 16777216);
        if (r >= 0)
                r = ctl_reply_kv(reply, "frozen", "2", "checkpointed", "1", "foreground", fg,
                                 "psi_source", "/sys/fs/cgroup/user slice/memory.pressure", NULL);
        return r;
}

static int fake_list(void *userdata, CtlReply *reply) {
        Fake *f = userdata;
        char pad[201];
        int r;

        for (size_t i = 0; i < ELEMENTSOF(fixed) && i < f->list_lines; i++) {
                _cleanup_free_ char *name = ctl_encode(fixed[i].name);

                if (!name)
                        return -ENOMEM;
                r = ctl_reply_line(reply, "pid=%d name=%s priority=%d how=%s frozen_for_s=%u "
                                   "footprint_kb=%u", (int) fixed[i].pid, name, fixed[i].priority,
                                   fixed[i].how, fixed[i].frozen_for, fixed[i].footprint_kb);
                if (r < 0)
                        return r;
        }
        memset(pad, 'x', sizeof pad - 1);
        pad[sizeof pad - 1] = '\0';
        for (unsigned i = ELEMENTSOF(fixed); i < f->list_lines; i++) {
                r = ctl_reply_line(reply, "pid=%u name=filler-%u priority=70 how=sigstop "
                                   "frozen_for_s=%u footprint_kb=4096 pad=%s", 10000 + i, i, i, pad);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int unfreeze_one(size_t i, CtlReply *reply) {
        char pid[16];

        snprintf(pid, sizeof pid, "%d", (int) fixed[i].pid);
        return ctl_reply_kv(reply, "pid", pid, "name", fixed[i].name,
                            "result", fixed[i].unfreeze_result, NULL);
}

static int fake_unfreeze(void *userdata, pid_t pid, const char *name, CtlReply *reply) {
        unsigned matched = 0;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(fixed); i++) {
                if (pid > 0 ? fixed[i].pid != pid : !strcasestr(fixed[i].name, name))
                        continue;
                r = unfreeze_one(i, reply);
                if (r < 0)
                        return r;
                matched++;
        }
        if (matched > 0)
                return 0;
        if (pid > 0)
                ctl_reply_error(reply, "pid %d is not frozen by mgd", (int) pid);
        else
                ctl_reply_error(reply, "no frozen process matches '%s'", name);
        return -ESRCH;
}

static int fake_reload(void *userdata, CtlReply *reply) {
        Fake *f = userdata;
        _cleanup_fclose_ FILE *file = NULL;
        char line[256], n[16];
        unsigned lines = 0;

        file = f->config ? fopen(f->config, "re") : NULL;
        while (file && fgets(line, sizeof line, file)) {
                lines++;
                if (strncmp(line, "bad", 3) == 0) {
                        ctl_reply_error(reply, "%s:%u: bad regex '(' in pattern", f->config, lines);
                        return -EINVAL;
                }
        }
        snprintf(n, sizeof n, "%u", lines);
        return ctl_reply_kv(reply, "rules", n, NULL);
}

static int fake_foreground(void *userdata, pid_t pid, CtlReply *reply) {
        Fake *f = userdata;

        f->foreground = pid;
        return 0;
}

static const CtlHandlers handlers = {
        .status = fake_status,
        .list = fake_list,
        .unfreeze = fake_unfreeze,
        .reload = fake_reload,
        .foreground = fake_foreground,
};

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "idle-ms", required_argument, NULL, 'i' },
                { "list-lines", required_argument, NULL, 'l' },
                { "config", required_argument, NULL, 'c' },
                {}
        };
        Fake fake = { .list_lines = ELEMENTSOF(fixed) };
        const char *path = NULL;
        usec_t idle = 0;
        sd_event *e = NULL;
        CtlServer *s = NULL;
        sigset_t mask;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 's': path = optarg; break;
                case 'i': idle = strtoull(optarg, NULL, 10) * USEC_PER_MSEC; break;
                case 'l': fake.list_lines = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'c': fake.config = optarg; break;
                default: return 2;
                }
        if (!path) {
                fprintf(stderr, "--socket is required\n");
                return 2;
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&e);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = ctl_server_new(e, path, getuid(), &handlers, &fake, &s);
        if (r < 0) {
                fprintf(stderr, "ctl-test-server: %s\n", strerror(-r));
                sd_event_unref(e);
                return 1;
        }
        if (idle > 0)
                ctl_server_set_idle_timeout(s, idle);

        printf("ready\n");
        fflush(stdout);
        r = sd_event_loop(e);
        ctl_server_free(s);
        sd_event_unref(e);
        return r < 0 ? 1 : 0;
}
