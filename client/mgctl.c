/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgctl: the user's client for mgd's control socket (docs/PROTOCOL.md), and a thin wrapper around
 * systemctl/journalctl for the unit. Nothing here is privileged and nothing links libsystemd.
 *
 * Trust: whatever listens on the socket is only as trusted as any other process of this user, so
 * every reply line is validated against the grammar, sizes are capped, the whole exchange has a
 * deadline, and every value is made printable (no control characters, no invalid UTF-8) before
 * it reaches the terminal or is escaped into JSON.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "client/calibrate.h"
#include "client/config-edit.h"
#include "client/doctor.h"
#include "client/text.h"
#include "common/macro.h"
#include "common/readers.h"
#include "daemon/config.h"
#include "daemon/ctl-parse.h"
#include "daemon/history.h"
#include "daemon/registry.h"

#define MGCTL_TIMEOUT_SEC_DEFAULT 5
#define MGCTL_TIMEOUT_SEC_MAX 3600
#define MGCTL_REPLY_MAX (16U * 1024U * 1024U)
#define MGCTL_FIELDS_MAX 64
#define MGCTL_LOG_LINES_DEFAULT "50"

enum {
        EXIT_OK = 0,
        EXIT_DAEMON_ERR = 1,            /* the daemon answered ERR */
        EXIT_USAGE = 2,
        EXIT_NOT_RUNNING = 3,           /* no socket, or nothing listening on it */
        EXIT_PROTOCOL = 4,              /* malformed reply, version mismatch, timeout, I/O error */
        EXIT_BROKEN = 5,                /* doctor: something essential is missing; a config that does not load */
        EXIT_NO_DATA = 6,               /* calibrate: too little or no usable history, no recommendation */
        EXIT_EXEC = 127,                /* systemctl/journalctl could not be executed */
};

static bool arg_json;
static const char *arg_socket;
static int arg_timeout_sec = MGCTL_TIMEOUT_SEC_DEFAULT;
/* Where err() writes instead of stderr while a verb reports a failure itself (doctor, apply). */
static char *err_capture;
#define ERR_CAPTURE_MAX 512

_printf_(1, 2)
static void err(const char *fmt, ...) {
        va_list ap;

        if (err_capture) {
                va_start(ap, fmt);
                (void) vsnprintf(err_capture, ERR_CAPTURE_MAX, fmt, ap);
                va_end(ap);
                return;
        }
        fputs("mgctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* [-+]?(0|[1-9][0-9]*)(\.[0-9]+)? : a JSON number once a '+' is dropped. */
static bool is_plain_number(const char *s, size_t n) {
        size_t i = 0, d;

        if (i < n && (s[i] == '-' || s[i] == '+'))
                i++;
        for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
                ;
        if (i == d || (i - d > 1 && s[d] == '0') || i - d > 18)
                return false;
        if (i < n && s[i] == '.') {
                for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
                        ;
                if (i == d)
                        return false;
        }
        return i == n;
}

static void json_value(FILE *f, const CtlField *fl) {
        /* names and versions stay strings even when they look like numbers ("7zip", "2") */
        if (strcmp(fl->key, "name") != 0 && strcmp(fl->key, "version") != 0 &&
            is_plain_number(fl->value, fl->value_len)) {
                size_t skip = fl->value[0] == '+';

                fwrite(fl->value + skip, 1, fl->value_len - skip, f);
        } else
                json_string(f, fl->value, fl->value_len);
}

/* ---- the connection --------------------------------------------------------------------- */

typedef struct Conn {
        int fd;
        char *buf;
        size_t start, len, alloc;
        struct timespec deadline;
        const char *path;
} Conn;

static void conn_done(Conn *c) {
        closep(&c->fd);
        free(c->buf);
}

static int msec_left(const Conn *c) {
        struct timespec now;
        long long ms;

        clock_gettime(CLOCK_MONOTONIC, &now);
        ms = (c->deadline.tv_sec - now.tv_sec) * 1000LL + (c->deadline.tv_nsec - now.tv_nsec) / 1000000;
        return ms <= 0 ? 0 : (int) MIN(ms, (long long) arg_timeout_sec * 1000);
}

/* 0 when fd is ready, else an exit code (the message is printed). */
static int conn_wait(Conn *c, short events) {
        struct pollfd p = { .fd = c->fd, .events = events };
        int r, ms;

        for (;;) {
                ms = msec_left(c);
                if (ms == 0) {
                        err("timed out talking to mgd at %s after %d s", c->path, arg_timeout_sec);
                        return EXIT_PROTOCOL;
                }
                r = poll(&p, 1, ms);
                if (r > 0)
                        return 0;
                if (r < 0 && errno != EINTR) {
                        err("poll: %m");
                        return EXIT_PROTOCOL;
                }
        }
}

static int conn_open(Conn *c, const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        *c = (Conn) { .fd = -1, .path = path };
        clock_gettime(CLOCK_MONOTONIC, &c->deadline);
        c->deadline.tv_sec += arg_timeout_sec;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                err("socket path %s is too long", path);
                return EXIT_USAGE;
        }
        strcpy(sa.sun_path, path);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c->fd < 0) {
                err("socket: %m");
                return EXIT_PROTOCOL;
        }
        /* A unix connect() never half-completes; EAGAIN means the daemon's backlog is full. */
        while (connect(c->fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                if (errno == ENOENT || errno == ENOTDIR) {
                        err("mgd is not running (no socket at %s); start it with: mgctl start", path);
                        return EXIT_NOT_RUNNING;
                }
                if (errno == ECONNREFUSED) {
                        err("mgd is not running (nothing listens on %s); start it with: mgctl start",
                            path);
                        return EXIT_NOT_RUNNING;
                }
                if (errno != EAGAIN && errno != EINTR) {
                        err("cannot connect to %s: %m", path);
                        return EXIT_PROTOCOL;
                }
                if (msec_left(c) == 0) {
                        err("timed out connecting to %s (mgd is not accepting)", path);
                        return EXIT_PROTOCOL;
                }
                (void) poll(NULL, 0, 20);
        }
        return 0;
}

static int conn_send(Conn *c, const char *s, size_t n) {
        while (n > 0) {
                ssize_t k = send(c->fd, s, n, MSG_NOSIGNAL);
                int r;

                if (k >= 0) {
                        s += k;
                        n -= (size_t) k;
                        continue;
                }
                /* mgd may have answered and closed already (EPERM, EBUSY): read that answer */
                if (errno == EPIPE || errno == ECONNRESET)
                        return 0;
                if (errno != EAGAIN && errno != EINTR) {
                        err("cannot send to mgd: %m");
                        return EXIT_PROTOCOL;
                }
                r = conn_wait(c, POLLOUT);
                if (r)
                        return r;
        }
        return 0;
}

static int conn_fill(Conn *c) {
        ssize_t k;
        int r;

        if (c->start > 0) {
                memmove(c->buf, c->buf + c->start, c->len - c->start);
                c->len -= c->start;
                c->start = 0;
        }
        if (c->alloc - c->len < 4096) {
                size_t a = MAX(c->alloc * 2, (size_t) 65536);
                char *p;

                if (c->len > MGCTL_REPLY_MAX) {
                        err("protocol error: a reply line longer than %u bytes", MGCTL_REPLY_MAX);
                        return EXIT_PROTOCOL;
                }
                p = realloc(c->buf, a);
                if (!p) {
                        err("out of memory");
                        return EXIT_PROTOCOL;
                }
                c->buf = p;
                c->alloc = a;
        }
        for (;;) {
                k = recv(c->fd, c->buf + c->len, c->alloc - c->len, 0);
                if (k > 0) {
                        c->len += (size_t) k;
                        return 0;
                }
                if (k == 0 || errno == ECONNRESET) {
                        err("mgd closed the connection before the reply was complete");
                        return EXIT_PROTOCOL;
                }
                if (errno != EAGAIN && errno != EINTR) {
                        err("cannot read from mgd: %m");
                        return EXIT_PROTOCOL;
                }
                r = conn_wait(c, POLLIN);
                if (r)
                        return r;
        }
}

/* The next line without its "\n"; it stays valid (and writable, [len] included) until the next call. */
static int conn_getline(Conn *c, char **ret, size_t *ret_len) {
        for (;;) {
                char *nl = c->buf ? memchr(c->buf + c->start, '\n', c->len - c->start) : NULL;
                int r;

                if (nl) {
                        *ret = c->buf + c->start;
                        *ret_len = (size_t) (nl - *ret);
                        c->start += *ret_len + 1;
                        return 0;
                }
                r = conn_fill(c);
                if (r)
                        return r;
        }
}

typedef struct Reply {
        char **lines;                   /* validated data lines, NUL-terminated copies */
        size_t n, total;
        CtlTerminator term;
} Reply;

static void reply_done(Reply *r) {
        for (size_t i = 0; i < r->n; i++)
                free(r->lines[i]);
        free(r->lines);
        *r = (Reply) {};
}

static int protocol_error(const char *what, const char *line, size_t len) {
        _cleanup_free_ char *p = printable(line, MIN(len, (size_t) 80), NULL);

        err("protocol error: %s: '%s%s'", what, p ?: "", len > 80 ? "..." : "");
        return EXIT_PROTOCOL;
}

static int reply_add(Reply *rep, const char *line, size_t len) {
        char **l;

        if (!ctl_data_line_valid(line, len))
                return protocol_error("malformed data line", line, len);
        rep->total += len + 1;
        if (rep->total > MGCTL_REPLY_MAX) {
                err("protocol error: reply larger than %u bytes", MGCTL_REPLY_MAX);
                return EXIT_PROTOCOL;
        }
        l = realloc(rep->lines, (rep->n + 1) * sizeof(char *));
        if (!l || !(l[rep->n] = strndup(line, len))) {
                if (l)
                        rep->lines = l;
                err("out of memory");
                return EXIT_PROTOCOL;
        }
        rep->lines = l;
        rep->n++;
        return 0;
}

/* Send one request and collect its reply; 0, or an exit code. An ERR reply is not an error here. */
static int conn_command(Conn *c, const char *request, Reply *rep) {
        _cleanup_free_ char *line = NULL;
        int r;

        *rep = (Reply) {};
        if (asprintf(&line, "%s\n", request) < 0) {
                err("out of memory");
                return EXIT_PROTOCOL;
        }
        r = conn_send(c, line, strlen(line));
        if (r)
                return r;
        for (;;) {
                char *l;
                size_t len;

                r = conn_getline(c, &l, &len);
                if (r)
                        return r;
                r = ctl_terminator_parse(l, len, &rep->term);
                if (r < 0)
                        return protocol_error("malformed terminator", l, len);
                if (r == 0) {
                        r = reply_add(rep, l, len);
                        if (r)
                                return r;
                        continue;
                }
                if (rep->term.ok ? rep->term.count != rep->n : rep->n != 0)
                        return protocol_error("terminator does not match the data lines", l, len);
                return 0;
        }
}

/* ---- printing replies ------------------------------------------------------------------- */

typedef struct Line {
        char *copy;                     /* the parsed line; the fields point into it */
        CtlField f[MGCTL_FIELDS_MAX];
        size_t n;
} Line;

static int line_parse(const char *raw, Line *l) {
        int n;

        l->copy = strdup(raw);
        if (!l->copy)
                return -ENOMEM;
        n = ctl_data_line_parse(l->copy, strlen(l->copy), l->f, MGCTL_FIELDS_MAX);
        if (n < 0)
                return n;
        l->n = (size_t) n;
        return 0;
}

static const CtlField *line_get(const Line *l, const char *key) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->f[i].key, key) == 0)
                        return &l->f[i];
        return NULL;
}

