/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The wire protocol's validators and the SOCK_SEQPACKET transport, in one process over real
 * socketpairs: exact lengths, the version first, fds only where they belong, EOF vs an empty
 * record, and the session-cgroup derivation both helpers that look at cgroups rely on.
 */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/privsep.h"
#include "tests/check-main.h"

static ProtoRequest valid_psi(void) {
        return (ProtoRequest) {
                .hdr = { .version = PROTO_VERSION, .type = PROTO_PSI_ARM, .seq = 7 },
                .psi_arm = { .source = PROTO_PSI_SOURCE_SESSION, .kind = PROTO_PSI_FULL,
                             .stall_us = 50000, .window_us = 1000000 },
        };
}

START_TEST(test_request_validate) {
        ProtoRequest req = valid_psi(), out = {};
        uint8_t buf[sizeof(req) + 1] = {};

        ck_assert_int_eq(proto_request_validate(&req, sizeof(req), &out), 0);
        ck_assert_mem_eq(&out, &req, sizeof(req));
        /* exact length, not a minimum: one byte more or less is refused */
        memcpy(buf, &req, sizeof(req));
        ck_assert_int_eq(proto_request_validate(buf, sizeof(buf), &out), -EBADMSG);
        ck_assert_int_eq(proto_request_validate(buf, sizeof(req) - 1, &out), -EBADMSG);
        /* the version is looked at before anything else, even the length */
        buf[0] = PROTO_VERSION + 1;
        ck_assert_int_eq(proto_request_validate(buf, 3, &out), -EPROTONOSUPPORT);
        ck_assert_int_eq(proto_request_validate(buf, 0, &out), -EPROTONOSUPPORT);
        /* replies are odd, unknown types are unknown */
        req.hdr.type = PROTO_PSI_ARM_REPLY;
        ck_assert_int_eq(proto_request_validate(&req, sizeof(req), &out), -EOPNOTSUPP);
        req.hdr.type = 100;
        ck_assert_int_eq(proto_request_validate(&req, sizeof(req), &out), -EOPNOTSUPP);
        req = valid_psi();
        req.hdr.flags = 0x10;
        ck_assert_int_eq(proto_request_validate(&req, sizeof(req), &out), -EINVAL);
}
END_TEST

START_TEST(test_request_payloads) {
        ProtoRequest req, out;

        req = (ProtoRequest) { .hdr = { .version = PROTO_VERSION, .type = PROTO_SWAP_RECLAIM } };
        ck_assert_int_eq(proto_request_validate(&req, sizeof(req), &out), 0);
        for (size_t i = 0; i < sizeof(req.raw); i++) {
                req.raw[i] = 0x80;
                ck_assert_int_eq(proto_request_validate(&req, sizeof(req), &out), -EINVAL);
                req.raw[i] = 0;
        }
        req = (ProtoRequest) { .hdr = { .version = PROTO_VERSION, .type = PROTO_CHECKPOINT_DUMP },
                               .checkpoint_dump = { .pid = 0 } };
        ck_assert_int_eq(proto_request_validate(&req, sizeof(req), &out), -EINVAL);
        req.hdr.flags = PROTO_FLAG_PROBE;       /* pid 0: only the grant probe */
        ck_assert_int_eq(proto_request_validate(&req, sizeof(req), &out), 0);
        req.checkpoint_dump.pid = 0x80000000u;
        ck_assert_int_eq(proto_request_validate(&req, sizeof(req), &out), -EINVAL);
        req = (ProtoRequest) { .hdr = { .version = PROTO_VERSION, .type = PROTO_CHECKPOINT_RESTORE } };
        ck_assert_int_eq(proto_request_validate(&req, sizeof(req), &out), -EINVAL);
        req.checkpoint_image.image_id = 5;
        ck_assert_int_eq(proto_request_validate(&req, sizeof(req), &out), 0);
        req.checkpoint_image.reserved0 = 1;
        ck_assert_int_eq(proto_request_validate(&req, sizeof(req), &out), -EINVAL);
        req = valid_psi();
        req.psi_arm.source = 2;
        ck_assert_int_eq(proto_request_validate(&req, sizeof(req), &out), -EINVAL);
        req = valid_psi();
        req.psi_arm.reserved0 = 1;
        ck_assert_int_eq(proto_request_validate(&req, sizeof(req), &out), -EINVAL);
}
END_TEST

