/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A helper that misbehaves on purpose, for the daemon's supervision tests. It answers probes
 * properly (so start-up goes through) and then, per $MGD_TEST_FAKE_MODE, on every other request:
 * silent (never answers), garbage (a 5-byte record), wrong-seq, unsolicited (a second reply
 * nobody asked for), sigsys (dies as a seccomp violation would), exit3, or ok.
 */

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/privsep.h"

int main(void) {
        const char *mode = getenv("MGD_TEST_FAKE_MODE");

        if (!mode)
                mode = "ok";
        for (;;) {
                ProtoRequest req;
                ProtoReply rep;
                int r = privsep_recv_request(PROTO_HELPER_FD, &req);

                if (r <= 0)
                        return r == 0 ? HELPER_EXIT_HANGUP : HELPER_EXIT_PROTOCOL;
                proto_reply_init(&rep, &req);
                if ((req.hdr.flags & PROTO_FLAG_PROBE) || strcmp(mode, "ok") == 0) {
                        (void) privsep_send_reply(PROTO_HELPER_FD, &rep, -1);
                        continue;
                }
                if (strcmp(mode, "silent") == 0)
                        for (;;)
                                pause();
                if (strcmp(mode, "garbage") == 0)
                        (void) privsep_send(PROTO_HELPER_FD, "\1abcd", 5, -1);
                else if (strcmp(mode, "wrong-seq") == 0) {
                        rep.hdr.seq++;
                        (void) privsep_send_reply(PROTO_HELPER_FD, &rep, -1);
                } else if (strcmp(mode, "unsolicited") == 0) {
                        (void) privsep_send_reply(PROTO_HELPER_FD, &rep, -1);
                        (void) privsep_send_reply(PROTO_HELPER_FD, &rep, -1);
                } else if (strcmp(mode, "sigsys") == 0) {
                        struct rlimit none = {};

                        (void) setrlimit(RLIMIT_CORE, &none);
                        signal(SIGSYS, SIG_DFL);
                        raise(SIGSYS);
                } else if (strcmp(mode, "exit3") == 0)
                        return HELPER_EXIT_PROTOCOL;
        }
}
