#!/bin/busybox sh
# Signals through BusyBox ash: every check prints PASS/FAIL; exit 0 iff all pass.
# Host: BB=path/to/busybox path/to/busybox sh jobctl.sh
BB=${BB:-/bin/busybox}
fail=0
check() { if [ "$2" = "$3" ]; then echo "PASS $1"; else echo "FAIL $1: got '$2' want '$3'"; fail=1; fi; }
$BB sleep 30 &
pid=$!
kill -STOP $pid
kill -CONT $pid
kill -TERM $pid
wait $pid
check term-status $? 143
trap 'got=usr1' USR1
kill -USR1 $$
check trap-usr1 "$got" usr1
( trap 'exit 7' TERM; while :; do $BB sleep 1; done ) &
sub=$!
$BB sleep 1
kill -TERM $sub
wait $sub
check subshell-trap $? 7
out=$($BB yes | $BB head -n 3 | $BB wc -l)
check sigpipe-yes "$out" 3
exit $fail
