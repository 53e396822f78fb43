/* SPDX-License-Identifier: GPL-2.0-only */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "common/macro.h"
#include "common/privsep.h"
#include "tests/helpers/helper-test.h"

static char fake_base[64];

char *fake_root_new(void) {
        char tmpl[128];
        char *root;

        xsprintf(tmpl, "%s/mgd-helper-test-XXXXXX", fake_base[0] ? fake_base : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(tmpl));
        root = strdup(tmpl);
        ck_assert_ptr_nonnull(root);
        return root;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

void fake_root_free(char *root) {
        if (!root)
                return;
        (void) nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(root);
}

void fake_base_setup(void) {
        xsprintf(fake_base, "/tmp/mgd-helper-tests-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(fake_base));
}

void fake_base_teardown(void) {
        if (fake_base[0])
                (void) nftw(fake_base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        fake_base[0] = '\0';
}

static void mkdir_parents(const char *path) {
        char buf[4096];

        ck_assert_uint_lt(strlen(path), sizeof(buf));
        strcpy(buf, path);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                ck_assert_msg(mkdir(buf, 0755) == 0 || errno == EEXIST, "mkdir %s: %m", buf);
                *p = '/';
        }
}

void fake_mkdir(const char *root, const char *rel) {
        char path[4096];

        xsprintf(path, "%s/%s/", root, rel);
        mkdir_parents(path);
}

void fake_write(const char *root, const char *rel, const char *content) {
        char path[4096];
        FILE *f;

        xsprintf(path, "%s/%s", root, rel);
        mkdir_parents(path);
        f = fopen(path, "we");
        ck_assert_msg(f, "fopen %s: %m", path);
        ck_assert_int_ge(fputs(content, f), 0);
        ck_assert_int_eq(fclose(f), 0);
}

int fake_fifo(const char *root, const char *rel) {
        char path[4096];
        int fd;

        xsprintf(path, "%s/%s", root, rel);
        mkdir_parents(path);
        ck_assert_msg(mkfifo(path, 0600) == 0, "mkfifo %s: %m", path);
        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        return fd;
}

HelperProc helper_proc_start(const char *name, const char *root, const char *const *env) {
        char path[4096], root_env[4200];
        const char *envp[16];
        size_t n = 0;
        int pair[2];
        pid_t pid;

        xsprintf(path, "%s/%s", MGD_HELPER_BUILD_DIR, name);
        if (root) {
                xsprintf(root_env, "MGD_TEST_ROOT=%s", root);
                envp[n++] = root_env;
        }
        for (size_t i = 0; env && env[i] && n < ELEMENTSOF(envp) - 1; i++)
                envp[n++] = env[i];
        envp[n] = NULL;
        ck_assert_int_eq(privsep_socketpair(pair), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* what mgd does: the socket at fd 3, nothing else inherited */
                if (dup3(pair[1], PROTO_HELPER_FD, 0) < 0)
                        _exit(126);
                (void) close_range(PROTO_HELPER_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC);
                execve(path, (char *[]) { (char *) name, NULL }, (char **) envp);
                _exit(127);
        }
        (void) close(pair[1]);
        return (HelperProc) { .pid = pid, .fd = pair[0] };
}

int helper_proc_wait(HelperProc *p) {
        int status = 0;

        for (int i = 0; i < 1000; i++) {
                pid_t r = waitpid(p->pid, &status, WNOHANG);

                ck_assert_int_ge(r, 0);
                if (r == p->pid) {
                        p->pid = 0;
                        if (p->fd >= 0)
                                (void) close(p->fd);
                        p->fd = -1;
                        return status;
                }
                (void) usleep(10000);
        }
        (void) kill(p->pid, SIGKILL);
        (void) waitpid(p->pid, NULL, 0);
        ck_abort_msg("helper %d did not exit", (int) p->pid);
        return -1;
}

void helper_proc_hangup(HelperProc *p) {
        int status;

        (void) close(p->fd);
        p->fd = -1;
        status = helper_proc_wait(p);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == HELPER_EXIT_HANGUP,
                      "expected exit 0 after hangup, status 0x%x", status);
}

ProtoRequest test_request(uint8_t type, uint16_t flags, const void *payload, size_t size) {
        static uint32_t seq = 100;
        ProtoRequest req = { .hdr = { .version = PROTO_VERSION, .type = type, .flags = flags, .seq = ++seq } };

        ck_assert_uint_le(size, sizeof(req.raw));
        if (size > 0)
                memcpy(req.raw, payload, size);
        return req;
}

int helper_proc_call(HelperProc *p, const ProtoRequest *req, ProtoReply *ret, int *ret_fd) {
        return helper_proc_call_within(p, req, 10 * USEC_PER_SEC, ret, ret_fd);
}

int helper_proc_call_within(HelperProc *p, const ProtoRequest *req, usec_t timeout, ProtoReply *ret, int *ret_fd) {
        ProtoReply rep;
        int fd = -1, r;

        r = privsep_call(p->fd, req, timeout, &rep, &fd);
        ck_assert_msg(r == 0, "no valid reply to %s: %s", proto_type_name(req->hdr.type), strerror(-r));
        if (ret)
                *ret = rep;
        if (ret_fd)
                *ret_fd = fd;
        else if (fd >= 0)
                (void) close(fd);
        return rep.error;
}

void helper_proc_expect_exit(HelperProc *p, const void *buf, size_t len, int pass_fd, int code) {
        struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
        char junk[64];
        int status;

        ck_assert_int_eq(privsep_send(p->fd, buf, len, pass_fd), 0);
        /* no reply may come: the next thing on the socket is the hangup */
        ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
        ck_assert_int_le(recv(p->fd, junk, sizeof(junk), MSG_DONTWAIT), 0);
        status = helper_proc_wait(p);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == code,
                      "expected exit %d, got status 0x%x", code, status);
}

