#!/usr/bin/env bash
# bench/addtarget-encrypt.sh: `mrepo add-target --encrypt` against the same
# `mrepo add-target` without encryption, on one large payload, runs
# alternating so that both see the same machine (issue 14's target: the
# encrypted publication within 1.3x of the plain one).
#
#   SIZE_MIB=1024 RUNS=5 bench/addtarget-encrypt.sh
#
# Prints, per run and as medians, wall time, CPU time (user + system) and
# peak RSS of both, and the ratio of wall times. Every version's payload
# differs from the last in its first 8 bytes, so that the plain
# add-target stores it rather than linking the previous version's file. Needs go and GNU time (/usr/bin/time; apt-get install time).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/pair.sh"
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/mrepo-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

require_tools /usr/bin/time

echo "==> building mrepo"
(cd "$top" && go build -o "$work/mrepo" ./cmd/mrepo)
export MREPO_PASSPHRASE=bench-only-passphrase
export MREPO_CONTENT_PASSPHRASE=bench-only-content-passphrase

echo "==> generating a ${SIZE_MIB} MiB payload"
mkdir -p "$work/bundle"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$work/bundle/model.bin"
"$work/mrepo" init --repo "$work/repo" --keys "$work/keys" >/dev/null
sync

publish() { # publish version 1.0.$1; extra flags after it
	local v=$1
	shift
	# Other bytes for every version: a plain add-target would otherwise
	# link the previous version's identical file instead of storing it.
	printf '%08x' "$v" | dd of="$work/bundle/model.bin" bs=8 count=1 conv=notrunc status=none
	printf '{"model_id": "bench", "version": "1.0.%d"}\n' "$v" >"$work/bundle/manifest.json"
	sync
	measure "$work/mrepo" add-target --repo "$work/repo" --keys "$work/keys" "$@" "$work/bundle"
}
publish_plain() { publish $((2 * i - 1)); }
publish_encrypted() { publish $((2 * i)) --encrypt --delivery device; }
for i in $(seq 1 "$RUNS"); do
	pair_run "$i" add-target "add-target --encrypt" publish_plain publish_encrypted
done

pair_report "mrepo add-target" "mrepo add-target --encrypt" 1.3x
