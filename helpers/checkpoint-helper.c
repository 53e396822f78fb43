/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgd-checkpoint-helper: checkpoints one of the user's own processes with criu, restores it later.
 *
 * Capability: none. The grant lives on criu (cap_checkpoint_restore,cap_sys_ptrace+ep on the
 * binary); this helper decides what criu is run on, and runs as the user.
 *
 * Why no seccomp and no NO_NEW_PRIVS here (docs/PRIVSEP.md): a filter survives execve and would
 * bind criu, which needs ptrace, process_vm_*, clone3, memfd, mount and more, so an allowlist
 * wide enough for criu protects nothing; and NO_NEW_PRIVS, which a filter needs without
 * CAP_SYS_ADMIN, makes execve ignore criu's file capabilities. Instead: no capability of its
 * own, a bounding set cut to criu's two when it can, numbers as the only input, the target
 * validated and pinned before anything, criu's argv built only from validated fields, criu run
 * by the absolute path fixed at build time with an empty environment and no inherited fds, and
 * images written only below a 0700 directory of the peer user, found via getpwuid(), never via
 * the daemon's environment.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build-config.h"
#include "common/privsep.h"
#include "common/readers.h"
#include "common/sandbox.h"

#define CRIU_TIMEOUT_MS 45000
#define IMAGE_MARKER "mgd-image"

static const SandboxSpec checkpoint_sandbox = {
        .keep_caps = 0,
        .bounding_caps = SANDBOX_CAP(CAP_CHECKPOINT_RESTORE) | SANDBOX_CAP(CAP_SYS_PTRACE),
        .nofile = 64,
        .fsize = RLIM_INFINITY,         /* criu writes the images */
        .execs_child = true,
        .no_new_privs = false,
        .syscalls = NULL,
};

typedef struct CheckpointHelper {
        char proc[PATH_MAX];
        char home[PATH_MAX];            /* of the peer uid, from the password database */
        char base[PATH_MAX];            /* home/.local/state/mgd/checkpoints */
        const char *criu;
        PrivsepPeer peer;
        int refuse;                     /* -errno: this helper cannot serve this daemon */
} CheckpointHelper;

/* The target: alive, same start time, the peer's uid, inside the peer's session, not mgd. */
static int target_validate(const CheckpointHelper *h, pid_t pid, uint64_t starttime, int *ret_pidfd) {
        char session[PROC_CGROUP_MAX], manager[PROC_CGROUP_MAX + 16];
        _cleanup_close_ int pidfd = -1;
        ProcStatus st;
        ProcCgroup cg;
        ProcStat ps;
        int r;

        if (pid == h->peer.pid || pid == getpid())
                return privsep_log(LOG_WARNING, EPERM, "Refusing to checkpoint mgd or this helper");
        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0 || proc_stat_read(h->proc, pid, &ps) < 0 || ps.starttime != starttime)
                return privsep_log(LOG_INFO, ESRCH, "Process %d is gone or was replaced", pid);
        r = proc_status_read(h->proc, pid, &st);
        if (r < 0 || st.ruid != h->peer.uid || st.euid != h->peer.uid)
                return privsep_log(LOG_WARNING, EPERM, "Process %d does not belong to uid %u", pid, h->peer.uid);
        r = privsep_peer_session(h->proc, &h->peer, session, sizeof(session));
        if (r >= 0)
                r = proc_cgroup_read(h->proc, pid, &cg);
        if (r >= 0 && (size_t) snprintf(manager, sizeof(manager), "%s/init.scope", session) >= sizeof(manager))
                r = -ENAMETOOLONG;
        if (r < 0 || !cg.has_unified || !cgroup_path_within(cg.unified, session) ||
            strcmp(cg.unified, session) == 0 || cgroup_path_within(cg.unified, manager))
                return privsep_log(LOG_WARNING, EPERM, "Process %d is not an app of the session", pid);
        /* pinned: had the pid been reused during the reads above, the pidfd would say so */
        if (pidfd_send_signal(pidfd, 0, NULL, 0) < 0 || proc_stat_read(h->proc, pid, &ps) < 0 ||
            ps.starttime != starttime)
                return privsep_log(LOG_INFO, ESRCH, "Process %d went away while being validated", pid);
        *ret_pidfd = TAKE_FD(pidfd);
        return 0;
}