/* Every data line, parsed. */
typedef struct Table {
        Line *lines;
        size_t n;
} Table;

static void table_done(Table *t) {
        for (size_t i = 0; i < t->n; i++)
                free(t->lines[i].copy);
        free(t->lines);
}

static int table_from_reply(const Reply *rep, Table *t) {
        *t = (Table) { .lines = calloc(rep->n ?: 1, sizeof(Line)) };
        if (!t->lines) {
                err("out of memory");
                return EXIT_PROTOCOL;
        }
        for (size_t i = 0; i < rep->n; i++) {
                int r = line_parse(rep->lines[i], &t->lines[i]);

                t->n++;
                if (r < 0) {
                        table_done(t);
                        return protocol_error("unparsable data line", rep->lines[i],
                                              strlen(rep->lines[i]));
                }
        }
        return 0;
}

static void json_object(FILE *f, const Line *lines, size_t n) {
        bool first = true;

        fputc('{', f);
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < lines[i].n; j++) {
                        fprintf(f, "%s\"%s\":", first ? "" : ",", lines[i].f[j].key);
                        json_value(f, &lines[i].f[j]);
                        first = false;
                }
        fputc('}', f);
}

static void print_json(const Table *t, bool array) {
        if (!array)
                json_object(stdout, t->lines, t->n);
        else {
                fputc('[', stdout);
                for (size_t i = 0; i < t->n; i++) {
                        if (i > 0)
                                fputc(',', stdout);
                        json_object(stdout, &t->lines[i], 1);
                }
                fputc(']', stdout);
        }
        fputc('\n', stdout);
}

static void print_value(const CtlField *fl) {
        _cleanup_free_ char *p = fl ? printable(fl->value, fl->value_len, NULL) : NULL;

        fputs(p ?: "-", stdout);
}

/* "key   value" for every field, the keys padded to one column. */
static void print_pairs(const Table *t) {
        size_t w = 0;

        for (size_t i = 0; i < t->n; i++)
                for (size_t j = 0; j < t->lines[i].n; j++)
                        w = MAX(w, strlen(t->lines[i].f[j].key));
        for (size_t i = 0; i < t->n; i++) {
                if (i > 0)
                        fputc('\n', stdout);
                for (size_t j = 0; j < t->lines[i].n; j++) {
                        printf("%-*s  ", (int) w, t->lines[i].f[j].key);
                        print_value(&t->lines[i].f[j]);
                        fputc('\n', stdout);
                }
        }
}

