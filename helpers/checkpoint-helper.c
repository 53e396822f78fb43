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
 * validated and pinned before anything (privsep_target_pin()), criu's argv built only from
 * validated fields, criu run by the absolute path fixed at build time with an empty environment
 * (CRIU_FAULT=130 alone where hardware breakpoints never fire: common/hwbp.h) and no inherited fds, and images written only below a 0700 directory of the peer user, found
 * via getpwuid(), never via the daemon's environment.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/hwbp.h"
#include "common/privsep.h"
#include "common/readers.h"
#include "common/sandbox.h"

#define CRIU_TIMEOUT_MS 45000
#define HWBP_PROBE_MS 200
#define IMAGE_MARKER "mgd-image"
#define IMAGE_NAME_MAX 17
#define MARKER_MAX (PROC_CGROUP_MAX + 128)
_Static_assert(PROC_CGROUP_MAX == 512, "the marker's cgroup is read with %511[^\\n]");

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
        char proc[PATH_MAX], sys[PATH_MAX];
        char home[PATH_MAX];            /* of the peer uid, from the password database */
        char base[PATH_MAX];            /* home/.local/state/mgd/checkpoints */
        const char *criu;
        PrivsepPeer peer;
        int refuse;                     /* -errno: this helper cannot serve this daemon */
        bool no_breakpoints;            /* hardware breakpoints never fire here: criu goes without */
} CheckpointHelper;

/* An image: what its marker records (the cgroup is where the process lived), and where it is. */
typedef struct Image {
        uint64_t id;
        uint32_t pid;
        uint64_t starttime;
        char cgroup[PROC_CGROUP_MAX];
        char name[IMAGE_NAME_MAX];      /* under base: 16 hex digits */
        char dir[PATH_MAX];             /* criu's --images-dir */
} Image;

/* home/.local/state/mgd/checkpoints, every level a directory owned by the peer uid. */
static int images_base_open(const CheckpointHelper *h, bool create) {
        static const char *const levels[] = { ".local", "state", "mgd", "checkpoints" };

        return dir_chain_open(h->home, levels, ELEMENTSOF(levels), h->peer.uid, create);
}

static int image_name(const CheckpointHelper *h, Image *im, uint64_t id) {
        im->id = id;
        (void) snprintf(im->name, sizeof(im->name), "%016" PRIx64, id);
        return (size_t) snprintf(im->dir, sizeof(im->dir), "%s/%s", h->base, im->name) >= sizeof(im->dir) ?
                -ENAMETOOLONG : 0;
}

static int marker_format(char *buf, size_t size, uid_t uid, const Image *im) {
        return snprintf(buf, size, "mgd-image 2\nid %016" PRIx64 "\nuid %u\npid %" PRIu32 "\nstarttime %"
                        PRIu64 "\ncgroup %s\n", im->id, (unsigned) uid, im->pid, im->starttime, im->cgroup);
}

/* An image this helper wrote for this uid: 0700 directory, marker that renders back identically. */
static int image_open(const CheckpointHelper *h, int base, uint64_t id, Image *ret) {
        char buf[MARKER_MAX], again[MARKER_MAX];
        Image im = {};
        unsigned uid;
        int fd, r;

        r = image_name(h, &im, id);
        fd = r < 0 ? r : dir_open_checked(base, im.name, h->peer.uid, 0700);
        if (fd < 0)
                return fd;
        r = read_small_fileat(fd, IMAGE_MARKER, buf, sizeof(buf), NULL);
        if (r >= 0 && (sscanf(buf, "mgd-image 2\nid %" SCNx64 "\nuid %u\npid %" SCNu32 "\nstarttime %" SCNu64
                              "\ncgroup %511[^\n]", &im.id, &uid, &im.pid, &im.starttime, im.cgroup) != 5 ||
                       marker_format(again, sizeof(again), h->peer.uid, &im) < 0 ||
                       strcmp(buf, again) != 0 || im.id != id || uid != h->peer.uid))
                r = -EPERM;
        if (r < 0) {
                (void) close(fd);
                return r == -ENOENT ? -EPERM : r;       /* no marker: not ours, or incomplete */
        }
        *ret = im;
        return fd;
}

/* A new, empty image directory (0700, random id) for im; its fd. */
static int image_create(const CheckpointHelper *h, int base, Image *im) {
        uint64_t id = 0;
        int r;

        while (id == 0)
                if (getrandom(&id, sizeof(id), 0) != sizeof(id))
                        return -errno;
        r = image_name(h, im, id);
        if (r < 0)
                return r;
        if (mkdirat(base, im->name, 0700) < 0)
                return -errno;
        return dir_open_checked(base, im->name, h->peer.uid, 0700);
}

