#!/bin/sh
# systemctl for nixmox lab hosts -- a FAKE. Lab hosts are network namespaces
# with one real sshd each, not containers with an init: there is no systemd.
# This implements just what the manifest's health commands, the lab's
# switch-to-configuration and an operator need, over the lab's unit files:
#   is-active [--quiet] UNIT...   0 when a unit's process runs, else 3 (as systemd)
#   is-failed UNIT...             0 when a unit died without being stopped
#   status UNIT...                state, main pid and the last log lines; 0 / 3 / 4
#   start | stop | restart UNIT...
#   list-units                    the units of the current system and their state
#   daemon-reload                 nothing to do
# A unit's definition is HOSTDIR/current-system/units/UNIT (the system last
# switched to), its main pid is HOSTDIR/run/UNIT.pid (written by the unit when
# it listens, like Type=notify) and its journal is HOSTDIR/log/UNIT.log.
set -u
hostdir=${NIXMOX_LAB_HOSTDIR:-}
if [ -z "$hostdir" ]; then
    echo "systemctl (nixmox lab): not on a lab host (NIXMOX_LAB_HOSTDIR is not set)" >&2
    exit 1
fi
run=$hostdir/run
logs=$hostdir/log
host=${NIXMOX_LAB_HOST:-lab}

quiet=0
cmd=""
units=""
for a in "$@"; do
    case $a in
        -q | --quiet) quiet=1 ;;
        -*) ;; # --no-pager, --no-block, --system, --full, ...: nothing to do here
        *)
            if [ -z "$cmd" ]; then
                cmd=$a
            else
                u=${a%.service}
                case $u in
                    "" | *[!A-Za-z0-9:_.@-]* | -*)
                        echo "systemctl (nixmox lab): invalid unit name: $a" >&2
                        exit 1
                        ;;
                esac
                units="$units $u"
            fi
            ;;
    esac
done

say() { [ "$quiet" = 1 ] || echo "$@"; }

journal() { # UNIT MESSAGE: a line in the unit's journal, from "systemd"
    printf '%s %s systemd[1]: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S+00:00)" "$host" "$2" >> "$logs/$1.log"
}

alive() { # PID: the process exists and is not a zombie
    st=""
    [ -r "/proc/$1/stat" ] && read -r _ _ st _ < "/proc/$1/stat" 2>/dev/null
    case $st in "" | Z | X | x) return 1 ;; *) return 0 ;; esac
}

mainpid() { # UNIT: prints the running main pid; fails when not running
    pid=""
    [ -r "$run/$1.pid" ] && read -r pid < "$run/$1.pid" 2>/dev/null
    [ -n "$pid" ] && alive "$pid" && echo "$pid"
}

state() { # UNIT: active | failed | inactive
    if mainpid "$1" > /dev/null; then
        echo active
    elif [ -e "$run/$1.pid" ]; then
        echo failed # died without `systemctl stop` (crash, kill-service)
    else
        echo inactive
    fi
}

start() {
    u=$1
    mainpid "$u" > /dev/null && return 0
    def=$hostdir/current-system/units/$u
    if [ ! -x "$def" ]; then
        echo "Failed to start $u.service: Unit $u.service not found." >&2
        return 5
    fi
    mkdir -p "$run" "$logs"
    rm -f "$run/$u.pid" "$run/$u.result"
    cp "$def" "$run/$u.unit.new" && mv "$run/$u.unit.new" "$run/$u.unit"
    journal "$u" "Starting $u.service..."
    # setsid: the unit outlives this ssh session; not a process-group leader, so
    # setsid execs in place and $! is the unit's main pid.
    setsid "$def" >> "$logs/$u.log" 2>&1 < /dev/null 9>&- &
    child=$!
    i=0
    while :; do
        pid=""
        [ -r "$run/$u.pid" ] && read -r pid < "$run/$u.pid" 2>/dev/null
        if [ "$pid" = "$child" ]; then
            journal "$u" "Started $u.service."
            return 0
        fi
        if ! alive "$child"; then
            wait "$child"
            rc=$?
            echo "$child" > "$run/$u.pid" # remembered as failed
            echo exit-code > "$run/$u.result"
            journal "$u" "$u.service: Main process exited, code=exited, status=$rc/FAILURE"
            journal "$u" "$u.service: Failed with result 'exit-code'."
            journal "$u" "Failed to start $u.service."
            echo "Job for $u.service failed because the control process exited with error code." >&2
            echo "See \"systemctl status $u.service\" and \"journalctl -xeu $u.service\" for details." >&2
            return 1
        fi
        i=$((i + 1))
        if [ "$i" -ge 1000 ]; then # 10 s
            kill -KILL "$child" 2> /dev/null
            echo "$child" > "$run/$u.pid"
            echo timeout > "$run/$u.result"
            journal "$u" "$u.service: start operation timed out. Terminating."
            journal "$u" "Failed to start $u.service."
            echo "Job for $u.service failed because a timeout was exceeded." >&2
            return 1
        fi
        sleep 0.01
    done
}

