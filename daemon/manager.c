/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The manager: start-up (configuration, roots, registry recovery, self-test, mlockall), the
 * event loop's sources (signals, tick timer, PSI triggers, control socket) and shutdown, which
 * thaws everything mgd froze before it exits.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "build-config.h"
#include "common/statefile.h"
#include "daemon/cgroups.h"
#include "daemon/config.h"
#include "daemon/ctl.h"
#include "daemon/executor.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/privileged.h"
#include "daemon/registry.h"
#include "daemon/sense.h"

static void config_warn(const char *message, void *userdata) {
        log_warning("%s", message);
}

static int manager_config_paths(const ManagerOptions *o, ConfigPaths *p) {
        int r = config_paths_default(p);

        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Cannot work out the configuration paths: %m");
        if (o->config_system)
                (void) snprintf(p->system, sizeof p->system, "%s", o->config_system);
        if (o->config_user)
                (void) snprintf(p->user, sizeof p->user, "%s", o->config_user);
        return 0;
}

/* Load into *ret; on failure *ret is untouched and err holds "file:line: reason". */
static int manager_load_config(const ManagerOptions *o, PolicyConfig *ret, char *err, size_t errsize) {
        ConfigPaths paths;
        ConfigError cerr = {};
        int r;

        r = manager_config_paths(o, &paths);
        if (r < 0)
                return r;
        r = config_load(&paths, ret, &cerr, config_warn, NULL);
        if (r < 0)
                (void) snprintf(err, errsize, "%s", cerr.message[0] ? cerr.message : strerror(-r));
        return r;
}

int manager_check_config(const ManagerOptions *opt) {
        PolicyConfig c = {};
        char err[CONFIG_ERROR_MAX];
        int r;

        r = manager_load_config(opt, &c, err, sizeof err);
        if (r < 0) {
                fprintf(stderr, "mgd: configuration refused: %s\n", err);
                return r;
        }
        printf("configuration ok: %zu rules\n", c.n_rules);
        config_free(&c);
        return 0;
}

int manager_reload(Manager *m, char *err, size_t errsize) {
        PolicyConfig c = {};
        int r;

        r = manager_load_config(&m->opt, &c, err, errsize);
        if (r < 0) {
                log_error("Configuration reload refused, keeping the running configuration: %s", err);
                (void) snprintf(m->last_reload_error, sizeof m->last_reload_error, "%s", err);
                return r;
        }
        config_free(&m->config);
        m->config = c;
        m->filter.want_exe = config_uses_match(&m->config, MATCH_EXE);
        m->filter.want_cmdline = config_uses_match(&m->config, MATCH_CMDLINE);
        policy_state_reconfigure(m->ps, &m->config);
        m->last_reload_error[0] = '\0';
        manager_trace_config(m);
        manager_hibernate_setup(m);
        log_info("Configuration reloaded: %zu rules", m->config.n_rules);
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        char err[CONFIG_ERROR_MAX];

        if (si->ssi_signo == SIGHUP) {
                (void) sd_notify(0, "RELOADING=1");
                (void) manager_reload(m, err, sizeof err);
                (void) sd_notify(0, "READY=1");
                return 0;
        }
        log_info("Received %s, thawing everything and exiting", strsignal((int) si->ssi_signo));
        m->exiting = true;
        return sd_event_exit(m->event, 0);
}

static void thaw_report(const RegistryEntry *e, int result, const char *what, void *userdata) {
        Manager *m = userdata;
        ActionRecord a = {
                .action = "thaw", .pid = e->pid, .comm = e->name, .priority = e->priority,
                .level = level_to_string(m->level), .score = m->score.p,
                .footprint_kb = e->footprint_kb, .method = registry_how_to_string(e->how),
                .reason = m->exiting ? "shutdown" : "recovery of a previous run",
        };
        char res[128];

        if (result == 0)
                a.result = "ok";
        else {
                (void) snprintf(res, sizeof res, "%s: %s", what ?: "thaw", strerror(-result));
                a.result = res;
        }
        log_action(&a);
}

/*
 * What is in the state directory is acted on (thawed, written back to cgroups): it must be ours
 * alone, as the runtime directory must. Root refusing a user's directory is the case that
 * matters: that user could otherwise have root resume or write whatever the files name.
 */