static void format_duration(const CtlField *fl, char *buf, size_t size) {
        unsigned long long s;
        char *end;

        if (!fl || !is_plain_number(fl->value, fl->value_len) || strchr("-+", fl->value[0]) ||
            strchr(fl->value, '.')) {
                _cleanup_free_ char *p = fl ? printable(fl->value, fl->value_len, NULL) : NULL;

                snprintf(buf, size, "%s", p ?: "-");
                return;
        }
        s = strtoull(fl->value, &end, 10);
        if (s < 60)
                snprintf(buf, size, "%llus", s);
        else if (s < 3600)
                snprintf(buf, size, "%llum%02llus", s / 60, s % 60);
        else if (s < 86400)
                snprintf(buf, size, "%lluh%02llum", s / 3600, s % 3600 / 60);
        else
                snprintf(buf, size, "%llud%02lluh", s / 86400, s % 86400 / 3600);
}

/* ---- the socket verbs ------------------------------------------------------------------- */

typedef int (*PrintFn)(const Table *t);

static const char *const list_columns[][2] = {
        { "PID", "pid" }, { "NAME", "name" }, { "PRIORITY", "priority" },
        { "FROZEN FOR", "frozen_for_s" }, { "HOW", "how" },
};
#define LIST_COLS ELEMENTSOF(list_columns)

static char *list_cell(const Line *l, size_t col, size_t *ret_width) {
        const CtlField *fl = line_get(l, list_columns[col][1]);
        char buf[64];

        if (strcmp(list_columns[col][1], "frozen_for_s") == 0) {
                format_duration(fl, buf, sizeof buf);
                return printable(buf, strlen(buf), ret_width);
        }
        if (!fl)
                return printable("-", 1, ret_width);
        return printable(fl->value, fl->value_len, ret_width);
}

static void print_row(char **cells, const size_t *widths, const size_t *cw) {
        for (size_t c = 0; c < LIST_COLS; c++) {
                fputs(cells[c] ?: "?", stdout);
                if (c + 1 < LIST_COLS)
                        printf("%*s", (int) (cw[c] - widths[c] + 2), "");
        }
        fputc('\n', stdout);
}

static int print_list(const Table *t) {
        size_t cw[LIST_COLS], hw[LIST_COLS];
        char *head[LIST_COLS];

        if (t->n == 0) {
                puts("No frozen or checkpointed processes.");
                return EXIT_OK;
        }
        for (size_t c = 0; c < LIST_COLS; c++) {
                head[c] = (char *) list_columns[c][0];
                cw[c] = hw[c] = strlen(head[c]);
        }
        for (size_t i = 0; i < t->n; i++)
                for (size_t c = 0; c < LIST_COLS; c++) {
                        size_t w = 0;
                        _cleanup_free_ char *cell = list_cell(&t->lines[i], c, &w);

                        cw[c] = MAX(cw[c], w);
                }
        print_row(head, hw, cw);
        for (size_t i = 0; i < t->n; i++) {
                char *cells[LIST_COLS];
                size_t w[LIST_COLS];

                for (size_t c = 0; c < LIST_COLS; c++)
                        cells[c] = list_cell(&t->lines[i], c, &w[c]);
                print_row(cells, w, cw);
                for (size_t c = 0; c < LIST_COLS; c++)
                        free(cells[c]);
        }
        return EXIT_OK;
}

static int print_status(const Table *t) {
        print_pairs(t);
        return EXIT_OK;
}

static int print_unfreeze(const Table *t) {
        int ret = EXIT_OK;

        for (size_t i = 0; i < t->n; i++) {
                const CtlField *res = line_get(&t->lines[i], "result");
                bool ok = res && strcmp(res->value, "ok") == 0;

                fputs(ok ? "unfroze " : "could not unfreeze ", stdout);
                print_value(line_get(&t->lines[i], "pid"));
                fputs(" (", stdout);
                print_value(line_get(&t->lines[i], "name"));
                fputs(ok ? ")\n" : "): ", stdout);
                if (!ok) {
                        print_value(res);
                        fputc('\n', stdout);
                        ret = EXIT_DAEMON_ERR;
                }
        }
        return ret;
}

/* The value of key in l, printable, or "-". */
static void put(const Line *l, const char *key) {
        print_value(line_get(l, key));
}

static bool is(const Line *l, const char *key, const char *value) {
        const CtlField *f = line_get(l, key);

        return f && strcmp(f->value, value) == 0;
}

static void explain_action(const Line *l, const char *key, const char *level) {
        const CtlField *f = line_get(l, key);
        const char *comma = f ? strchr(f->value, ',') : NULL;

        printf("  at %-11s ", level);
        if (comma)
                printf("%.*s, then %s once frozen\n", (int) (comma - f->value), f->value, comma + 1);
        else {
                put(l, key);
                fputc('\n', stdout);
        }
}

static void explain_one(const Line *l) {
        fputs("pid ", stdout);
        put(l, "pid");
        fputs(" (", stdout);
        put(l, "name");
        fputs(")\n  priority     ", stdout);
        put(l, "priority");
        if (is(l, "priority", "-1"))
                fputs(" (protected)", stdout);
        fputs(", from ", stdout);
        if (is(l, "rule", "-"))
                fputs("the default priority", stdout);
        else {
                fputs("entry '", stdout);
                put(l, "rule");
                fputs("' (", stdout);
                put(l, "origin");
                fputs(")", stdout);
        }
        fputs(", base ", stdout);
        put(l, "base_priority");
        fputs("\n  tier         ", stdout);
        put(l, "tier");
        fputs("\n  foreground   ", stdout);
        put(l, "foreground");
        fputs("\n  exempt       ", stdout);
        put(l, "exempt");
        fputs("\n  footprint    ", stdout);
        put(l, "footprint_kb");
        fputs(" kB (rss ", stdout);
        put(l, "rss_kb");
        fputs(", swap ", stdout);
        put(l, "swap_kb");
        fputs(", gpu ", stdout);
        put(l, "gpu_kb");
        fputs(")\n  growth       ", stdout);
        put(l, "growth_kbs");
        fputs(" kB/s, ", stdout);
        put(l, "majflt_rate");
        fputs(" major faults/s\n  aggressor    ", stdout);
        put(l, "aggressor");
        fputs("\n  level now    ", stdout);
        put(l, "level");
        fputc('\n', stdout);
        explain_action(l, "at_elevated", "elevated");
        explain_action(l, "at_high", "high");
        explain_action(l, "at_critical", "critical");
        explain_action(l, "at_emergency", "emergency");
        fputs("  held         ", stdout);
        if (is(l, "held", "no"))
                fputs("no\n", stdout);
        else {
                put(l, "held");
                fputs(" for ", stdout);
                put(l, "held_for_s");
                fputs(" s (since ", stdout);
                put(l, "held_since");
                fputs(" s after the epoch), because: ", stdout);
                put(l, "held_why");
                fputc('\n', stdout);
        }
}

static int print_explain(const Table *t) {
        for (size_t i = 0; i < t->n; i++) {
                if (i > 0)
                        fputc('\n', stdout);
                explain_one(&t->lines[i]);
        }
        return EXIT_OK;
}

