/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Fuzz target for the control protocol's parsers (daemon/ctl-parse.c): every function that reads
 * bytes from a peer, plus the invariants that tie them together. Built as a libFuzzer target when
 * compiled with clang -fsanitize=fuzzer -DCTL_FUZZ_LIBFUZZER; otherwise main() runs each file
 * named on the command line, or with "--random N", N deterministic mutations of a seed corpus
 * (the 'unit' test does that). Any broken invariant aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ctl-parse.h"

#define check(x)                                                                        \
        do {                                                                            \
                if (!(x)) {                                                             \
                        fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,      \
                                __LINE__, #x);                                          \
                        abort();                                                        \
                }                                                                       \
        } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_request(const char *s, size_t n) {
        CtlRequest req;
        char err[128];
        int r;

        memset(err, 'X', sizeof err);
        r = ctl_request_parse(s, n, &req, err, sizeof err);
        check(memchr(err, '\0', sizeof err));
        if (r < 0) {
                check(r == -EINVAL || r == -ENOTSUP || r == -E2BIG);
                check(err[0] != '\0');
                return;
        }
        check((unsigned) req.command < _CTL_COMMAND_MAX);
        check(req.pid >= 0 && req.pid <= CTL_PID_MAX);
        check(!(req.pid > 0 && req.name[0]));
        if (req.command == CTL_UNFREEZE)
                check(req.pid > 0 || req.name[0]);
}

static void fuzz_data_line(const char *s, size_t n) {
        char *copy = malloc(n + 1);
        CtlField f[16];
        bool valid = ctl_data_line_valid(s, n);
        int r;

        check(copy);
        memcpy(copy, s, n);
        copy[n] = '\0';
        r = ctl_data_line_parse(copy, n, f, 16);
        check(valid ? (r > 0 || r == -E2BIG) : r == -EBADMSG);
        for (int i = 0; i < r; i++) {
                char *enc = ctl_encode_n(f[i].value, f[i].value_len);

                /* what parses, re-encodes to a valid value */
                check(enc);
                check(ctl_key_valid(f[i].key, strlen(f[i].key)));
                free(enc);
        }
        free(copy);
}

static void fuzz_terminator(const char *s, size_t n) {
        CtlTerminator t;
        int r = ctl_terminator_parse(s, n, &t);

        check(r == 0 || r == 1 || r == -EBADMSG);
        if (r == 1 && !t.ok) {
                check(memchr(t.text, '\0', sizeof t.text));
                check(strlen(t.name) >= 2 && t.name[0] == 'E');
        }
        /* a line cannot be both a terminator and a data line */
        if (r != 0)
                check(!ctl_data_line_valid(s, n));
}

static void fuzz_roundtrip(const char *s, size_t n) {
        char *enc = ctl_encode_n(s, n), *dec;
        _cleanup_free_ char *line = NULL;
        size_t m;

        check(enc);
        dec = malloc(strlen(enc) + 1);
        check(dec);
        check(ctl_decode(enc, strlen(enc), dec, &m) == 0);
        check(m == n && memcmp(dec, s, n) == 0);
        check(asprintf(&line, "k=%s", enc) > 0);
        check(ctl_data_line_valid(line, strlen(line)));
        free(dec);
        free(enc);
}

static void fuzz_reply(const char *s, size_t n) {
        CtlReply *r = ctl_reply_new();
        char *out;
        size_t len;
        int k;

        /* printf("%.*s") stops at a NUL, as any handler's "%s" would */
        n = strnlen(s, n);
        check(r);
        k = ctl_reply_line(r, "%.*s", (int) n, s);
        check(k == 0 || k == -EINVAL || k == -EMSGSIZE);
        check(ctl_reply_finish(r, 0, &out, &len) == 0);
        /* whatever a handler writes, the wire gets a well-formed reply ending in a terminator */
        check(len > 0 && out[len - 1] == '\n');
        if (k == 0)
                check(len > n && memcmp(out, s, n) == 0 && out[n] == '\n');
        else
                check(strncmp(out, "ERR ", 4) == 0);
        free(out);
        ctl_reply_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *s = (const char *) data;

        fuzz_request(s, size);
        fuzz_data_line(s, size);
        fuzz_terminator(s, size);
        fuzz_roundtrip(s, size);
        if (size < 4096)
                fuzz_reply(s, size);
        return 0;
}

#ifndef CTL_FUZZ_LIBFUZZER
static const char *const seeds[] = {
        "STATUS", "VERSION\r", "LIST", "RELOAD", "UNFREEZE 4242", "UNFREEZE Web%20Content",
        "FOREGROUND 0", "unfreeze %31%32", "OK 3", "ERR EPERM permission denied",
        "ERR EINVAL a%0Ab", "pid=1 name=x%20y priority=80", "level=high score=0.5 k=",
};
static const char alphabet[] = " =%\r\n\t\0\x1b\x7f\xc3\xa9" "0123456789AaEeFfKkOoRrSsZz_";

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void) {
        rnd_state ^= rnd_state << 13;
        rnd_state ^= rnd_state >> 7;
        rnd_state ^= rnd_state << 17;
        return (uint32_t) rnd_state;
}

static size_t mutate(char *buf, size_t n, size_t max) {
        for (unsigned k = 1 + rnd() % 4; k > 0; k--) {
                size_t at = n ? rnd() % n : 0;
                char c = alphabet[rnd() % (sizeof alphabet - 1)];

                switch (rnd() % 4) {
                case 0:
                        if (n)
                                buf[at] = c;
                        break;
                case 1:
                        if (n < max) {
                                memmove(buf + at + 1, buf + at, n - at);
                                buf[at] = c;
                                n++;
                        }
                        break;
                case 2:
                        if (n)
                                n = at;
                        break;
                default:
                        for (size_t i = 0; n < max && i < 1 + rnd() % 64; i++)
                                buf[n++] = c;
                        break;
                }
        }
        return n;
}

static int run_random(unsigned long iterations) {
        static char buf[CTL_LINE_MAX + 256];

        for (unsigned long i = 0; i < iterations; i++) {
                const char *seed = seeds[rnd() % (sizeof seeds / sizeof seeds[0])];
                size_t n = strlen(seed);

                memcpy(buf, seed, n);
                n = mutate(buf, n, sizeof buf);
                LLVMFuzzerTestOneInput((const uint8_t *) buf, n);
        }
        return 0;
}

static int run_file(const char *path) {
        static char buf[1 << 20];
        FILE *f = fopen(path, "re");
        size_t n;

        if (!f) {
                perror(path);
                return 1;
        }
        n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput((const uint8_t *) buf, n);
        return 0;
}

int main(int argc, char **argv) {
        int ret = 0;

        if (argc == 3 && strcmp(argv[1], "--random") == 0)
                return run_random(strtoul(argv[2], NULL, 10));
        for (int i = 1; i < argc; i++)
                ret |= run_file(argv[i]);
        return ret;
}
#endif