START_TEST(test_reply_validate) {
        ProtoRequest req = valid_psi();
        ProtoReply rep, out;

        proto_reply_init(&rep, &req);
        ck_assert_uint_eq(rep.hdr.type, PROTO_PSI_ARM_REPLY);
        ck_assert_uint_eq(rep.hdr.seq, 7);
        ck_assert_int_eq(proto_reply_validate(&req, &rep, sizeof(rep), &out), 0);
        ck_assert(proto_reply_carries_fd(&out));
        rep.error = -EINVAL;
        ck_assert_int_eq(proto_reply_validate(&req, &rep, sizeof(rep), &out), 0);
        ck_assert(!proto_reply_carries_fd(&out));
        rep.error = 1;
        ck_assert_int_eq(proto_reply_validate(&req, &rep, sizeof(rep), &out), -EPROTO);
        rep.error = -5000;
        ck_assert_int_eq(proto_reply_validate(&req, &rep, sizeof(rep), &out), -EPROTO);
        proto_reply_init(&rep, &req);
        rep.hdr.seq++;
        ck_assert_int_eq(proto_reply_validate(&req, &rep, sizeof(rep), &out), -EPROTO);
        proto_reply_init(&rep, &req);
        rep.hdr.type = PROTO_ZRAM_COMPACT_REPLY;
        ck_assert_int_eq(proto_reply_validate(&req, &rep, sizeof(rep), &out), -EPROTO);
        proto_reply_init(&rep, &req);
        rep.hdr.flags = PROTO_FLAG_PROBE;
        ck_assert_int_eq(proto_reply_validate(&req, &rep, sizeof(rep), &out), -EPROTO);
        proto_reply_init(&rep, &req);
        rep.reserved0 = 1;
        ck_assert_int_eq(proto_reply_validate(&req, &rep, sizeof(rep), &out), -EPROTO);
        proto_reply_init(&rep, &req);
        ck_assert_int_eq(proto_reply_validate(&req, &rep, sizeof(rep) - 1, &out), -EBADMSG);
        rep.hdr.version = 9;
        ck_assert_int_eq(proto_reply_validate(&req, &rep, sizeof(rep), &out), -EPROTONOSUPPORT);
        /* a probe's reply never carries an fd */
        req.hdr.flags = PROTO_FLAG_PROBE;
        proto_reply_init(&rep, &req);
        ck_assert(!proto_reply_carries_fd(&rep));
}
END_TEST