static int print_reload(const Table *t) {
        puts("Configuration reloaded.");
        print_pairs(t);
        return EXIT_OK;
}

static pid_t foreground_pid;

static int print_foreground(const Table *t) {
        if (foreground_pid == 0)
                puts("Foreground cleared.");
        else
                printf("Foreground set to pid %d.\n", (int) foreground_pid);
        print_pairs(t);
        return EXIT_OK;
}

static int print_error(const char *verb, const CtlTerminator *term) {
        if (arg_json && !err_capture) {
                printf("{\"error\":");
                json_string(stdout, term->name, strlen(term->name));
                printf(",\"message\":");
                json_string(stdout, term->text, strlen(term->text));
                printf("}\n");
        }
        _cleanup_free_ char *p = printable(term->text, strlen(term->text), NULL);
        err("%s: %s (%s)", verb, p ?: "", term->name);
        return EXIT_DAEMON_ERR;
}

static int socket_path(char **ret) {
        const char *dir;

        if (arg_socket) {
                *ret = strdup(arg_socket);
        } else {
                dir = getenv("XDG_RUNTIME_DIR");
                if (!dir || !*dir) {
                        err("XDG_RUNTIME_DIR is not set, so mgd's socket cannot be found "
                            "(use --socket PATH)");
                        return EXIT_NOT_RUNNING;
                }
                if (asprintf(ret, "%s/%s", dir, CTL_SOCKET_NAME) < 0)
                        *ret = NULL;
        }
        if (!*ret) {
                err("out of memory");
                return EXIT_PROTOCOL;
        }
        return 0;
}

/* Who answered: printable copies of VERSION's protocol= and version=. */
typedef struct DaemonId {
        char protocol[32];
        char version[128];
} DaemonId;

/* protocol=<major>[.<minor>] */
static int check_version(const Table *t, DaemonId *id) {
        const CtlField *p = t->n == 1 ? line_get(&t->lines[0], "protocol") : NULL;
        const CtlField *v = t->n == 1 ? line_get(&t->lines[0], "version") : NULL;
        char *end;
        long major;

        if (!p || !v) {
                err("protocol error: VERSION reply without protocol= and version=");
                return EXIT_PROTOCOL;
        }
        errno = 0;
        major = strtol(p->value, &end, 10);
        if (errno || !(p->value[0] >= '0' && p->value[0] <= '9') || (*end && *end != '.') ||
            major != CTL_PROTOCOL_VERSION) {
                _cleanup_free_ char *pp = printable(p->value, p->value_len, NULL);

                err("mgd speaks control protocol %s, this mgctl speaks %d; use the mgctl that came "
                    "with this mgd", pp ?: "?", CTL_PROTOCOL_VERSION);
                return EXIT_PROTOCOL;
        }
        _cleanup_free_ char *pp = printable(p->value, p->value_len, NULL);
        _cleanup_free_ char *vp = printable(v->value, v->value_len, NULL);
        snprintf(id->protocol, sizeof id->protocol, "%s", pp ?: "?");
        snprintf(id->version, sizeof id->version, "%s", vp ?: "?");
        return 0;
}

/* Connect, check VERSION, then run request (NULL: VERSION only); the reply lands in *rep. */
static int talk(const char *verb, const char *request, Reply *rep, DaemonId *id) {
        _cleanup_free_ char *path = NULL;
        Conn c;
        Table t;
        int r;

        r = socket_path(&path);
        if (r)
                return r;
        r = conn_open(&c, path);
        if (r == 0)
                r = conn_command(&c, "VERSION", rep);
        if (r == 0 && !rep->term.ok)
                r = print_error(verb, &rep->term);
        if (r == 0)
                r = table_from_reply(rep, &t);
        if (r == 0) {
                r = check_version(&t, id);
                table_done(&t);
        }
        if (r == 0 && request) {
                reply_done(rep);
                r = conn_command(&c, request, rep);
                if (r == 0 && !rep->term.ok)
                        r = print_error(verb, &rep->term);
        }
        conn_done(&c);
        return r;
}

static int run_socket_verb(const char *verb, const char *request, PrintFn print, bool array) {
        _cleanup_(reply_done) Reply rep = {};
        DaemonId id;
        Table t;
        int r;

        r = talk(verb, request, &rep, &id);
        if (r)
                return r;
        r = table_from_reply(&rep, &t);
        if (r)
                return r;
        if (arg_json) {
                print_json(&t, array);
                r = EXIT_OK;
                if (print == print_unfreeze)
                        for (size_t i = 0; i < t.n; i++) {
                                const CtlField *res = line_get(&t.lines[i], "result");

                                if (!res || strcmp(res->value, "ok") != 0)
                                        r = EXIT_DAEMON_ERR;
                        }
        } else
                r = print(&t);
        table_done(&t);
        return r;
}

static int verb_version(void) {
        _cleanup_(reply_done) Reply rep = {};
        DaemonId id;
        int r;

        if (!arg_json)
                printf("mgctl %s (protocol %d)\n", PACKAGE_VERSION, CTL_PROTOCOL_VERSION);
        fflush(stdout);
        r = talk("version", NULL, &rep, &id);
        if (r)
                return r;
        if (arg_json) {
                /* the daemon's own fields, as any other reply, plus ours */
                const CtlField p = { "protocol", id.protocol, strlen(id.protocol) };

                printf("{\"protocol\":");
                json_value(stdout, &p);
                printf(",\"version\":");
                json_string(stdout, id.version, strlen(id.version));
                printf(",\"mgctl_version\":");
                json_string(stdout, PACKAGE_VERSION, strlen(PACKAGE_VERSION));
                printf("}\n");
        } else
                printf("mgd %s (protocol %s)\n", id.version, id.protocol);
        return EXIT_OK;
}

/* ---- the lifecycle verbs ---------------------------------------------------------------- */

static int run_exec(char **argv) {
        fflush(stdout);
        execvp(argv[0], argv);
        err("cannot execute %s: %m", argv[0]);
        return EXIT_EXEC;
}

static int verb_systemctl(const char *verb) {
        char *argv[] = { "systemctl", "--user", (char *) verb, "mgd.service", NULL, NULL };

        if (strcmp(verb, "status") == 0)
                argv[4] = "--no-pager";
        return run_exec(argv);
}

static bool is_count(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 7 || s[0] == '0')
                return false;
        return strspn(s, "0123456789") == n;
}

static int verb_logs(int argc, char **argv) {
        char *args[] = { "journalctl", "--user", "-u", "mgd.service", "-n", MGCTL_LOG_LINES_DEFAULT,
                         "--no-pager", NULL, NULL };

        for (int i = 0; i < argc; i++) {
                if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0)
                        args[7] = "-f";
                else if ((strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--lines") == 0) &&
                         i + 1 < argc && is_count(argv[i + 1]))
                        args[5] = argv[++i];
                else {
                        err("logs: bad argument '%s' (use: logs [-f] [-n N], N from 1 to 9999999)",
                            argv[i]);
                        return EXIT_USAGE;
                }
        }
        return run_exec(args);
}

/* ---- command line ----------------------------------------------------------------------- */

