/* SPDX-License-Identifier: GPL-2.0-only */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/privsep.h"
#include "common/readers.h"

#define PRIVSEP_MAX_FDS 4               /* received (and closed) before a record is refused */

static bool all_zero(const void *p, size_t n) {
        const uint8_t *b = p;

        for (size_t i = 0; i < n; i++)
                if (b[i] != 0)
                        return false;
        return true;
}

const char *proto_type_name(unsigned type) {
        static const char *const names[] = {
                [PROTO_PSI_ARM] = "PSI_ARM",
                [PROTO_PSI_ARM_REPLY] = "PSI_ARM_REPLY",
                [PROTO_ZRAM_COMPACT] = "ZRAM_COMPACT",
                [PROTO_ZRAM_COMPACT_REPLY] = "ZRAM_COMPACT_REPLY",
                [PROTO_SWAP_RECLAIM] = "SWAP_RECLAIM",
                [PROTO_SWAP_RECLAIM_REPLY] = "SWAP_RECLAIM_REPLY",
                [PROTO_CHECKPOINT_DUMP] = "CHECKPOINT_DUMP",
                [PROTO_CHECKPOINT_DUMP_REPLY] = "CHECKPOINT_DUMP_REPLY",
                [PROTO_CHECKPOINT_RESTORE] = "CHECKPOINT_RESTORE",
                [PROTO_CHECKPOINT_RESTORE_REPLY] = "CHECKPOINT_RESTORE_REPLY",
                [PROTO_CHECKPOINT_DISCARD] = "CHECKPOINT_DISCARD",
                [PROTO_CHECKPOINT_DISCARD_REPLY] = "CHECKPOINT_DISCARD_REPLY",
        };

        if (type >= ELEMENTSOF(names) || !names[type])
                return "unknown";
        return names[type];
}

static int proto_payload_validate(const ProtoRequest *req) {
        switch (req->hdr.type) {
        case PROTO_PSI_ARM:
                if (req->psi_arm.source >= _PROTO_PSI_SOURCE_MAX ||
                    req->psi_arm.kind >= _PROTO_PSI_KIND_MAX ||
                    req->psi_arm.reserved0 != 0 || req->psi_arm.reserved1 != 0)
                        return -EINVAL;
                return all_zero(req->raw + sizeof(ProtoPsiArm), sizeof(req->raw) - sizeof(ProtoPsiArm))
                        ? 0 : -EINVAL;
        case PROTO_ZRAM_COMPACT:
                if (req->zram_compact.reserved0 != 0)
                        return -EINVAL;
                return all_zero(req->raw + sizeof(ProtoZramCompact),
                                sizeof(req->raw) - sizeof(ProtoZramCompact)) ? 0 : -EINVAL;
        case PROTO_SWAP_RECLAIM:
                /* no input at all: a byte of payload is a violation, not something to ignore */
                return all_zero(req->raw, sizeof(req->raw)) ? 0 : -EINVAL;
        case PROTO_CHECKPOINT_DUMP:
                /* pid 0 only in a grant-only probe (is criu there, with its capabilities?) */
                if ((req->checkpoint_dump.pid == 0 && !(req->hdr.flags & PROTO_FLAG_PROBE)) ||
                    req->checkpoint_dump.pid > INT32_MAX || req->checkpoint_dump.reserved0 != 0)
                        return -EINVAL;
                return all_zero(req->raw + sizeof(ProtoCheckpointDump),
                                sizeof(req->raw) - sizeof(ProtoCheckpointDump)) ? 0 : -EINVAL;
        case PROTO_CHECKPOINT_RESTORE:
        case PROTO_CHECKPOINT_DISCARD:
                if (req->checkpoint_image.image_id == 0 || req->checkpoint_image.reserved0 != 0)
                        return -EINVAL;
                return all_zero(req->raw + sizeof(ProtoCheckpointImage),
                                sizeof(req->raw) - sizeof(ProtoCheckpointImage)) ? 0 : -EINVAL;
        default:
                return -EOPNOTSUPP;
        }
}

