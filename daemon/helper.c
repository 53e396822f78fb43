/* SPDX-License-Identifier: GPL-2.0-only */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "build-config.h"
#include "common/privsep.h"
#include "common/readers.h"
#include "common/sandbox.h"
#include "daemon/helper.h"
#include "daemon/log.h"

#define HELPER_QUEUE_MAX 8
#define HELPER_BACKOFF_MIN (1 * USEC_PER_SEC)
#define HELPER_BACKOFF_MAX (60 * USEC_PER_SEC)
#define HELPER_ENV_MAX 8

/* Default deadlines: generous, but a hung helper must not hold a feature forever. */
#define TIMEOUT_PSI (2 * USEC_PER_SEC)
#define TIMEOUT_ZRAM (10 * USEC_PER_SEC)
#define TIMEOUT_SWAP (300 * USEC_PER_SEC)       /* swapoff decompresses every page it holds */
#define TIMEOUT_CHECKPOINT (60 * USEC_PER_SEC)  /* the helper gives criu 45 s */
#define TIMEOUT_PROBE (5 * USEC_PER_SEC)

typedef struct HelperSlot {
        ProtoRequest req;
        usec_t timeout;
        helper_reply_t cb;
        void *userdata;
} HelperSlot;

typedef struct Helper {
        HelperSet *set;
        HelperKind kind;
        int fd;                         /* our end of the socketpair, -1 when not running */
        int pidfd;
        pid_t pid;
        sd_event_source *io, *exited, *deadline, *respawn;
        HelperSlot queue[HELPER_QUEUE_MAX];
        size_t head, n;                 /* queue[head] is in flight when inflight */
        bool inflight;
        uint32_t seq;
        unsigned failures;              /* consecutive deaths, for the backoff */
        HelperGrant grant;
        bool told;                      /* the grant (or its absence) was logged */
} Helper;

struct HelperSet {
        sd_event *event;
        char dir[PATH_MAX];
        char proc_root[PATH_MAX];
        helper_grant_t on_grant;
        void *userdata;
        Helper helpers[_HELPER_KIND_MAX];
};

static const struct {
        const char *name;
        uint8_t types[3];               /* the requests it serves */
} helper_info[_HELPER_KIND_MAX] = {
        [HELPER_PSI] = { "mgd-psi-helper", { PROTO_PSI_ARM } },
        [HELPER_ZRAM] = { "mgd-zram-helper", { PROTO_ZRAM_COMPACT } },
        [HELPER_SWAP] = { "mgd-swap-helper", { PROTO_SWAP_RECLAIM } },
        [HELPER_CHECKPOINT] = { "mgd-checkpoint-helper",
                { PROTO_CHECKPOINT_DUMP, PROTO_CHECKPOINT_RESTORE, PROTO_CHECKPOINT_DISCARD } },
};

const char *helper_kind_name(HelperKind kind) {
        return kind < _HELPER_KIND_MAX ? helper_info[kind].name : "unknown helper";
}

const char *helper_exit_describe(int code, int status, char *buf, size_t size) {
        static const char *const exits[] = {
                [HELPER_EXIT_HANGUP] = "mgd hung up",
                [1] = "unspecified failure",
                [HELPER_EXIT_USAGE] = "usage: started wrongly, fd 3 is not its socket",
                [HELPER_EXIT_PROTOCOL] = "protocol violation: it refused a malformed request",
                [HELPER_EXIT_SANDBOX] = "it could not lock itself down",
                [HELPER_EXIT_FAILED] = "an operation failed in a way that needs attention",
        };
        const char *sig;

        if (code == CLD_EXITED) {
                if (status >= 0 && (size_t) status < ELEMENTSOF(exits))
                        (void) snprintf(buf, size, "exited with %d (%s)", status, exits[status]);
                else if (status == 127)
                        (void) snprintf(buf, size, "exited with 127 (could not be executed)");
                else
                        (void) snprintf(buf, size, "exited with %d", status);
                return buf;
        }
        if (code != CLD_KILLED && code != CLD_DUMPED) {
                (void) snprintf(buf, size, "ended (code %d, status %d)", code, status);
                return buf;
        }
        sig = sigabbrev_np(status);
        (void) snprintf(buf, size, "killed by SIG%s%s", sig ?: "?",
                        status == SIGSYS ? " (seccomp: a syscall outside its allowlist)" :
                        status == SIGKILL ? " (by mgd after a missed deadline or a bad reply, or by the OOM killer)" :
                        "");
        return buf;
}