/* home/.local/state/mgd/checkpoints, every level a directory owned by the peer uid. */
static int images_base_open(const CheckpointHelper *h, bool create) {
        static const char *const levels[] = { ".local", "state", "mgd", "checkpoints" };
        _cleanup_close_ int fd = open(h->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;

        if (fd < 0)
                return -errno;
        for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
                if (create && mkdirat(fd, levels[i], 0700) < 0 && errno != EEXIST)
                        return -errno;
                int next = openat(fd, levels[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return -errno;
                (void) close(fd);
                fd = next;
                if (fstat(fd, &st) < 0)
                        return -errno;
                if (st.st_uid != h->peer.uid)
                        return -EPERM;
        }
        return TAKE_FD(fd);
}

static void image_name(uint64_t id, char buf[static 17]) {
        (void) snprintf(buf, 17, "%016" PRIx64, id);
}

static int marker_format(char *buf, size_t size, uint64_t id, uid_t uid, uint32_t pid, uint64_t starttime) {
        return snprintf(buf, size, "mgd-image 1\nid %016" PRIx64 "\nuid %u\npid %" PRIu32 "\nstarttime %"
                        PRIu64 "\n", id, (unsigned) uid, pid, starttime);
}

/* An image this helper wrote for this uid: 0700 directory, marker that renders back identically. */
static int image_open(const CheckpointHelper *h, int base, uint64_t id, uint32_t *ret_pid) {
        char name[17], buf[256], again[256];
        unsigned uid;
        uint64_t mid, start;
        uint32_t pid;
        struct stat st;
        int fd, r;

        image_name(id, name);
        fd = openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || st.st_uid != h->peer.uid || (st.st_mode & 07777) != 0700)
                r = -EPERM;
        else
                r = read_small_fileat(fd, IMAGE_MARKER, buf, sizeof(buf), NULL);
        if (r >= 0 && (sscanf(buf, "mgd-image 1\nid %" SCNx64 "\nuid %u\npid %" SCNu32 "\nstarttime %" SCNu64,
                              &mid, &uid, &pid, &start) != 4 ||
                       marker_format(again, sizeof(again), id, h->peer.uid, pid, start) < 0 ||
                       strcmp(buf, again) != 0 || mid != id || uid != h->peer.uid))
                r = -EPERM;
        if (r < 0) {
                (void) close(fd);
                return r == -ENOENT ? -EPERM : r;       /* no marker: not ours, or incomplete */
        }
        *ret_pid = pid;
        return fd;
}

/* Remove an image directory (flat: criu writes files only). */
static int image_remove(int base, uint64_t id) {
        char name[17];
        struct dirent *de;
        DIR *d;
        int fd;

        image_name(id, name);
        fd = openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || !(d = fdopendir(fd)))
                return fd < 0 ? -errno : -ENOMEM;
        while ((de = readdir(d)))
                if (de->d_type != DT_DIR)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        (void) closedir(d);
        return RET_NERRNO(unlinkat(base, name, AT_REMOVEDIR));
}

/* Is criu there, and does it hold its grant? What a probe answers. */
static int criu_grant(const CheckpointHelper *h) {
        if (access(h->criu, X_OK) < 0)
                return privsep_log(LOG_WARNING, errno, "Cannot execute %s: %m", h->criu);
        if (getuid() == 0)
                return 0;               /* root's exec of criu gets our bounding set */
        return sandbox_file_caps(h->criu, SANDBOX_CAP(CAP_CHECKPOINT_RESTORE) | SANDBOX_CAP(CAP_SYS_PTRACE));
}