static void help(FILE *f) {
        fprintf(f,
                "Usage: mgctl [--json] [--socket PATH] [--timeout SEC] COMMAND [ARG...]\n"
                "\n"
                "Commands talking to the running mgd:\n"
                "  status               pressure level, score and counts\n"
                "  list                 frozen and checkpointed processes\n"
                "  unfreeze PID|NAME    thaw a process now (NAME: rest of the line)\n"
                "  explain PID|NAME     why mgd treats a process as it does, and what it would do\n"
                "  reload               re-read the configuration\n"
                "  foreground PID       treat PID as the foreground window (0: clear)\n"
                "  version              mgctl's and mgd's versions\n"
                "\n"
                "Diagnosis and tuning (work when mgd is down):\n"
                "  doctor               what this machine offers mgd, and how to fix what is missing\n"
                "  calibrate [--dry-run] recommend thresholds from the history mgd recorded\n"
                "  calibrate --apply    write the saved recommendation into the user configuration\n"
                "\n"
                "Commands for the user unit (work when mgd is down):\n"
                "  start | stop | restart   systemctl --user VERB mgd.service\n"
                "  service                  systemctl --user status mgd.service\n"
                "  logs [-f] [-n N]         journalctl --user -u mgd.service\n"
                "\n"
                "Options:\n"
                "  --json          print replies as JSON\n"
                "  --socket PATH   talk to PATH instead of $XDG_RUNTIME_DIR/mgd.sock\n"
                "  --timeout SEC   give up on mgd after SEC seconds (default 5)\n"
                "  -h, --help      show this help\n"
                "  --version       print mgctl's version (the command version asks mgd too)\n"
                "\n"
                "Exit status: 0 ok, 1 mgd answered with an error, 2 usage error, 3 mgd is not\n"
                "running, 4 protocol error or timeout, 5 doctor found something essential missing\n"
                "or a configuration does not load, 6 calibrate has too little history or no\n"
                "recommendation, 127 systemctl/journalctl not found.\n");
}

_printf_(1, 2)
static int usage(const char *fmt, ...) {
        va_list ap;

        fputs("mgctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\n", stderr);
        help(stderr);
        return EXIT_USAGE;
}

static int parse_argv(int argc, char **argv) {
        enum { ARG_JSON = 0x100, ARG_SOCKET, ARG_TIMEOUT, ARG_VERSION };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "json", no_argument, NULL, ARG_JSON },
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                {}
        };
        int c;

        /* "+": stop at the command, its own options (logs -f) are not ours */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help(stdout);
                        return -1;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_VERSION:
                        printf("mgctl %s (protocol %d)\n", PACKAGE_VERSION, CTL_PROTOCOL_VERSION);
                        return -1;
                case ARG_SOCKET:
                        if (!*optarg)
                                return usage("--socket needs a path");
                        arg_socket = optarg;
                        break;
                case ARG_TIMEOUT:
                        if (!is_count(optarg) || atoi(optarg) > MGCTL_TIMEOUT_SEC_MAX)
                                return usage("--timeout needs whole seconds from 1 to %d",
                                             MGCTL_TIMEOUT_SEC_MAX);
                        arg_timeout_sec = atoi(optarg);
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind >= argc)
                return usage("no command given");
        return 0;
}

/* ---- doctor and calibrate: their shared options ---------------------------------------- */

typedef struct LocalOptions {
        DoctorOptions d;                /* roots (doctor only), config paths, state dir */
        const char *config_user, *config_system;
        char state_dir[PATH_MAX];
        bool dry_run, apply;
} LocalOptions;

enum {
        OPT_PROC_ROOT = 0x200, OPT_SYS_ROOT, OPT_CGROUP2_ROOT, OPT_HELPER_DIR, OPT_CONFIG,
        OPT_SYSTEM_CONFIG, OPT_STATE_DIR, OPT_DRY_RUN, OPT_APPLY,
};

/* The layers and the state directory as mgd finds them, with --config etc. on top. */
static int local_resolve(LocalOptions *o) {
        int r = config_paths_default(&o->d.config);

        if (r < 0 && r != -ENOENT) {
                err("cannot work out the configuration paths: %s", strerror(-r));
                return EXIT_USAGE;
        }
        if (o->config_system)
                (void) snprintf(o->d.config.system, sizeof o->d.config.system, "%s", o->config_system);
        if (o->config_user)
                (void) snprintf(o->d.config.user, sizeof o->d.config.user, "%s", o->config_user);
        if (!o->state_dir[0] && registry_default_dir(o->state_dir, sizeof o->state_dir) < 0)
                o->state_dir[0] = '\0';
        o->d.state_dir = o->state_dir[0] ? o->state_dir : NULL;
        o->d.uid = getuid();
        return 0;
}

static int local_parse(const char *verb, int argc, char **argv, bool roots, LocalOptions *o) {
        static const struct option options[] = {
                { "proc-root", required_argument, NULL, OPT_PROC_ROOT },
                { "sys-root", required_argument, NULL, OPT_SYS_ROOT },
                { "cgroup2-root", required_argument, NULL, OPT_CGROUP2_ROOT },
                { "helper-dir", required_argument, NULL, OPT_HELPER_DIR },
                { "config", required_argument, NULL, OPT_CONFIG },
                { "system-config", required_argument, NULL, OPT_SYSTEM_CONFIG },
                { "state-dir", required_argument, NULL, OPT_STATE_DIR },
                { "dry-run", no_argument, NULL, OPT_DRY_RUN },
                { "apply", no_argument, NULL, OPT_APPLY },
                {}
        };
        int c;

        *o = (LocalOptions) { .d = { .proc_root = "/proc", .sys_root = "/sys" } };
        optind = 0;
        while ((c = getopt_long(argc, argv, "+", options, NULL)) >= 0) {
                if (c >= OPT_PROC_ROOT && c <= OPT_HELPER_DIR && !roots)
                        return usage("%s: %s is a doctor option", verb, argv[optind - 1]);
                if ((c == OPT_DRY_RUN || c == OPT_APPLY) && roots)
                        return usage("%s: %s is a calibrate option", verb, argv[optind - 1]);
                switch (c) {
                case OPT_PROC_ROOT: o->d.proc_root = optarg; break;
                case OPT_SYS_ROOT: o->d.sys_root = optarg; break;
                case OPT_CGROUP2_ROOT: o->d.cgroup2_root = optarg; break;
                case OPT_HELPER_DIR: o->d.helper_dir = optarg; break;
                case OPT_CONFIG: o->config_user = optarg; break;
                case OPT_SYSTEM_CONFIG: o->config_system = optarg; break;
                case OPT_STATE_DIR: (void) snprintf(o->state_dir, sizeof o->state_dir, "%s", optarg); break;
                case OPT_DRY_RUN: o->dry_run = true; break;
                case OPT_APPLY: o->apply = true; break;
                default: return EXIT_USAGE;
                }
        }
        if (optind < argc)
                return usage("%s: unexpected argument '%s'", verb, argv[optind]);
        if (o->dry_run && o->apply)
                return usage("calibrate: --dry-run and --apply exclude each other");
        return local_resolve(o);
}