uint64_t proc_status_field(pid_t pid, const char *key) {
        char path[64], line[256];
        size_t klen = strlen(key);
        uint64_t v = UINT64_MAX;
        FILE *f;

        xsprintf(path, "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
                        bool hex = strncmp(key, "Cap", 3) == 0;
                        v = strtoull(line + klen + 1, NULL, hex ? 16 : 10);
                        break;
                }
        (void) fclose(f);
        ck_assert_msg(v != UINT64_MAX, "no %s in %s", key, path);
        return v;
}

uint64_t proc_fd_mask(pid_t pid, bool *ret_high) {
        char path[64];
        struct dirent *de;
        uint64_t mask = 0;
        DIR *d;

        *ret_high = false;
        xsprintf(path, "/proc/%d/fd", (int) pid);
        d = opendir(path);
        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                long fd = strtol(de->d_name, NULL, 10);
                if (fd < 64)
                        mask |= UINT64_C(1) << fd;
                else
                        *ret_high = true;
        }
        (void) closedir(d);
        return mask;
}

uint64_t expected_caps(uint64_t keep, const char *our_field) {
        return keep & proc_status_field(getpid(), our_field);
}

void fake_proc_pid(const char *root, pid_t pid, uid_t uid, uint64_t starttime, const char *cgroup) {
        char rel[64], buf[1024];
        int n;

        /* stat: fields 4.. are numbers; field 22 is the start time */
        xsprintf(rel, "proc/%d/stat", (int) pid);
        n = snprintf(buf, sizeof(buf), "%d (fake) S", (int) pid);
        for (int field = 4; field <= 52; field++)
                n += snprintf(buf + n, sizeof(buf) - (size_t) n, " %" PRIu64,
                              field == 22 ? starttime : field == 4 ? (uint64_t) 1 : (uint64_t) 0);
        (void) snprintf(buf + n, sizeof(buf) - (size_t) n, "\n");
        fake_write(root, rel, buf);

        xsprintf(rel, "proc/%d/status", (int) pid);
        xsprintf(buf, "Name:\tfake\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t%d\n"
                        "Pid:\t%d\nUid:\t%u\t%u\t%u\t%u\nGid:\t0\t0\t0\t0\n", (int) pid, (int) pid,
                        (unsigned) uid, (unsigned) uid, (unsigned) uid, (unsigned) uid);
        fake_write(root, rel, buf);

        xsprintf(rel, "proc/%d/cgroup", (int) pid);
        xsprintf(buf, "4:memory:/\n0::%s\n", cgroup);
        fake_write(root, rel, buf);
}

void assert_lockdown(pid_t pid, uint64_t keep, uint64_t bounding, bool nnp, bool filtered) {
        uint64_t ours_bnd = proc_status_field(getpid(), "CapBnd");
        bool setpcap = proc_status_field(getpid(), "CapPrm") & (UINT64_C(1) << 8);
        bool high;

        ck_assert_uint_eq(proc_status_field(pid, "CapEff"), expected_caps(keep, "CapPrm"));
        ck_assert_uint_eq(proc_status_field(pid, "CapPrm"), expected_caps(keep, "CapPrm"));
        ck_assert_uint_eq(proc_status_field(pid, "CapInh"), 0);
        ck_assert_uint_eq(proc_status_field(pid, "CapAmb"), 0);
        ck_assert_uint_eq(proc_status_field(pid, "CapBnd"), setpcap ? bounding & ours_bnd : ours_bnd);
        ck_assert_uint_eq(proc_status_field(pid, "NoNewPrivs"), nnp ? 1 : 0);
        ck_assert_uint_eq(proc_status_field(pid, "Seccomp"), filtered && HAVE_SECCOMP ? 2 : 0);
        /* an fd it just passed may take the helper a moment to close after sendmsg() */
        for (int i = 0; i < 100 && (proc_fd_mask(pid, &high) != 0xf || high); i++)
                (void) usleep(10000);
        ck_assert_uint_eq(proc_fd_mask(pid, &high), 0xf);
        ck_assert(!high);
}

uint64_t real_starttime(pid_t pid) {
        char path[64], buf[1024], *p;
        unsigned long long v = 0;
        FILE *f;

        xsprintf(path, "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
        (void) fclose(f);
        p = strrchr(buf, ')');
        ck_assert_ptr_nonnull(p);
        /* after ") " come fields 3, 4, ...: skip to field 22 */
        p += 2;
        for (int field = 3; field < 22; field++) {
                p = strchr(p, ' ');
                ck_assert_ptr_nonnull(p);
                p++;
        }
        ck_assert_int_eq(sscanf(p, "%llu", &v), 1);
        return v;
}
