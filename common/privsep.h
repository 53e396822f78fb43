/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Both ends of the helper protocol of common/proto.h: the pure validators (fuzzable, no I/O), the
 * SOCK_SEQPACKET transport with fd passing, the helpers' request loop and their stderr logging.
 * Nothing here links libsystemd: helpers link it, and every library a helper links widens its
 * seccomp allowlist.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <syslog.h>

#include "common/macro.h"
#include "common/proto.h"

/* ---- validators (pure) ---- */

/*
 * Check a received request record: version first (-EPROTONOSUPPORT), then the exact length
 * (-EBADMSG), then the type (-EOPNOTSUPP for odd or unknown types), flags, reserved bytes and
 * enums (-EINVAL). Numeric bounds that a configuration could legitimately get wrong (a PSI
 * window) are not checked here: the helper refuses those with a reply. On success copies the
 * record into *ret and returns 0; on failure *ret is untouched.
 */
int proto_request_validate(const void *buf, size_t len, ProtoRequest *ret);

/*
 * Check a reply against the request it answers: version (-EPROTONOSUPPORT), length (-EBADMSG),
 * then type == request type + 1, the echoed seq and flags, error in [-4095, 0] and zero reserved
 * bytes (-EPROTO). Returns 0 and fills *ret, or -errno leaving *ret untouched.
 */
int proto_reply_validate(const ProtoRequest *req, const void *buf, size_t len, ProtoReply *ret);

/* The only reply that carries an fd: PSI_ARM_REPLY with error 0 that is not a probe. */
bool proto_reply_carries_fd(const ProtoReply *rep);

/* A zeroed reply that echoes version, type + 1, flags and seq of req. */
void proto_reply_init(ProtoReply *rep, const ProtoRequest *req);

/* Name of a message type ("PSI_ARM", "ZRAM_COMPACT_REPLY", ...) or "unknown". */
const char *proto_type_name(unsigned type);

/* ---- transport ---- */

/* A SOCK_SEQPACKET | SOCK_CLOEXEC socketpair. */
int privsep_socketpair(int ret_fds[2]);

/*
 * Receive one record into buf (which must be one byte larger than the largest valid record, so
 * an oversized record is seen as such). Returns 1 and the length, 0 when the peer hung up, or
 * -errno: -EBADMSG for MSG_TRUNC/MSG_CTRUNC, a zero-length record from a live peer, a control
 * message that is not SCM_RIGHTS or more than one fd (all received fds are closed then).
 * With ret_fd NULL any received fd is closed and the record refused with -EBADMSG.
 * flags: extra recvmsg flags (MSG_DONTWAIT). Received fds are O_CLOEXEC.
 */
int privsep_recv(int fd, void *buf, size_t size, int flags, size_t *ret_len, int *ret_fd);

/* Send one record, with pass_fd (>= 0) as SCM_RIGHTS. MSG_NOSIGNAL: -EPIPE, not SIGPIPE. */
int privsep_send(int fd, const void *buf, size_t len, int pass_fd);

/* Helper side: 1 and a valid request; 0 when the daemon hung up; -errno for a violation. */
int privsep_recv_request(int fd, ProtoRequest *ret);
/* Helper side: pass_fd must be >= 0 exactly when proto_reply_carries_fd(rep) (-EINVAL else). */
int privsep_send_reply(int fd, const ProtoReply *rep, int pass_fd);

/* Daemon side. */
int privsep_send_request(int fd, const ProtoRequest *req);
/*
 * Daemon side, non-blocking: -EAGAIN when nothing is queued, -ECONNRESET when the helper hung
 * up, otherwise what proto_reply_validate() says; a reply that should carry an fd and does not
 * (or the reverse) is -EBADMSG. On success *ret_fd is the passed fd or -1.
 */
int privsep_recv_reply(int fd, const ProtoRequest *req, ProtoReply *ret, int *ret_fd);
/* Daemon side, synchronous: send and wait at most timeout for the reply (-ETIMEDOUT). */
int privsep_call(int fd, const ProtoRequest *req, usec_t timeout, ProtoReply *ret, int *ret_fd);

