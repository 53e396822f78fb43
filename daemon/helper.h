/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * The daemon's side of the privileged helpers (docs/PRIVSEP.md): spawning, supervision and the
 * asynchronous request API. All of it lives here, so fd numbering, deadlines, reaping and
 * respawning are done in exactly one place.
 *
 * Every helper is fork+exec'd at start-up (never on the pressure path) from the libexec
 * directory fixed at build time, with its end of a SOCK_SEQPACKET socketpair at fd 3 and an
 * empty environment. Each request carries a deadline; a helper that misses it, sends a bad
 * reply or dies is killed and reaped through its pidfd, its exit status is logged decoded
 * (exit code meaning, or the signal: SIGSYS means a seccomp violation), and it is respawned
 * after an exponential backoff. At start-up each helper is probed once, so mgd knows which
 * grants are installed and logs once the exact command that would enable a missing one.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "common/macro.h"
#include "common/proto.h"

typedef enum HelperKind {
        HELPER_PSI,
        HELPER_ZRAM,
        HELPER_SWAP,
        HELPER_CHECKPOINT,
        _HELPER_KIND_MAX,
} HelperKind;

typedef enum HelperGrant {
        HELPER_GRANT_UNKNOWN,           /* not probed (yet) */
        HELPER_GRANT_OK,                /* the helper holds what its operation needs */
        HELPER_GRANT_MISSING,           /* installed, but the grant is not: feature off */
        HELPER_GRANT_UNAVAILABLE,       /* not installed, will not start, or nothing to act on */
} HelperGrant;

typedef struct HelperSet HelperSet;

/*
 * Called once per accepted request. error < 0 means no reply: -ETIMEDOUT (deadline missed),
 * -ECONNRESET (the helper died or was killed), -EPROTO/-EBADMSG (a reply that broke the
 * protocol), -ECANCELED (the set is being freed). error == 0: rep is valid and rep->error is the
 * helper's own answer (0 or -errno). fd is the passed fd (PSI_ARM only) or -1; it belongs to
 * the callback, which must keep or close it.
 */
typedef void (*helper_reply_t)(HelperSet *set, int error, const ProtoReply *rep, int fd, void *userdata);

/* Told each time a helper's grant becomes known (after its start-up probe). */
typedef void (*helper_grant_t)(HelperSet *set, HelperKind kind, HelperGrant grant, void *userdata);

typedef struct HelperSetOptions {
        const char *dir;                /* NULL: MGD_LIBEXECDIR */
        const char *proc_root;          /* NULL: "/proc" (the zram probe reads /proc/swaps) */
        helper_grant_t on_grant;
        void *userdata;
} HelperSetOptions;

int helper_set_new(sd_event *e, const HelperSetOptions *opt, HelperSet **ret);
/* Kills the helpers (SIGKILL via pidfd), fails queued calls with -ECANCELED, frees. */
HelperSet *helper_set_free(HelperSet *s);

/*
 * Spawn every helper and send its probe. Returns the number of helpers running; one that
 * cannot be executed is logged once and marked HELPER_GRANT_UNAVAILABLE.
 */
int helper_set_start(HelperSet *s);

HelperGrant helper_set_grant(const HelperSet *s, HelperKind kind);
pid_t helper_set_pid(const HelperSet *s, HelperKind kind);     /* 0 when not running */
/*
 * The command that would install kind's grant, for logs and `mgctl doctor`, given the error the
 * probe or the request got: for the checkpoint helper -ENOENT means criu is not installed where
 * it is expected, -EACCES that the user may not execute it (not in group mgd yet), anything else
 * that criu lacks its capabilities.
 */
const char *helper_grant_fix(const HelperSet *s, HelperKind kind, int error, char *buf, size_t size);

/*
 * Queue a request (type, flags and payload; seq is ours) with a deadline. Returns 0 and calls
 * cb exactly once later; or fails at once, without calling cb: -ENOTCONN (helper not running:
 * respawning or not installed), -EBUSY (queue full), -EINVAL (payload too large or type not
 * this helper's).
 */
int helper_call(HelperSet *s, HelperKind kind, uint8_t type, uint16_t flags, const void *payload,
                size_t payload_size, usec_t timeout, helper_reply_t cb, void *userdata);

/* The requests, with their default deadlines. */
int helper_psi_arm(HelperSet *s, ProtoPsiSource source, ProtoPsiKind kind, uint32_t stall_us,
                   uint32_t window_us, helper_reply_t cb, void *userdata);
int helper_zram_compact(HelperSet *s, unsigned device, uint64_t min_used_bytes, helper_reply_t cb,
                        void *userdata);
int helper_swap_reclaim(HelperSet *s, helper_reply_t cb, void *userdata);
int helper_checkpoint_dump(HelperSet *s, pid_t pid, uint64_t starttime, helper_reply_t cb, void *userdata);
int helper_checkpoint_restore(HelperSet *s, uint64_t image_id, helper_reply_t cb, void *userdata);
int helper_checkpoint_discard(HelperSet *s, uint64_t image_id, helper_reply_t cb, void *userdata);

/*
 * "exited with 3 (protocol violation: ...)", "killed by SIGSYS (seccomp: ...)": what a waitid()
 * result (si_code CLD_EXITED/CLD_KILLED/CLD_DUMPED and si_status) means for a helper.
 */
const char *helper_exit_describe(int code, int status, char *buf, size_t size);

const char *helper_kind_name(HelperKind kind);      /* "mgd-psi-helper", ... */
