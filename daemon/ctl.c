/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "build-config.h"
#include "common/statefile.h"
#include "daemon/ctl.h"
#include "daemon/log.h"

#define CTL_BACKLOG 64
#define CTL_ACCEPT_BURST 64             /* connections taken per wake-up, so clients are not starved */
#define CTL_ACCEPT_RETRY_USEC USEC_PER_SEC
#define CTL_IDLE_ACCURACY_USEC (50 * USEC_PER_MSEC)

typedef struct CtlClient CtlClient;

/*
 * One connection. Input is one line buffer: a request is processed as soon as its "\n" arrives,
 * and only while less than CTL_OUTPUT_MAX of earlier replies is waiting to be sent, so a client
 * that pipelines requests but never reads stops being read (the kernel then blocks it) instead of
 * growing our memory. It is dropped when the idle timer fires.
 */
struct CtlClient {
        CtlServer *server;
        CtlClient *prev, *next;
        int fd;
        pid_t pid;                      /* from SO_PEERCRED, for log messages only */
        sd_event_source *io, *timer;
        char in[CTL_LINE_MAX];
        size_t in_len;
        char *out;
        size_t out_off, out_len, out_alloc;
        bool eof;                       /* the peer shut down its sending side */
        bool seen_line;                 /* has sent one whole line: past the short deadline */
        uint64_t line_since;            /* CLOCK_MONOTONIC: accepted, or its current line began */
        bool closing;                   /* send what is queued, then close */
};

struct CtlServer {
        sd_event *event;
        int listen_fd;
        sd_event_source *listen_source, *retry_source;
        char *path;                     /* NULL: the fd was handed to us, nothing to unlink */
        dev_t dev;
        ino_t ino;
        uid_t uid;
        CtlHandlers handlers;
        void *userdata;
        usec_t idle_timeout;
        CtlClient *clients;
        unsigned n_clients;
};

/* ---- clients ---------------------------------------------------------------------------- */

static size_t client_pending(const CtlClient *c) {
        return c->out_len - c->out_off;
}

static bool client_may_read(const CtlClient *c) {
        return !c->eof && !c->closing && c->in_len < sizeof(c->in) &&
                client_pending(c) < CTL_OUTPUT_MAX;
}

