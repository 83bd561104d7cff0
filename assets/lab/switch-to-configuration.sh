#!/bin/sh
# switch-to-configuration of a nixmox lab system: the lab's stand-in for NixOS's
# script of the same name. Lab hosts are network namespaces, not machines with
# an init, so "units" are the lab's own `nixmox lab serve` processes managed
# by the lab's fake `systemctl` (see the host's PATH).
#
#   switch | test   stop the units this system no longer has, start units that
#                   are not running, restart units whose definition changed
#   boot            nothing to do in the lab (no boot loader); exits 0
#   dry-activate    print what `switch` would do
#
# Exit status as on NixOS: 0 ok, 1 usage or not a lab host, 4 a unit failed.
set -u
action=${1:-}
case $action in
    switch | test | boot | dry-activate) ;;
    *)
        echo "usage: $0 switch|boot|test|dry-activate" >&2
        exit 1
        ;;
esac
me=$(readlink -f "$0") || exit 1
sys=${me%/bin/switch-to-configuration}
hostdir=${NIXMOX_LAB_HOSTDIR:-}
if [ -z "$hostdir" ] || [ -z "${NIXMOX_LAB_HOST:-}" ]; then
    echo "switch-to-configuration: not on a nixmox lab host (NIXMOX_LAB_HOSTDIR is not set)" >&2
    exit 1
fi
read -r target < "$sys/host"
if [ "$target" != "$NIXMOX_LAB_HOST" ]; then
    echo "switch-to-configuration: $sys is the system of host \"$target\", this is \"$NIXMOX_LAB_HOST\"" >&2
    exit 1
fi
[ "$action" = boot ] && exit 0
run=$hostdir/run
mkdir -p "$run" "$hostdir/log"

# One activation at a time on a host. (Units started below must not inherit
# the lock: every systemctl call closes fd 9.)
exec 9>"$run/switch.lock"
if ! flock -w 60 9; then
    echo "switch-to-configuration: another activation is still running on $NIXMOX_LAB_HOST" >&2
    exit 1
fi

stop=""
for f in "$run"/*.pid; do
    [ -e "$f" ] || continue
    u=${f##*/}
    u=${u%.pid}
    [ -e "$sys/units/$u" ] || stop="$stop $u"
done
start=""
restart=""
for def in "$sys"/units/*; do
    [ -e "$def" ] || continue
    u=${def##*/}
    if ! systemctl is-active --quiet "$u" 9>&-; then
        start="$start $u"
    elif ! cmp -s "$def" "$run/$u.unit"; then
        restart="$restart $u"
    fi
done

if [ "$action" = dry-activate ]; then
    [ -z "$stop" ] || echo "would stop the following units:$stop"
    [ -z "$restart" ] || echo "would restart the following units:$restart"
    [ -z "$start" ] || echo "would start the following units:$start"
    exit 0
fi

echo "activating the configuration..."
if [ -n "$stop" ]; then
    echo "stopping the following units:$stop"
    # shellcheck disable=SC2086
    systemctl stop $stop 9>&-
fi
# What `systemctl start` reads unit definitions from (NixOS: /run/current-system).
ln -sfn "$sys" "$hostdir/current-system.new" && mv -T "$hostdir/current-system.new" "$hostdir/current-system"
failed=""
if [ -n "$restart" ]; then
    echo "restarting the following units:$restart"
    for u in $restart; do systemctl restart "$u" 9>&- || failed="$failed $u"; done
fi
if [ -n "$start" ]; then
    echo "starting the following units:$start"
    for u in $start; do systemctl start "$u" 9>&- || failed="$failed $u"; done
fi
# The lab's "generation that cuts the deployer off" (lab fault break --mode ssh):
# stop the host's sshd, the listener and every connection; any other system
# starts it again (only if an activation stopped it: `lab up` starts sshd itself).
stopped_mark=$run/sshd-stopped-by-activation
if [ -e "$sys/stops-sshd" ]; then
    pid=""
    [ -r "$hostdir/sshd.pid" ] && read -r pid < "$hostdir/sshd.pid"
    if [ -n "$pid" ]; then
        echo "stopping sshd (pid $pid): this system cuts ssh off (lab break knob)"
        : > "$stopped_mark"
        pkill -KILL -P "$pid" 2> /dev/null
        kill -KILL "$pid" 2> /dev/null
        rm -f "$hostdir/sshd.pid"
    fi
elif [ -e "$stopped_mark" ]; then
    echo "starting sshd again (an earlier activation stopped it)"
    sshd_bin=$(command -v sshd) || sshd_bin=/usr/sbin/sshd
    if "$sshd_bin" -f "$hostdir/sshd_config" -E "$hostdir/sshd.log" 9>&-; then
        rm -f "$stopped_mark"
    else
        echo "warning: starting sshd failed" >&2
        failed="$failed sshd"
    fi
fi
if [ -n "$failed" ]; then
    echo "warning: the following units failed:$failed" >&2
    for u in $failed; do
        echo >&2
        systemctl status "$u" >&2 9>&-
    done
    exit 4
fi
exit 0