/* criu: not installed, not executable for us, or without its two capabilities. */
static void helper_criu_fix(int error, char *buf, size_t size) {
        const char *criu = sandbox_criu_path();

        if (error == -ENOENT)
                (void) snprintf(buf, size, "install criu as %s (Debian: sudo apt-get install criu), then: "
                                "sudo setcap cap_checkpoint_restore,cap_sys_ptrace+ep %s", criu, criu);
        else if (error == -EACCES)
                (void) snprintf(buf, size, "sudo usermod -aG mgd $USER (%s is root:mgd 0750; then log in "
                                "again)", criu);
        else
                (void) snprintf(buf, size, "sudo setcap cap_checkpoint_restore,cap_sys_ptrace+ep %s", criu);
}

const char *helper_grant_fix(const HelperSet *s, HelperKind kind, int error, char *buf, size_t size) {
        switch (kind) {
        case HELPER_PSI:
                (void) snprintf(buf, size, "sudo setcap cap_sys_resource+ep %s/mgd-psi-helper", s->dir);
                break;
        case HELPER_ZRAM:
                (void) snprintf(buf, size, "sudo systemd-tmpfiles --create mgd.conf && sudo usermod -aG mgd $USER"
                                " (then log in again)");
                break;
        case HELPER_SWAP:
                (void) snprintf(buf, size, "sudo setcap cap_sys_admin+ep %s/mgd-swap-helper", s->dir);
                break;
        case HELPER_CHECKPOINT:
                helper_criu_fix(error, buf, size);
                break;
        default:
                (void) snprintf(buf, size, "sudo ./install.sh --privileged");
        }
        return buf;
}

static void helper_set_grant_to(Helper *h, HelperGrant g, int error) {
        static const char *const feature[_HELPER_KIND_MAX][2] = {
                [HELPER_PSI] = { "Sub-second PSI triggers", "2 s windows are used instead" },
                [HELPER_ZRAM] = { "zram compaction", "zram pools are left as they are" },
                [HELPER_SWAP] = { "Swap reclaim", "swapped pages come back only on access" },
                [HELPER_CHECKPOINT] = { "CRIU checkpoints", "kill is used instead" },
        };
        char fix[2 * PATH_MAX + 128];

        h->grant = g;
        if (!h->told && g == HELPER_GRANT_MISSING)
                log_notice("%s unavailable (%s: %s), %s. To enable: %s", feature[h->kind][0],
                           helper_kind_name(h->kind), strerror(abs(error)), feature[h->kind][1],
                           helper_grant_fix(h->set, h->kind, error, fix, sizeof(fix)));
        else if (!h->told && g == HELPER_GRANT_OK)
                log_info("%s: available", feature[h->kind][0]);
        h->told = h->told || g != HELPER_GRANT_UNKNOWN;
        if (h->set->on_grant)
                h->set->on_grant(h->set, h->kind, g, h->set->userdata);
}