static void client_free(CtlClient *c) {
        CtlServer *s = c->server;

        if (c->prev)
                c->prev->next = c->next;
        else
                s->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_clients--;

        (void) sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
        sd_event_source_unref(c->io);
        (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        sd_event_source_unref(c->timer);
        closep(&c->fd);
        free(c->out);
        free(c);
}

static void client_drop(CtlClient *c, int error, const char *why) {
        if (error < 0)
                log_debug_errno(error, "Control client pid %d dropped: %s: %m", (int) c->pid, why);
        else
                log_debug("Control client pid %d closed: %s", (int) c->pid, why);
        client_free(c);
}

/*
 * A client that has not sent a whole line yet, or is in the middle of one, is still "starting"
 * (sshd's unauthenticated connection): it gets a much shorter deadline than an idle client
 * between requests, and is the first to go when every slot is taken (server_make_room()).
 */
static bool client_starting(const CtlClient *c) {
        return !c->seen_line || c->in_len > 0;
}

static usec_t client_deadline(const CtlClient *c) {
        usec_t idle = c->server->idle_timeout;

        return client_starting(c) ? MIN(CTL_LINE_TIMEOUT_USEC, idle / 4) : idle;
}

static void client_timer_reset(CtlClient *c) {
        uint64_t now;

        if (sd_event_now(c->server->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        (void) sd_event_source_set_time(c->timer, now + client_deadline(c));
        (void) sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

static int client_queue(CtlClient *c, const char *data, size_t n) {
        if (c->out_off > 0) {
                memmove(c->out, c->out + c->out_off, client_pending(c));
                c->out_len -= c->out_off;
                c->out_off = 0;
        }
        if (c->out_len + n > c->out_alloc) {
                size_t a = MAX(c->out_alloc * 2, c->out_len + n);
                char *p = realloc(c->out, a);

                if (!p)
                        return -ENOMEM;
                c->out = p;
                c->out_alloc = a;
        }
        memcpy(c->out + c->out_len, data, n);
        c->out_len += n;
        return 0;
}

static int client_queue_error(CtlClient *c, int err, const char *text) {
        _cleanup_free_ char *line = ctl_error_line(err, text);

        if (!line)
                return -ENOMEM;
        return client_queue(c, line, strlen(line));
}

static int client_flush(CtlClient *c) {
        while (client_pending(c) > 0) {
                ssize_t n = send(c->fd, c->out + c->out_off, client_pending(c),
                                 MSG_DONTWAIT | MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? 0 : -errno;
                }
                c->out_off += (size_t) n;
                client_timer_reset(c);
        }
        c->out_off = c->out_len = 0;
        /* one big LIST should not pin a megabyte for the rest of the connection */
        if (c->out_alloc > CTL_OUTPUT_MAX) {
                free(c->out);
                c->out = NULL;
                c->out_alloc = 0;
        }
        return 0;
}

/* ---- dispatch --------------------------------------------------------------------------- */

typedef int (*CtlDispatch)(CtlServer *s, const CtlRequest *req, CtlReply *reply);

static int not_available(const CtlRequest *req, CtlReply *reply) {
        (void) ctl_reply_error(reply, "%s is not available in this mgd",
                               ctl_command_to_string(req->command));
        return -ENOTSUP;
}

static int dispatch_version(CtlServer *s, const CtlRequest *req, CtlReply *reply) {
        char proto[16];

        (void) snprintf(proto, sizeof proto, "%d", CTL_PROTOCOL_VERSION);
        return ctl_reply_kv(reply, "protocol", proto, "version", PACKAGE_VERSION, NULL);
}

static int dispatch_status(CtlServer *s, const CtlRequest *req, CtlReply *reply) {
        if (!s->handlers.status)
                return not_available(req, reply);
        return s->handlers.status(s->userdata, reply);
}

static int dispatch_list(CtlServer *s, const CtlRequest *req, CtlReply *reply) {
        if (!s->handlers.list)
                return not_available(req, reply);
        return s->handlers.list(s->userdata, reply);
}

static int dispatch_unfreeze(CtlServer *s, const CtlRequest *req, CtlReply *reply) {
        if (!s->handlers.unfreeze)
                return not_available(req, reply);
        return s->handlers.unfreeze(s->userdata, req->name[0] ? 0 : req->pid,
                                    req->name[0] ? req->name : NULL, reply);
}

static int dispatch_reload(CtlServer *s, const CtlRequest *req, CtlReply *reply) {
        if (!s->handlers.reload)
                return not_available(req, reply);
        return s->handlers.reload(s->userdata, reply);
}

static int dispatch_foreground(CtlServer *s, const CtlRequest *req, CtlReply *reply) {
        if (!s->handlers.foreground)
                return not_available(req, reply);
        return s->handlers.foreground(s->userdata, req->pid, reply);
}

static int dispatch_explain(CtlServer *s, const CtlRequest *req, CtlReply *reply) {
        if (!s->handlers.explain)
                return not_available(req, reply);
        return s->handlers.explain(s->userdata, req->name[0] ? 0 : req->pid, req->name[0] ? req->name : NULL, reply);
}

static const CtlDispatch dispatch_table[_CTL_COMMAND_MAX] = {
        [CTL_VERSION] = dispatch_version,
        [CTL_STATUS] = dispatch_status,
        [CTL_LIST] = dispatch_list,
        [CTL_UNFREEZE] = dispatch_unfreeze,
        [CTL_RELOAD] = dispatch_reload,
        [CTL_FOREGROUND] = dispatch_foreground,
        [CTL_EXPLAIN] = dispatch_explain,
};

static int client_handle_line(CtlClient *c, const char *line, size_t len) {
        _cleanup_ctl_reply_ CtlReply *reply = NULL;
        _cleanup_free_ char *text = NULL;
        char err[256];
        CtlRequest req;
        size_t n;
        int r;

        r = ctl_request_parse(line, len, &req, err, sizeof err);
        if (r < 0) {
                log_debug("Control client pid %d: bad request: %s", (int) c->pid, err);
                return client_queue_error(c, r, err);
        }

        reply = ctl_reply_new();
        if (!reply)
                return -ENOMEM;
        r = dispatch_table[req.command](c->server, &req, reply);
        log_debug("Control client pid %d: %s → %s", (int) c->pid,
                  ctl_command_to_string(req.command), r < 0 ? ctl_errno_name(r) : "OK");
        r = ctl_reply_finish(reply, r, &text, &n);
        if (r < 0)
                return r;
        return client_queue(c, text, n);
}

/* 1 if a line was consumed (or the connection is being closed for a too long one), 0 if none. */
static int client_next_line(CtlClient *c) {
        char *nl = memchr(c->in, '\n', c->in_len);
        size_t len;
        int r;

        if (!nl) {
                /* A full buffer without "\n" holds a line that can never be complete. */
                if (c->in_len < sizeof(c->in))
                        return 0;
                c->closing = true;
                r = client_queue_error(c, -E2BIG, "line too long");
                return r < 0 ? r : 1;
        }

        len = (size_t) (nl - c->in);
        r = client_handle_line(c, c->in, len);
        c->in_len -= len + 1;
        memmove(c->in, nl + 1, c->in_len);
        c->seen_line = true;
        (void) sd_event_now(c->server->event, CLOCK_MONOTONIC, &c->line_since);
        client_timer_reset(c);
        return r < 0 ? r : 1;
}

/*
 * Send what we can, then answer complete requests until output backs up, then wait for the
 * events that can make progress. An unterminated last line at EOF is ignored: a client that died
 * mid-line ("UNFREEZE 12" of "UNFREEZE 1234") must not have half a request executed.
 */
static void client_advance(CtlClient *c) {
        uint32_t events;
        int r;

        for (;;) {
                r = client_flush(c);
                if (r < 0) {
                        client_drop(c, r, "write failed");
                        return;
                }
                if (c->closing || client_pending(c) >= CTL_OUTPUT_MAX)
                        break;
                r = client_next_line(c);
                if (r < 0) {
                        client_drop(c, r, "cannot answer");
                        return;
                }
                if (r == 0)
                        break;
        }

        if (client_pending(c) == 0 && (c->closing || c->eof)) {
                client_drop(c, 0, c->closing ? "closed after an error" : "end of input");
                return;
        }

        events = (client_may_read(c) ? EPOLLIN : 0) | (client_pending(c) > 0 ? EPOLLOUT : 0);
        r = sd_event_source_set_io_events(c->io, events);
        if (r < 0)
                client_drop(c, r, "cannot update events");
}

static int client_read(CtlClient *c) {
        ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
        bool idle = !client_starting(c);

        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0)
                c->eof = true;
        c->in_len += (size_t) n;
        /* an idle client begins a line: from now on the short deadline (more bytes do not extend it) */
        if (idle && client_starting(c)) {
                (void) sd_event_now(c->server->event, CLOCK_MONOTONIC, &c->line_since);
                client_timer_reset(c);
        }
        return 0;
}

static int client_on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        CtlClient *c = userdata;
        int r;

        if ((revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) && client_may_read(c)) {
                r = client_read(c);
                if (r < 0) {
                        client_drop(c, r, "read failed");
                        return 0;
                }
        }
        client_advance(c);
        return 0;
}

static int client_on_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
        CtlClient *c = userdata;
        static const char line[] = "ERR ETIMEDOUT idle timeout\n";

        /* Best effort, only if nothing else is queued: it must not interleave with a reply. */
        if (client_pending(c) == 0)
                (void) send(c->fd, line, sizeof line - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        client_drop(c, 0, "idle timeout");
        return 0;
}

static int client_new(CtlServer *s, int fd, pid_t pid) {
        CtlClient *c;
        uint64_t now = 0;
        int r;

        c = calloc(1, sizeof(CtlClient));
        if (!c) {
                (void) close(fd);
                return -ENOMEM;
        }
        c->server = s;
        c->fd = fd;
        c->pid = pid;
        c->next = s->clients;
        if (s->clients)
                s->clients->prev = c;
        s->clients = c;
        s->n_clients++;

        r = sd_event_add_io(s->event, &c->io, fd, EPOLLIN, client_on_io, c);
        if (r >= 0)
                r = sd_event_now(s->event, CLOCK_MONOTONIC, &now);
        c->line_since = now;
        if (r >= 0)
                r = sd_event_add_time(s->event, &c->timer, CLOCK_MONOTONIC, now + client_deadline(c),
                                      CTL_IDLE_ACCURACY_USEC, client_on_timeout, c);
        if (r < 0) {
                client_free(c);
                return r;
        }
        return 0;
}

/* ---- accepting -------------------------------------------------------------------------- */

/* One line to a connection we will not serve; its buffer is empty, so this cannot block. */
static void reject(int fd, const char *line) {
        (void) send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
        (void) close(fd);
}

/*
 * All slots taken: drop the client that has been starting longest (no whole line yet, or stuck
 * in the middle of one, and nothing of ours still to send), as sshd's MaxStartups drops
 * unauthenticated connections, so half-line connections cannot lock everyone out. Clients
 * between requests are left alone. true if a slot was freed.
 */
static bool server_make_room(CtlServer *s) {
        static const char line[] = "ERR EBUSY dropped: no complete request while the server was full\n";
        CtlClient *victim = NULL;

        /* first take in what they sent by now: a request already on its way is not a stall */
        for (CtlClient *c = s->clients, *next; c; c = next) {
                next = c->next;
                if (client_starting(c) && client_may_read(c) && client_read(c) >= 0)
                        client_advance(c);      /* may free c, never next */
        }
        /* the list is newest first, and one accept burst shares a timestamp: "<=" keeps the older */
        for (CtlClient *c = s->clients; c; c = c->next)
                if (client_starting(c) && client_pending(c) == 0 && !c->closing &&
                    (!victim || c->line_since <= victim->line_since))
                        victim = c;
        if (!victim)
                return false;
        (void) send(victim->fd, line, sizeof line - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        client_drop(victim, 0, "the oldest starting client, dropped to make room");
        return true;
}

static void server_take(CtlServer *s, int fd) {
        struct ucred cred = {};
        socklen_t len = sizeof cred;
        int r;

        /* The trust boundary: the kernel vouches for the peer's uid; nothing it sends does. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof cred) {
                log_warning_errno(errno, "Cannot get control client credentials, closing: %m");
                (void) close(fd);
                return;
        }
        if (cred.uid != s->uid) {
                log_warning("Refused control connection from uid %u (pid %d): only uid %u may connect",
                            (unsigned) cred.uid, (int) cred.pid, (unsigned) s->uid);
                reject(fd, "ERR EPERM permission denied\n");
                return;
        }
        if (s->n_clients >= CTL_CLIENTS_MAX && !server_make_room(s)) {
                log_debug("Refused control connection from pid %d: %u clients already",
                          (int) cred.pid, s->n_clients);
                reject(fd, "ERR EBUSY too many clients\n");
                return;
        }
        r = client_new(s, fd, cred.pid);
        if (r < 0)
                log_warning_errno(r, "Cannot set up control client, closing: %m");
}

static int server_on_retry(sd_event_source *src, uint64_t usec, void *userdata) {
        CtlServer *s = userdata;

        return sd_event_source_set_enabled(s->listen_source, SD_EVENT_ON);
}

/* Out of fds or memory: the socket stays readable, so pause accepting instead of spinning. */
static int server_pause_accepting(CtlServer *s) {
        uint64_t now;
        int r;

        r = sd_event_source_set_enabled(s->listen_source, SD_EVENT_OFF);
        if (r < 0)
                return r;
        r = sd_event_now(s->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        if (s->retry_source) {
                r = sd_event_source_set_time(s->retry_source, now + CTL_ACCEPT_RETRY_USEC);
                if (r < 0)
                        return r;
                return sd_event_source_set_enabled(s->retry_source, SD_EVENT_ONESHOT);
        }
        return sd_event_add_time(s->event, &s->retry_source, CLOCK_MONOTONIC,
                                 now + CTL_ACCEPT_RETRY_USEC, 0, server_on_retry, s);
}

static int server_on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        CtlServer *s = userdata;

        for (unsigned i = 0; i < CTL_ACCEPT_BURST; i++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (cfd >= 0) {
                        server_take(s, cfd);
                        continue;
                }
                if (errno == EAGAIN || errno == EINTR)
                        return 0;
                if (errno == ECONNABORTED)
                        continue;
                log_warning_errno(errno, "Cannot accept control connections, pausing for 1s: %m");
                return server_pause_accepting(s);
        }
        return 0;
}

/* ---- setting up ------------------------------------------------------------------------- */

int ctl_runtime_dir_check(const char *dir, uid_t uid, const char **reterr_what) {
        return statedir_check(dir, uid, reterr_what);   /* the same rules as the state directory's */
}

int ctl_socket_path_default(uid_t uid, char **ret) {
        const char *dir = secure_getenv("XDG_RUNTIME_DIR"), *what;
        char *p;
        int r;

        if (!dir || !*dir)
                return log_error_errno(ENXIO, "XDG_RUNTIME_DIR is not set; mgd needs the session's "
                                       "private runtime directory (/run/user/%u) for its control "
                                       "socket and does not fall back to /tmp", (unsigned) uid);
        r = ctl_runtime_dir_check(dir, uid, &what);
        if (r < 0)
                return log_error_errno(r, "XDG_RUNTIME_DIR=%s %s; refusing to put the control "
                                       "socket there: %m", dir, what);
        if (asprintf(&p, "%s/%s", dir, CTL_SOCKET_NAME) < 0)
                return log_error_errno(ENOMEM, "Out of memory");
        *ret = p;
        return 0;
}

static int sockaddr_from_path(const char *path, struct sockaddr_un *sa) {
        *sa = (struct sockaddr_un) { .sun_family = AF_UNIX };
        if (!path || path[0] != '/')
                return log_error_errno(EINVAL, "Control socket path '%s' is not absolute",
                                       path ?: "");
        if (strlen(path) >= sizeof(sa->sun_path))
                return log_error_errno(ENAMETOOLONG, "Control socket path %s is longer than %zu bytes",
                                       path, sizeof(sa->sun_path) - 1);
        strcpy(sa->sun_path, path);
        return 0;
}

static int socket_dir_check(const char *path, uid_t uid) {
        _cleanup_free_ char *copy = strdup(path);
        const char *dir, *what;
        int r;

        if (!copy)
                return log_error_errno(ENOMEM, "Out of memory");
        dir = dirname(copy);
        r = ctl_runtime_dir_check(dir, uid, &what);
        if (r < 0)
                return log_error_errno(r, "Control socket directory %s %s; refusing to create %s: %m",
                                       dir, what, path);
        return 0;
}

/* Something listening on the path is another mgd; a socket nobody listens on is stale. */
static int socket_clear_stale(const struct sockaddr_un *sa) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (lstat(sa->sun_path, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                return log_error_errno(errno, "Cannot examine %s: %m", sa->sun_path);
        }
        if (!S_ISSOCK(st.st_mode))
                return log_error_errno(EEXIST, "%s exists and is not a socket; not removing it",
                                       sa->sun_path);

        /* Non-blocking: a hung daemon with a full backlog answers EAGAIN instead of hanging us. */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "Cannot create a socket: %m");
        if (connect(fd, (const struct sockaddr *) sa, sizeof *sa) == 0 || errno == EAGAIN)
                return log_error_errno(EADDRINUSE, "Another mgd is running: %s answers",
                                       sa->sun_path);
        if (errno != ECONNREFUSED)
                return log_error_errno(errno, "Cannot probe existing socket %s: %m", sa->sun_path);
        if (unlink(sa->sun_path) < 0 && errno != ENOENT)
                return log_error_errno(errno, "Cannot remove stale socket %s: %m", sa->sun_path);
        log_info("Removed stale control socket %s", sa->sun_path);
        return 0;
}

static int socket_bind_listen(const struct sockaddr_un *sa, struct stat *ret_st) {
        _cleanup_close_ int fd = -1;
        mode_t old;
        int r;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "Cannot create the control socket: %m");

        /* umask closes the window between bind() and chmod(); the directory is private anyway. */
        old = umask(0077);
        r = bind(fd, (const struct sockaddr *) sa, sizeof *sa);
        umask(old);
        if (r < 0)
                return log_error_errno(errno, "Cannot bind control socket %s: %m", sa->sun_path);
        if (chmod(sa->sun_path, 0600) < 0 || listen(fd, CTL_BACKLOG) < 0 ||
            stat(sa->sun_path, ret_st) < 0) {
                r = log_error_errno(errno, "Cannot set up control socket %s: %m", sa->sun_path);
                (void) unlink(sa->sun_path);
                return r;
        }
        return TAKE_FD(fd);
}

static int server_start(sd_event *e, int fd, uid_t uid, const CtlHandlers *h, void *userdata,
                        CtlServer **ret) {
        CtlServer *s;
        int r;

        s = calloc(1, sizeof(CtlServer));
        if (!s) {
                (void) close(fd);
                return log_error_errno(ENOMEM, "Out of memory");
        }
        s->event = sd_event_ref(e);
        s->listen_fd = fd;
        s->uid = uid;
        s->handlers = *h;
        s->userdata = userdata;
        s->idle_timeout = CTL_IDLE_TIMEOUT_USEC;

        r = sd_event_add_io(e, &s->listen_source, fd, EPOLLIN, server_on_accept, s);
        if (r < 0) {
                ctl_server_free(s);
                return log_error_errno(r, "Cannot watch the control socket: %m");
        }
        *ret = s;
        return 0;
}

int ctl_server_new(sd_event *e, const char *path, uid_t uid, const CtlHandlers *h, void *userdata,
                   CtlServer **ret) {
        struct sockaddr_un sa;
        struct stat st;
        CtlServer *s;
        int fd, r;

        r = sockaddr_from_path(path, &sa);
        if (r < 0)
                return r;
        r = socket_dir_check(path, uid);
        if (r < 0)
                return r;
        r = socket_clear_stale(&sa);
        if (r < 0)
                return r;
        fd = socket_bind_listen(&sa, &st);
        if (fd < 0)
                return fd;

        r = server_start(e, fd, uid, h, userdata, &s);
        if (r < 0) {
                (void) unlink(path);
                return r;
        }
        s->path = strdup(path);
        if (!s->path) {
                (void) unlink(path);
                ctl_server_free(s);
                return log_error_errno(ENOMEM, "Out of memory");
        }
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        log_debug("Control socket listening on %s", path);
        *ret = s;
        return 0;
}

static int socket_check_listening(int fd) {
        int v;
        socklen_t len = sizeof v;

        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0)
                return -errno;
        if (v != AF_UNIX)
                return -EINVAL;
        len = sizeof v;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0)
                return -errno;
        if (v != SOCK_STREAM)
                return -EINVAL;
        len = sizeof v;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0)
                return -errno;
        return v ? 0 : -EINVAL;
}

