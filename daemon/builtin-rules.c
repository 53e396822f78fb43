/* SPDX-License-Identifier: GPL-2.0-only */

/*
 * The built-in priority table. First match wins among the built-ins; entries from
 * /etc/mgd/mgd.conf and the user's file are matched before any of these.
 *
 * Patterns are POSIX extended regexes against the FULL comm, which the kernel truncates to 15
 * bytes and which may contain spaces: Firefox's tab processes are "Isolated Web Co", not
 * "Isolated"; "gnome-terminal-server" is "gnome-terminal-"; "xdg-desktop-portal-kde" is
 * "xdg-desktop-por". A pattern anchored with $ on a name longer than 15 bytes never matches
 * (upstream's kscreenlocker_greet entry did exactly that), so every example below is a real,
 * truncated comm and the unit tests check that each one resolves to its own entry.
 *
 * Tiers (the seed's table): 0-19 system/critical, never touched; 20-49 protected (work the user
 * would lose); 50-59 normal; 60-79 expendable background; 80-100 expendable heavy.
 * Differences from upstream's table (lmkd-linux-spec §3.7, §17): the browsers' main processes
 * (Firefox included, upstream had it at 75) sit in 20-49 and only their content processes are
 * heavy; Chromium-family renderers share their browser's comm, so they are told apart by the
 * command line; kernel threads are not listed (the process scan never sees them).
 */

#include "daemon/config.h"

#define E(...) { __VA_ARGS__, NULL }