/* Placed in the child between fork and exec: only async-signal-safe calls. */
_noreturn_ static void helper_exec_child(const char *path, const char *name, int sock, int err_w,
                                         char **envp) {
        sigset_t none;
        int e;

        for (int sig = 1; sig < NSIG; sig++)
                (void) signal(sig, SIG_DFL);
        (void) sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        /* anything may sit at fd 3 (the error pipe, even): park both high, then place the socket */
        sock = fcntl(sock, F_DUPFD_CLOEXEC, 10);
        err_w = fcntl(err_w, F_DUPFD_CLOEXEC, 10);
        if (sock >= 0 && err_w >= 0 && dup3(sock, PROTO_HELPER_FD, 0) >= 0) {
                (void) close_range(PROTO_HELPER_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC);
                (void) execve(path, (char *[]) { (char *) name, NULL }, envp);
        }
        e = errno;
        if (err_w >= 0)
                (void) !write(err_w, &e, sizeof(e));
        _exit(127);
}

/* Helpers get an empty environment; test builds pass their MGD_TEST_* hooks through. */
static void helper_env(char *envp[static HELPER_ENV_MAX]) {
        size_t n = 0;

#if MGD_TEST_HOOKS
        extern char **environ;
        for (char **e = environ; e && *e && n < HELPER_ENV_MAX - 1; e++)
                if (strncmp(*e, "MGD_TEST_", 9) == 0)
                        envp[n++] = *e;
#endif
        envp[n] = NULL;
}

static int helper_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static void helper_disconnect(Helper *h);
static int helper_on_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static int helper_watch(Helper *h) {
        int r;

        r = sd_event_add_io(h->set->event, &h->io, h->fd, EPOLLIN, helper_on_io, h);
        if (r >= 0)
                r = sd_event_add_io(h->set->event, &h->exited, h->pidfd, EPOLLIN, helper_on_exit, h);
        return r;
}

static int helper_spawn(Helper *h) {
        const char *name = helper_kind_name(h->kind);
        _cleanup_close_ int ours = -1, theirs = -1, err_r = -1, err_w = -1;
        char path[PATH_MAX], *envp[HELPER_ENV_MAX];
        int pair[2], ep[2], e = 0, r;
        ssize_t n;
        pid_t pid;

        if ((size_t) snprintf(path, sizeof(path), "%s/%s", h->set->dir, name) >= sizeof(path))
                return -ENAMETOOLONG;
        r = privsep_socketpair(pair);
        if (r < 0)
                return r;
        ours = pair[0], theirs = pair[1];
        if (pipe2(ep, O_CLOEXEC) < 0)
                return -errno;
        err_r = ep[0], err_w = ep[1];
        helper_env(envp);

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                helper_exec_child(path, name, theirs, err_w, envp);
        (void) close(TAKE_FD(theirs));
        (void) close(TAKE_FD(err_w));
        do
                n = read(err_r, &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t) sizeof(e) || (h->pidfd = pidfd_open(pid, 0)) < 0) {
                r = n == (ssize_t) sizeof(e) ? -e : -errno;
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        h->fd = TAKE_FD(ours);
        h->pid = pid;
        r = helper_watch(h);
        if (r < 0) {
                helper_disconnect(h);
                h->exited = sd_event_source_disable_unref(h->exited);
                (void) waitpid(pid, NULL, 0);
                (void) close(h->pidfd);
                h->pidfd = -1;
                h->pid = 0;
                return r;
        }
        log_debug("Started %s as pid %d", name, (int) pid);
        return 0;
}

/* Close our end and kill the helper; the pidfd source reaps it and schedules the respawn. */
static void helper_disconnect(Helper *h) {
        h->io = sd_event_source_disable_unref(h->io);
        h->deadline = sd_event_source_disable_unref(h->deadline);
        if (h->fd >= 0)
                (void) close(h->fd);
        h->fd = -1;
        if (h->pidfd >= 0)
                (void) pidfd_send_signal(h->pidfd, SIGKILL, NULL, 0);
}

/* Fail the request in flight and everything queued. Callbacks may queue again: -ENOTCONN. */
static void helper_fail_calls(Helper *h, int error) {
        while (h->n > 0) {
                HelperSlot slot = h->queue[h->head];

                h->head = (h->head + 1) % HELPER_QUEUE_MAX;
                h->n--;
                h->inflight = false;
                slot.cb(h->set, error, NULL, -1, slot.userdata);
        }
}