/* Is criu there, and does it hold its grant? What a probe answers. */
static int criu_grant(const CheckpointHelper *h) {
        if (access(h->criu, X_OK) < 0)
                return privsep_log(LOG_WARNING, errno, "Cannot execute %s: %m", h->criu);
        if (getuid() == 0)
                return 0;               /* root's exec of criu gets our bounding set */
        return sandbox_file_caps(h->criu, SANDBOX_CAP(CAP_CHECKPOINT_RESTORE) | SANDBOX_CAP(CAP_SYS_PTRACE));
}

/* criu's argv: fixed words, the image directory we made and, for a dump, the validated pid. */
static int criu_run(const CheckpointHelper *h, int dfd, const Image *im, bool dump, int cgroup_procs) {
        char tree[16];
        char *const argv[] = { (char *) h->criu, dump ? "dump" : "restore", "--images-dir", (char *) im->dir,
                               "--log-file", "criu.log", "--shell-job", "--unprivileged",
                               dump ? "--tree" : "--restore-detached", dump ? tree : NULL, NULL };

        char *const no_breakpoints[] = { (char *) HWBP_CRIU_ENV, NULL };

        (void) snprintf(tree, sizeof(tree), "%" PRIu32, im->pid);
        return sandbox_run_checked(argv, h->no_breakpoints ? no_breakpoints : NULL, CRIU_TIMEOUT_MS, cgroup_procs,
                                   dfd, "criu.log");
}

/*
 * criu dump ends what it dumped: the pinned process must be gone, or criu got another one. Only
 * then is it an image, by its marker: restore refuses a directory without one.
 */
static int image_dump(const CheckpointHelper *h, int dfd, const Image *im, int pidfd) {
        char marker[MARKER_MAX];
        int r, n;

        r = criu_run(h, dfd, im, true, -1);
        if (r >= 0 && poll(&(struct pollfd) { .fd = pidfd, .events = POLLIN }, 1, 1000) != 1)
                r = privsep_log(LOG_CRIT, ESTALE, "criu dumped pid %" PRIu32 ", but not the process validated",
                                im->pid);
        if (r < 0)
                return r;
        n = marker_format(marker, sizeof(marker), h->peer.uid, im);
        r = file_create_at(dfd, IMAGE_MARKER, marker, (size_t) n, 0600);
        return r < 0 ? privsep_log(LOG_ERR, r, "Dumped %s but cannot mark it: %m", im->dir) : 0;
}

static int checkpoint_dump(const ProtoRequest *req, ProtoReply *rep, int *ret_fd, bool *ret_fatal,
                           void *userdata) {
        const ProtoCheckpointDump *d = &req->checkpoint_dump;
        const CheckpointHelper *h = userdata;
        _cleanup_close_ int pidfd = -1, base = -1, dfd = -1;
        Image im = { .pid = d->pid, .starttime = d->starttime };
        int r;

        if (h->refuse < 0)
                return h->refuse;
        if (d->pid == 0)                /* a grant-only probe (validated as such) */
                return criu_grant(h);
        r = privsep_target_pin(h->proc, &h->peer, (pid_t) d->pid, d->starttime, &pidfd, im.cgroup);
        if (r < 0 || (req->hdr.flags & PROTO_FLAG_PROBE))
                return r < 0 ? r : criu_grant(h);
        base = images_base_open(h, true);
        if (base < 0)
                return privsep_log(LOG_ERR, base, "Cannot use %s: %m", h->base);
        dfd = image_create(h, base, &im);
        if (dfd < 0)
                return dfd;
        r = image_dump(h, dfd, &im, pidfd);
        if (r < 0) {
                (void) dir_remove_flat(base, im.name);
                return r;
        }
        rep->checkpoint.image_id = im.id;
        rep->checkpoint.pid = d->pid;
        return 0;
}

static int checkpoint_restore(const CheckpointHelper *h, int base, int dfd, const Image *im,
                              ProtoReply *rep) {
        _cleanup_close_ int procs = -1;
        ProcStatus st;
        ProcCgroup cg;
        int r;

        /*
         * An unprivileged criu records no cgroup and restores into its own, this helper's, i.e.
         * mgd.service: the app would die with the next stop of mgd. So criu runs in the cgroup
         * the app was dumped from, made again if systemd removed the emptied scope meanwhile.
         */
        procs = privsep_app_cgroup_open(h->proc, h->sys, &h->peer, im->cgroup, "cgroup.procs", true);
        if (procs == -EPERM)
                return privsep_log(LOG_WARNING, EPERM, "The image's cgroup %s is not an app of the session",
                                   im->cgroup);
        if (procs < 0)
                privsep_log(LOG_WARNING, procs, "Cannot restore into %s (%m), restoring where this helper is",
                            im->cgroup);
        r = criu_run(h, dfd, im, false, procs);
        if (r < 0)
                return r;
        r = proc_status_read(h->proc, (pid_t) im->pid, &st);
        if (r < 0 || st.ruid != h->peer.uid)
                return privsep_log(LOG_ERR, EIO, "criu restored nothing as pid %" PRIu32, im->pid);
        if (proc_cgroup_read(h->proc, (pid_t) im->pid, &cg) < 0 || strcmp(cg.unified, im->cgroup) != 0)
                privsep_log(LOG_WARNING, 0, "Restored pid %" PRIu32 " outside its cgroup %s", im->pid,
                            im->cgroup);
        rep->checkpoint.pid = im->pid;
        return dir_remove_flat(base, im->name);
}