/* ---- doctor ------------------------------------------------------------------------------ */

static void doctor_daemon(DoctorReport *rep, const char *status_fields) {
        _cleanup_(reply_done) Reply r = {};
        char captured[ERR_CAPTURE_MAX] = "";
        DaemonId id;
        Table t;
        DoctorItem *it;
        int k;

        err_capture = captured;
        k = talk("doctor", "STATUS", &r, &id);
        err_capture = NULL;
        if (k == 0)
                k = table_from_reply(&r, &t);
        if (k) {
                it = doctor_add(rep, "daemon", DOCTOR_WARN, "%s", captured[0] ? captured : "no answer");
                doctor_effect(it, "nothing manages memory pressure now");
                if (k == EXIT_NOT_RUNNING)
                        doctor_fix(it, "mgctl start (or run mgd in a terminal)");
                return;
        }
        char found[512] = "", feat[256] = "";
        size_t n = 0, m = 0;
        bool dry = false;

        n += (size_t) snprintf(found, sizeof found, "mgd %s (protocol %s) answers on its socket", id.version,
                               id.protocol);
        for (size_t i = 0; i < t.n; i++)
                for (size_t j = 0; j < t.lines[i].n; j++) {
                        const CtlField *f = &t.lines[i].f[j];
                        _cleanup_free_ char *v = printable(f->value, f->value_len, NULL);
                        bool is_feature = strstr(status_fields, f->key) != NULL;

                        if (is_feature && m < sizeof feat)
                                m += (size_t) snprintf(feat + m, sizeof feat - m, "%s%s=%s", m ? ", " : "",
                                                       f->key, v ?: "?");
                        else if ((!strcmp(f->key, "level") || !strcmp(f->key, "frozen") ||
                                  !strcmp(f->key, "checkpointed")) && n < sizeof found)
                                n += (size_t) snprintf(found + n, sizeof found - n, ", %s %s", f->key, v ?: "?");
                        dry |= !strcmp(f->key, "dry_run") && v && !strcmp(v, "yes");
                }
        table_done(&t);
        it = doctor_add(rep, "daemon", dry ? DOCTOR_WARN : DOCTOR_OK, "%s", found);
        doctor_effect(it, "what mgd turned on: %s", feat[0] ? feat : "(no feature fields)");
        if (dry)
                doctor_fix(it, "mgd runs with --dry-run: it decides but signals nothing; restart it without it");
}

static int verb_doctor(int argc, char **argv) {
        DoctorReport *rep = calloc(1, sizeof *rep);
        LocalOptions o;
        int r;

        if (!rep) {
                err("out of memory");
                return EXIT_PROTOCOL;
        }
        r = local_parse("doctor", argc, argv, true, &o);
        if (r == 0) {
                doctor_check_environment(rep, &o.d);
                doctor_check_unit(rep);
                doctor_daemon(rep, "psi_trigger cgroup_freeze checkpoint dry_run");
                if (arg_json)
                        doctor_print_json(stdout, rep);
                else
                        doctor_print(stdout, rep);
                r = doctor_failed(rep) ? EXIT_BROKEN : EXIT_OK;
        }
        free(rep);
        return r;
}

/* ---- calibrate --------------------------------------------------------------------------- */

static void config_warn_ignore(const char *message, void *userdata) {
}

/* Load the layers; on failure the message is printed and EXIT_BROKEN returned. */
static int load_config(const ConfigPaths *paths, PolicyConfig *ret, const char *what) {
        ConfigError e = {};
        int r = config_load(paths, ret, &e, config_warn_ignore, NULL);

        if (r < 0) {
                _cleanup_free_ char *p = printable(e.message, strlen(e.message), NULL);

                err("%s: %s", what, p ?: strerror(-r));
                return EXIT_BROKEN;
        }
        return 0;
}

static int read_history(const LocalOptions *o, History *h, char *path, size_t size) {
        StateError e = {};
        int r;

        if (!o->state_dir[0]) {
                err("no state directory: neither $XDG_STATE_HOME nor $HOME is set (use --state-dir DIR)");
                return EXIT_NO_DATA;
        }
        if (snprintf(path, size, "%s/" HISTORY_FILE, o->state_dir) >= (int) size) {
                err("the state directory's path is too long");
                return EXIT_USAGE;
        }
        r = history_load(path, h, &e);
        if (r == -ENOENT)
                err("no pressure history at %s yet: mgd records it while it runs (every 10 minutes and at exit)", path);
        else if (r < 0 && e.line > 0)
                err("%s:%u: %s; this history cannot be used (mgd starts a new one)", path, e.line, e.reason);
        else if (r < 0)
                err("cannot read %s: %s", path, e.reason);
        return r < 0 ? EXIT_NO_DATA : 0;
}

static void print_recommendation(const Recommendation *rec, bool auto_target) {
        bool pct = strcmp(rec->key, "target_available_pct") == 0;
        char cur[48], val[32] = "-";

        (void) snprintf(cur, sizeof cur, pct ? (auto_target ? "0 (auto: %.0f)" : "%.0f") : "%.2f", rec->current);
        if (rec->derived)
                (void) snprintf(val, sizeof val, rec->change ? (pct ? "%.0f" : "%.2f") : "(same)", rec->value);
        printf("%-22s %-14s %s\n    %s\n", rec->key, cur, val, rec->evidence);
}

static void json_recommendation(const Recommendation *rec) {
        printf("{\"key\":\"%s\",\"current\":%g,\"recommended\":", rec->key, rec->current);
        if (rec->derived)
                printf("%g", rec->value);
        else
                fputs("null", stdout);
        printf(",\"change\":%s,\"evidence\":", rec->change ? "true" : "false");
        json_cstring(stdout, rec->evidence);
        fputc('}', stdout);
}

static void print_calibration(const char *path, const History *h, const Calibration *cal, bool auto_target,
                              const char *saved) {
        double calm_h = (h->observed_ms - h->stall_ms) / 3.6e6;

        if (arg_json) {
                printf("{\"history\":");
                json_cstring(stdout, path);
                printf(",\"observed_h\":%.2f,\"calm_h\":%.2f,\"stall_episodes\":%" PRIu64 ",\"stall_s\":%.1f,"
                       "\"intervening_h\":%.2f,\"enough\":%s", h->observed_ms / 3.6e6, calm_h, h->stall_episodes,
                       h->stall_ms / 1000.0, h->intervening_ms / 3.6e6, cal->enough ? "true" : "false");
                if (!cal->enough) {
                        printf(",\"refusal\":");
                        json_cstring(stdout, cal->refusal);
                } else {
                        printf(",\"recommendations\":[");
                        json_recommendation(&cal->elevated);
                        fputc(',', stdout);
                        json_recommendation(&cal->target);
                        printf("],\"saved\":");
                        json_cstring(stdout, saved);
                }
                printf("}\n");
                return;
        }
        printf("History %s: %.1f h observed (%.1f h calm), %" PRIu64 " stall episodes (%.0f s of stall),"
               " %.1f h while mgd held processes (not counted)\n", path, h->observed_ms / 3.6e6, calm_h,
               h->stall_episodes, h->stall_ms / 1000.0, h->intervening_ms / 3.6e6);
        if (!cal->enough)
                return;
        printf("\n%-22s %-14s %-12s\n", "KEY", "CURRENT", "RECOMMENDED");
        print_recommendation(&cal->elevated, false);
        print_recommendation(&cal->target, auto_target);
}