static int helper_fail(Helper *h, int error, const char *why) {
        log_warning_errno(error, "%s %s, killing it: %m", helper_kind_name(h->kind), why);
        helper_disconnect(h);
        helper_fail_calls(h, error);
        return 0;
}

static int helper_on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        return helper_fail(userdata, -ETIMEDOUT, "missed the deadline of its request");
}

static int helper_send_next(Helper *h) {
        HelperSlot *slot = &h->queue[h->head];
        int r;

        if (h->inflight || h->n == 0 || h->fd < 0)
                return 0;
        slot->req.hdr.seq = ++h->seq;
        r = privsep_send_request(h->fd, &slot->req);
        if (r < 0)
                return helper_fail(h, r, "cannot be written to");
        h->inflight = true;
        r = sd_event_add_time_relative(h->set->event, &h->deadline, CLOCK_MONOTONIC, slot->timeout, 0,
                                       helper_on_deadline, h);
        if (r < 0)
                return helper_fail(h, r, "cannot get a deadline timer");
        return 0;
}

/*
 * A criu failure may be a lost grant: a criu package update resets its file capabilities, and
 * removing the package removes criu. (A probe's answer is told once by helper_set_grant_to().)
 */
static void helper_log_criu_failure(Helper *h, const ProtoReply *rep) {
        char fix[2 * PATH_MAX + 128];

        if (rep->hdr.type != PROTO_CHECKPOINT_DUMP_REPLY && rep->hdr.type != PROTO_CHECKPOINT_RESTORE_REPLY)
                return;
        if ((rep->hdr.flags & PROTO_FLAG_PROBE) ||
            (rep->error != -EIO && rep->error != -ENOENT && rep->error != -ETIMEDOUT))
                return;
        log_warning_errno(rep->error, "criu %s failed: %m. %s: %s", rep->hdr.type == PROTO_CHECKPOINT_DUMP_REPLY ?
                          "dump" : "restore", rep->error == -ENOENT ? "criu is not installed; to enable it" :
                          "If criu lost its capabilities (a criu package update resets them)",
                          helper_grant_fix(h->set, HELPER_CHECKPOINT, rep->error, fix, sizeof(fix)));
}

static int helper_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Helper *h = userdata;
        ProtoReply rep;
        int r, passed = -1;

        if (!h->inflight)
                /* nothing asked: any record, or the hangup of a helper that died, ends it */
                return helper_fail(h, -EPROTO, (revents & EPOLLIN) ? "sent an unsolicited message" : "hung up");
        r = privsep_recv_reply(h->fd, &h->queue[h->head].req, &rep, &passed);
        if (r == -EAGAIN)
                return 0;
        if (r < 0)
                return helper_fail(h, r, r == -ECONNRESET ? "hung up" : "broke the protocol");

        HelperSlot slot = h->queue[h->head];
        h->head = (h->head + 1) % HELPER_QUEUE_MAX;
        h->n--;
        h->inflight = false;
        h->failures = 0;
        h->deadline = sd_event_source_disable_unref(h->deadline);
        helper_log_criu_failure(h, &rep);
        slot.cb(h->set, 0, &rep, passed, slot.userdata);
        return helper_send_next(h);
}

static bool helper_serves(HelperKind kind, uint8_t type) {
        for (size_t i = 0; i < ELEMENTSOF(helper_info[kind].types); i++)
                if (helper_info[kind].types[i] == type && type != 0)
                        return true;
        return false;
}