int proto_request_validate(const void *buf, size_t len, ProtoRequest *ret) {
        ProtoRequest req;
        int r;

        if (len < 1 || ((const uint8_t *) buf)[0] != PROTO_VERSION)
                return -EPROTONOSUPPORT;
        if (len != sizeof(ProtoRequest))
                return -EBADMSG;
        memcpy(&req, buf, sizeof(req));
        if (req.hdr.type % 2 != 0)
                return -EOPNOTSUPP;
        if (req.hdr.flags & ~PROTO_FLAGS_KNOWN)
                return -EINVAL;
        r = proto_payload_validate(&req);
        if (r < 0)
                return r;
        *ret = req;
        return 0;
}

int proto_reply_validate(const ProtoRequest *req, const void *buf, size_t len, ProtoReply *ret) {
        ProtoReply rep;

        if (len < 1 || ((const uint8_t *) buf)[0] != PROTO_VERSION)
                return -EPROTONOSUPPORT;
        if (len != sizeof(ProtoReply))
                return -EBADMSG;
        memcpy(&rep, buf, sizeof(rep));
        if (rep.hdr.type != req->hdr.type + 1 || rep.hdr.seq != req->hdr.seq ||
            rep.hdr.flags != req->hdr.flags)
                return -EPROTO;
        if (rep.error > 0 || rep.error < -4095 || rep.reserved0 != 0)
                return -EPROTO;
        *ret = rep;
        return 0;
}

bool proto_reply_carries_fd(const ProtoReply *rep) {
        return rep->hdr.type == PROTO_PSI_ARM_REPLY && rep->error == 0 &&
                !(rep->hdr.flags & PROTO_FLAG_PROBE);
}

void proto_reply_init(ProtoReply *rep, const ProtoRequest *req) {
        *rep = (ProtoReply) {
                .hdr.version = PROTO_VERSION,
                .hdr.type = req->hdr.type + 1,
                .hdr.flags = req->hdr.flags,
                .hdr.seq = req->hdr.seq,
        };
}

int privsep_socketpair(int ret_fds[2]) {
        return RET_NERRNO(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ret_fds));
}

/* Collect the fds of every SCM_RIGHTS message; anything else in the control data is refused. */
static int privsep_collect_fds(struct msghdr *mh, int fds[static PRIVSEP_MAX_FDS], size_t *ret_n) {
        size_t n = 0;
        int r = 0;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
                        r = -EBADMSG;
                        continue;
                }
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                        int f;

                        memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        if (n < PRIVSEP_MAX_FDS)
                                fds[n++] = f;
                        else
                                (void) close(f);
                }
        }
        *ret_n = n;
        return r;
}

/* recvmsg() returned 0: on SOCK_SEQPACKET that is either a hangup or an empty record. */
static int privsep_hung_up(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };

        if (poll(&p, 1, 0) < 0)
                return -errno;
        return (p.revents & (POLLHUP | POLLRDHUP)) ? 1 : 0;
}

