/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgd-thaw: the unit's ExecStopPost=. Whatever way mgd ended (stopped, crashed, killed), this
 * thaws the processes its registry still lists as frozen, but only those whose pid + starttime
 * still match (a pid reused by another process is never signalled) and, for cgroup freezes, whose
 * cgroup still holds them; and it writes back the cgroup settings mgd changed (CPU throttling,
 * memory caps: <state_dir>/cgroups). It runs the code the daemon runs at start-up.
 *
 * It must not run while mgd runs (systemd runs ExecStopPost= after the main process is gone).
 *
 * Exit status: 0 nothing mgd froze is left frozen (the file is removed, or kept with checkpoint
 * entries only) and no cgroup setting is left changed; 1 the registry or the cgroup state could
 * not be used (a damaged one is moved aside as NAME.corrupt-TIME and the rest is still done),
 * or the state directory is not the user's alone (refused), a line of either was malformed, a
 * process that still matched could not be thawed or a setting could not be written back (the
 * message names it; that entry stays in its file); 2 usage error.
 */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "common/macro.h"
#include "common/procscan.h"
#include "common/statefile.h"
#include "daemon/cgstate.h"
#include "daemon/pidref.h"
#include "daemon/registry.h"

static const char *arg_cgroup2_root;
static const char *arg_session[SCAN_SESSION_PATTERNS_MAX];
static size_t arg_n_session;

typedef struct ThawReport {
        const char *path;
        unsigned bad;
} ThawReport;

static const char *clean_name(const char *s, char *buf, size_t size) {
        size_t i;

        for (i = 0; s[i] && i + 1 < size; i++)
                buf[i] = (unsigned char) s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
        buf[i] = '\0';
        return buf;
}

static void on_bad_line(unsigned line, const char *what, void *userdata) {
        ThawReport *rep = userdata;

        fprintf(stderr, "mgd-thaw: %s:%u: %s, line ignored\n", rep->path, line, what);
        rep->bad++;
}

static void on_thaw(const RegistryEntry *e, int result, const char *what, void *userdata) {
        char name[CAND_NAME_MAX];

        clean_name(e->name, name, sizeof(name));
        if (result == 0)
                printf("mgd-thaw: thawed pid %d (%s, %s)\n", (int) e->pid, name,
                       registry_how_to_string(e->how));
        else if (result == -ESRCH || result == -ENOENT)
                printf("mgd-thaw: pid %d (%s) is gone or no longer the process mgd froze (%s), "
                       "not touched\n", (int) e->pid, name, what);
        else
                fprintf(stderr, "mgd-thaw: failed to thaw pid %d (%s): %s: %s\n", (int) e->pid, name,
                        what, strerror(-result));
}

static void on_restore(const CgEntry *e, CgFile f, int result, void *userdata) {
        if (result == -EPERM)
                fprintf(stderr, "mgd-thaw: not restoring %s of %s: not an app scope of this session\n",
                        cgfile_name(f), e->path);
        else if (result == 0)
                printf("mgd-thaw: restored %s of %s to %s\n", cgfile_name(f), e->path, e->orig[f]);
        else if (result == -ENOENT)
                printf("mgd-thaw: %s is gone, nothing to restore\n", e->path);
        else
                fprintf(stderr, "mgd-thaw: cannot restore %s of %s: %s\n", cgfile_name(f), e->path,
                        strerror(-result));
}

static void on_bad_cg_line(unsigned line, const char *what, void *userdata) {
        ThawReport *rep = userdata;

        fprintf(stderr, "mgd-thaw: %s/%s:%u: %s, line ignored\n", rep->path, CGSTATE_FILE, line, what);
        rep->bad++;
}

/* A state file that cannot be used is moved aside, so neither mgd-thaw nor mgd trips on it again. */
static void set_aside(const char *dir, const char *name, const char *reason) {
        char path[PATH_MAX + 16], aside[PATH_MAX];
        int r;

        (void) snprintf(path, sizeof(path), "%s/%s", dir, name);
        r = statefile_quarantine(path, time(NULL), aside, sizeof(aside));
        if (r < 0)
                fprintf(stderr, "mgd-thaw: %s is damaged (%s) and cannot be moved aside: %s\n", path, reason,
                        strerror(-r));
        else
                fprintf(stderr, "mgd-thaw: %s is damaged (%s): moved aside as %s\n", path, reason, aside);
}

/* The cgroup settings a dead mgd left changed: 0 all restored, > 0 something is left. */
static int restore_cgroups(const char *dir, const char *cg2, ThawReport *rep) {
        CgState *s = NULL;
        int r, failed;

        r = cgstate_new(dir, &s);
        if (r >= 0 && arg_n_session > 0)
                r = cgstate_set_session(s, arg_session, arg_n_session);
        if (r >= 0)
                r = cgstate_load(s, on_bad_cg_line, rep);
        if (r < 0 && r != -ENOMEM && s)
                set_aside(dir, CGSTATE_FILE, r == -EINVAL ? "not an mgd cgroup state file" :
                          r == -EPROTONOSUPPORT ? "another version" : statefile_strerror(r));
        else if (r < 0)
                fprintf(stderr, "mgd-thaw: cannot read %s/%s: %s\n", dir, CGSTATE_FILE, strerror(-r));
        if (r < 0) {
                cgstate_free(s);
                return 1;
        }
        failed = cg2 ? cgstate_restore_all(s, cg2, on_restore, NULL) : (int) cgstate_size(s);
        r = cgstate_persist(s);
        cgstate_free(s);
        if (r < 0) {
                fprintf(stderr, "mgd-thaw: cannot update %s/%s: %s\n", dir, CGSTATE_FILE, strerror(-r));
                return 1;
        }
        return failed;
}


