# SPDX-License-Identifier: GPL-2.0-only
# bash completion for mgctl(1): commands, options, and for unfreeze and explain the pids and
# names mgd holds or manages (asked of the running mgd; nothing when it is down).

_mgctl_words() {
        # $1: LIST or the pids/names of the user's processes
        local sock=()
        [ -n "${_mgctl_socket:-}" ] && sock=(--socket "$_mgctl_socket")
        if [ "$1" = held ]; then
                mgctl "${sock[@]}" --timeout 1 --json list 2>/dev/null |
                        tr ',{}[]' '\n\n\n\n\n' | sed -n 's/^"\(pid\|name\)":"\{0,1\}\([^"]*\)"\{0,1\}$/\2/p'
        else
                ps -u "$(id -u)" -o pid=,comm= 2>/dev/null | awk '{ print $1; $1 = ""; sub(/^ /, ""); print }'
        fi
}

_mgctl() {
        local cur prev words cword
        if declare -F _init_completion >/dev/null; then
                _init_completion || return
        else
                cur=${COMP_WORDS[COMP_CWORD]}
                prev=${COMP_WORDS[COMP_CWORD - 1]}
                words=("${COMP_WORDS[@]}")
                cword=$COMP_CWORD
        fi
        local commands="status list unfreeze explain reload foreground version doctor calibrate start stop restart service logs"
        local options="--json --socket --timeout --help --version"
        local i cmd="" _mgctl_socket=""

        for ((i = 1; i < cword; i++)); do
                case ${words[i]} in
                --socket) _mgctl_socket=${words[i + 1]}; i=$((i + 1)) ;;
                --timeout) i=$((i + 1)) ;;
                -*) ;;
                *) cmd=${words[i]}; break ;;
                esac
        done

        case $prev in
        --socket|--config|--system-config)
                COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --state-dir|--proc-root|--sys-root|--cgroup2-root|--helper-dir)
                COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --timeout|-n|--lines)
                return ;;
        esac

        if [ -z "$cmd" ]; then
                if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "$options" -- "$cur"))
                else
                        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
                fi
                return
        fi
        local IFS=$'\n'
        case $cmd in
        unfreeze)
                COMPREPLY=($(compgen -W "$(_mgctl_words held)" -- "$cur")) ;;
        explain)
                COMPREPLY=($(compgen -W "$(_mgctl_words procs)" -- "$cur")) ;;
        foreground)
                COMPREPLY=($(compgen -W "0 $(ps -u "$(id -u)" -o pid= 2>/dev/null)" -- "$cur")) ;;
        logs)
                COMPREPLY=($(compgen -W "-f --follow -n --lines" -- "$cur")) ;;
        doctor)
                COMPREPLY=($(compgen -W "--config --system-config --state-dir --proc-root --sys-root --cgroup2-root --helper-dir" -- "$cur")) ;;
        calibrate)
                COMPREPLY=($(compgen -W "--dry-run --apply --config --system-config --state-dir" -- "$cur")) ;;
        esac
}

complete -F _mgctl mgctl