int privsep_recv(int fd, void *buf, size_t size, int flags, size_t *ret_len, int *ret_fd) {
        union {
                struct cmsghdr align;
                uint8_t buf[CMSG_SPACE(sizeof(int) * PRIVSEP_MAX_FDS)];
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = size };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof(control),
        };
        int fds[PRIVSEP_MAX_FDS];
        size_t n_fds = 0;
        ssize_t n;
        int r;

        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | flags);
        if (n < 0)
                return -errno;
        r = privsep_collect_fds(&mh, fds, &n_fds);
        if (r >= 0 && (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
                r = -EBADMSG;
        if (r >= 0 && (n_fds > 1 || (n_fds > 0 && !ret_fd)))
                r = -EBADMSG;
        if (r >= 0 && n == 0) {
                /* hung up (0), or an empty record from a live peer (a violation) */
                r = privsep_hung_up(fd);
                if (r == 0)
                        r = -EBADMSG;
                else if (r > 0)
                        r = 0;
        } else if (r >= 0)
                r = 1;
        if (r <= 0) {
                for (size_t i = 0; i < n_fds; i++)
                        (void) close(fds[i]);
                return r;
        }
        *ret_len = (size_t) n;
        if (ret_fd)
                *ret_fd = n_fds > 0 ? fds[0] : -1;
        return 1;
}

int privsep_send(int fd, const void *buf, size_t len, int pass_fd) {
        union {
                struct cmsghdr align;
                uint8_t buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = (void *) buf, .iov_len = len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (pass_fd >= 0) {
                mh.msg_control = &control;
                mh.msg_controllen = sizeof(control);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
        }
        n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (n < 0)
                return -errno;
        return (size_t) n == len ? 0 : -EIO;
}

int privsep_recv_request(int fd, ProtoRequest *ret) {
        uint8_t buf[sizeof(ProtoRequest) + 1];
        size_t len;
        int r;

        /* no ret_fd: a request never carries an fd, one that does is refused and closed */
        r = privsep_recv(fd, buf, sizeof(buf), 0, &len, NULL);
        if (r <= 0)
                return r;
        r = proto_request_validate(buf, len, ret);
        return r < 0 ? r : 1;
}

int privsep_send_reply(int fd, const ProtoReply *rep, int pass_fd) {
        if ((pass_fd >= 0) != proto_reply_carries_fd(rep))
                return -EINVAL;
        return privsep_send(fd, rep, sizeof(*rep), pass_fd);
}

int privsep_send_request(int fd, const ProtoRequest *req) {
        return privsep_send(fd, req, sizeof(*req), -1);
}

int privsep_recv_reply(int fd, const ProtoRequest *req, ProtoReply *ret, int *ret_fd) {
        uint8_t buf[sizeof(ProtoReply) + 1];
        ProtoReply rep;
        size_t len;
        int r, got_fd = -1;

        r = privsep_recv(fd, buf, sizeof(buf), MSG_DONTWAIT, &len, &got_fd);
        if (r == 0)
                return -ECONNRESET;
        if (r < 0)
                return r;
        _cleanup_close_ int passed = got_fd;
        r = proto_reply_validate(req, buf, len, &rep);
        if (r < 0)
                return r;
        if ((passed >= 0) != proto_reply_carries_fd(&rep))
                return -EBADMSG;
        *ret = rep;
        *ret_fd = TAKE_FD(passed);
        return 0;
}

static usec_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

int privsep_call(int fd, const ProtoRequest *req, usec_t timeout, ProtoReply *ret, int *ret_fd) {
        usec_t deadline = now_usec() + timeout;
        int r;

        r = privsep_send_request(fd, req);
        if (r < 0)
                return r;
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                usec_t now = now_usec();

                if (now >= deadline)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int) ((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r <= 0)
                        continue;
                r = privsep_recv_reply(fd, req, ret, ret_fd);
                if (r != -EAGAIN)
                        return r;
        }
}

int privsep_peer(int sock, PrivsepPeer *ret) {
        struct ucred cred;
        socklen_t len = sizeof(cred);

        if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return -errno;
        if (len != sizeof(cred) || cred.pid <= 0)
                return -ENODATA;
        *ret = (PrivsepPeer) { .pid = cred.pid, .uid = cred.uid, .gid = cred.gid };
        return 0;
}

static bool component_eq(const char *c, size_t len, const char *lit) {
        return strlen(lit) == len && memcmp(c, lit, len) == 0;
}

/* Absolute, no empty, "." or ".." component, no trailing slash: the kernel's own spelling. */
static bool cgroup_path_clean(const char *cgroup) {
        if (!cgroup || cgroup[0] != '/')
                return false;
        for (const char *p = cgroup + 1; *p; ) {
                const char *e = strchrnul(p, '/');
                size_t n = (size_t) (e - p);

                if (n == 0 || component_eq(p, n, ".") || component_eq(p, n, "..") ||
                    (*e == '/' && e[1] == '\0'))
                        return false;
                p = *e ? e + 1 : e;
        }
        return true;
}

/* The end of cgroup's first component that equals name, or 0. */
static size_t cgroup_cut_after(const char *cgroup, const char *name) {
        for (const char *p = cgroup + 1; *p; ) {
                const char *e = strchrnul(p, '/');

                if (component_eq(p, (size_t) (e - p), name))
                        return (size_t) (e - cgroup);
                p = *e ? e + 1 : e;
        }
        return 0;
}

int cgroup_session_prefix(const char *cgroup, uid_t uid, char *buf, size_t size) {
        char service[32], slice[32];
        size_t cut;

        if (!cgroup_path_clean(cgroup))
                return -EINVAL;
        (void) snprintf(service, sizeof(service), "user@%u.service", (unsigned) uid);
        (void) snprintf(slice, sizeof(slice), "user-%u.slice", (unsigned) uid);
        /* the user manager's own cgroup wins over the slice around it */
        cut = cgroup_cut_after(cgroup, service) ?: cgroup_cut_after(cgroup, slice);
        if (cut == 0)
                return -EPERM;
        if (cut + 1 > size)
                return -ENAMETOOLONG;
        memcpy(buf, cgroup, cut);
        buf[cut] = '\0';
        return 0;
}

bool cgroup_path_within(const char *path, const char *prefix) {
        size_t n = strlen(prefix);

        if (strncmp(path, prefix, n) != 0)
                return false;
        return path[n] == '\0' || path[n] == '/';
}

int privsep_peer_session(const char *proc_root, const PrivsepPeer *peer, char *buf, size_t size) {
        ProcStatus st;
        ProcCgroup cg;
        int r;

        r = proc_status_read(proc_root, peer->pid, &st);
        if (r < 0)
                return r;
        if (st.ruid != peer->uid || st.euid != peer->uid)
                return -EPERM;          /* the pid is no longer (or never was) our daemon */
        r = proc_cgroup_read(proc_root, peer->pid, &cg);
        if (r < 0)
                return r;
        if (!cg.has_unified)
                return -EPERM;
        return cgroup_session_prefix(cg.unified, peer->uid, buf, size);
}

bool cgroup_session_app(const char *cgroup, const char *session) {
        char manager[PROC_CGROUP_MAX + 16];

        if ((size_t) snprintf(manager, sizeof(manager), "%s/init.scope", session) >= sizeof(manager))
                return false;
        return cgroup_path_clean(cgroup) && cgroup_path_within(cgroup, session) &&
                strcmp(cgroup, session) != 0 && !cgroup_path_within(cgroup, manager);
}

static bool target_started_at(const char *proc_root, pid_t pid, uint64_t starttime) {
        ProcStat ps;

        return proc_stat_read(proc_root, pid, &ps) >= 0 && ps.starttime == starttime;
}

int privsep_target_pin(const char *proc_root, const PrivsepPeer *peer, pid_t pid, uint64_t starttime,
                       int *ret_pidfd, char *ret_cgroup) {
        char session[PROC_CGROUP_MAX];
        _cleanup_close_ int pidfd = -1;
        ProcStatus st;
        ProcCgroup cg;
        int r;

        if (pid == peer->pid || pid == getpid())
                return privsep_log(LOG_WARNING, EPERM, "Refusing to act on mgd or this helper");
        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0 || !target_started_at(proc_root, pid, starttime))
                return privsep_log(LOG_INFO, ESRCH, "Process %d is gone or was replaced", pid);
        r = proc_status_read(proc_root, pid, &st);
        if (r < 0 || st.ruid != peer->uid || st.euid != peer->uid)
                return privsep_log(LOG_WARNING, EPERM, "Process %d does not belong to uid %u", pid, peer->uid);
        r = privsep_peer_session(proc_root, peer, session, sizeof(session));
        if (r >= 0)
                r = proc_cgroup_read(proc_root, pid, &cg);
        if (r < 0 || !cg.has_unified || !cgroup_session_app(cg.unified, session))
                return privsep_log(LOG_WARNING, EPERM, "Process %d is not an app of the session", pid);
        /* pinned: had the pid been reused during the reads above, the pidfd would say so */
        if (pidfd_send_signal(pidfd, 0, NULL, 0) < 0 || !target_started_at(proc_root, pid, starttime))
                return privsep_log(LOG_INFO, ESRCH, "Process %d went away while being validated", pid);
        if (ret_cgroup)
                memcpy(ret_cgroup, cg.unified, sizeof(cg.unified));
        *ret_pidfd = TAKE_FD(pidfd);
        return 0;
}