int helper_call(HelperSet *s, HelperKind kind, uint8_t type, uint16_t flags, const void *payload,
                size_t payload_size, usec_t timeout, helper_reply_t cb, void *userdata) {
        Helper *h;
        HelperSlot *slot;

        if (!s || kind >= _HELPER_KIND_MAX || !cb || !helper_serves(kind, type) ||
            payload_size > sizeof(((ProtoRequest *) NULL)->raw) || (payload_size > 0 && !payload))
                return -EINVAL;
        h = &s->helpers[kind];
        if (h->fd < 0)
                return -ENOTCONN;
        if (h->n >= HELPER_QUEUE_MAX)
                return -EBUSY;
        slot = &h->queue[(h->head + h->n) % HELPER_QUEUE_MAX];
        *slot = (HelperSlot) {
                .req.hdr = { .version = PROTO_VERSION, .type = type, .flags = flags },
                .timeout = timeout,
                .cb = cb,
                .userdata = userdata,
        };
        if (payload_size > 0)
                memcpy(slot->req.raw, payload, payload_size);
        h->n++;
        return helper_send_next(h);
}

static void helper_on_probe(HelperSet *s, int error, const ProtoReply *rep, int fd, void *userdata) {
        Helper *h = userdata;

        if (fd >= 0)
                (void) close(fd);
        if (error < 0)
                return;                 /* it died: probed again when respawned */
        if (rep->error == 0)
                helper_set_grant_to(h, HELPER_GRANT_OK, 0);
        else if (rep->error == -EPERM || rep->error == -EACCES || (h->kind == HELPER_PSI && rep->error == -EINVAL) ||
                 (h->kind == HELPER_CHECKPOINT && rep->error == -ENOENT))
                helper_set_grant_to(h, HELPER_GRANT_MISSING, rep->error);
        else {
                log_info_errno(rep->error, "%s cannot be used here: %m", helper_kind_name(h->kind));
                helper_set_grant_to(h, HELPER_GRANT_UNAVAILABLE, rep->error);
        }
}

