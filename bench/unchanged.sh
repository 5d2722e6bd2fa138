#!/usr/bin/env bash
# bench/unchanged.sh: publishing and installing a version whose large
# model.bin is byte-identical to the previous version's (only labels.txt
# changed): mrepo add-target time and growth of targets/, mclient update
# time and bytes downloaded.
#
#   SIZE_MIB=256 RUNS=2 bench/unchanged.sh [BIN_DIR]
#
# BIN_DIR holds mrepo and mclient to measure (default: built from this
# checkout), so that two builds can be compared. Needs go, python3 and GNU
# time (/usr/bin/time).
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-256}
RUNS=${RUNS:-2}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/unchanged-bench.XXXXXX")
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

bin=${1:-}
if [ -z "$bin" ]; then
	echo "==> building mrepo and mclient"
	bin="$work/bin"
	(cd "$top" && go build -o "$bin/mrepo" ./cmd/mrepo && go build -o "$bin/mclient" ./cmd/mclient)
fi
export MREPO_PASSPHRASE=bench-only-passphrase
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$work/model.bin"
for v in 1.0.0 1.1.0; do
	mkdir -p "$work/b-$v"
	ln "$work/model.bin" "$work/b-$v/model.bin"
	printf '{"model_id": "det", "version": "%s"}\n' "$v" >"$work/b-$v/manifest.json"
	echo "labels of $v" >"$work/b-$v/labels.txt"
done

for run in $(seq "$RUNS"); do
	r="$work/run-$run"
	mkdir -p "$r"
	"$bin/mrepo" init --repo "$r/repo" --keys "$r/keys" >/dev/null
	"$bin/mrepo" add-target --repo "$r/repo" --keys "$r/keys" "$work/b-1.0.0" >/dev/null
	"$bin/mrepo" serve --repo "$r/repo" --addr 127.0.0.1:0 --addr-file "$r/addr" >/dev/null 2>&1 &
	server_pid=$!
	while [ ! -s "$r/addr" ]; do sleep 0.1; done
	"$bin/mclient" init --state "$r/dev" --root "$r/repo/metadata/1.root.json" --repo-url "http://$(cat "$r/addr")" >/dev/null
	"$bin/mclient" update --state "$r/dev" --model-id det >/dev/null
	before=$(du -sk "$r/repo/targets" | cut -f1)
	/usr/bin/time -f "run $run: add-target 1.1.0: %e s" "$bin/mrepo" add-target --repo "$r/repo" --keys "$r/keys" "$work/b-1.1.0" >/dev/null
	echo "run $run: targets/ grew by $(($(du -sk "$r/repo/targets" | cut -f1) - before)) KiB"
	/usr/bin/time -f "run $run: update 1.0.0 -> 1.1.0: %e s" "$bin/mclient" update --state "$r/dev" --model-id det --json >"$r/result.json"
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("run %s: bytes downloaded %d; %s" % (sys.argv[2], r["bytes_downloaded"], ", ".join("%s %s" % (f["file"], f["method"]) for f in r.get("files", []))))' "$r/result.json" "$run"
	kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
	rm -rf "$r"
done
