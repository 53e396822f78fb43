/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgd: the unprivileged policy daemon. Parses the command line and hands over to the manager.
 * Exit status (mgd(8)): 0 clean exit; 1 runtime failure; 2 usage or configuration error;
 * 3 another mgd already serves the socket; 4 the environment lacks what mgd needs (PSI, a
 * private runtime directory).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/manager.h"

#define EXIT_USAGE 2
#define EXIT_RUNNING 3
#define EXIT_ENVIRONMENT 4

static void help(void) {
        printf("Usage: mgd [OPTIONS]\n\n"
               "Userspace memory-pressure manager for the desktop session (see mgd(8)).\n\n"
               "  -n, --dry-run              sense and decide, log what would be done, signal nothing\n"
               "  -v, --verbose              debug logging\n"
               "      --check-config         load the configuration, report errors, exit\n"
               "      --config FILE          the user configuration file\n"
               "      --system-config FILE   the system configuration file\n"
               "      --state-dir DIR        registry and action logs ($XDG_STATE_HOME/mgd)\n"
               "      --socket PATH          control socket ($XDG_RUNTIME_DIR/mgd.sock)\n"
               "      --session PATTERN      cgroup path component of the managed session\n"
               "                             (repeatable; default user@UID.service, user-UID.slice)\n"
               "      --pressure-cgroup DIR  cgroup2 directory whose memory.pressure to watch\n"
               "      --proc-root DIR        /proc\n"
               "      --pressure-root DIR    read pressure/memory, meminfo, vmstat here (default: --proc-root)\n"
               "      --sys-root DIR         /sys\n"
               "      --cgroup2-root DIR     the cgroup2 mount (default: detected)\n"
               "      --helper-dir DIR       where the helpers are (%s)\n"
               "      --no-helpers           do not start the privileged helpers\n"
               "      --no-mlock             do not lock mgd's memory\n"
               "      --trace FILE           record every tick's observation and decisions (policy/trace.h)\n"
               "      --version              print the version\n", MGD_LIBEXECDIR);
}

enum {
        ARG_CHECK_CONFIG = 0x100, ARG_CONFIG, ARG_SYSTEM_CONFIG, ARG_STATE_DIR, ARG_SOCKET,
        ARG_SESSION, ARG_PRESSURE_CGROUP, ARG_PRESSURE_ROOT, ARG_PROC_ROOT, ARG_SYS_ROOT, ARG_CGROUP2_ROOT,
        ARG_HELPER_DIR, ARG_NO_HELPERS, ARG_NO_MLOCK, ARG_TRACE, ARG_VERSION,
};

static int parse_argv(int argc, char **argv, ManagerOptions *o, bool *check_only) {
        static const struct option options[] = {
                { "dry-run", no_argument, NULL, 'n' },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "system-config", required_argument, NULL, ARG_SYSTEM_CONFIG },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "session", required_argument, NULL, ARG_SESSION },
                { "pressure-cgroup", required_argument, NULL, ARG_PRESSURE_CGROUP },
                { "proc-root", required_argument, NULL, ARG_PROC_ROOT },
                { "pressure-root", required_argument, NULL, ARG_PRESSURE_ROOT },
                { "sys-root", required_argument, NULL, ARG_SYS_ROOT },
                { "cgroup2-root", required_argument, NULL, ARG_CGROUP2_ROOT },
                { "helper-dir", required_argument, NULL, ARG_HELPER_DIR },
                { "no-helpers", no_argument, NULL, ARG_NO_HELPERS },
                { "no-mlock", no_argument, NULL, ARG_NO_MLOCK },
                { "trace", required_argument, NULL, ARG_TRACE },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "nvh", options, NULL)) >= 0)
                switch (c) {
                case 'n': o->dry_run = true; break;
                case 'v': log_set_max_level(LOG_DEBUG); break;
                case 'h': help(); return 0;
                case ARG_VERSION: printf("mgd %s\n", PACKAGE_VERSION); return 0;
                case ARG_CHECK_CONFIG: *check_only = true; break;
                case ARG_CONFIG: o->config_user = optarg; break;
                case ARG_SYSTEM_CONFIG: o->config_system = optarg; break;
                case ARG_STATE_DIR: o->state_dir = optarg; break;
                case ARG_SOCKET: o->socket_path = optarg; break;
                case ARG_SESSION:
                        if (o->n_session >= SCAN_SESSION_PATTERNS_MAX) {
                                fprintf(stderr, "mgd: at most %d --session patterns\n", SCAN_SESSION_PATTERNS_MAX);
                                return -EINVAL;
                        }
                        if (!*optarg || strchr(optarg, '/') || strlen(optarg) >= 64) {
                                fprintf(stderr, "mgd: --session takes one cgroup path component, got '%s'\n", optarg);
                                return -EINVAL;
                        }
                        o->session[o->n_session++] = optarg;
                        break;
                case ARG_PRESSURE_CGROUP: o->pressure_cgroup = optarg; break;
                case ARG_PROC_ROOT: o->proc_root = optarg; break;
                case ARG_PRESSURE_ROOT: o->pressure_root = optarg; break;
                case ARG_SYS_ROOT: o->sys_root = optarg; break;
                case ARG_CGROUP2_ROOT: o->cgroup2_root = optarg; break;
                case ARG_HELPER_DIR: o->helper_dir = optarg; break;
                case ARG_NO_HELPERS: o->no_helpers = true; break;
                case ARG_NO_MLOCK: o->no_mlock = true; break;
                case ARG_TRACE: o->trace_path = optarg; break;
                default: return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "mgd: unexpected argument '%s' (see --help)\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

int main(int argc, char **argv) {
        ManagerOptions opt = { .proc_root = "/proc", .sys_root = "/sys" };
        Manager *m = NULL;
        bool check_only = false;
        int r;

        log_setup();
        r = parse_argv(argc, argv, &opt, &check_only);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_SUCCESS;

        if (check_only)
                return manager_check_config(&opt) < 0 ? EXIT_USAGE : EXIT_SUCCESS;

        r = manager_new(&opt, &m);
        if (r < 0) {
                switch (r) {
                case -EINVAL: case -EBADMSG: return EXIT_USAGE;
                case -EADDRINUSE: return EXIT_RUNNING;
                case -ENXIO: case -EACCES: case -EPERM: case -ENOENT: case -ENOTDIR:
                case -EOPNOTSUPP: return EXIT_ENVIRONMENT;
                default: return EXIT_FAILURE;
                }
        }
        r = manager_run(m);
        manager_free(m);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