int privsep_cgroup2_root(const char *sys_root, char *buf, size_t size) {
        static const char *const candidates[] = { "/fs/cgroup", "/fs/cgroup/unified" };
        char probe[PATH_MAX];

        for (size_t i = 0; i < ELEMENTSOF(candidates); i++) {
                if ((size_t) snprintf(probe, sizeof(probe), "%s%s/cgroup.controllers", sys_root,
                                      candidates[i]) >= sizeof(probe) || access(probe, F_OK) < 0)
                        continue;
                if ((size_t) snprintf(buf, size, "%s%s", sys_root, candidates[i]) >= size)
                        return -ENAMETOOLONG;
                return 0;
        }
        return -ENOENT;
}

int privsep_app_cgroup_open(const char *proc_root, const char *sys_root, const PrivsepPeer *peer,
                            const char *cgroup, const char *file, bool create) {
        char session[PROC_CGROUP_MAX], root[PATH_MAX], dir[PATH_MAX + PROC_CGROUP_MAX], path[sizeof(dir) + 64];
        int r;

        r = privsep_peer_session(proc_root, peer, session, sizeof(session));
        if (r < 0 || !cgroup_session_app(cgroup, session))
                return -EPERM;
        r = privsep_cgroup2_root(sys_root, root, sizeof(root));
        if (r < 0)
                return r;
        if ((size_t) snprintf(dir, sizeof(dir), "%s%s", root, cgroup) >= sizeof(dir) ||
            (size_t) snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
                return -ENAMETOOLONG;
        if (create && mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        return RET_NERRNO(open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW));
}

static const PrivsepHandler *privsep_lookup(const PrivsepHandler *table, size_t n, uint8_t type) {
        for (size_t i = 0; i < n; i++)
                if (table[i].type == type)
                        return &table[i];
        return NULL;
}

int privsep_serve(int fd, const PrivsepHandler *table, size_t n, void *userdata) {
        for (;;) {
                const PrivsepHandler *h;
                ProtoRequest req;
                ProtoReply rep;
                bool fatal = false;
                int r;

                r = privsep_recv_request(fd, &req);
                if (r == 0 || r == -ECONNRESET)
                        return HELPER_EXIT_HANGUP;
                if (r < 0) {
                        privsep_log(LOG_ERR, r, "Refusing malformed request, exiting: %m");
                        return HELPER_EXIT_PROTOCOL;
                }
                h = privsep_lookup(table, n, req.hdr.type);
                if (!h) {
                        privsep_log(LOG_ERR, 0, "Request type %u (%s) is not served here, exiting",
                                    req.hdr.type, proto_type_name(req.hdr.type));
                        return HELPER_EXIT_PROTOCOL;
                }

                _cleanup_close_ int out_fd = -1;
                proto_reply_init(&rep, &req);
                rep.error = h->fn(&req, &rep, &out_fd, &fatal, userdata);
                if (rep.error > 0 || rep.error < -4095)
                        rep.error = -EIO;
                if (out_fd >= 0 && !proto_reply_carries_fd(&rep)) {
                        /* never pass an fd with a refusal or a probe */
                        (void) close(out_fd);
                        out_fd = -1;
                }
                r = privsep_send_reply(fd, &rep, out_fd);
                if (r == -EPIPE || r == -ECONNRESET)
                        return HELPER_EXIT_HANGUP;
                if (r < 0) {
                        privsep_log(LOG_ERR, r, "Failed to send reply: %m");
                        return HELPER_EXIT_FAILED;
                }
                if (fatal)
                        return HELPER_EXIT_FAILED;
        }
}

static const char *log_tag = "mgd-helper";
static int log_pid;

void privsep_log_open(const char *tag) {
        log_tag = tag;
        log_pid = (int) getpid();
}

int privsep_log(int level, int error, const char *fmt, ...) {
        char buf[1024];
        va_list ap;
        int n, k;

        /* %m in fmt expands to strerror(error): set errno for vsnprintf */
        errno = error < 0 ? -error : error;
        n = snprintf(buf, sizeof(buf), "<%d>%s[%d]: ", LOG_PRI(level), log_tag, log_pid);
        if (n < 0)
                return error < 0 ? error : -error;
        va_start(ap, fmt);
        k = vsnprintf(buf + n, sizeof(buf) - (size_t) n - 1, fmt, ap);
        va_end(ap);
        if (k < 0)
                k = 0;
        n = MIN((size_t) n + (size_t) k, sizeof(buf) - 2);
        buf[n++] = '\n';
        (void) !write(STDERR_FILENO, buf, (size_t) n);
        return error < 0 ? error : -error;
}
