/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * The daemon <-> helper wire protocol: the ONE definition both sides compile. docs/PRIVSEP.md
 * describes it in prose; change both in the same commit, and bump PROTO_VERSION on any change
 * that alters a size, a field's meaning or a message type.
 *
 * Transport: one SOCK_SEQPACKET socketpair per helper, the helper's end at fd 3. Every request is
 * exactly sizeof(ProtoRequest) bytes and every reply exactly sizeof(ProtoReply) bytes; a record
 * of any other length is a protocol violation, never "a short read to be continued". Requests
 * have even types, the reply to a request has type + 1 and echoes its seq and flags.
 *
 * The helpers treat the daemon as hostile: a request with a wrong version, a wrong length, an
 * unknown type, a type that is not theirs, unknown flags, non-zero reserved bytes, an enum out of
 * range or an attached fd makes them exit with HELPER_EXIT_PROTOCOL without replying. A
 * well-formed request that they refuse gets a reply whose error is -errno.
 *
 * Helpers get numbers and indices, never paths: every file a helper opens is named by the helper
 * itself from a fixed root and a validated number.
 */

#include <stdint.h>

#define PROTO_VERSION 1

/* The helper's end of the socketpair, in every helper. */
#define PROTO_HELPER_FD 3

typedef enum ProtoType {
        PROTO_PSI_ARM                   = 2,
        PROTO_PSI_ARM_REPLY             = 3,    /* carries the trigger fd when error == 0 */
        PROTO_ZRAM_COMPACT              = 4,
        PROTO_ZRAM_COMPACT_REPLY        = 5,
        PROTO_SWAP_RECLAIM              = 6,
        PROTO_SWAP_RECLAIM_REPLY        = 7,
        PROTO_CHECKPOINT_DUMP           = 8,
        PROTO_CHECKPOINT_DUMP_REPLY     = 9,
        PROTO_CHECKPOINT_RESTORE        = 10,
        PROTO_CHECKPOINT_RESTORE_REPLY  = 11,
        PROTO_CHECKPOINT_DISCARD        = 12,
        PROTO_CHECKPOINT_DISCARD_REPLY  = 13,
} ProtoType;

/*
 * A probe does everything a request does except its side effect and answers whether the real
 * request would be allowed: 0, or the -errno a missing grant causes (EPERM, EACCES, EINVAL for
 * PSI). A PSI probe arms a real trigger and closes it instead of passing it.
 */
#define PROTO_FLAG_PROBE        UINT16_C(0x0001)
#define PROTO_FLAGS_KNOWN       PROTO_FLAG_PROBE

/* Exit codes of every helper, decoded by the daemon (and listed in mgd-helpers(8)). */
#define HELPER_EXIT_HANGUP      0       /* the daemon closed its end: normal end */
#define HELPER_EXIT_USAGE       2       /* started with arguments, or fd 3 is not our socket */
#define HELPER_EXIT_PROTOCOL    3       /* malformed/oversized/wrong-version request: fail closed */
#define HELPER_EXIT_SANDBOX     4       /* could not lock itself down; served nothing */
#define HELPER_EXIT_FAILED      5       /* an operation failed in a way that must not go unnoticed */

typedef struct ProtoHeader {
        uint8_t version;                /* PROTO_VERSION, checked before anything else */
        uint8_t type;                   /* ProtoType */
        uint16_t flags;                 /* PROTO_FLAG_*; replies echo the request's */
        uint32_t seq;                   /* chosen by the daemon, echoed by the reply */
} ProtoHeader;
_Static_assert(sizeof(ProtoHeader) == 8, "ProtoHeader must be 8 bytes");

/* ---- PSI_ARM (mgd-psi-helper, CAP_SYS_RESOURCE) ---- */

typedef enum ProtoPsiSource {
        PROTO_PSI_SOURCE_SYSTEM  = 0,   /* /proc/pressure/memory */
        PROTO_PSI_SOURCE_SESSION = 1,   /* memory.pressure of the daemon's own user@UID.service
                                         * (or user-UID.slice), derived by the helper from the
                                         * daemon's SO_PEERCRED pid, never named by the daemon */
        _PROTO_PSI_SOURCE_MAX,
} ProtoPsiSource;

typedef enum ProtoPsiKind {
        PROTO_PSI_SOME = 0,
        PROTO_PSI_FULL = 1,
        _PROTO_PSI_KIND_MAX,
} ProtoPsiKind;

/* Out of these bounds (or stall >= window) the request is refused with -ERANGE. */
#define PROTO_PSI_WINDOW_MIN_US 500000u
#define PROTO_PSI_WINDOW_MAX_US 10000000u
#define PROTO_PSI_STALL_MIN_US  1000u

typedef struct ProtoPsiArm {
        uint8_t source;                 /* ProtoPsiSource */
        uint8_t kind;                   /* ProtoPsiKind */
        uint16_t reserved0;
        uint32_t stall_us;
        uint32_t window_us;
        uint32_t reserved1;
} ProtoPsiArm;
_Static_assert(sizeof(ProtoPsiArm) == 16, "ProtoPsiArm must be 16 bytes");

/* ---- ZRAM_COMPACT (mgd-zram-helper, no capability: group mgd write grant) ---- */

/* The helper never compacts a pool smaller than this, whatever the daemon asks. */
#define PROTO_ZRAM_MIN_USED_FLOOR (UINT64_C(4) << 20)