static int calibrate_save(const LocalOptions *o, const History *h, const Calibration *cal, char *saved,
                          size_t size) {
        char text[CALIBRATION_TEXT_MAX];
        int n = calibration_format(cal, (uint64_t) time(NULL), h->observed_ms, text, sizeof text), r;

        if (snprintf(saved, size, "%s/" CALIBRATION_FILE, o->state_dir) >= (int) size)
                n = -ENAMETOOLONG;
        if (n == -ENODATA) {
                /* an older recommendation must not be applied after the history said otherwise */
                (void) unlink(saved);
                saved[0] = '\0';
                return 0;
        }
        r = n < 0 ? n : write_file_atomic(o->state_dir, CALIBRATION_FILE, text, (size_t) n, 0600);
        if (r < 0) {
                err("cannot write %s: %s", saved, strerror(-r));
                return EXIT_BROKEN;
        }
        return 0;
}

static int calibrate_apply(const LocalOptions *o);

static int verb_calibrate(int argc, char **argv) {
        PolicyConfig cfg = {};
        LocalOptions o;
        History h;
        Calibration cal;
        CalibrateCurrent cur;
        char path[PATH_MAX], saved[PATH_MAX] = "";
        int r;

        r = local_parse("calibrate", argc, argv, false, &o);
        if (r)
                return r;
        if (o.apply)
                return calibrate_apply(&o);
        r = read_history(&o, &h, path, sizeof path);
        if (r == 0)
                r = load_config(&o.d.config, &cfg, "the configuration does not load");
        if (r)
                return r;
        cur = (CalibrateCurrent) {
                .elevated_threshold = cfg.level_threshold[LEVEL_ELEVATED],
                .high_threshold = cfg.level_threshold[LEVEL_HIGH],
                .target_available_pct = cfg.target_available_pct,
        };
        cfg.target_available_pct = 0;
        if (h.mem_total_kb > 0)
                cur.target_available_auto = 100.0 * (double) policy_target_available_kb(&cfg, h.mem_total_kb) /
                        (double) h.mem_total_kb;
        config_free(&cfg);
        calibrate_recommend(&h, &cur, &cal);
        if (cal.enough && !o.dry_run)
                r = calibrate_save(&o, &h, &cal, saved, sizeof saved);
        if (r)
                return r;
        print_calibration(path, &h, &cal, cur.target_available_pct == 0, saved[0] ? saved : NULL);
        if (!cal.enough) {
                if (!arg_json)
                        err("calibrate: %s", cal.refusal);
                return EXIT_NO_DATA;
        }
        if (arg_json)
                return EXIT_OK;
        if (!cal.elevated.change && !cal.target.change)
                printf("\nThe current settings already fit this history: nothing to apply.\n");
        else if (o.dry_run)
                printf("\nDry run: nothing written. Without --dry-run the recommendation is saved to %s/"
                       CALIBRATION_FILE ", and mgctl calibrate --apply writes it into %s.\n", o.state_dir,
                       o.d.config.user[0] ? o.d.config.user : "the user configuration");
        else
                printf("\nSaved to %s. Apply it with: mgctl calibrate --apply (edits [defaults] of %s, then reloads"
                       " mgd)\n", saved, o.d.config.user[0] ? o.d.config.user : "the user configuration");
        return EXIT_OK;
}

/* The [defaults] values to write, as text. */
static size_t apply_settings(const CalibrationFile *f, ConfigSetting *set, char vals[2][32]) {
        size_t n = 0;

        if (f->has_elevated) {
                (void) snprintf(vals[n], 32, "%.2f", f->elevated_threshold);
                set[n] = (ConfigSetting) { "elevated_threshold", vals[n] };
                n++;
        }
        if (f->has_target) {
                (void) snprintf(vals[n], 32, "%u", f->target_available_pct);
                set[n] = (ConfigSetting) { "target_available_pct", vals[n] };
                n++;
        }
        return n;
}

/* The edit may change [defaults] only: every rule must come out as it went in. */
static bool same_rules(const PolicyConfig *a, const PolicyConfig *b) {
        if (a->n_rules != b->n_rules)
                return false;
        for (size_t i = 0; i < a->n_rules; i++)
                if (strcmp(a->rules[i].name, b->rules[i].name) || strcmp(a->rules[i].pattern, b->rules[i].pattern) ||
                    a->rules[i].priority != b->rules[i].priority || a->rules[i].protect != b->rules[i].protect ||
                    a->rules[i].field != b->rules[i].field || a->rules[i].checkpoint != b->rules[i].checkpoint)
                        return false;
        return true;
}

/* Load the layers with the edited text in place of the user file; EXIT_BROKEN if it fails. */
static int apply_validate(const LocalOptions *o, const char *dir, const char *name, const char *text,
                          const PolicyConfig *before, const CalibrationFile *f) {
        ConfigPaths paths = o->d.config;
        PolicyConfig after = {};
        char check[NAME_MAX + 1];
        int r;

        (void) snprintf(check, sizeof check, ".%.*s.calibrate-check", NAME_MAX - 20, name);
        r = write_file_atomic(dir, check, text, strlen(text), 0600);
        if (r < 0) {
                err("cannot write a copy to check in %s: %s", dir, strerror(-r));
                return EXIT_BROKEN;
        }
        if (snprintf(paths.user, sizeof paths.user, "%s/%s", dir, check) >= (int) sizeof paths.user) {
                err("the configuration's path is too long");
                return EXIT_BROKEN;
        }
        r = load_config(&paths, &after, "the edited configuration would not load, nothing was changed");
        (void) unlinkat(AT_FDCWD, paths.user, 0);
        if (r)
                return r;
        if (!same_rules(before, &after) ||
            (f->has_elevated && fabs(after.level_threshold[LEVEL_ELEVATED] - f->elevated_threshold) > 1e-9) ||
            (f->has_target && fabs(after.target_available_pct - f->target_available_pct) > 1e-9))
                r = EXIT_BROKEN;
        config_free(&after);
        if (r)
                err("the edited configuration does not say what was meant (a bug): nothing was changed");
        return r;
}

static int apply_reload(void) {
        _cleanup_(reply_done) Reply r = {};
        char captured[ERR_CAPTURE_MAX] = "";
        DaemonId id;
        int k;

        err_capture = captured;
        k = talk("reload", "RELOAD", &r, &id);
        err_capture = NULL;
        if (k == EXIT_NOT_RUNNING) {
                printf("mgd is not running: the new settings take effect when it starts.\n");
                return EXIT_OK;
        }
        if (k) {
                _cleanup_free_ char *p = printable(captured, strlen(captured), NULL);

                err("the file is written, but mgd did not take it: %s", p ?: "?");
                return k;
        }
        printf("mgd reloaded its configuration.\n");
        return EXIT_OK;
}