static int state_dir_prepare(const char *dir) {
        const char *what;
        struct stat st;
        int r;

        r = mkdir_p(dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Cannot create the state directory %s: %m", dir);
        r = statedir_check(dir, geteuid(), &what);
        if (r == -EPERM && geteuid() == 0 && stat(dir, &st) >= 0)
                return log_error_errno(r, "mgd runs as root and the state directory %s is owned by uid %u: "
                                       "refusing to manage processes from a state directory root does not "
                                       "own (pass --state-dir a root-owned directory of mode 0700)",
                                       dir, (unsigned) st.st_uid);
        if (r < 0)
                return log_error_errno(r, "The state directory %s %s; refusing to use it: %m", dir, what);
        return 0;
}

static int manager_state(Manager *m) {
        int r;

        if (m->opt.state_dir)
                (void) snprintf(m->state_dir, sizeof m->state_dir, "%s", m->opt.state_dir);
        else {
                r = registry_default_dir(m->state_dir, sizeof m->state_dir);
                if (r < 0)
                        return log_error_errno(r, "No state directory: neither $XDG_STATE_HOME nor $HOME is set: %m");
        }
        r = state_dir_prepare(m->state_dir);
        if (r < 0)
                return r;
        r = registry_new(m->state_dir, &m->registry);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the registry in %s: %m", m->state_dir);
        if (m->opt.dry_run)
                registry_set_memory_only(m->registry);
        return 0;
}

static void bad_registry_line(unsigned line, const char *what, void *userdata) {
        Manager *m = userdata;
        log_warning("%s/%s:%u: %s, ignoring the line", m->state_dir, REGISTRY_FILE, line, what);
}

/* A previous mgd that died with processes frozen left them in the registry: thaw them now. */
static int manager_recover_leftovers(Manager *m) {
        int r;

        r = registry_load(m->registry, bad_registry_line, m);
        if (r == -ENOMEM)
                return log_error_errno(r, "Cannot read %s/%s: %m", m->state_dir, REGISTRY_FILE);
        if (r < 0)
                log_state_set_aside(m->state_dir, REGISTRY_FILE, r, registry_load_strerror(r));
        if (registry_size(m->registry) == 0)
                return 0;
        if (m->opt.dry_run) {
                log_notice("A previous mgd left %zu process(es) frozen; this is a dry run, so they stay as they "
                           "are (mgd-thaw thaws them)", registry_size(m->registry));
                while (registry_size(m->registry) > 0) {
                        const RegistryEntry *e = registry_entry(m->registry, 0);

                        (void) registry_remove(m->registry, e->pid, e->starttime);
                }
                return 0;
        }
        log_notice("Thawing %zu process(es) a previous mgd left frozen", registry_size(m->registry));
        r = registry_thaw_leftovers(m->registry, executor_roots(m->executor), thaw_report, m);
        if (r < 0)
                return log_error_errno(r, "Cannot persist the registry after recovery: %m");
        return 0;
}

/*
 * Touch the stack and every file the pressure path reads, so mlockall() locks pages that are
 * really used and the first tick under pressure faults nothing in.
 */
static int manager_selftest(Manager *m) {
        volatile char stack[64 * 1024];
        int r;

        memset((char *) stack, 0, sizeof stack);
        r = sense_observe(m, now_usec(CLOCK_MONOTONIC), &m->obs);
        if (r < 0)
                return r;
        return manager_scan(m);
}

/*
 * MCL_FUTURE makes every later mapping count against RLIMIT_MEMLOCK, so with a small limit an
 * allocation would fail instead of paging: lock the future only when the limit is unlimited or
 * comfortably larger than what mgd maps, otherwise lock what is mapped now and say so.
 */
static void manager_mlock(Manager *m) {
        struct rlimit rl;
        int flags = MCL_CURRENT | MCL_ONFAULT;

        if (m->opt.no_mlock)
                return;
        if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
            (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= 256ULL * 1024 * 1024))
                flags |= MCL_FUTURE;
        if (mlockall(flags) < 0 && mlockall(flags & ~MCL_ONFAULT) < 0) {
                log_warning_errno(errno, "Cannot lock mgd's memory (RLIMIT_MEMLOCK %llu): %m; "
                                  "it may be paged out under pressure",
                                  (unsigned long long) rl.rlim_cur);
                return;
        }
        if (!(flags & MCL_FUTURE))
                log_info("Locked current memory only: RLIMIT_MEMLOCK is %llu bytes",
                         (unsigned long long) rl.rlim_cur);
}

