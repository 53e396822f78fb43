// SPDX-License-Identifier: GPL-2.0-only
// GNOME Shell extension: report the focused window's pid to mgd (io.github.mgd on the session
// bus) whenever the focus changes; pid 0 clears it. mgd not running is not an error.
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import {Extension} from 'resource:///org/gnome/shell/extensions/extension.js';

export default class MgdForeground extends Extension {
    enable() {
        this._id = global.display.connect('notify::focus-window', () => this._report());
        this._report();
    }

    disable() {
        global.display.disconnect(this._id);
        this._id = 0;
    }

    _report() {
        const win = global.display.focus_window;
        const pid = win ? win.get_pid() : 0;
        Gio.DBus.session.call('io.github.mgd', '/io/github/mgd', 'io.github.mgd.Manager1', 'SetForeground',
            new GLib.Variant('(i)', [pid > 0 ? pid : 0]), null, Gio.DBusCallFlags.NO_AUTO_START, 1000,
            null, null);
    }
}
