// SPDX-License-Identifier: GPL-2.0-only
// KWin script: report the focused window's pid to mgd (io.github.mgd on the session bus), so mgd
// gives that application the foreground bonus and thaws it if it froze it. KWin 6 calls the
// signal windowActivated, KWin 5 clientActivated; pid 0 (no window, or one without a pid)
// clears the foreground.
function report(window) {
    var pid = window && window.pid > 0 ? window.pid : 0;
    callDBus("io.github.mgd", "/io/github/mgd", "io.github.mgd.Manager1", "SetForeground", pid);
}

if (workspace.windowActivated !== undefined) {
    workspace.windowActivated.connect(report);
    report(workspace.activeWindow);
} else {
    workspace.clientActivated.connect(report);
    report(workspace.activeClient);
}