/* The first zram swap device, for the zram probe; -ENODEV when there is none. */
static int helper_first_zram(const HelperSet *s, unsigned *ret) {
        SwapDevice devs[SWAPS_MAX];
        size_t n;
        int r;

        r = swaps_read(s->proc_root, devs, ELEMENTSOF(devs), &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (devs[i].is_zram) {
                        *ret = devs[i].zram_index;
                        return 0;
                }
        return -ENODEV;
}

static int helper_probe(Helper *h) {
        HelperSet *s = h->set;
        ProtoPsiArm psi = { .source = PROTO_PSI_SOURCE_SYSTEM, .kind = PROTO_PSI_SOME,
                            .stall_us = 150000, .window_us = 1000000 };
        ProtoZramCompact zram = {};
        ProtoCheckpointDump dump = {};  /* pid 0: the grant-only probe */
        unsigned dev;
        int r;

        switch (h->kind) {
        case HELPER_PSI:
                return helper_call(s, h->kind, PROTO_PSI_ARM, PROTO_FLAG_PROBE, &psi, sizeof(psi),
                                   TIMEOUT_PROBE, helper_on_probe, h);
        case HELPER_ZRAM:
                r = helper_first_zram(s, &dev);
                if (r < 0) {
                        log_info_errno(r, "No zram swap to compact (%m): zram compaction off");
                        helper_set_grant_to(h, HELPER_GRANT_UNAVAILABLE, r);
                        return 0;
                }
                zram.device = dev;
                return helper_call(s, h->kind, PROTO_ZRAM_COMPACT, PROTO_FLAG_PROBE, &zram, sizeof(zram),
                                   TIMEOUT_PROBE, helper_on_probe, h);
        case HELPER_SWAP:
                return helper_call(s, h->kind, PROTO_SWAP_RECLAIM, PROTO_FLAG_PROBE, NULL, 0,
                                   TIMEOUT_PROBE, helper_on_probe, h);
        case HELPER_CHECKPOINT:
                return helper_call(s, h->kind, PROTO_CHECKPOINT_DUMP, PROTO_FLAG_PROBE, &dump, sizeof(dump),
                                   TIMEOUT_PROBE, helper_on_probe, h);
        default:
                return -EINVAL;
        }
}

static int helper_start(Helper *h, bool initial) {
        int r;

        r = helper_spawn(h);
        if (r < 0 && !initial)
                return log_warning_errno(r, "Cannot restart %s: %m", helper_kind_name(h->kind));
        if (r < 0) {
                if (!h->told)
                        log_warning_errno(r, "Cannot start %s/%s: %m; its feature is off. Install the helpers "
                                          "with: sudo ./install.sh --privileged (they are root:mgd 0750: be in "
                                          "group mgd, sudo usermod -aG mgd $USER)", h->set->dir,
                                          helper_kind_name(h->kind));
                helper_set_grant_to(h, HELPER_GRANT_UNAVAILABLE, r);
                return r;
        }
        if (h->grant == HELPER_GRANT_UNKNOWN)
                (void) helper_probe(h);
        return 0;
}

static usec_t helper_backoff(Helper *h) {
        usec_t delay = MIN(HELPER_BACKOFF_MIN << MIN(h->failures, 16u), HELPER_BACKOFF_MAX);

        h->failures++;
        return delay;
}

static int helper_on_respawn(sd_event_source *s, uint64_t usec, void *userdata) {
        Helper *h = userdata;

        h->respawn = sd_event_source_disable_unref(h->respawn);
        if (helper_start(h, false) >= 0)
                return 0;
        /* it ran before, so this is not "not installed": try again, later each time */
        return sd_event_add_time_relative(h->set->event, &h->respawn, CLOCK_MONOTONIC, helper_backoff(h), 0,
                                          helper_on_respawn, h);
}

static int helper_on_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Helper *h = userdata;
        siginfo_t si = {};
        char what[160];
        usec_t delay;

        if (waitid(P_PIDFD, h->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
                return 0;
        log_warning("%s (pid %d) %s", helper_kind_name(h->kind), (int) h->pid,
                    helper_exit_describe(si.si_code, si.si_status, what, sizeof(what)));
        helper_disconnect(h);
        h->exited = sd_event_source_disable_unref(h->exited);
        (void) close(h->pidfd);
        h->pidfd = -1;
        h->pid = 0;
        helper_fail_calls(h, -ECONNRESET);

        delay = helper_backoff(h);
        log_info("Restarting %s in %llu s", helper_kind_name(h->kind), (unsigned long long) (delay / USEC_PER_SEC));
        return sd_event_add_time_relative(h->set->event, &h->respawn, CLOCK_MONOTONIC, delay, 0,
                                          helper_on_respawn, h);
}

int helper_set_new(sd_event *e, const HelperSetOptions *opt, HelperSet **ret) {
        HelperSet *s;
        const char *dir = opt && opt->dir ? opt->dir : MGD_LIBEXECDIR;
        const char *proc = opt && opt->proc_root ? opt->proc_root : "/proc";

        if (!e || !ret)
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        if ((size_t) snprintf(s->dir, sizeof(s->dir), "%s", dir) >= sizeof(s->dir) ||
            (size_t) snprintf(s->proc_root, sizeof(s->proc_root), "%s", proc) >= sizeof(s->proc_root)) {
                free(s);
                return -ENAMETOOLONG;
        }
        s->event = sd_event_ref(e);
        s->on_grant = opt ? opt->on_grant : NULL;
        s->userdata = opt ? opt->userdata : NULL;
        for (HelperKind k = 0; k < _HELPER_KIND_MAX; k++)
                s->helpers[k] = (Helper) { .set = s, .kind = k, .fd = -1, .pidfd = -1 };
        *ret = s;
        return 0;
}

HelperSet *helper_set_free(HelperSet *s) {
        if (!s)
                return NULL;
        for (HelperKind k = 0; k < _HELPER_KIND_MAX; k++) {
                Helper *h = &s->helpers[k];

                helper_disconnect(h);
                if (h->pid > 0)
                        (void) waitpid(h->pid, NULL, 0);        /* just SIGKILLed: prompt */
                h->exited = sd_event_source_disable_unref(h->exited);
                h->respawn = sd_event_source_disable_unref(h->respawn);
                if (h->pidfd >= 0)
                        (void) close(h->pidfd);
                helper_fail_calls(h, -ECANCELED);
        }
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

int helper_set_start(HelperSet *s) {
        int running = 0;

        for (HelperKind k = 0; k < _HELPER_KIND_MAX; k++)
                if (helper_start(&s->helpers[k], true) >= 0)
                        running++;
        return running;
}

HelperGrant helper_set_grant(const HelperSet *s, HelperKind kind) {
        return s && kind < _HELPER_KIND_MAX ? s->helpers[kind].grant : HELPER_GRANT_UNAVAILABLE;
}

pid_t helper_set_pid(const HelperSet *s, HelperKind kind) {
        return s && kind < _HELPER_KIND_MAX ? s->helpers[kind].pid : 0;
}

int helper_psi_arm(HelperSet *s, ProtoPsiSource source, ProtoPsiKind kind, uint32_t stall_us,
                   uint32_t window_us, helper_reply_t cb, void *userdata) {
        ProtoPsiArm a = { .source = (uint8_t) source, .kind = (uint8_t) kind, .stall_us = stall_us,
                          .window_us = window_us };

        if (source >= _PROTO_PSI_SOURCE_MAX || kind >= _PROTO_PSI_KIND_MAX)
                return -EINVAL;
        return helper_call(s, HELPER_PSI, PROTO_PSI_ARM, 0, &a, sizeof(a), TIMEOUT_PSI, cb, userdata);
}

int helper_zram_compact(HelperSet *s, unsigned device, uint64_t min_used_bytes, helper_reply_t cb,
                        void *userdata) {
        ProtoZramCompact z = { .device = device, .min_used_bytes = min_used_bytes };

        return helper_call(s, HELPER_ZRAM, PROTO_ZRAM_COMPACT, 0, &z, sizeof(z), TIMEOUT_ZRAM, cb, userdata);
}

int helper_swap_reclaim(HelperSet *s, helper_reply_t cb, void *userdata) {
        return helper_call(s, HELPER_SWAP, PROTO_SWAP_RECLAIM, 0, NULL, 0, TIMEOUT_SWAP, cb, userdata);
}

int helper_checkpoint_dump(HelperSet *s, pid_t pid, uint64_t starttime, helper_reply_t cb, void *userdata) {
        ProtoCheckpointDump d = { .pid = (uint32_t) pid, .starttime = starttime };

        if (pid <= 0)
                return -EINVAL;
        return helper_call(s, HELPER_CHECKPOINT, PROTO_CHECKPOINT_DUMP, 0, &d, sizeof(d), TIMEOUT_CHECKPOINT,
                           cb, userdata);
}

int helper_checkpoint_restore(HelperSet *s, uint64_t image_id, helper_reply_t cb, void *userdata) {
        ProtoCheckpointImage i = { .image_id = image_id };

        if (image_id == 0)
                return -EINVAL;
        return helper_call(s, HELPER_CHECKPOINT, PROTO_CHECKPOINT_RESTORE, 0, &i, sizeof(i),
                           TIMEOUT_CHECKPOINT, cb, userdata);
}

int helper_checkpoint_discard(HelperSet *s, uint64_t image_id, helper_reply_t cb, void *userdata) {
        ProtoCheckpointImage i = { .image_id = image_id };

        if (image_id == 0)
                return -EINVAL;
        return helper_call(s, HELPER_CHECKPOINT, PROTO_CHECKPOINT_DISCARD, 0, &i, sizeof(i),
                           TIMEOUT_PROBE, cb, userdata);
}