/* On failure, criu's own account goes to our log before the image directory is removed. */
static void criu_log_errors(int dfd) {
        char buf[2048], *save = NULL;
        _cleanup_close_ int fd = openat(dfd, "criu.log", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        off_t end = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
        ssize_t n = end < 0 ? -1 : pread(fd, buf, sizeof(buf) - 1, MAX(end - (off_t) sizeof(buf) + 1, 0));

        if (n <= 0)
                return;
        buf[n] = '\0';
        for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (strstr(l, "Error"))
                        privsep_log(LOG_WARNING, 0, "criu: %s", l);
}

static int criu_run(const CheckpointHelper *h, int dfd, char *const argv[]) {
        int status = sandbox_run(h->criu, argv, CRIU_TIMEOUT_MS);

        if (status == -ETIMEDOUT)
                return privsep_log(LOG_ERR, ETIMEDOUT, "criu %s did not finish in time", argv[1]);
        if (status < 0)
                return privsep_log(LOG_ERR, status, "Cannot run criu: %m");
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                return privsep_log(LOG_ERR, ENOENT, "Could not execute %s", h->criu);
        criu_log_errors(dfd);
        return privsep_log(LOG_WARNING, EIO, "criu %s failed (wait status 0x%x)", argv[1], status);
}

static int checkpoint_dump(const ProtoRequest *req, ProtoReply *rep, int *ret_fd, bool *ret_fatal,
                           void *userdata) {
        const ProtoCheckpointDump *d = &req->checkpoint_dump;
        const CheckpointHelper *h = userdata;
        _cleanup_close_ int pidfd = -1, base = -1, dfd = -1;
        char name[17], dir[PATH_MAX], pid[16], marker[256];
        uint64_t id = 0;
        int r, n;

        if (h->refuse < 0)
                return h->refuse;
        if (d->pid == 0)                /* a grant-only probe (validated as such) */
                return criu_grant(h);
        r = target_validate(h, (pid_t) d->pid, d->starttime, &pidfd);
        if (r < 0 || (req->hdr.flags & PROTO_FLAG_PROBE))
                return r < 0 ? r : criu_grant(h);
        base = images_base_open(h, true);
        if (base < 0)
                return privsep_log(LOG_ERR, base, "Cannot use %s: %m", h->base);
        while (id == 0)
                if (getrandom(&id, sizeof(id), 0) != sizeof(id))
                        return -errno;
        image_name(id, name);
        if (mkdirat(base, name, 0700) < 0 ||
            (dfd = openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                return -errno;
        if ((size_t) snprintf(dir, sizeof(dir), "%s/%s", h->base, name) >= sizeof(dir))
                return -ENAMETOOLONG;
        (void) snprintf(pid, sizeof(pid), "%" PRIu32, d->pid);
        r = criu_run(h, dfd, (char *const[]) { (char *) h->criu, "dump", "--tree", pid, "--images-dir", dir,
                                          "--log-file", "criu.log", "--shell-job", "--unprivileged", NULL });
        /* criu dump ends what it dumped: the pinned process must be gone, or criu got another one */
        if (r >= 0 && poll(&(struct pollfd) { .fd = pidfd, .events = POLLIN }, 1, 1000) != 1)
                r = privsep_log(LOG_CRIT, ESTALE, "criu dumped pid %d, but not the process validated", d->pid);
        if (r < 0) {
                (void) image_remove(base, id);
                return r;
        }
        /* only now is it an image: restore refuses a directory without this marker */
        n = marker_format(marker, sizeof(marker), id, h->peer.uid, d->pid, d->starttime);
        _cleanup_close_ int mfd = openat(dfd, IMAGE_MARKER, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (mfd < 0 || write(mfd, marker, (size_t) n) != n)
                return privsep_log(LOG_ERR, errno ?: EIO, "Dumped %s but cannot mark it: %m", dir);
        rep->checkpoint.image_id = id;
        rep->checkpoint.pid = d->pid;
        return 0;
}

/* RESTORE and DISCARD: both act on an image this helper wrote. */
static int checkpoint_image(const ProtoRequest *req, ProtoReply *rep, int *ret_fd, bool *ret_fatal,
                            void *userdata) {
        const CheckpointHelper *h = userdata;
        uint64_t id = req->checkpoint_image.image_id;
        _cleanup_close_ int base = -1, dfd = -1;
        char name[17], dir[PATH_MAX];
        uint32_t pid = 0;
        ProcStatus st;
        int r;

        if (h->refuse < 0)
                return h->refuse;
        base = images_base_open(h, false);
        if (base < 0)
                return base == -ENOENT ? -ENOENT : -EPERM;
        dfd = image_open(h, base, id, &pid);
        if (dfd < 0)
                return privsep_log(LOG_WARNING, dfd, "Image %016" PRIx64 " is not one of ours: %m", id);
        rep->checkpoint.image_id = id;
        if (req->hdr.type == PROTO_CHECKPOINT_DISCARD)
                return (req->hdr.flags & PROTO_FLAG_PROBE) ? 0 : image_remove(base, id);
        /* criu restores the same pid: the dumped process must have been reaped first */
        if (kill((pid_t) pid, 0) == 0 || errno != ESRCH)
                return privsep_log(LOG_INFO, EBUSY, "pid %" PRIu32 " is still taken", pid);
        if (req->hdr.flags & PROTO_FLAG_PROBE)
                return criu_grant(h);
        image_name(id, name);
        if ((size_t) snprintf(dir, sizeof(dir), "%s/%s", h->base, name) >= sizeof(dir))
                return -ENAMETOOLONG;
        r = criu_run(h, dfd, (char *const[]) { (char *) h->criu, "restore", "--images-dir", dir, "--log-file",
                                          "criu.log", "--restore-detached", "--shell-job", "--unprivileged",
                                          NULL });
        if (r < 0)
                return r;
        r = proc_status_read(h->proc, (pid_t) pid, &st);
        if (r < 0 || st.ruid != h->peer.uid)
                return privsep_log(LOG_ERR, EIO, "criu restored nothing as pid %" PRIu32, pid);
        rep->checkpoint.pid = pid;
        return image_remove(base, id);
}

static const PrivsepHandler checkpoint_handlers[] = {
        { PROTO_CHECKPOINT_DUMP, checkpoint_dump },
        { PROTO_CHECKPOINT_RESTORE, checkpoint_image },
        { PROTO_CHECKPOINT_DISCARD, checkpoint_image },
};

static int checkpoint_init(CheckpointHelper *h) {
        const char *home = sandbox_test_hook("MGD_TEST_HOME");
        struct passwd *pw;
        int r;

        r = privsep_peer(PROTO_HELPER_FD, &h->peer);
        if (r < 0)
                return privsep_log(LOG_ERR, r, "Cannot identify the daemon: %m");
        if (sandbox_root_path("/proc", h->proc, sizeof(h->proc)) < 0)
                return -ENAMETOOLONG;
        h->criu = sandbox_test_hook("MGD_TEST_CRIU") ?: MGD_CRIU_PATH;
        /* images are the peer's files, written with our uid: the two must be the same user */
        if (getuid() != h->peer.uid || geteuid() != h->peer.uid)
                h->refuse = privsep_log(LOG_ERR, EPERM, "Runs as uid %u for a daemon of uid %u: "
                                        "refusing everything", (unsigned) geteuid(), (unsigned) h->peer.uid);
        pw = home ? NULL : getpwuid(h->peer.uid);
        if (!home && (!pw || !pw->pw_dir || pw->pw_dir[0] != '/'))
                h->refuse = privsep_log(LOG_ERR, ENOENT, "uid %u has no home directory: refusing "
                                        "everything", (unsigned) h->peer.uid);
        else if ((size_t) snprintf(h->home, sizeof(h->home), "%s", home ?: pw->pw_dir) >= sizeof(h->home) ||
                 (size_t) snprintf(h->base, sizeof(h->base), "%s/.local/state/mgd/checkpoints",
                                   h->home) >= sizeof(h->base))
                h->refuse = privsep_log(LOG_ERR, ENAMETOOLONG, "Home directory path too long: refusing everything");
        return 0;
}

int main(int argc, char *argv[]) {
        CheckpointHelper h = {};
        int r;

        privsep_log_open("mgd-checkpoint-helper");
        if (argc != 1) {
                privsep_log(LOG_ERR, 0, "Takes no arguments: started by mgd with its socket at fd %d",
                            PROTO_HELPER_FD);
                return HELPER_EXIT_USAGE;
        }
        r = sandbox_lockdown(&checkpoint_sandbox);
        if (r < 0)
                return r == -ENOTSOCK || r == -EBADF ? HELPER_EXIT_USAGE : HELPER_EXIT_SANDBOX;
        if (checkpoint_init(&h) < 0)
                return HELPER_EXIT_USAGE;
        return privsep_serve(PROTO_HELPER_FD, checkpoint_handlers, ELEMENTSOF(checkpoint_handlers), &h);
}
