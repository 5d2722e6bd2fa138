#!/usr/bin/env bash
# bench/memlimit.sh: run a command under a hard memory limit, the strict
# form of "fits in N MiB": a memory cgroup with LIMIT_MIB of memory and no
# swap, into which the command's binary is first copied, so that the page
# cache of the binary (its mapped text and data, which the kernel maps in
# large folios) is charged to the cgroup as well as what the process
# allocates, and so is the page cache of the files it reads and writes.
# COMMAND runs RUNS times (MEMLIMIT_RUNS, default 1) in the cgroup, with
# $MEMLIMIT_BIN set to the copy of BINARY (COMMAND is typically
# sh -c '...; exec "$MEMLIMIT_BIN" ARGS'), one line per run:
#
#   memlimit: LIMIT MiB run I: completed|FAILED (exit N), S s (U user,
#     Y sys), cgroup max usage K KiB, major faults M, OOM kills O
#
# The copy itself (larger than a small limit) leaves part of the binary
# evicted: run 1 reads those pages from disk (its major faults are a cold
# start); later runs show the steady state. A process that does not fit
# fails (OOM kill) or completes while thrashing: its binary's pages are
# evicted and read again and again (hundreds to thousands of major
# faults, seconds of system time). The max usage is the limit whenever
# the page cache fills it, which says nothing by itself. Exits with the
# first failing run's status; 0 with "memlimit: skipped: ..." when no
# memory cgroup is writable here (cgroup v1 or v2; normally root only).
#
#   bench/memlimit.sh LIMIT_MIB BINARY COMMAND [ARG...]
#
# MEMLIMIT_PARENT: the cgroup directory to create the cgroup in (default:
# the root of the memory hierarchy). Needs GNU time (/usr/bin/time).
set -euo pipefail

[ $# -ge 3 ] || { echo "usage: bench/memlimit.sh LIMIT_MIB BINARY COMMAND [ARG...]" >&2; exit 2; }
limit_mib=$1 bin=$2
shift 2
limit=$((limit_mib << 20))

if [ -z "${MEMLIMIT_PARENT:-}" ]; then
	if [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
		MEMLIMIT_PARENT=/sys/fs/cgroup/memory
	elif grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
		MEMLIMIT_PARENT=/sys/fs/cgroup
	fi
fi
cg=${MEMLIMIT_PARENT:-/nonexistent}/edgetuf-memlimit-$$
if ! mkdir "$cg" 2>/dev/null; then
	echo "memlimit: skipped: no writable memory cgroup (tried ${MEMLIMIT_PARENT:-cgroup v1 memory and v2 with the memory controller}; run as root or set MEMLIMIT_PARENT)"
	exit 0
fi
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/memlimit.XXXXXX")
cleanup() {
	rm -rf "$work"
	rmdir "$cg" 2>/dev/null || true
}
trap cleanup EXIT

if [ -f "$cg/memory.limit_in_bytes" ]; then # cgroup v1
	echo "$limit" >"$cg/memory.limit_in_bytes"
	# No swap: memory+swap may not exceed memory (absent without swap accounting).
	[ ! -f "$cg/memory.memsw.limit_in_bytes" ] || echo "$limit" >"$cg/memory.memsw.limit_in_bytes"
	usage() { echo $(($(cat "$cg/memory.max_usage_in_bytes") >> 10)); }
	majfaults() { awk '$1 == "total_pgmajfault" { print $2 }' "$cg/memory.stat"; }
	ooms() { awk '$1 == "oom_kill" { print $2 }' "$cg/memory.oom_control"; }
	reset() { echo 0 >"$cg/memory.max_usage_in_bytes"; }
else # cgroup v2
	echo "$limit" >"$cg/memory.max"
	echo 0 >"$cg/memory.swap.max"
	usage() { echo $(($(cat "$cg/memory.peak") >> 10)); }
	majfaults() { awk '$1 == "pgmajfault" { print $2 }' "$cg/memory.stat"; }
	ooms() { awk '$1 == "oom_kill" { print $2 }' "$cg/memory.events"; }
	reset() { echo 0 >"$cg/memory.peak" 2>/dev/null || true; } # resettable since Linux 6.12
fi

# in_cgroup CMD...: runs CMD as a member of the cgroup.
in_cgroup() { sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$@"; }

# The copy is made from inside the cgroup: its page cache is charged there.
in_cgroup cp "$bin" "$work/bin"
export MEMLIMIT_BIN=$work/bin
status=0
for run in $(seq 1 "${MEMLIMIT_RUNS:-1}"); do
	reset
	m0=$(majfaults) o0=$(ooms)
	st=0
	in_cgroup /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" || st=$?
	read -r t u s < <(tail -n 1 "$work/time") || t=? u=? s=?
	if [ "$st" = 0 ]; then result=completed; else result="FAILED (exit $st)"; fi
	[ "$status" != 0 ] || status=$st
	echo "memlimit: $limit_mib MiB run $run: $result, $t s ($u user, $s sys), cgroup max usage $(usage) KiB, major faults $(($(majfaults) - m0)), OOM kills $(($(ooms) - o0))"
done
exit "$status"
