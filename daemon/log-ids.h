/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * The journal MESSAGE_IDs of mgd's messages, each explained in units/mgd.catalog (installed to
 * systemd's catalog directory, so `journalctl -x` shows the explanation and
 * `journalctl --user MESSAGE_ID=...` finds every such message). tests/daemon/test-catalog.py
 * checks that every id here is in the catalog and every id of the catalog is here.
 */

#define MGD_MESSAGE_LEVEL "a9801fe6a5864cadb634a12334252c50"        /* a pressure level change */
#define MGD_MESSAGE_FREEZE "8a9a0c966bcf41909de1a15b46c01ee7"       /* a process frozen */
#define MGD_MESSAGE_THAW "3d3c1b632611481d9f5d645462ac0286"         /* a process thawed */
#define MGD_MESSAGE_KILL "84b8785522d34941bb940a37b2f97340"         /* terminated or killed */
#define MGD_MESSAGE_CHECKPOINT "b61d4744d002416f8eeabb8ffb0223ce"   /* dumped by CRIU */
#define MGD_MESSAGE_RESTORE "66116d2a41644bbfaa5a514dc1b82414"      /* restored from its image */