typedef struct ProtoZramCompact {
        uint32_t device;                /* N of /dev/zramN; must be a zram swap in /proc/swaps */
        uint32_t reserved0;
        uint64_t min_used_bytes;        /* refuse (-EAGAIN) below max(this, the floor) */
} ProtoZramCompact;
_Static_assert(sizeof(ProtoZramCompact) == 16, "ProtoZramCompact must be 16 bytes");

/* ---- SWAP_RECLAIM (mgd-swap-helper, CAP_SYS_ADMIN): no input at all, payload all zero ---- */

/* ---- CHECKPOINT_* (mgd-checkpoint-helper, no capability; criu holds its own) ---- */

typedef struct ProtoCheckpointDump {
        uint32_t pid;                   /* 1..INT32_MAX; 0 only with PROBE: check criu's grant only */
        uint32_t reserved0;
        uint64_t starttime;             /* field 22 of /proc/PID/stat, pins the pid's identity */
} ProtoCheckpointDump;
_Static_assert(sizeof(ProtoCheckpointDump) == 16, "ProtoCheckpointDump must be 16 bytes");

typedef struct ProtoCheckpointImage {
        uint64_t image_id;              /* as returned by CHECKPOINT_DUMP; never 0 */
        uint64_t reserved0;
} ProtoCheckpointImage;                 /* RESTORE and DISCARD */
_Static_assert(sizeof(ProtoCheckpointImage) == 16, "ProtoCheckpointImage must be 16 bytes");

typedef struct ProtoRequest {
        ProtoHeader hdr;
        union {
                ProtoPsiArm psi_arm;
                ProtoZramCompact zram_compact;
                ProtoCheckpointDump checkpoint_dump;
                ProtoCheckpointImage checkpoint_image;
                uint8_t raw[24];
        };
} ProtoRequest;
_Static_assert(sizeof(ProtoRequest) == 32, "ProtoRequest must be 32 bytes");

/* ---- replies ---- */

typedef struct ProtoZramCompactReply {
        uint64_t used_before;           /* mm_stat mem_used_total, bytes */
        uint64_t used_after;
} ProtoZramCompactReply;
_Static_assert(sizeof(ProtoZramCompactReply) == 16, "ProtoZramCompactReply must be 16 bytes");

typedef struct ProtoSwapReclaimReply {
        uint32_t devices;               /* zram swaps cycled */
        uint32_t reserved0;
        uint64_t bytes;                 /* orig_data_size pulled back into RAM */
} ProtoSwapReclaimReply;
_Static_assert(sizeof(ProtoSwapReclaimReply) == 16, "ProtoSwapReclaimReply must be 16 bytes");

typedef struct ProtoCheckpointReply {
        uint64_t image_id;              /* DUMP: the new image; RESTORE/DISCARD: echoed */
        uint32_t pid;                   /* DUMP: the dumped pid; RESTORE: the restored pid */
        uint32_t reserved0;
} ProtoCheckpointReply;
_Static_assert(sizeof(ProtoCheckpointReply) == 16, "ProtoCheckpointReply must be 16 bytes");

typedef struct ProtoReply {
        ProtoHeader hdr;
        int32_t error;                  /* 0 or -errno */
        uint32_t reserved0;
        union {
                ProtoZramCompactReply zram_compact;
                ProtoSwapReclaimReply swap_reclaim;
                ProtoCheckpointReply checkpoint;
                uint8_t raw[16];
        };
} ProtoReply;
_Static_assert(sizeof(ProtoReply) == 32, "ProtoReply must be 32 bytes");

/*
 * Refusals (reply error) per request, besides the errno of the operation itself:
 *   PSI_ARM            -ERANGE window/stall out of bounds; -EPERM mgd is not in a user session
 *                      cgroup (SESSION); -EINVAL from the kernel: a window that is not a whole
 *                      multiple of 2 s without CAP_SYS_RESOURCE (a probe's "grant missing").
 *   ZRAM_COMPACT       -ENODEV not a zram device in use as swap; -EAGAIN pool below the minimum;
 *                      -EACCES no write grant on compact (a probe's "grant missing").
 *   SWAP_RECLAIM       -EPERM no CAP_SYS_ADMIN; -ENOMEM MemAvailable below the decompressed size
 *                      plus margin; -EDQUOT a memory cgroup could be pushed over its limit;
 *                      -E2BIG too many or too deep memory cgroups to check; -ENODEV /dev/zramN is
 *                      not the block device sysfs names.
 *   CHECKPOINT_DUMP    -ESRCH gone, or the start time differs; -EPERM another uid, outside the
 *                      session, mgd itself, or helper and mgd run as different users; -EIO criu
 *                      failed; -ETIMEDOUT criu took too long; -ESTALE the validated process
 *                      outlived criu's dump (criu dumped something else). The grant probe
 *                      (pid 0): -ENOENT/-EACCES criu not executable, -EPERM criu lacks its caps.
 *   CHECKPOINT_RESTORE -ENOENT no such image; -EPERM not an image this helper wrote for this
 *                      uid, or its recorded cgroup is not an app of the session; -EBUSY the
 *                      dumped pid is still taken (not reaped yet); -EIO criu failed.
 *   CHECKPOINT_DISCARD -ENOENT, -EPERM as for RESTORE.
 */
