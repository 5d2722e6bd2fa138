#!/usr/bin/env bash
# bench/device-scale.sh: a device updating one model in a repository at
# catalog scale (issue 16). Generates MODELS x VERSIONS versions in hash
# bins with bench/genrepo (a manifest and one small payload per version,
# a version index per model), serves it with `mrepo serve` on loopback,
# then measures RUNS first updates of one model by a new device (`mclient
# init` + `mclient update`) and one idle update after each: wall time,
# peak RSS (anonymous + file-backed at the peak, bench/memsplit) and the metadata bytes the device downloaded (every
# file it stored in its metadata directory: each is downloaded once by a
# first update; the pinned root.json, from the device image, excluded).
#
#   MODELS=1000 VERSIONS=100 RUNS=3 bench/device-scale.sh
#
# Needs go.
set -euo pipefail

MODELS=${MODELS:-1000}
VERSIONS=${VERSIONS:-100}
RUNS=${RUNS:-3}
MODEL=${MODEL:-model-0042}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/mclient-scale.XXXXXX")
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "==> building mrepo, mclient, genrepo and memsplit"
(cd "$top" && go build -o "$work/mrepo" ./cmd/mrepo && go build -o "$work/mclient" ./cmd/mclient && go build -o "$work/genrepo" ./bench/genrepo && go build -o "$work/memsplit" ./bench/memsplit)
export MREPO_PASSPHRASE=bench-only-passphrase

echo "==> generating ${MODELS} models x ${VERSIONS} versions"
"$work/genrepo" -dir "$work/g" -models "$MODELS" -versions "$VERSIONS" >/dev/null
repo=$work/g/repo
ls "$repo/metadata" | grep -c '\.bins-' | sed 's/^/bin files: /'
"$work/mrepo" serve --repo "$repo" --addr 127.0.0.1:0 --addr-file "$work/addr" >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/addr" ] && break; sleep 0.1; done
url="http://$(cat "$work/addr")"
sync

measure() { # prints "seconds maxrss_kib anon_kib file_kib" (at the peak)
	"$work/memsplit" -o "$work/mem.out" -- "$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
	awk '{print $2, $4, $6, $8}' "$work/mem.out"
}
metabytes() { # bytes in the device's metadata directory but the pinned root
	find "$work/state/metadata" -maxdepth 1 -type f ! -name root.json -printf '%s\n' | awk '{s += $1} END {print s + 0}'
}

for i in $(seq 1 "$RUNS"); do
	rm -rf "$work/state"
	"$work/mclient" init --state "$work/state" --root "$repo/metadata/1.root.json" --repo-url "$url" >/dev/null
	read -r t m a f < <(measure "$work/mclient" update --state "$work/state" --model-id "$MODEL")
	b=$(metabytes)
	files=$(find "$work/state/metadata" -maxdepth 1 -type f -name 'bins-*.json' | wc -l)
	read -r it im ia ifl < <(measure "$work/mclient" update --state "$work/state" --model-id "$MODEL")
	echo "run $i: first update ${t} s, peak RSS ${m} KiB (${a} anonymous + ${f} file-backed), metadata ${b} bytes (${files} bins); idle update ${it} s, peak RSS ${im} KiB (${ia} + ${ifl})"
done