/* RESTORE and DISCARD: both act on an image this helper wrote. */
static int checkpoint_image(const ProtoRequest *req, ProtoReply *rep, int *ret_fd, bool *ret_fatal,
                            void *userdata) {
        const CheckpointHelper *h = userdata;
        uint64_t id = req->checkpoint_image.image_id;
        bool probe = req->hdr.flags & PROTO_FLAG_PROBE;
        _cleanup_close_ int base = -1, dfd = -1;
        Image im;

        if (h->refuse < 0)
                return h->refuse;
        base = images_base_open(h, false);
        if (base < 0)
                return base == -ENOENT ? -ENOENT : -EPERM;
        dfd = image_open(h, base, id, &im);
        if (dfd < 0)
                return privsep_log(LOG_WARNING, dfd, "Image %016" PRIx64 " is not one of ours: %m", id);
        rep->checkpoint.image_id = id;
        if (req->hdr.type == PROTO_CHECKPOINT_DISCARD)
                return probe ? 0 : dir_remove_flat(base, im.name);
        /* criu restores the same pid: the dumped process must have been reaped first */
        if (kill((pid_t) im.pid, 0) == 0 || errno != ESRCH)
                return privsep_log(LOG_INFO, EBUSY, "pid %" PRIu32 " is still taken", im.pid);
        return probe ? criu_grant(h) : checkpoint_restore(h, base, dfd, &im, rep);
}

static const PrivsepHandler checkpoint_handlers[] = {
        { PROTO_CHECKPOINT_DUMP, checkpoint_dump },
        { PROTO_CHECKPOINT_RESTORE, checkpoint_image },
        { PROTO_CHECKPOINT_DISCARD, checkpoint_image },
};

static int checkpoint_init(CheckpointHelper *h) {
        int r;

        r = privsep_peer(PROTO_HELPER_FD, &h->peer);
        if (r < 0)
                return privsep_log(LOG_ERR, r, "Cannot identify the daemon: %m");
        if (sandbox_root_path("/proc", h->proc, sizeof(h->proc)) < 0 ||
            sandbox_root_path("/sys", h->sys, sizeof(h->sys)) < 0)
                return -ENAMETOOLONG;
        h->criu = sandbox_criu_path();
        /*
         * criu stops its parasite at a hardware breakpoint; where one never fires (some virtual
         * machines), criu would wait for it until our deadline kills it, every time
         */
        r = hwbp_probe(HWBP_PROBE_MS);
        h->no_breakpoints = r == 0;
        if (r == 0)
                privsep_log(LOG_NOTICE, 0, "Hardware breakpoints do not fire on this machine (a virtual "
                            "machine's debug registers?): criu runs without them (%s)", HWBP_CRIU_ENV);
        else if (r < 0 && r != -EOPNOTSUPP)
                privsep_log(LOG_WARNING, -r, "Cannot probe hardware breakpoints (%m): criu runs as it is");
        /* images are the peer's files, written with our uid: the two must be the same user */
        if (getuid() != h->peer.uid || geteuid() != h->peer.uid)
                h->refuse = privsep_log(LOG_ERR, EPERM, "Runs as uid %u for a daemon of uid %u: refusing "
                                        "everything", (unsigned) geteuid(), (unsigned) h->peer.uid);
        else if ((r = sandbox_user_home(h->peer.uid, h->home, sizeof(h->home))) < 0 ||
                 (size_t) snprintf(h->base, sizeof(h->base), "%s/.local/state/mgd/checkpoints",
                                   h->home) >= sizeof(h->base))
                h->refuse = privsep_log(LOG_ERR, r < 0 ? r : ENAMETOOLONG, "No usable home directory for uid "
                                        "%u (%m): refusing everything", (unsigned) h->peer.uid);
        return 0;
}

int main(int argc, char *argv[]) {
        CheckpointHelper h = {};
        int code;

        if (sandbox_helper_start("mgd-checkpoint-helper", argc, &checkpoint_sandbox, &code) < 0)
                return code;
        if (checkpoint_init(&h) < 0)
                return HELPER_EXIT_USAGE;
        return privsep_serve(PROTO_HELPER_FD, checkpoint_handlers, ELEMENTSOF(checkpoint_handlers), &h);
}