const BuiltinRule builtin_rules[] = {
        /* ---- 0-19: the session itself ---- */
        /*
         * mgd, its helpers by their exact comms (mgd-checkpoint-helper is cut to 15 bytes), mgctl,
         * mgd-thaw and the criu a checkpoint helper runs. Exact names, not a "mgd-" prefix: any
         * other program whose name starts with mgd- is an ordinary app.
         */
        { "mgd", "^(mgd|mgd-psi-helper|mgd-zram-helper|mgd-swap-helper|mgd-checkpoint-|mgd-thaw|mgctl|criu)$",
          MATCH_NAME, 0, -1, E("mgd", "mgd-psi-helper", "mgd-zram-helper", "mgd-swap-helper", "mgd-checkpoint-",
                               "mgd-thaw", "mgctl", "criu") },
        /*
         * The protected tier is complete for the desktops people run, and every name a pattern
         * lists is also an example: a file's entry is checked against each example, so a rule
         * that would take any of them out of the tier (a user's "^kwin_x11$" at 90) is refused.
         */
        { "compositor",
          "^(kwin_wayland|kwin_wayland_wr|kwin_x11|gnome-shell|mutter|mutter-x11-fram|Xwayland|Xorg|X"
          "|sway|Hyprland|weston|labwc|niri|river|wayfire|cosmic-comp|gamescope|cage|miracle-wm"
          "|xfwm4|openbox|i3|bspwm|awesome|marco|muffin|cinnamon|budgie-wm|gala|compiz|picom"
          "|icewm|fluxbox|enlightenment|dwm|herbstluftwm)$",
          MATCH_NAME, 5, -1, E("kwin_wayland", "kwin_wayland_wr", "kwin_x11", "gnome-shell", "mutter",
                               "mutter-x11-fram", "Xwayland", "Xorg", "X", "sway", "Hyprland", "weston",
                               "labwc", "niri", "river", "wayfire", "cosmic-comp", "gamescope", "cage",
                               "miracle-wm", "xfwm4", "openbox", "i3", "bspwm", "awesome", "marco",
                               "muffin", "cinnamon", "budgie-wm", "gala", "compiz", "picom", "icewm",
                               "fluxbox", "enlightenment", "dwm", "herbstluftwm") },
        { "audio",
          "^(pipewire|pipewire-pulse|wireplumber|pipewire-media-|pulseaudio|rtkit-daemon|jackd|jackdbus)$",
          MATCH_NAME, 5, -1, E("pipewire", "pipewire-pulse", "wireplumber", "pipewire-media-", "pulseaudio",
                               "rtkit-daemon", "jackd", "jackdbus") },
        { "systemd", "^(systemd|systemd-.*|\\(sd-pam\\))$", MATCH_NAME, 5, -1,
          E("systemd", "systemd-journal", "systemd-logind", "systemd-oomd", "(sd-pam)") },
        { "dbus", "^(dbus-daemon|dbus-broker|dbus-broker-lau|dbus-launch)$", MATCH_NAME, 5, -1,
          E("dbus-daemon", "dbus-broker", "dbus-broker-lau", "dbus-launch") },
        { "portals", "^xdg-(desktop-por|document-po|permission-)", MATCH_NAME, 10, -1,
          E("xdg-desktop-por", "xdg-document-po", "xdg-permission-") },
        { "session",
          "^(plasmashell|ksmserver|kded5|kded6|startplasma-way|startplasma-x11|plasma_session"
          "|gnome-session.*|gnome-shell-cal|cosmic-session|cosmic-panel|xfce4-session|xfce4-panel"
          "|xfdesktop|lxqt-session|lxqt-panel|lxsession|mate-session|mate-panel|cinnamon-sessio"
          "|budgie-panel|waybar)$",
          MATCH_NAME, 10, -1, E("plasmashell", "ksmserver", "kded6", "kded5", "startplasma-way",
                                "startplasma-x11", "plasma_session", "gnome-session-b", "gnome-shell-cal",
                                "cosmic-session", "cosmic-panel", "xfce4-session", "xfce4-panel", "xfdesktop",
                                "lxqt-session", "lxqt-panel", "lxsession", "mate-session", "mate-panel",
                                "cinnamon-sessio", "budgie-panel", "waybar") },
        { "accessibility", "^at-spi", MATCH_NAME, 10, -1, E("at-spi-bus-laun", "at-spi2-registr") },
        /* polkit-kde-authentication-agent-1 is "polkit-kde-auth", lxqt-policykit-agent "lxqt-policykit-" */
        { "polkit-agents", "^(polkit-.*|polkitd|lxpolkit|lxqt-policykit.*|hyprpolkitagent|xfce-polkit)$",
          MATCH_NAME, 10, -1, E("polkit-kde-auth", "polkit-gnome-au", "polkit-mate-aut", "polkitd", "lxpolkit",
                                "lxqt-policykit-", "hyprpolkitagent", "xfce-polkit") },
        { "input-methods", "^(ibus|fcitx|uim-|kime)", MATCH_NAME, 10, -1,
          E("ibus-daemon", "ibus-x11", "ibus-extension-", "ibus-engine-sim", "ibus-portal", "fcitx5", "fcitx",
            "uim-xim", "kime") },
        /* freezing or killing a locker can unlock the session */
        { "screen-lockers",
          "^(kscreenlocker_g|swaylock|hyprlock|gtklock|i3lock|waylock|slock|xsecurelock|xscreensaver"
          "|light-locker|gnome-screensav|cinnamon-screen|mate-screensave|xfce4-screensav|physlock"
          "|xlock|xtrlock)$",
          MATCH_NAME, 10, -1, E("kscreenlocker_g", "swaylock", "hyprlock", "gtklock", "i3lock", "waylock", "slock",
                                "xsecurelock", "xscreensaver", "light-locker", "gnome-screensav",
                                "cinnamon-screen", "mate-screensave", "xfce4-screensav", "physlock", "xlock",
                                "xtrlock") },
        { "secrets", "^(gnome-keyring-d|kwalletd5|kwalletd6|ssh-agent|gpg-agent|pinentry.*)$",
          MATCH_NAME, 15, -1, E("gnome-keyring-d", "kwalletd6", "gpg-agent", "pinentry-qt") },
        { "network", "^(NetworkManager|wpa_supplicant)$", MATCH_NAME, 10, -1,
          E("NetworkManager", "wpa_supplicant") },

        /*
         * Chromium-family renderers (tabs) before the browsers' main entry: they have the
         * browser's own comm and differ only by --type=renderer. The executable is spelled out
         * so Electron apps (VS Code's window is "code --type=renderer") stay with their app.
         */
        { "chromium-renderers",
          "^([^ ]*/)?(chrome|chromium|chromium-browser|brave|msedge|vivaldi-bin|opera) (.* )?"
          "--type=renderer( |$)",
          MATCH_CMDLINE, 85, -1,
          E("/opt/google/chrome/chrome --type=renderer --crashpad-handler-pid=4242 --lang=en-US",
            "/usr/lib/chromium/chromium --type=renderer --enable-crash-reporter",
            "/opt/brave.com/brave/brave --type=renderer",
            "/opt/microsoft/msedge/msedge --type=renderer --lang=en") },
        { "ai-runners", "^([^ ]*/)?ollama runner( |$)", MATCH_CMDLINE, 85, -1,
          E("/usr/local/bin/ollama runner --model /home/u/.ollama/models/blobs/sha256-1 --port 4001") },

        /* ---- 20-49: work the user would lose ---- */
        { "terminals",
          "^(konsole|gnome-terminal-|kgx|ptyxis|alacritty|kitty|foot|footclient|wezterm|wezterm-gui"
          "|xterm|tilix|terminator|xfce4-terminal|cosmic-term)$",
          MATCH_NAME, 25, -1, E("konsole", "gnome-terminal-", "alacritty", "kitty", "foot", "wezterm-gui") },
        { "ides",
          "^(code|code-oss|codium|cursor|zed|zeditor|windsurf|idea|clion|pycharm|goland|rustrover"
          "|webstorm|phpstorm|rider|datagrip|rubymine|dataspell|studio)$",
          MATCH_NAME, 30, -1, E("code", "codium", "rustrover", "idea", "pycharm", "zed") },
        { "virtual-machines", "^(qemu-system-.*|qemu-kvm|VirtualBoxVM|gnome-boxes)$", MATCH_NAME, 30, -1,
          E("qemu-system-x86", "qemu-kvm", "VirtualBoxVM") },
        { "editors",
          "^(kate|kwrite|gedit|gnome-text-edit|emacs|vim|nvim|neovide|sublime_text|mousepad|geany)$",
          MATCH_NAME, 35, -1, E("kate", "gnome-text-edit", "emacs", "nvim", "sublime_text") },
        { "databases", "^(postgres|mariadbd|mysqld|mongod|redis-server)$", MATCH_NAME, 35, -1,
          E("postgres", "mariadbd", "redis-server") },
        { "browsers",
          "^(firefox|firefox-esr|firefox-bin|librewolf|chromium|chrome|brave|vivaldi-bin|opera)$",
          MATCH_NAME, 40, -1, E("firefox", "firefox-esr", "chromium", "chrome", "brave", "librewolf") },
        { "cli-agents", "^(claude|aider)$", MATCH_NAME, 40, -1, E("claude") },
        { "office", "^(soffice\\.bin|libreoffice|gimp|inkscape|krita|blender)$", MATCH_NAME, 45, -1,
          E("soffice.bin", "gimp", "inkscape", "krita", "blender") },

        /* ---- 50-59: ordinary applications (the default is 50 too) ---- */
        { "mail", "^(thunderbird|kmail|evolution|geary)$", MATCH_NAME, 50, -1,
          E("thunderbird", "evolution") },
        { "file-managers", "^(dolphin|nautilus|thunar|nemo|pcmanfm)$", MATCH_NAME, 50, -1,
          E("dolphin", "nautilus", "thunar") },
        { "viewers", "^(okular|evince|eog|gwenview|loupe|papers)$", MATCH_NAME, 52, -1,
          E("okular", "evince", "gwenview") },
        { "messaging", "^(telegram-deskto|Discord|discord|slack|signal-desktop|element-desktop)$",
          MATCH_NAME, 55, -1, E("telegram-deskto", "Discord", "slack", "signal-desktop") },
        { "media-players", "^(vlc|mpv|celluloid|totem|elisa|rhythmbox|spotify)$", MATCH_NAME, 55, -1,
          E("vlc", "mpv", "spotify") },
        /*
         * Build tools: not expendable (the build is the user's work), and build = true makes each
         * one with everything it starts (rustc, cc1, ld, ...) one build for spike mode.
         */
        { "build-tools",
          "^(cargo|make|gmake|ninja|samu|cmake|meson|scons|bazel|bazelisk|buck2|go|npm|pnpm|yarn"
          "|bun|dotnet|rpmbuild|dpkg-buildpacka|debuild|sbuild|docker-buildx|buildah|podman|nix|zig"
          "|cabal|stack|dune|xmake)$",
          MATCH_NAME, 50, -1, E("cargo", "make", "ninja", "cmake", "npm", "dpkg-buildpacka"), .build = true },

        /* ---- 60-79: background work that can wait or restart ---- */
        { "evolution-data", "^evolution-(addre|calen|sourc|alarm)", MATCH_NAME, 65, -1,
          E("evolution-addre", "evolution-calen", "evolution-sourc", "evolution-alarm") },
        { "launchers", "^(krunner|baloorunner)$", MATCH_NAME, 65, -1, E("krunner", "baloorunner") },
        { "akonadi", "^akonadi", MATCH_NAME, 70, -1, E("akonadi_control", "akonadiserver") },
        { "update-notifiers", "^(DiscoverNotifie|update-notifier|update-manager)$", MATCH_NAME, 70, -1,
          E("DiscoverNotifie", "update-notifier") },
        { "crash-reporters", "^(abrt-applet|drkonqi.*)$", MATCH_NAME, 75, -1, E("abrt-applet", "drkonqi") },
        { "software-centers", "^(plasma-discover|gnome-software|packagekitd)$", MATCH_NAME, 75, -1,
          E("plasma-discover", "gnome-software", "packagekitd") },
        { "file-indexers",
          "^(baloo_file|baloo_file_extr|tracker-miner-f|tracker-extract|localsearch.*)$",
          MATCH_NAME, 78, -1, E("baloo_file", "baloo_file_extr", "tracker-miner-f", "tracker-extract",
                                "localsearch-3", "localsearch-ext") },

        /* ---- 80-100: heavy and disposable ---- */
        { "browser-content",
          "^(Isolated Web Co|Isolated Servic|Web Content|WebExtensions|Privileged Cont"
          "|Privileged Mozi|file:// Content|RDD Process|Utility Process|Socket Process)$",
          MATCH_NAME, 85, -1, E("Isolated Web Co", "Web Content", "WebExtensions", "Privileged Cont",
                                "RDD Process", "Utility Process", "Socket Process") },
        { "cef", "^cef_server$", MATCH_NAME, 85, -1, E("cef_server") },
        { "ai-inference", "^(full-line-infer|llama-server|llama-cli)$", MATCH_NAME, 85, -1,
          E("full-line-infer", "llama-server") },
        /* the seed puts Edge as a whole among the expendables; its tabs already match above */
        { "msedge", "^(msedge|microsoft-edge)$", MATCH_NAME, 90, -1, E("msedge") },
};

const size_t builtin_rules_n = ELEMENTSOF(builtin_rules);