/* ---- who the daemon is (helper side) ---- */

typedef struct PrivsepPeer {
        pid_t pid;
        uid_t uid;
        gid_t gid;
} PrivsepPeer;

/* SO_PEERCRED of the socket: for a socketpair, the process that created it (the daemon). */
int privsep_peer(int sock, PrivsepPeer *ret);

/*
 * The session cgroup for uid of a process whose unified cgroup path is `cgroup`: the path cut
 * after its component "user@UID.service", or if it has none, after "user-UID.slice". -EPERM when
 * it has neither; -EINVAL for a path that is not absolute or has an empty, "." or ".."
 * component; -ENAMETOOLONG if size is too small.
 */
int cgroup_session_prefix(const char *cgroup, uid_t uid, char *buf, size_t size);

/* path equals prefix or lies below it (component-wise: "/a/bc" is not below "/a/b"). */
bool cgroup_path_within(const char *path, const char *prefix);

/* An app of the session: strictly below it, and not in the user manager's own init.scope. */
bool cgroup_session_app(const char *cgroup, const char *session);

/*
 * The daemon's session cgroup, derived by the helper from its peer pid's /proc files under
 * proc_root: that pid must still belong to the peer uid (-EPERM otherwise), then as above.
 */
int privsep_peer_session(const char *proc_root, const PrivsepPeer *peer, char *buf, size_t size);

/*
 * A process the daemon asks a helper to act on, validated from the kernel's view only: not the
 * daemon or this helper (-EPERM); alive with the start time the daemon saw (field 22 of
 * /proc/PID/stat; -ESRCH); real and effective uid the peer's (-EPERM); an app of the daemon's
 * session (cgroup_session_app(), -EPERM). It is pinned with a pidfd first and checked through it
 * again last, so a pid reused during the reads fails the check. Logs each refusal. Returns 0,
 * *ret_pidfd and, when ret_cgroup is not NULL, its cgroup (PROC_CGROUP_MAX bytes).
 */
int privsep_target_pin(const char *proc_root, const PrivsepPeer *peer, pid_t pid, uint64_t starttime,
                       int *ret_pidfd, char *ret_cgroup);

/* sys_root + "/fs/cgroup" on unified systems, + "/fs/cgroup/unified" on hybrid ones; -ENOENT. */
int privsep_cgroup2_root(const char *sys_root, char *buf, size_t size);

/*
 * file (e.g. "cgroup.procs") of cgroup, opened for writing (O_CLOEXEC). cgroup, a path below the
 * cgroup2 root as /proc/PID/cgroup spells it, must be an app of the daemon's session
 * (privsep_peer_session(), cgroup_session_app()): -EPERM otherwise, without logging. With
 * create, a missing last level is made first (a scope systemd removed once it was empty).
 * Returns the fd or -errno.
 */
int privsep_app_cgroup_open(const char *proc_root, const char *sys_root, const PrivsepPeer *peer,
                            const char *cgroup, const char *file, bool create);

/* ---- the helpers' request loop ---- */

/*
 * One entry of a helper's dispatch table. fn returns the reply's error (0 or -errno) and may set
 * *ret_fd (PSI only) and *ret_fatal (reply, then exit HELPER_EXIT_FAILED).
 */
typedef int (*privsep_handler_t)(const ProtoRequest *req, ProtoReply *rep, int *ret_fd,
                                 bool *ret_fatal, void *userdata);
typedef struct PrivsepHandler {
        uint8_t type;
        privsep_handler_t fn;
} PrivsepHandler;

/*
 * Serve requests on fd until the daemon hangs up. A request whose type is not in the table, or
 * any violation, ends the loop without a reply. Returns the helper's exit code.
 */
int privsep_serve(int fd, const PrivsepHandler *table, size_t n, void *userdata);

/* ---- helper logging: one line per write() to the inherited stderr, "<N>" level prefix ---- */

void privsep_log_open(const char *tag);
/* Returns -abs(error) (0 when error is 0), so "return privsep_log(LOG_ERR, r, ...)" works. */
int privsep_log(int level, int error, const char *fmt, ...) _printf_(3, 4);