static int parse_argv(int argc, char *argv[], const char **ret_dir) {
        static const struct option options[] = {
                { "state-dir", required_argument, NULL, 'd' },
                { "cgroup2-root", required_argument, NULL, 'c' },
                { "session", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'd':
                        *ret_dir = optarg;
                        break;
                case 'c':
                        arg_cgroup2_root = optarg;
                        break;
                case 's':
                        if (arg_n_session >= SCAN_SESSION_PATTERNS_MAX || !*optarg || strchr(optarg, '/')) {
                                fprintf(stderr, "mgd-thaw: --session takes one cgroup path component "
                                        "(at most %d), got '%s'\n", SCAN_SESSION_PATTERNS_MAX, optarg);
                                return -EINVAL;
                        }
                        arg_session[arg_n_session++] = optarg;
                        break;
                case 'h':
                        printf("Usage: %s [--state-dir DIR] [--cgroup2-root DIR] [--session PATTERN]\n"
                               "Thaw the processes a stopped mgd left frozen (default DIR:\n"
                               "$XDG_STATE_HOME/mgd, or ~/.local/state/mgd).\n",
                               program_invocation_short_name);
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "mgd-thaw: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

/* As mgd's: what the directory holds is acted on, so it must be ours alone (see mgd(8)). */
static int state_dir_check(const char *dir) {
        const char *what;
        struct stat st;
        int r;

        r = statedir_check(dir, geteuid(), &what);
        if (r == -ENOENT)
                return 0;       /* nothing was ever left there */
        if (r == -EPERM && geteuid() == 0 && stat(dir, &st) >= 0)
                fprintf(stderr, "mgd-thaw: running as root and the state directory %s is owned by uid %u: "
                        "refusing to act on a state directory root does not own\n", dir,
                        (unsigned) st.st_uid);
        else if (r < 0)
                fprintf(stderr, "mgd-thaw: the state directory %s %s; refusing to act on it\n", dir, what);
        return r;
}

static int run(const char *dir) {
        _cleanup_registry_ Registry *reg = NULL;
        char path[PATH_MAX + 16], cg2[PATH_MAX];
        ThawReport rep = { .path = path };
        ProcRoots roots = { .proc = "/proc" };
        int r, failed;

        r = state_dir_check(dir);
        if (r < 0)
                return 1;
        r = registry_new(dir, &reg);
        if (r < 0) {
                fprintf(stderr, "mgd-thaw: bad state directory '%s': %s\n", dir, strerror(-r));
                return 1;
        }
        (void) snprintf(path, sizeof(path), "%s/%s", dir, REGISTRY_FILE);

        r = registry_load(reg, on_bad_line, &rep);
        if (r == -ENOMEM) {
                fprintf(stderr, "mgd-thaw: cannot read %s: %s\n", path, strerror(-r));
                return 1;
        }
        if (r < 0) {
                set_aside(dir, REGISTRY_FILE, registry_load_strerror(r));
                rep.bad++;      /* what it named cannot be known: say so in the exit status */
        }
        /* Without cgroup2, cgroup entries fail (and are kept): nothing else could thaw them. */
        if (arg_cgroup2_root)
                roots.cgroup2 = arg_cgroup2_root;
        else if (cgroup2_root_detect(cg2, sizeof(cg2)) >= 0)
                roots.cgroup2 = cg2;

        failed = registry_thaw_all(reg, &roots, on_thaw, NULL);
        r = registry_size(reg) == 0 ? registry_unlink(reg) : registry_persist(reg);
        if (r < 0) {
                fprintf(stderr, "mgd-thaw: cannot update %s: %s\n", path, strerror(-r));
                return 1;
        }
        rep.path = dir;
        failed += restore_cgroups(dir, roots.cgroup2, &rep);
        return failed > 0 || rep.bad > 0 ? 1 : 0;
}

int main(int argc, char *argv[]) {
        const char *dir = NULL;
        char buf[PATH_MAX];
        int r;

        r = parse_argv(argc, argv, &dir);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        if (!dir) {
                r = registry_default_dir(buf, sizeof(buf));
                if (r < 0) {
                        fprintf(stderr, "mgd-thaw: no state directory: set $XDG_STATE_HOME or $HOME, "
                                "or pass --state-dir\n");
                        return 2;
                }
                dir = buf;
        }
        if (dir[0] != '/') {
                fprintf(stderr, "mgd-thaw: --state-dir needs an absolute path, not '%s'\n", dir);
                return 2;
        }
        return run(dir);
}
