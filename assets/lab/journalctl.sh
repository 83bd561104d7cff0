#!/bin/sh
# journalctl for nixmox lab hosts -- a FAKE (there is no systemd, hence no
# journal, on a lab host). A unit's journal is the file HOSTDIR/log/UNIT.log,
# whose lines are already in `-o short-iso` form. Supported:
#   journalctl [-u|--unit UNIT]... [-n|--lines N] [-f|--follow] [-o short-iso|cat] [--no-pager] [-q] [-b] [-e]
# `-f` follows with `nixmox lab follow`, which ends as soon as the ssh client
# goes away: when the session's sshd exits, or when the channel is closed
# (also on a multiplexed connection), not only at the next write.
set -u
hostdir=${NIXMOX_LAB_HOSTDIR:-}
if [ -z "$hostdir" ]; then
    echo "journalctl (nixmox lab): not on a lab host (NIXMOX_LAB_HOSTDIR is not set)" >&2
    exit 1
fi
units=""
lines=""
follow=0
output=short-iso
want=""
for a in "$@"; do
    if [ -n "$want" ]; then
        case $want in
            unit) units="$units $a" ;;
            lines) lines=$a ;;
            output) output=$a ;;
        esac
        want=""
        continue
    fi
    case $a in
        -u | --unit) want=unit ;;
        --unit=*) units="$units ${a#--unit=}" ;;
        -u*) units="$units ${a#-u}" ;;
        -n | --lines) want=lines ;;
        --lines=*) lines=${a#--lines=} ;;
        -n*) lines=${a#-n} ;;
        -o | --output) want=output ;;
        --output=*) output=${a#--output=} ;;
        -o*) output=${a#-o} ;;
        -f | --follow) follow=1 ;;
        -e | --pager-end) [ -n "$lines" ] || lines=1000 ;;
        -fn*) follow=1 lines=${a#-fn} ;;
        --no-pager | -q | --quiet | -b | --boot | --no-hostname | -a | --all | -x | --catalog) ;;
        *)
            echo "journalctl (nixmox lab): unsupported option: $a (this is the lab's fake journalctl)" >&2
            exit 1
            ;;
    esac
done
case $output in
    short-iso | short | short-precise | short-iso-precise | cat) ;;
    *)
        echo "journalctl (nixmox lab): unsupported output: $output" >&2
        exit 1
        ;;
esac
case $lines in
    "" | all | +*) ;;
    *[!0-9]*)
        echo "journalctl (nixmox lab): invalid number of lines: $lines" >&2
        exit 1
        ;;
esac
[ "$lines" = all ] && lines=""

files=""
if [ -z "$units" ]; then
    for f in "$hostdir"/log/*.log; do [ -e "$f" ] && files="$files $f"; done
else
    for u in $units; do
        u=${u%.service}
        case $u in
            "" | *[!A-Za-z0-9:_.@-]* | -*)
                echo "journalctl (nixmox lab): invalid unit name: $u" >&2
                exit 1
                ;;
        esac
        case " $files " in
            *" $hostdir/log/$u.log "*) ;; # given twice
            *) files="$files $hostdir/log/$u.log" ;;
        esac
    done
fi

if [ "$follow" = 1 ]; then
    cat=""
    [ "$output" = cat ] && cat=--cat
    # shellcheck disable=SC2086
    exec "${NIXMOX_LAB_DIR:?}/bin/nixmox" lab follow --lines "${lines:-10}" $cat $files
fi

any=0
for f in $files; do [ -e "$f" ] && any=1; done
if [ "$any" = 0 ]; then
    echo "-- No entries --"
    exit 0
fi
nfiles=0
for f in $files; do nfiles=$((nfiles + 1)); done
show() { # several units: merged in time order (lines start with an ISO time)
    # shellcheck disable=SC2086
    if [ "$nfiles" = 1 ]; then
        if [ -n "$lines" ]; then tail -n "$lines" $files; else cat $files; fi
    elif [ -n "$lines" ]; then
        cat $files 2> /dev/null | sort -s -k1,1 | tail -n "$lines"
    else
        cat $files 2> /dev/null | sort -s -k1,1
    fi
}
if [ "$output" = cat ]; then
    show | sed 's/^[^ ]* [^ ]* [^:]*: //'
else
    show
fi