/* mkdir -p of every ancestor of path (not path itself), each new one 0700. */
static int mkdir_parents_0700(const char *path) {
        char buf[PATH_MAX];

        if (snprintf(buf, sizeof buf, "%s", path) >= (int) sizeof buf)
                return -ENAMETOOLONG;
        for (char *p = strchr(buf + 1, '/'); p; p = strchr(p + 1, '/')) {
                *p = '\0';
                if (mkdir(buf, 0700) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        return 0;
}

static int action_log_open_dir(Manager *m) {
        char dir[PATH_MAX];

        if (snprintf(dir, sizeof dir, "%s/log", m->state_dir) >= (int) sizeof dir)
                return -ENAMETOOLONG;
        (void) mkdir_parents_0700(dir);
        return action_log_open(dir, m->config.log_keep);
}

/*
 * The scan keeps two /proc files open per managed process, which costs far less than opening
 * them every tick. mgd uses no select(), so the soft RLIMIT_NOFILE (1024 under systemd) may be
 * raised to the hard limit; the cache gets what is left after a reserve for sockets and helpers.
 */
static size_t manager_fd_budget(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 0;
        if (rl.rlim_cur < rl.rlim_max) {
                struct rlimit want = { .rlim_cur = MIN(rl.rlim_max, (rlim_t) 65536), .rlim_max = rl.rlim_max };
                if (setrlimit(RLIMIT_NOFILE, &want) >= 0)
                        rl = want;
        }
        if (rl.rlim_cur == RLIM_INFINITY)
                return 2 * MANAGER_PROCS_MAX;
        return rl.rlim_cur > 256 ? MIN((size_t) rl.rlim_cur - 256, (size_t) 2 * MANAGER_PROCS_MAX) : 0;
}

static int manager_alloc(Manager *m) {
        m->procs = calloc(MANAGER_PROCS_MAX, sizeof *m->procs);
        m->cands = calloc(MANAGER_PROCS_MAX, sizeof *m->cands);
        m->held = calloc(REGISTRY_MAX, sizeof *m->held);
        m->acts = calloc(MANAGER_ACTS_MAX, sizeof *m->acts);
        m->ps = calloc(1, sizeof *m->ps);
        if (!m->procs || !m->cands || !m->held || !m->acts || !m->ps)
                return log_error_errno(-ENOMEM, "Out of memory");
        /* calloc()'s zeroes are the initial state of the trackers: no aggressor_init()/spike_init(),
         * whose memset would make all 250 KiB of them resident before the first incident needs a
         * page; policy_state_init() touches only the small fields */
        return scan_cache_new(manager_fd_budget(), &m->scan_cache);
}

static int manager_roots(Manager *m) {
        struct statfs sfs;
        int r;

        if (m->opt.cgroup2_root)
                (void) snprintf(m->cgroup2_root, sizeof m->cgroup2_root, "%s", m->opt.cgroup2_root);
        else {
                r = cgroup2_root_detect(m->cgroup2_root, sizeof m->cgroup2_root);
                if (r < 0) {
                        log_info_errno(r, "No cgroup2 mount found (%m): freezing with SIGSTOP only");
                        m->cgroup2_root[0] = '\0';
                }
        }
        m->real_proc = statfs(m->opt.proc_root, &sfs) >= 0 && sfs.f_type == PROC_SUPER_MAGIC;
        scan_filter_default(&m->filter, getuid(), getpid());
        if (m->opt.n_session > 0) {
                for (size_t i = 0; i < m->opt.n_session; i++)
                        m->filter.session[i] = m->opt.session[i];
                m->filter.n_session = m->opt.n_session;
        }
        m->filter.exclude_ppid = getpid();
        m->filter.want_exe = config_uses_match(&m->config, MATCH_EXE);
        m->filter.want_cmdline = config_uses_match(&m->config, MATCH_CMDLINE);
        return 0;
}

static int manager_sources(Manager *m) {
        sigset_t ss;
        int r;

        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return log_error_errno(errno, "Cannot block signals: %m");
        (void) signal(SIGPIPE, SIG_IGN);
        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP, on_signal, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch signals: %m");
        (void) sd_event_set_watchdog(m->event, true);
        return 0;
}

int manager_new(const ManagerOptions *opt, Manager **ret) {
        _cleanup_free_ Manager *m = calloc(1, sizeof *m);
        char err[CONFIG_ERROR_MAX];
        int r;

        if (!m)
                return log_error_errno(-ENOMEM, "Out of memory");
        m->opt = *opt;
        r = manager_load_config(opt, &m->config, err, sizeof err);
        if (r < 0) {
                log_error("Configuration refused: %s", err);
                return -EINVAL;
        }
        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Cannot create the event loop: %m");
        r = manager_alloc(m);
        if (r >= 0)
                r = manager_roots(m);
        if (r >= 0)
                r = manager_state(m);
        if (r >= 0)
                manager_history_start(m);
        if (r >= 0)
                r = executor_new(m->event, opt->proc_root, m->cgroup2_root[0] ? m->cgroup2_root : NULL,
                                 m->config.term_grace_usec, &m->executor);
        if (r >= 0) {
                r = cgacts_new(m->event, m->cgroup2_root, m->state_dir, m->opt.dry_run, &m->cgacts);
                if (r >= 0)
                        r = cgacts_set_session(m->cgacts, m->filter.session, m->filter.n_session);
                if (r < 0)
                        log_error_errno(r, "Cannot set up the cgroup actuators: %m");
        }
        if (r < 0) {
                manager_free(TAKE_PTR(m));
                return r;
        }
        m->ps_init_at = now_usec(CLOCK_MONOTONIC);
        policy_state_init(m->ps, &m->config, m->ps_init_at);
        r = manager_sources(m);
        if (r >= 0)
                r = manager_ctl_start(m);
        if (r >= 0)
                r = manager_recover_leftovers(m);
        if (r >= 0)
                (void) cgacts_recover(m->cgacts);
        if (r >= 0)
                manager_hibernate_setup(m);
        if (r >= 0)
                r = manager_bus_start(m);
        if (r >= 0)
                r = sense_setup(m);
        if (r >= 0)
                r = privileged_start(m);
        if (r >= 0)
                r = manager_selftest(m);
        if (r < 0) {
                manager_free(TAKE_PTR(m));
                return r;
        }
        (void) action_log_open_dir(m);
        r = manager_trace_open(m);
        if (r < 0) {
                manager_free(TAKE_PTR(m));
                return r;
        }
        /* start-up's transient allocations (configuration, first scan) go back before locking */
        (void) malloc_trim(0);
        manager_mlock(m);
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        manager_history_stop(m);
        manager_trace_close(m);
        privileged_stop(m);
        sense_teardown(m);
        m->tick_timer = sd_event_source_disable_unref(m->tick_timer);
        m->ctl = ctl_server_free(m->ctl);
        m->executor = executor_free(m->executor);
        m->cgacts = cgacts_free(m->cgacts);
        manager_hibernate_teardown(m);
        manager_bus_stop(m);
        m->registry = registry_free(m->registry);
        config_free(&m->config);
        action_log_close();
        sd_event_unref(m->event);
        free(m->procs);
        free(m->cands);
        free(m->held);
        free(m->acts);
        free(m->ps);
        scan_cache_free(m->scan_cache);
        free(m);
        return NULL;
}

/* SIGTERM/SIGINT: thaw every process mgd holds, persist the now empty registry, exit. */
static void manager_shutdown(Manager *m) {
        int r;

        m->exiting = true;
        if (m->opt.dry_run) {
                /* nothing was frozen, throttled or capped: what is held is only as if */
                log_info("Dry run: %zu process(es) would be thawed", registry_size(m->registry));
                (void) cgacts_restore_all(m->cgacts);
                return;
        }
        r = registry_thaw_all(m->registry, executor_roots(m->executor), thaw_report, m);
        if (r > 0)
                log_error("%d process(es) could not be thawed; mgd-thaw will retry", r);
        r = registry_persist(m->registry);
        if (r < 0)
                log_error_errno(r, "Cannot persist the registry at shutdown: %m");
        r = cgacts_restore_all(m->cgacts);
        if (r > 0)
                log_error("%d cgroup setting(s) could not be restored; mgd-thaw will retry", r);
}

int manager_run(Manager *m) {
        int r;

        log_info("mgd %s running: %zu rules, level %s%s", PACKAGE_VERSION, m->config.n_rules,
                 level_to_string(m->level), m->opt.dry_run ? ", dry run (nothing is signalled or written)" : "");
        manager_schedule_tick(m, 0);
        (void) sd_notify(0, "READY=1\nSTATUS=level normal");
        r = sd_event_loop(m->event);
        (void) sd_notify(0, "STOPPING=1");
        manager_shutdown(m);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return 0;
}
