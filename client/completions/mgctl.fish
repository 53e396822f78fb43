# SPDX-License-Identifier: GPL-2.0-only
# fish completion for mgctl(1): commands, options, and for unfreeze and explain the pids and
# names mgd holds or manages.

set -l mgctl_commands status list unfreeze explain reload foreground version doctor calibrate start stop restart service logs

function __mgctl_held
        mgctl --timeout 1 --json list 2>/dev/null | string split ',' | string match -r '"(?:pid|name)":"?[^"]*' | string replace -r '^"(?:pid|name)":"?' ''
end

function __mgctl_procs
        ps -u (id -u) -o pid=,comm= 2>/dev/null | string trim | string replace -r '^(\d+)\s+(.*)$' '$1\n$2' | string split '\n'
end

complete -c mgctl -f
complete -c mgctl -n "not __fish_seen_subcommand_from $mgctl_commands" -l json -d 'print replies as JSON'
complete -c mgctl -n "not __fish_seen_subcommand_from $mgctl_commands" -l socket -r -F -d 'the control socket'
complete -c mgctl -n "not __fish_seen_subcommand_from $mgctl_commands" -l timeout -x -d 'give up after SEC seconds'
complete -c mgctl -n "not __fish_seen_subcommand_from $mgctl_commands" -s h -l help -d 'show the help'
complete -c mgctl -n "not __fish_seen_subcommand_from $mgctl_commands" -l version -d 'print the version'

complete -c mgctl -n "not __fish_seen_subcommand_from $mgctl_commands" -a status -d 'pressure level, score and counts'
complete -c mgctl -n "not __fish_seen_subcommand_from $mgctl_commands" -a list -d 'frozen and checkpointed processes'
complete -c mgctl -n "not __fish_seen_subcommand_from $mgctl_commands" -a unfreeze -d 'thaw a process now'
complete -c mgctl -n "not __fish_seen_subcommand_from $mgctl_commands" -a explain -d 'why mgd treats a process as it does'
complete -c mgctl -n "not __fish_seen_subcommand_from $mgctl_commands" -a reload -d 're-read the configuration'
complete -c mgctl -n "not __fish_seen_subcommand_from $mgctl_commands" -a foreground -d 'treat PID as the foreground window'
complete -c mgctl -n "not __fish_seen_subcommand_from $mgctl_commands" -a version -d 'versions of mgctl and mgd'
complete -c mgctl -n "not __fish_seen_subcommand_from $mgctl_commands" -a doctor -d 'what this machine offers mgd'
complete -c mgctl -n "not __fish_seen_subcommand_from $mgctl_commands" -a calibrate -d 'recommend thresholds'
complete -c mgctl -n "not __fish_seen_subcommand_from $mgctl_commands" -a 'start stop restart service logs' -d 'the user unit'

complete -c mgctl -n "__fish_seen_subcommand_from unfreeze" -a '(__mgctl_held)'
complete -c mgctl -n "__fish_seen_subcommand_from explain" -a '(__mgctl_procs)'
complete -c mgctl -n "__fish_seen_subcommand_from foreground" -a '(__fish_complete_pids)'
complete -c mgctl -n "__fish_seen_subcommand_from logs" -s f -l follow -d 'follow the journal'
complete -c mgctl -n "__fish_seen_subcommand_from logs" -s n -l lines -x -d 'lines to show'
complete -c mgctl -n "__fish_seen_subcommand_from calibrate" -l dry-run -d 'show, write nothing'
complete -c mgctl -n "__fish_seen_subcommand_from calibrate" -l apply -d 'write the recommendation'
complete -c mgctl -n "__fish_seen_subcommand_from calibrate doctor" -l config -r -F
complete -c mgctl -n "__fish_seen_subcommand_from calibrate doctor" -l system-config -r -F
complete -c mgctl -n "__fish_seen_subcommand_from calibrate doctor" -l state-dir -r -F
