/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A checkpoint target for the end-to-end test: ckpt-app NAME MIB COUNT_FILE [PORT]
 *
 * Detaches (its parent exits once it printed the child's pid), so it is PID 1's child, as an
 * app of a desktop session is its user manager's: after criu dump ends it, PID 1 reaps it and
 * its pid is free for the restore. It sets its comm to NAME, holds MIB of touched memory, and
 * every 50 ms replaces COUNT_FILE with the next number (written and closed each time: no fd for
 * criu to care about), so a restored copy shows that it counts on from where it was dumped. With
 * PORT it also holds a TCP connection to 127.0.0.1:PORT, which criu refuses to dump without
 * --tcp-established: a real criu failure.
 *
 * What an unprivileged user's app has: no capabilities, stdio on /dev/null, its own session.
 * And NO_NEW_PRIVS, for this host's kernel quirk: its bounding set lacks CAP_SYS_RESOURCE
 * everywhere, which criu's restorer can only reproduce with CAP_SETPCAP or for a task that ran
 * with no_new_privs (docs/PRIVSEP.md). On a desktop the bounding set is full.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int tcp_connect(int port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0)
                return -1;
        return fd;
}

static int lock_down(void) {
        cap_t none = cap_init();
        int null = open("/dev/null", O_RDWR);

        if (!none || null < 0 || setsid() < 0)
                return -1;
        (void) dup2(null, 0);
        (void) dup2(null, 1);
        (void) dup2(null, 2);
        if (null > 2)
                (void) close(null);
        return cap_set_proc(none) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -1 : 0;
}

/* Each number goes to FILE.tmp, then renamed over FILE: a reader sees the last number or the one
 * before, never the empty file an O_TRUNC rewrite leaves between its open and its write. */
static void count(const char *file) {
        struct timespec tick = { .tv_nsec = 50 * 1000 * 1000 };
        unsigned long long n = 0;
        char tmp[4096];

        if (snprintf(tmp, sizeof(tmp), "%s.tmp", file) >= (int) sizeof(tmp))
                exit(EXIT_FAILURE);
        for (;;) {
                char buf[32];
                int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                int len = snprintf(buf, sizeof(buf), "%llu\n", ++n);

                if (fd >= 0) {
                        bool ok = write(fd, buf, (size_t) len) == len;

                        if (close(fd) == 0 && ok)
                                (void) rename(tmp, file);
                }
                (void) nanosleep(&tick, NULL);
        }
}

int main(int argc, char **argv) {
        size_t len;
        char *mem;
        pid_t pid;

        if (argc < 4 || argc > 5) {
                fprintf(stderr, "usage: ckpt-app NAME MIB COUNT_FILE [PORT]\n");
                return 2;
        }
        pid = fork();
        if (pid < 0)
                return 1;
        if (pid > 0) {
                printf("%d\n", (int) pid);
                return 0;
        }
        len = strtoul(argv[2], NULL, 10) << 20;
        mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED || prctl(PR_SET_NAME, argv[1]) < 0)
                _exit(1);
        for (size_t i = 0; i < len; i += 4096)
                mem[i] = (char) (i >> 12);
        if (argc == 5 && tcp_connect(atoi(argv[4])) < 0)
                _exit(1);
        if (lock_down() < 0)
                _exit(1);
        count(argv[3]);
}
