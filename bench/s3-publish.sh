#!/usr/bin/env bash
# bench/s3-publish.sh: publishing into a repository in S3, against
# versitygw (an S3 server over a local directory) on loopback:
#
# 1. `mrepo add-target` of one more version into a repository that already
#    holds SEED versions: wall time and peak RSS, RUNS times, medians.
# 2. PUBLISHERS concurrent publishers (separate mrepo processes, as on
#    separate CI runners), each publishing VERSIONS versions of its own
#    model one after the other into the same repository: total time, how
#    many attempts the conflicts cost, then `mrepo verify` of the result and
#    a check that every version is listed.
#
#   SEED=10 RUNS=5 PUBLISHERS=8 VERSIONS=20 PAYLOAD_KIB=64 bench/s3-publish.sh
#
# Needs go, jq, GNU time (/usr/bin/time) and versitygw (on PATH or in
# GOBIN/GOPATH/bin: .ci/install-test-deps.sh installs it).
set -euo pipefail

SEED=${SEED:-10}
RUNS=${RUNS:-5}
PUBLISHERS=${PUBLISHERS:-8}
VERSIONS=${VERSIONS:-20}
PAYLOAD_KIB=${PAYLOAD_KIB:-64}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/mrepo-s3-bench.XXXXXX")
gw_pid=""
pids=() # the background publishers
# stop PID: TERM, then KILL if it has not exited within 10 s, and reap it
# (a server that ignores TERM must not make the script hang).
stop() {
	kill "$1" 2>/dev/null || return 0
	for _ in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	# Publishers still running (interrupted, or one failed under set -e):
	# their mrepo first, then the subshells, so none outlives the script
	# and keeps publishing into the next run's machine.
	local p
	for p in "${pids[@]}"; do
		pkill -TERM -P "$p" 2>/dev/null || true
		stop "$p"
	done
	if [ -n "$gw_pid" ]; then stop "$gw_pid"; fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # so that the EXIT trap stops versitygw then too
. "$top/bench/versitygw.sh"

for tool in jq /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done
echo "==> building mrepo"
(cd "$top" && go build -o "$work/mrepo" ./cmd/mrepo)
mrepo="$work/mrepo"

echo "==> starting versitygw on 127.0.0.1"
mkdir -p "$work/s3/edgetuf-bench"  # a directory of the root is a bucket
start_versitygw "$work/s3" edgetuf-bench
export MREPO_PASSPHRASE=bench-only-passphrase

measure() { # prints "seconds maxrss_kib"
	/usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >"$work/out.json"
	cat "$work/time.out"
}
bundle() { # bundle DIR MODEL VERSION
	mkdir -p "$1"
	printf '{"model_id": "%s", "version": "%s"}\n' "$2" "$3" >"$1/manifest.json"
	head -c $((PAYLOAD_KIB * 1024)) /dev/urandom >"$1/model.bin"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "==> mrepo init, then $SEED versions"
"$mrepo" init --repo "$url" --keys "$work/keys" >/dev/null
cp "$work/s3/edgetuf-bench/metadata/1.root.json" "$work/root.json"
for i in $(seq 1 "$SEED"); do
	bundle "$work/b" seed "1.0.$i"
	"$mrepo" add-target --repo "$url" --keys "$work/keys" --json "$work/b" >/dev/null
done

echo "==> add-target of one more version, $RUNS runs"
ts=() ms=()
for i in $(seq 1 "$RUNS"); do
	bundle "$work/b" seed "2.0.$i"
	read -r t m < <(measure "$mrepo" add-target --repo "$url" --keys "$work/keys" --json "$work/b")
	ts+=("$t"); ms+=("$m")
	echo "run $i: ${t} s, ${m} KiB max RSS"
done
one_t=$(median "${ts[@]}"); one_m=$(median "${ms[@]}")

echo "==> $PUBLISHERS publishers x $VERSIONS versions, concurrently"
publisher() { # publisher N: VERSIONS versions of model pub-N; one line per publication: "attempts" or "FAILED"
	local n=$1 v
	for v in $(seq 1 "$VERSIONS"); do
		bundle "$work/p$n" "pub-$n" "1.0.$v"
		if "$mrepo" add-target --repo "$url" --keys "$work/keys" --json "$work/p$n" >"$work/p$n.json" 2>>"$work/p$n.err"; then
			jq -r '.attempts // 1' "$work/p$n.json"
		else
			echo FAILED
		fi
	done >"$work/p$n.attempts"
}
start=$(date +%s.%N)
for n in $(seq 1 "$PUBLISHERS"); do
	publisher "$n" &
	pids+=($!)
done
# Not a bare wait: versitygw runs in the background too. Each publisher
# is waited for by its PID, and a failed one is counted (FAILED lines),
# not fatal here.
for p in "${pids[@]}"; do wait "$p" || true; done
pids=()
total=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
failed=$(cat "$work"/p*.attempts | grep -c FAILED || true)
attempts=$(cat "$work"/p*.attempts | grep -v FAILED | awk '{s += $1} END {print s + 0}')
maxatt=$(cat "$work"/p*.attempts | grep -v FAILED | sort -n | tail -1)

echo "==> verify and count"
read -r vt vm < <(measure "$mrepo" verify --repo "$url" --root "$work/root.json")
verify_out=$(cat "$work/out.json")
"$mrepo" status --repo "$url" --json >"$work/status.json"
published=$(jq '[.models[] | select(.model_id | startswith("pub-")) | .versions | length] | add // 0' "$work/status.json")
want=$((PUBLISHERS * VERSIONS))

echo
echo "S3 (versitygw on loopback), ${PAYLOAD_KIB} KiB payload per version:"
echo "  add-target of one more version (after $SEED): median ${one_t} s, peak RSS $((one_m / 1024)) MiB (${RUNS} runs)"
echo "  $PUBLISHERS publishers x $VERSIONS versions: ${total} s in total; $published of $want versions listed; $failed publications failed;"
echo "    $attempts attempts for $((want - failed)) publications (at most $maxatt for one)"
echo "  mrepo verify: ${vt} s, peak RSS $((vm / 1024)) MiB: $verify_out"
if [ "$failed" -ne 0 ] || [ "$published" -ne "$want" ]; then
	echo "bench: not every publication landed" >&2
	cat "$work"/p*.err >&2
	exit 1
fi