stop() {
    u=$1
    if pid=$(mainpid "$u"); then
        journal "$u" "Stopping $u.service..."
        kill -TERM "$pid" 2> /dev/null
        i=0
        while alive "$pid"; do
            i=$((i + 1))
            if [ "$i" -ge 500 ]; then # 5 s, then SIGKILL as systemd does after TimeoutStopSec
                journal "$u" "$u.service: State 'stop-sigterm' timed out. Killing."
                kill -KILL "$pid" 2> /dev/null
                i=0
            fi
            sleep 0.01
        done
        journal "$u" "$u.service: Deactivated successfully."
        journal "$u" "Stopped $u.service."
    fi
    rm -f "$run/$u.pid" "$run/$u.unit" "$run/$u.result"
    return 0
}

status() {
    u=$1
    s=$(state "$u")
    def=$hostdir/current-system/units/$u
    if [ -e "$def" ]; then loaded="loaded ($(readlink -f "$def"))"; else loaded="not-found"; fi
    case $s in
        active) sub="active (running)" ;;
        failed)
            result=exit-code
            [ -r "$run/$u.result" ] && read -r result < "$run/$u.result"
            sub="failed (Result: $result)"
            ;;
        *) sub="inactive (dead)" ;;
    esac
    dot="○"
    [ "$s" = active ] && dot="●"
    [ "$s" = failed ] && dot="×"
    echo "$dot $u.service - $u (nixmox lab unit)"
    echo "     Loaded: $loaded"
    echo "     Active: $sub"
    if pid=$(mainpid "$u"); then echo "   Main PID: $pid (nixmox)"; fi
    if [ -e "$logs/$u.log" ]; then
        echo
        tail -n 10 "$logs/$u.log"
    fi
    [ -e "$def" ] || return 4
    [ "$s" = active ] || return 3
    return 0
}

need_units() {
    if [ -z "$units" ]; then
        echo "systemctl (nixmox lab): $cmd: no unit given" >&2
        exit 1
    fi
}

case $cmd in
    is-active)
        need_units
        rc=3
        for u in $units; do
            s=$(state "$u")
            say "$s"
            [ "$s" = active ] && rc=0
        done
        exit $rc
        ;;
    is-failed)
        need_units
        rc=1
        for u in $units; do
            s=$(state "$u")
            say "$s"
            [ "$s" = failed ] && rc=0
        done
        exit $rc
        ;;
    status)
        need_units
        rc=0
        first=1
        for u in $units; do
            [ "$first" = 1 ] || echo
            first=0
            status "$u" || rc=$?
        done
        exit $rc
        ;;
    start | stop | restart | try-restart | reload-or-restart)
        need_units
        rc=0
        for u in $units; do
            case $cmd in
                start) start "$u" || rc=$? ;;
                stop) stop "$u" ;;
                *) stop "$u" && start "$u" || rc=$? ;;
            esac
        done
        exit $rc
        ;;
    list-units | "")
        for def in "$hostdir"/current-system/units/*; do
            [ -e "$def" ] || continue
            u=${def##*/}
            printf '%-40s %s\n' "$u.service" "$(state "$u")"
        done
        exit 0
        ;;
    reset-failed)
        for u in $units; do
            mainpid "$u" > /dev/null || rm -f "$run/$u.pid" "$run/$u.result"
        done
        exit 0
        ;;
    daemon-reload | daemon-reexec) exit 0 ;;
    *)
        echo "systemctl (nixmox lab): unsupported command: $cmd (this is the lab's fake systemctl)" >&2
        exit 1
        ;;
esac
