#!/usr/bin/env bash
# bench/update.sh: a device updating to a large model over loopback HTTP
# with `mclient update`, measured side by side with the floor for fetching
# and checking it: `curl` downloading the same file to disk followed by
# `openssl dgst -sha256` of it and `sync` (mclient fsyncs what it installs).
#
#   SIZES_MIB="256 1024" RUNS=3 bench/update.sh
#
# Prints wall time and peak RSS of each run and the medians. Needs go,
# curl, openssl and GNU time (/usr/bin/time).
set -euo pipefail

SIZES_MIB=${SIZES_MIB:-"256 1024"}
RUNS=${RUNS:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/mclient-bench.XXXXXX")
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

for tool in curl openssl /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done

echo "==> building mrepo and mclient"
(cd "$top" && go build -o "$work/mrepo" ./cmd/mrepo && go build -o "$work/mclient" ./cmd/mclient)
export MREPO_PASSPHRASE=bench-only-passphrase
"$work/mrepo" init --repo "$work/repo" --keys "$work/keys" >/dev/null

echo "==> publishing payloads: $SIZES_MIB MiB"
for size in $SIZES_MIB; do
	b="$work/bundle-$size"
	mkdir -p "$b"
	head -c $((size * 1024 * 1024)) /dev/urandom >"$b/model.bin"
	printf '{"model_id": "bench%s", "version": "1.0.0"}\n' "$size" >"$b/manifest.json"
	"$work/mrepo" add-target --repo "$work/repo" --keys "$work/keys" "$b" >/dev/null
	rm -rf "$b"
done
"$work/mrepo" serve --repo "$work/repo" --addr 127.0.0.1:0 --addr-file "$work/addr" >/dev/null &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/addr" ] && break; sleep 0.1; done
url="http://$(cat "$work/addr")"
sync

measure() { # prints "seconds maxrss_kib"
	/usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >/dev/null
	cat "$work/time.out"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

for size in $SIZES_MIB; do
	target=$(cd "$work/repo/targets/models/bench$size/1.0.0" && ls *.model.bin)
	ref_t=() our_t=() our_m=()
	for i in $(seq 1 "$RUNS"); do
		rm -f "$work/dl.bin"; sync
		read -r t m < <(measure bash -c "curl -sS -o '$work/dl.bin' '$url/targets/models/bench$size/1.0.0/$target' && openssl dgst -sha256 '$work/dl.bin' && sync")
		ref_t+=("$t")
		rm -rf "$work/state"; sync
		"$work/mclient" init --state "$work/state" --root "$work/repo/metadata/1.root.json" --repo-url "$url" >/dev/null
		read -r t m < <(measure "$work/mclient" update --state "$work/state" --model-id "bench$size")
		our_t+=("$t"); our_m+=("$m")
		echo "${size} MiB run $i: curl+openssl+sync ${ref_t[-1]} s   mclient update ${our_t[-1]} s, peak RSS $((m / 1024)) MiB"
	done
	rt=$(median "${ref_t[@]}"); ot=$(median "${our_t[@]}"); om=$(median "${our_m[@]}")
	echo "${size} MiB medians: curl+openssl+sync ${rt} s, mclient update ${ot} s ($(awk -v o="$ot" -v r="$rt" 'BEGIN {printf "%.2fx", o / r}')), peak RSS $((om / 1024)) MiB"
done