/* Read the recommendation; EXIT_NO_DATA with the reason when there is none. */
static int apply_read(const LocalOptions *o, CalibrationFile *f) {
        char path[PATH_MAX], text[CALIBRATION_TEXT_MAX + 1];
        StateError e = {};
        int r;

        if (snprintf(path, sizeof path, "%s/" CALIBRATION_FILE, o->state_dir) >= (int) sizeof path) {
                err("the state directory's path is too long");
                return EXIT_USAGE;
        }
        r = state_file_read(path, text, sizeof text, &e);
        if (r == -ENOENT) {
                err("no recommendation at %s: run mgctl calibrate first", path);
                return EXIT_NO_DATA;
        }
        if (r >= 0)
                r = calibration_parse(text, f, &e);
        if (r < 0) {
                err("%s:%u: %s", path, e.line, e.reason);
                return EXIT_NO_DATA;
        }
        return 0;
}

static int calibrate_apply(const LocalOptions *o) {
        _cleanup_free_ char *old = NULL, *text = NULL, *real = NULL;
        char vals[2][32], dir[PATH_MAX], comment[128], buf[65536];
        PolicyConfig before = {};
        CalibrationFile f;
        ConfigSetting set[2];
        struct stat st;
        const char *name;
        size_t n;
        int r;

        if (!o->d.config.user[0]) {
                err("no user configuration path: neither $XDG_CONFIG_HOME nor $HOME is set (use --config FILE)");
                return EXIT_USAGE;
        }
        r = apply_read(o, &f);
        if (r == 0)
                r = load_config(&o->d.config, &before, "the configuration does not load now (fix it first)");
        if (r)
                return r;
        /* edit what a symlink points to, not the link */
        real = realpath(o->d.config.user, NULL);
        r = read_small_file(real ?: o->d.config.user, buf, sizeof buf, NULL);
        if (r < 0 && r != -ENOENT) {
                err("cannot read %s: %s", real ?: o->d.config.user, strerror(-r));
                config_free(&before);
                return EXIT_BROKEN;
        }
        old = r < 0 ? NULL : strdup(buf);
        (void) snprintf(dir, sizeof dir, "%s", real ?: o->d.config.user);
        name = strrchr(dir, '/') + 1;
        dir[name - dir - 1] = '\0';
        name = strrchr(real ?: o->d.config.user, '/') + 1;
        n = apply_settings(&f, set, vals);
        (void) snprintf(comment, sizeof comment, "set by mgctl calibrate from %.1f h of history", f.observed_ms / 3.6e6);
        r = config_edit_defaults(old, set, n, comment, &text);
        if (r < 0) {
                err("cannot edit the configuration: %s", strerror(-r));
                config_free(&before);
                return EXIT_BROKEN;
        }
        r = apply_validate(o, dir, name, text, &before, &f);
        config_free(&before);
        if (r)
                return r;
        r = write_file_atomic(dir, name, text, strlen(text), stat(real ?: "", &st) == 0 ? st.st_mode & 07777 : 0644);
        if (r < 0) {
                err("cannot write %s/%s: %s", dir, name, strerror(-r));
                return EXIT_BROKEN;
        }
        for (size_t i = 0; i < n; i++)
                printf("%s = %s\n", set[i].key, set[i].value);
        printf("written to [defaults] of %s/%s (everything else kept as it was)\n", dir, name);
        return apply_reload();
}

/* All remaining words joined by single spaces, so `mgctl unfreeze Web Content` works unquoted. */
static char *join_encoded(int argc, char **argv) {
        _cleanup_free_ char *joined = NULL;
        size_t n = 0;

        for (int i = 0; i < argc; i++)
                n += strlen(argv[i]) + 1;
        joined = calloc(n + 1, 1);
        if (!joined)
                return NULL;
        for (int i = 0; i < argc; i++) {
                if (i > 0)
                        strcat(joined, " ");
                strcat(joined, argv[i]);
        }
        return ctl_encode(joined);
}

/* unfreeze and explain: PID|NAME, the name being the rest of the line. */
static int verb_pid_or_name(const char *verb, const char *command, PrintFn print, int argc, char **argv) {
        _cleanup_free_ char *arg = NULL, *req = NULL;

        if (argc > 0 && strcmp(argv[0], "--") == 0)
                argc--, argv++;
        if (argc == 0 || (argc == 1 && !*argv[0]))
                return usage("%s needs a pid or a process name", verb);
        arg = join_encoded(argc, argv);
        if (!arg || asprintf(&req, "%s %s", command, arg) < 0) {
                err("out of memory");
                return EXIT_PROTOCOL;
        }
        if (strlen(req) >= CTL_LINE_MAX - 1)
                return usage("%s: the name is too long", verb);
        return run_socket_verb(verb, req, print, true);
}

static int verb_foreground(int argc, char **argv) {
        char req[64];

        if (argc != 1 || !(is_count(argv[0]) || strcmp(argv[0], "0") == 0))
                return usage("foreground needs one pid (0 to clear)");
        foreground_pid = (pid_t) atoi(argv[0]);
        snprintf(req, sizeof req, "FOREGROUND %s", argv[0]);
        return run_socket_verb("foreground", req, print_foreground, false);
}

static int dispatch(int argc, char **argv) {
        static const struct {
                const char *verb, *request;
                PrintFn print;
                bool array;
        } simple[] = {
                { "status", "STATUS", print_status, false },
                { "list", "LIST", print_list, true },
                { "reload", "RELOAD", print_reload, false },
        };
        const char *verb = argv[0];

        for (size_t i = 0; i < ELEMENTSOF(simple); i++)
                if (strcmp(verb, simple[i].verb) == 0) {
                        if (argc != 1)
                                return usage("%s takes no arguments", verb);
                        return run_socket_verb(verb, simple[i].request, simple[i].print,
                                               simple[i].array);
                }
        if (strcmp(verb, "unfreeze") == 0)
                return verb_pid_or_name(verb, "UNFREEZE", print_unfreeze, argc - 1, argv + 1);
        if (strcmp(verb, "explain") == 0)
                return verb_pid_or_name(verb, "EXPLAIN", print_explain, argc - 1, argv + 1);
        if (strcmp(verb, "foreground") == 0)
                return verb_foreground(argc - 1, argv + 1);
        if (strcmp(verb, "logs") == 0)
                return verb_logs(argc - 1, argv + 1);
        if (strcmp(verb, "doctor") == 0)
                return verb_doctor(argc, argv);
        if (strcmp(verb, "calibrate") == 0)
                return verb_calibrate(argc, argv);
        if (argc != 1)
                return usage("%s takes no arguments", verb);
        if (strcmp(verb, "version") == 0)
                return verb_version();
        if (strcmp(verb, "start") == 0 || strcmp(verb, "stop") == 0 || strcmp(verb, "restart") == 0)
                return verb_systemctl(verb);
        if (strcmp(verb, "service") == 0)
                return verb_systemctl("status");
        return usage("unknown command '%s'", verb);
}

int main(int argc, char **argv) {
        int r;

        r = parse_argv(argc, argv);
        if (r < 0)
                return EXIT_OK;
        if (r > 0)
                return r;
        return dispatch(argc - optind, argv + optind);
}
