/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * The control socket: a unix stream socket in the user's private runtime directory speaking the
 * line protocol of docs/PROTOCOL.md. The server only frames, authenticates (SO_PEERCRED: our
 * uid only), parses and dispatches; the daemon implements the handlers. Everything is driven by
 * sd-event and non-blocking, so a slow, silent or hostile client never stalls the daemon: input
 * is capped per line, output per client, the number of clients is capped and idle clients are
 * dropped.
 */

#include <sys/types.h>

#include <systemd/sd-event.h>

#include "common/macro.h"
#include "daemon/ctl-parse.h"

#define CTL_CLIENTS_MAX 32
#define CTL_OUTPUT_MAX (64U * 1024U)    /* pending output above this pauses a client's requests */
#define CTL_IDLE_TIMEOUT_USEC (10 * USEC_PER_SEC)
/*
 * Until its first whole line, and while in the middle of any later one, a client has at most
 * this long (and at most a quarter of the idle timeout): a request is one short line written at
 * once, so only a client that is not really talking waits here.
 */
#define CTL_LINE_TIMEOUT_USEC (1 * USEC_PER_SEC)

/*
 * The daemon's side of each command. Handlers run synchronously on the event loop, append data
 * lines with ctl_reply_line()/ctl_reply_kv(), and return >= 0 for OK or -errno for ERR (after
 * ctl_reply_error() for a specific text; else strerror() is used). Any handler may be NULL: the
 * command then answers ERR ENOTSUP. Handlers must not free the server.
 */
typedef struct CtlHandlers {
        int (*status)(void *userdata, CtlReply *reply);
        int (*list)(void *userdata, CtlReply *reply);
        /* exactly one of pid (> 0) and name (non-NULL, decoded, non-empty) is set */
        int (*unfreeze)(void *userdata, pid_t pid, const char *name, CtlReply *reply);
        int (*reload)(void *userdata, CtlReply *reply);
        int (*foreground)(void *userdata, pid_t pid, CtlReply *reply);     /* pid 0: clear */
        /* as unfreeze: exactly one of pid (> 0) and name is set */
        int (*explain)(void *userdata, pid_t pid, const char *name, CtlReply *reply);
} CtlHandlers;

typedef struct CtlServer CtlServer;

/*
 * Check that dir is a private runtime directory of uid: an absolute path to a directory owned by
 * uid with no group or other permission bits. -EINVAL (relative), -ENOENT, -ENOTDIR, -EPERM
 * (owner), -EACCES (mode), or stat()'s error; *reterr_what (if non-NULL) gets a static phrase.
 */
int ctl_runtime_dir_check(const char *dir, uid_t uid, const char **reterr_what);

/*
 * "$XDG_RUNTIME_DIR/mgd.sock" after ctl_runtime_dir_check() of $XDG_RUNTIME_DIR; -ENXIO if the
 * variable is unset or empty. There is deliberately no fallback to /tmp. Logs the reason.
 */
int ctl_socket_path_default(uid_t uid, char **ret);

/*
 * Bind path (whose directory must pass ctl_runtime_dir_check()) with mode 0600 and serve it on e.
 * An existing socket that answers → -EADDRINUSE (another mgd is running); a stale one is
 * replaced; any other file there → -EEXIST. The handlers struct is copied. Logs every refusal.
 */
int ctl_server_new(sd_event *e, const char *path, uid_t uid, const CtlHandlers *h, void *userdata,
                   CtlServer **ret);

/*
 * Serve an already bound and listening AF_UNIX stream socket (socket activation); the server
 * takes the fd (also on failure) and never unlinks anything. -ENOTSOCK/-EINVAL if fd is not one.
 */
int ctl_server_new_fd(sd_event *e, int fd, uid_t uid, const CtlHandlers *h, void *userdata,
                      CtlServer **ret);

/* Drop a client that completes no line and accepts no output for this long (default 10 s). */
void ctl_server_set_idle_timeout(CtlServer *s, usec_t usec);

unsigned ctl_server_n_clients(const CtlServer *s);

/* Close every client and the listening socket; unlink the path if it is still ours. NULL-safe. */
CtlServer *ctl_server_free(CtlServer *s);
static inline void ctl_server_freep(CtlServer **s) {
        ctl_server_free(*s);
}
#define _cleanup_ctl_server_ _cleanup_(ctl_server_freep)