int ctl_server_new_fd(sd_event *e, int fd, uid_t uid, const CtlHandlers *h, void *userdata,
                      CtlServer **ret) {
        int r, flags;

        r = socket_check_listening(fd);
        if (r < 0) {
                (void) close(fd);
                return log_error_errno(r, "Control socket fd %d is not a listening unix stream "
                                       "socket: %m", fd);
        }
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
            fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
                r = log_error_errno(errno, "Cannot make control socket fd %d non-blocking: %m", fd);
                (void) close(fd);
                return r;
        }
        return server_start(e, fd, uid, h, userdata, ret);
}

void ctl_server_set_idle_timeout(CtlServer *s, usec_t usec) {
        s->idle_timeout = usec;
}

unsigned ctl_server_n_clients(const CtlServer *s) {
        return s->n_clients;
}

/* Unlink only our own socket: a second mgd may have replaced a path it thought stale. */
static void server_unlink(CtlServer *s) {
        struct stat st;

        if (!s->path || stat(s->path, &st) < 0)
                return;
        if (st.st_dev == s->dev && st.st_ino == s->ino)
                (void) unlink(s->path);
}

CtlServer *ctl_server_free(CtlServer *s) {
        if (!s)
                return NULL;
        while (s->clients)
                client_free(s->clients);
        (void) sd_event_source_set_enabled(s->listen_source, SD_EVENT_OFF);
        sd_event_source_unref(s->listen_source);
        (void) sd_event_source_set_enabled(s->retry_source, SD_EVENT_OFF);
        sd_event_source_unref(s->retry_source);
        closep(&s->listen_fd);
        server_unlink(s);
        free(s->path);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}