static void pair(int fds[2]) {
        ck_assert_int_eq(privsep_socketpair(fds), 0);
        ck_assert_int_eq(fcntl(fds[0], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

static unsigned count_fds(void) {
        unsigned n = 0;
        DIR *d = opendir("/proc/self/fd");

        ck_assert_ptr_nonnull(d);
        while (readdir(d))
                n++;
        (void) closedir(d);
        return n;
}

START_TEST(test_transport_request) {
        ProtoRequest req = valid_psi(), out;
        uint8_t big[sizeof(req) + 8] = {};
        int fds[2];

        pair(fds);
        ck_assert_int_eq(privsep_send_request(fds[0], &req), 0);
        ck_assert_int_eq(privsep_recv_request(fds[1], &out), 1);
        ck_assert_mem_eq(&out, &req, sizeof(req));
        /* oversized: seen as such thanks to the one spare byte, never cut to size */
        memcpy(big, &req, sizeof(req));
        ck_assert_int_eq(privsep_send(fds[0], big, sizeof(big), -1), 0);
        ck_assert_int_eq(privsep_recv_request(fds[1], &out), -EBADMSG);
        /* a valid request with an fd: refused, and the fd is not left open in the receiver */
        unsigned before = count_fds();
        ck_assert_int_eq(privsep_send(fds[0], &req, sizeof(req), STDIN_FILENO), 0);
        ck_assert_int_eq(privsep_recv_request(fds[1], &out), -EBADMSG);
        ck_assert_uint_eq(count_fds(), before);
        /* an empty record from a live peer is a violation; a closed peer is EOF */
        ck_assert_int_eq(privsep_send(fds[0], "", 0, -1), 0);
        ck_assert_int_eq(privsep_recv_request(fds[1], &out), -EBADMSG);
        (void) close(fds[0]);
        ck_assert_int_eq(privsep_recv_request(fds[1], &out), 0);
        (void) close(fds[1]);
}
END_TEST

START_TEST(test_transport_reply_fd_rules) {
        ProtoRequest req = valid_psi();
        ProtoReply rep, out;
        int fds[2], got = -2;

        pair(fds);
        proto_reply_init(&rep, &req);
        /* the sender refuses to pass an fd with a reply that does not carry one, and vice versa */
        ck_assert_int_eq(privsep_send_reply(fds[1], &rep, -1), -EINVAL);
        rep.error = -EINVAL;
        ck_assert_int_eq(privsep_send_reply(fds[1], &rep, STDIN_FILENO), -EINVAL);
        /* a refusal with an fd smuggled in anyway: the receiver refuses it */
        ck_assert_int_eq(privsep_send(fds[1], &rep, sizeof(rep), STDIN_FILENO), 0);
        ck_assert_int_eq(privsep_recv_reply(fds[0], &req, &out, &got), -EBADMSG);
        ck_assert_int_eq(got, -2);
        /* a success without its fd */
        rep.error = 0;
        ck_assert_int_eq(privsep_send(fds[1], &rep, sizeof(rep), -1), 0);
        ck_assert_int_eq(privsep_recv_reply(fds[0], &req, &out, &got), -EBADMSG);
        /* and done right: one fd, close-on-exec on our side */
        ck_assert_int_eq(privsep_send_reply(fds[1], &rep, STDIN_FILENO), 0);
        ck_assert_int_eq(privsep_recv_reply(fds[0], &req, &out, &got), 0);
        ck_assert_int_ge(got, 0);
        ck_assert_int_eq(fcntl(got, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        (void) close(got);
        ck_assert_int_eq(privsep_recv_reply(fds[0], &req, &out, &got), -EAGAIN);
        (void) close(fds[1]);
        ck_assert_int_eq(privsep_recv_reply(fds[0], &req, &out, &got), -ECONNRESET);
        (void) close(fds[0]);
}
END_TEST

START_TEST(test_transport_two_fds) {
        union {
                struct cmsghdr align;
                uint8_t buf[CMSG_SPACE(2 * sizeof(int))];
        } control = {};
        ProtoRequest req = valid_psi();
        ProtoReply rep, out;
        struct iovec iov;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof(control) };
        int fds[2], two[2] = { STDIN_FILENO, STDOUT_FILENO }, got = -2;

        pair(fds);
        proto_reply_init(&rep, &req);
        iov = (struct iovec) { .iov_base = &rep, .iov_len = sizeof(rep) };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(two));
        memcpy(CMSG_DATA(c), two, sizeof(two));
        ck_assert_int_eq(sendmsg(fds[1], &mh, 0), (ssize_t) sizeof(rep));
        unsigned before = count_fds();
        ck_assert_int_eq(privsep_recv_reply(fds[0], &req, &out, &got), -EBADMSG);
        ck_assert_int_eq(got, -2);
        ck_assert_uint_eq(count_fds(), before);         /* both received fds were closed */
        (void) close(fds[0]);
        (void) close(fds[1]);
}
END_TEST

START_TEST(test_call_deadline) {
        ProtoRequest req = valid_psi();
        ProtoReply out;
        int fds[2], got;

        pair(fds);
        /* nobody answers */
        ck_assert_int_eq(privsep_call(fds[0], &req, 50 * USEC_PER_MSEC, &out, &got), -ETIMEDOUT);
        (void) close(fds[0]);
        (void) close(fds[1]);
}
END_TEST

START_TEST(test_session_prefix) {
        static const struct {
                const char *cgroup;
                unsigned uid;
                const char *session;    /* NULL: refused with error */
                int error;
        } cases[] = {
                { "/user.slice/user-1000.slice/user@1000.service/app.slice/mgd.service", 1000,
                  "/user.slice/user-1000.slice/user@1000.service", 0 },
                { "/user.slice/user-1000.slice/session-2.scope", 1000, "/user.slice/user-1000.slice", 0 },
                { "/user.slice/user-1000.slice/user@1000.service", 1000,
                  "/user.slice/user-1000.slice/user@1000.service", 0 },
                { "/x/user-0.slice/user@0.service/app.slice/a", 0, "/x/user-0.slice/user@0.service", 0 },
                { "/user.slice/user-1000.slice/user@1000.service/app.slice", 1001, NULL, -EPERM },
                { "/system.slice/mgd.service", 1000, NULL, -EPERM },
                { "/", 1000, NULL, -EPERM },
                { "/user.slice/user-1000.slice/user@1000.services/x", 1000, "/user.slice/user-1000.slice", 0 },
                { "/user.slice/xuser-1000.slice/user@1000.servic", 1000, NULL, -EPERM },
                { "/user.slice/../user-1000.slice", 1000, NULL, -EINVAL },
                { "/user.slice//user-1000.slice", 1000, NULL, -EINVAL },
                { "/user.slice/user-1000.slice/", 1000, NULL, -EINVAL },
                { "user.slice/user-1000.slice", 1000, NULL, -EINVAL },
        };
        char buf[256];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = cgroup_session_prefix(cases[i].cgroup, cases[i].uid, buf, sizeof(buf));

                ck_assert_msg(r == cases[i].error, "%s: %d", cases[i].cgroup, r);
                if (cases[i].session)
                        ck_assert_str_eq(buf, cases[i].session);
        }
        ck_assert_int_eq(cgroup_session_prefix(cases[0].cgroup, 1000, buf, 10), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_path_within) {
        ck_assert(cgroup_path_within("/a/b", "/a/b"));
        ck_assert(cgroup_path_within("/a/b/c", "/a/b"));
        ck_assert(!cgroup_path_within("/a/bc", "/a/b"));
        ck_assert(!cgroup_path_within("/a", "/a/b"));
        ck_assert(!cgroup_path_within("/x/a/b", "/a/b"));
}
END_TEST

START_TEST(test_session_app) {
        const char *sess = "/user.slice/user-1000.slice/user@1000.service";

        ck_assert(cgroup_session_app("/user.slice/user-1000.slice/user@1000.service/app.slice/a.scope", sess));
        ck_assert(!cgroup_session_app(sess, sess));
        ck_assert(!cgroup_session_app("/user.slice/user-1000.slice/user@1000.service/init.scope", sess));
        ck_assert(!cgroup_session_app("/user.slice/user-1000.slice/user@1000.service/init.scope/x", sess));
        ck_assert(!cgroup_session_app("/user.slice/user-1000.slice/user@1000.service2/a", sess));
        ck_assert(!cgroup_session_app("/system.slice/a.service", sess));
        /* spelled the kernel's way only: no "..", ".", empty component or trailing slash */
        ck_assert(!cgroup_session_app("/user.slice/user-1000.slice/user@1000.service/app.slice/../../x", sess));
        ck_assert(!cgroup_session_app("/user.slice/user-1000.slice/user@1000.service/./a", sess));
        ck_assert(!cgroup_session_app("/user.slice/user-1000.slice/user@1000.service//a", sess));
        ck_assert(!cgroup_session_app("/user.slice/user-1000.slice/user@1000.service/a/", sess));
        ck_assert(!cgroup_session_app("user.slice/user-1000.slice/user@1000.service/a", sess));
}
END_TEST

static Suite *proto_suite(void) {
        Suite *s = suite_create("proto");
        TCase *tc = tcase_create("proto");

        tcase_add_test(tc, test_request_validate);
        tcase_add_test(tc, test_request_payloads);
        tcase_add_test(tc, test_reply_validate);
        tcase_add_test(tc, test_transport_request);
        tcase_add_test(tc, test_transport_reply_fd_rules);
        tcase_add_test(tc, test_transport_two_fds);
        tcase_add_test(tc, test_call_deadline);
        tcase_add_test(tc, test_session_prefix);
        tcase_add_test(tc, test_path_within);
        tcase_add_test(tc, test_session_app);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(proto_suite)
