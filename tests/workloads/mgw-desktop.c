/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgw-desktop: starts a scripted set of processes (the desktop of the seed's incident, the
 * runaway, the build) at fixed times, each under its own name and, in the systemd guest, in its
 * own app scope of the user's manager (systemd-run --user --scope), the way a desktop launches
 * apps. It records every start and every end with its wait status, so the benchmark knows for
 * each process whether it was killed, and by which signal, whatever daemon did it.
 *
 * The spec has one line per entry ('#' starts a comment, "..." quotes a name with spaces):
 *   AT_MS COUNT NAME PROGRAM [ARGS...]
 * PROGRAM is hog, app or build (BINDIR/mgw-PROGRAM); the launcher passes "-n NAME" first. In ARGS,
 * %i is the instance number within the entry, %s a seed unique to the instance, %R the results
 * directory. Scopes are named app-NAME-N.scope, N counting every process the launcher started.
 *
 * Events (appended to EVENTS, one per line, T_MS = CLOCK_MONOTONIC ms):
 *   T_MS start PID UNIT NAME          T_MS exit PID exit:N|signal:N NAME
 *   T_MS launcher start|stopping|stop
 * SIGTERM/SIGINT stop the set: "launcher stopping" (ends still to come are the harness's, not a
 * daemon's), then SIGCONT and SIGINT to every child still running, SIGKILL 10 s later.
 *
 *   mgw-desktop -f SPEC -b BINDIR -e EVENTS [-r RESULTS] [-u UID] [-S | -c CGROUP_PARENT] [-s SEED]
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl.h"

#define ENTRIES_MAX 64
#define ARGS_MAX 32
#define CHILDREN_MAX 512
#define TOKEN_MAX 256

typedef struct Entry {
        uint64_t at_ms;
        uint64_t count;
        char name[16];                  /* the kernel keeps 15 bytes of comm */
        char prog[32];
        char args[ARGS_MAX][TOKEN_MAX];
        size_t n_args;
} Entry;

typedef struct Child {
        pid_t pid;
        char name[16];
        bool done;
} Child;

typedef struct Launcher {
        const char *bindir, *results, *events, *cgroup_parent;
        bool scopes;
        uid_t uid;
        gid_t gid;
        const char *home;
        uint64_t seed;
        Entry entries[ENTRIES_MAX];
        size_t n_entries;
        Child children[CHILDREN_MAX];
        size_t n_children;
        int events_fd;
} Launcher;

static void event(Launcher *l, const char *fmt, ...) _printf_(2, 3);
static void event(Launcher *l, const char *fmt, ...) {
        char buf[512];
        va_list ap;
        int n = snprintf(buf, sizeof buf, "%" PRIu64 " ", wl_now_ms());

        va_start(ap, fmt);
        n += vsnprintf(buf + n, sizeof buf - (size_t) n, fmt, ap);
        va_end(ap);
        if (n >= (int) sizeof buf - 1)
                n = (int) sizeof buf - 2;
        buf[n++] = '\n';
        if (write(l->events_fd, buf, (size_t) n) < 0)
                fprintf(stderr, "mgw-desktop: cannot write events: %m\n");
}

/* Split a spec line into tokens; "..." keeps spaces. Returns the count, or -EINVAL. */
static int tokenize(char *line, char tok[][TOKEN_MAX], size_t max) {
        size_t n = 0;
        char *p = line;

        for (;;) {
                size_t len = 0;
                bool quoted;

                p += strspn(p, " \t\r\n");
                if (*p == '\0' || *p == '#')
                        return (int) n;
                if (n == max)
                        return -EINVAL;
                quoted = *p == '"';
                p += quoted;
                while (*p && (quoted ? *p != '"' : !strchr(" \t\r\n", *p))) {
                        if (len + 1 >= TOKEN_MAX)
                                return -EINVAL;
                        tok[n][len++] = *p++;
                }
                if (quoted && *p++ != '"')
                        return -EINVAL;
                tok[n++][len] = '\0';
        }
}

/* NULL if the tokens make an entry, else what is wrong with them. */
static const char *parse_entry(Entry *e, char tok[][TOKEN_MAX], int n) {
        if (n < 4)
                return "need AT_MS COUNT NAME PROGRAM";
        if (wl_parse_u64(tok[0], 0, 86400000, &e->at_ms) < 0)
                return "AT_MS is not a number of milliseconds (at most a day)";
        if (wl_parse_u64(tok[1], 1, 64, &e->count) < 0)
                return "COUNT must be 1..64";
        if (strlen(tok[2]) == 0 || strlen(tok[2]) > 15)
                return "NAME must be 1..15 bytes (the kernel keeps 15 of a comm)";
        if (strcmp(tok[3], "hog") != 0 && strcmp(tok[3], "app") != 0 && strcmp(tok[3], "build") != 0)
                return "PROGRAM must be hog, app or build";
        strcpy(e->name, tok[2]);
        (void) snprintf(e->prog, sizeof e->prog, "mgw-%s", tok[3]);
        e->n_args = (size_t) n - 4;
        for (size_t i = 0; i < e->n_args; i++)
                memcpy(e->args[i], tok[4 + i], TOKEN_MAX);
        return NULL;
}

static int load_spec(Launcher *l, const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[2048], tok[ARGS_MAX + 4][TOKEN_MAX];
        unsigned lineno = 0;

        if (!f) {
                int r = -errno;
                fprintf(stderr, "mgw-desktop: cannot open spec %s: %s\n", path, strerror(-r));
                return r;
        }
        while (fgets(line, sizeof line, f)) {
                const char *why = NULL;
                int n;

                lineno++;
                if (!strchr(line, '\n') && !feof(f))
                        why = "line too long";
                else if ((n = tokenize(line, tok, ELEMENTSOF(tok))) < 0)
                        why = "too many tokens, or a token too long or unterminated";
                else if (n == 0)
                        continue;
                else if (l->n_entries == ENTRIES_MAX)
                        why = "too many entries";
                else
                        why = parse_entry(&l->entries[l->n_entries], tok, n);
                if (why) {
                        fprintf(stderr, "mgw-desktop: %s:%u: %s\n", path, lineno, why);
                        return -EINVAL;
                }
                l->n_entries++;
        }
        if (l->n_entries == 0) {
                fprintf(stderr, "mgw-desktop: %s: no entries\n", path);
                return -EINVAL;
        }
        return 0;
}

/* Unit names allow [A-Za-z0-9:_.\-]; anything else (spaces in "Isolated Web Co") becomes '_'. */
static void unit_name(char *buf, size_t size, const char *name, uint64_t i) {
        char esc[16];
        size_t k;

        for (k = 0; name[k] && k < sizeof esc - 1; k++)
                esc[k] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.", name[k]) ? name[k] : '_';
        esc[k] = '\0';
        (void) snprintf(buf, size, "app-%s-%" PRIu64 ".scope", esc, i);
}

static void subst(char *out, size_t size, const char *in, uint64_t i, uint64_t seed, const char *results) {
        size_t o = 0;

        for (; *in && o + 1 < size; in++) {
                int n = 0;
                if (in[0] == '%' && in[1] == 'i')
                        n = snprintf(out + o, size - o, "%" PRIu64, i);
                else if (in[0] == '%' && in[1] == 's')
                        n = snprintf(out + o, size - o, "%" PRIu64, seed);
                else if (in[0] == '%' && in[1] == 'R')
                        n = snprintf(out + o, size - o, "%s", results);
                else {
                        out[o++] = *in;
                        continue;
                }
                in++;
                o = MIN(o + (size_t) MAX(n, 0), size - 1);
        }
        out[o] = '\0';
}

/* In the forked child: become the workload process. Never returns. */
static _noreturn_ void child_exec(const Launcher *l, const Entry *e, uint64_t i, uint64_t seed, const char *unit) {
        static char args[ARGS_MAX][TOKEN_MAX];
        char path[PATH_MAX], unitarg[96], cg[PATH_MAX], env_rt[64], env_bus[96];
        char *argv[ARGS_MAX + 12];
        sigset_t none;
        size_t a = 0;

        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        /* a shell's background job starts with SIGINT and SIGQUIT ignored, and exec keeps that */
        (void) signal(SIGINT, SIG_DFL);
        (void) signal(SIGQUIT, SIG_DFL);
        (void) setsid();
        /* the harness runs at oom_score_adj -1000; the workload must be an ordinary target */
        (void) wl_write_file("/proc/self/oom_score_adj", "0");
        if (l->cgroup_parent) {
                /* the busybox guest's stand-in for an app scope: one leaf cgroup per process */
                (void) snprintf(cg, sizeof cg, "%s/%.*s", l->cgroup_parent, (int) (strlen(unit) - 6), unit);
                if ((mkdir(cg, 0755) < 0 && errno != EEXIST) || strlen(cg) + 14 >= sizeof cg)
                        _exit(126);
                strcat(cg, "/cgroup.procs");
                if (wl_write_file(cg, "0") < 0)
                        _exit(126);
        }
        if (l->uid != 0) {
                (void) snprintf(env_rt, sizeof env_rt, "/run/user/%u", (unsigned) l->uid);
                (void) snprintf(env_bus, sizeof env_bus, "unix:path=/run/user/%u/bus", (unsigned) l->uid);
                if (setgroups(0, NULL) < 0 || setgid(l->gid) < 0 || setuid(l->uid) < 0)
                        _exit(126);
                (void) setenv("HOME", l->home, 1);
                (void) setenv("XDG_RUNTIME_DIR", env_rt, 1);
                (void) setenv("DBUS_SESSION_BUS_ADDRESS", env_bus, 1);
        }
        (void) snprintf(path, sizeof path, "%s/%s", l->bindir, e->prog);
        if (l->scopes) {
                (void) snprintf(unitarg, sizeof unitarg, "--unit=%s", unit);
                argv[a++] = (char *) "systemd-run";
                argv[a++] = (char *) "--user";
                argv[a++] = (char *) "--scope";
                argv[a++] = (char *) "--quiet";
                argv[a++] = unitarg;
                argv[a++] = (char *) "--";
        }
        argv[a++] = path;
        argv[a++] = (char *) "-n";
        argv[a++] = (char *) e->name;
        for (size_t k = 0; k < e->n_args; k++) {
                subst(args[k], TOKEN_MAX, e->args[k], i, seed, l->results);
                argv[a++] = args[k];
        }
        argv[a] = NULL;
        if (l->scopes)
                execvp("systemd-run", argv);
        else
                execv(path, argv);
        _exit(127);
}

static void launch(Launcher *l, size_t idx) {
        const Entry *e = &l->entries[idx];

        for (uint64_t i = 0; i < e->count; i++) {
                uint64_t seed = l->seed * 1000003 + idx * 1000 + i;
                char unit[64];
                pid_t pid;

                /* numbered by launch order: two entries may share a name (an IDE and its helpers) */
                unit_name(unit, sizeof unit, e->name, l->n_children);
                if (l->n_children == CHILDREN_MAX) {
                        fprintf(stderr, "mgw-desktop: more than %d children\n", CHILDREN_MAX);
                        return;
                }
                pid = fork();
                if (pid < 0) {
                        fprintf(stderr, "mgw-desktop: fork for %s: %m\n", e->name);
                        continue;
                }
                if (pid == 0)
                        child_exec(l, e, i, seed, unit);
                l->children[l->n_children++] = (Child) { .pid = pid };
                strcpy(l->children[l->n_children - 1].name, e->name);
                event(l, "start %d %s %s", (int) pid, l->scopes || l->cgroup_parent ? unit : "-", e->name);
        }
}

static size_t reap(Launcher *l) {
        size_t live = 0;
        int status;
        pid_t pid;

        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                for (size_t k = 0; k < l->n_children; k++) {
                        Child *c = &l->children[k];
                        if (c->pid != pid || c->done)
                                continue;
                        c->done = true;
                        if (WIFSIGNALED(status))
                                event(l, "exit %d signal:%d %s", (int) pid, WTERMSIG(status), c->name);
                        else
                                event(l, "exit %d exit:%d %s", (int) pid, WEXITSTATUS(status), c->name);
                }
        for (size_t k = 0; k < l->n_children; k++)
                live += !l->children[k].done;
        return live;
}

static void signal_all(Launcher *l, int sig) {
        for (size_t k = 0; k < l->n_children; k++)
                if (!l->children[k].done)
                        (void) kill(l->children[k].pid, sig);
}

/* Wait up to usec for children, reading SIGCHLD from the signalfd; returns how many still live. */
static size_t wait_children(Launcher *l, int sfd, usec_t usec) {
        usec_t end = wl_now() + usec;
        size_t live;

        while ((live = reap(l)) > 0 && wl_now() < end) {
                struct pollfd p = { .fd = sfd, .events = POLLIN };
                struct signalfd_siginfo si;
                if (poll(&p, 1, (int) ((end - wl_now()) / USEC_PER_MSEC) + 1) > 0)
                        (void) !read(sfd, &si, sizeof si);
        }
        return live;
}

static void stop_all(Launcher *l, int sfd) {
        event(l, "launcher stopping");
        /* SIGCONT first: a SIGSTOPped child would not act on SIGINT (mgw-app's clean stop) */
        signal_all(l, SIGCONT);
        signal_all(l, SIGINT);
        if (wait_children(l, sfd, 10 * USEC_PER_SEC) > 0) {
                /* a cgroup-frozen child acts on SIGKILL only */
                signal_all(l, SIGKILL);
                (void) wait_children(l, sfd, 10 * USEC_PER_SEC);
        }
}

static int run(Launcher *l, int sfd) {
        bool launched[ENTRIES_MAX] = {};
        usec_t start = wl_now();

        event(l, "launcher start");
        for (;;) {
                uint64_t elapsed = (wl_now() - start) / USEC_PER_MSEC, next = UINT64_MAX;
                struct signalfd_siginfo si;
                struct pollfd p = { .fd = sfd, .events = POLLIN };

                for (size_t k = 0; k < l->n_entries; k++) {
                        if (!launched[k] && l->entries[k].at_ms <= elapsed) {
                                launch(l, k);
                                launched[k] = true;
                        }
                        if (!launched[k])
                                next = MIN(next, l->entries[k].at_ms);
                }
                if (reap(l) == 0 && next == UINT64_MAX)
                        break;
                if (poll(&p, 1, next == UINT64_MAX ? -1 : (int) (next - elapsed)) <= 0)
                        continue;
                if (read(sfd, &si, sizeof si) != sizeof si || si.ssi_signo == SIGCHLD)
                        continue;
                stop_all(l, sfd);
                break;
        }
        event(l, "launcher stop");
        return 0;
}

/*
 * The gid and home of l->uid, read from /etc/passwd directly: a static binary cannot load glibc's
 * NSS modules, and the guests keep their users in that file.
 */
static int passwd_lookup(Launcher *l) {
        _cleanup_fclose_ FILE *f = fopen("/etc/passwd", "re");
        char line[1024];

        if (!f)
                return -errno;
        while (fgets(line, sizeof line, f)) {
                char *field[7], *p = line;
                unsigned uid, gid;
                size_t n = 0;

                line[strcspn(line, "\n")] = '\0';
                /* strsep, not strtok: empty fields (no password) must keep their place */
                while (n < ELEMENTSOF(field) && (field[n] = strsep(&p, ":")))
                        n++;
                if (n < 7 || sscanf(field[2], "%u", &uid) != 1 || uid != l->uid ||
                    sscanf(field[3], "%u", &gid) != 1)
                        continue;
                l->gid = (gid_t) gid;
                l->home = strdup(field[5]);
                return l->home ? 0 : -ENOMEM;
        }
        return -ENOENT;
}

static void usage(void) {
        fprintf(stderr, "usage: mgw-desktop -f SPEC -b BINDIR -e EVENTS [-r RESULTS] [-u UID] [-S | -c CGROUP_PARENT]\n"
                        "                   [-s SEED]\n");
        exit(2);
}

int main(int argc, char **argv) {
        static Launcher l = { .results = ".", .seed = 1, .events_fd = -1 };
        const char *spec = NULL;
        _cleanup_close_ int sfd = -1;
        sigset_t mask;
        int c;

        while ((c = getopt(argc, argv, "f:b:e:r:u:Sc:s:")) >= 0)
                switch (c) {
                case 'f': spec = optarg; break;
                case 'b': l.bindir = optarg; break;
                case 'e': l.events = optarg; break;
                case 'r': l.results = optarg; break;
                case 'u': l.uid = (uid_t) wl_opt_u64("mgw-desktop", c, optarg, 0, 65534); break;
                case 'S': l.scopes = true; break;
                case 'c': l.cgroup_parent = optarg; break;
                case 's': l.seed = wl_opt_u64("mgw-desktop", c, optarg, 0, UINT64_MAX / 2000006); break;
                default: usage();
                }
        if (!spec || !l.bindir || !l.events || optind != argc || (l.scopes && l.cgroup_parent))
                usage();
        if (l.uid != 0 && passwd_lookup(&l) < 0) {
                fprintf(stderr, "mgw-desktop: no usable /etc/passwd entry for uid %u\n", (unsigned) l.uid);
                return 2;
        }
        if (load_spec(&l, spec) < 0)
                return 2;
        l.events_fd = open(l.events, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (l.events_fd < 0) {
                fprintf(stderr, "mgw-desktop: cannot open %s: %m\n", l.events);
                return 1;
        }
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 || (sfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0) {
                fprintf(stderr, "mgw-desktop: signalfd: %m\n");
                return 1;
        }
        return run(&l, sfd);
}
