#!/usr/bin/env bash
# bench/grant.sh: `mrepo grant` of one encrypted version to DEVICES enrolled
# devices (default 100,000): wall time and peak RSS of the command, the
# envelopes' size each and in total, and their space on disk (du).
#
#   DEVICES=100000 bench/grant.sh
#
# The second grant of the same devices file (every envelope kept) is timed
# too. BENCH_TMP (default /var/tmp) holds the repository: creating 100,000
# files is sensitive to the filesystem (see docs/encryption.md, section 8).
# Needs go and GNU time (/usr/bin/time; apt-get install time).
set -euo pipefail

DEVICES=${DEVICES:-100000}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/mrepo-grant-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
command -v /usr/bin/time >/dev/null || { echo "bench: /usr/bin/time is required" >&2; exit 1; }

echo "==> building mrepo and gendevices"
(cd "$top" && go build -o "$work/mrepo" ./cmd/mrepo && go build -o "$work/gendevices" ./bench/gendevices)
export MREPO_PASSPHRASE=bench-only-passphrase MREPO_CONTENT_PASSPHRASE=bench-only-content-passphrase

echo "==> an encrypted version (delivery device) and ${DEVICES} devices"
mkdir -p "$work/bundle"
printf '{"model_id": "bench", "version": "1.0.0"}\n' >"$work/bundle/manifest.json"
head -c $((1024 * 1024)) /dev/urandom >"$work/bundle/model.bin"
"$work/mrepo" init --repo "$work/repo" --keys "$work/keys" >/dev/null
"$work/mrepo" add-target --repo "$work/repo" --keys "$work/keys" --encrypt --delivery device "$work/bundle" >/dev/null
"$work/gendevices" -n "$DEVICES" >"$work/devices.txt"
sync

grant() { # prints "seconds maxrss_kib cpu_seconds", the command's JSON to $work/grant.json
	/usr/bin/time -f "%e %M %U %S" -o "$work/time.out" "$work/mrepo" grant --repo "$work/repo" --keys "$work/keys" \
		--devices "$work/devices.txt" --json bench@1.0.0 >"$work/grant.json"
	awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$work/time.out"
}
read -r t m c < <(grant)
envdir="$work/repo/targets/models/bench/1.0.0/keys"
n=$(find "$envdir" -name '*.age' | wc -l)
bytes=$(sed -n 's/.*"bytes": \([0-9]*\).*/\1/p' "$work/grant.json")
disk=$(du -sk "$envdir" | cut -f1)
read -r t2 m2 c2 < <(grant)
echo
echo "mrepo grant, ${DEVICES} devices:"
echo "  first grant   : ${t} s (CPU ${c} s), peak RSS $((m / 1024)) MiB"
echo "  again (kept)  : ${t2} s (CPU ${c2} s), peak RSS $((m2 / 1024)) MiB"
echo "  load average  : $(cut -d' ' -f1-3 /proc/loadavg) (on $(nproc) CPUs)"
awk -v n="$n" -v b="$bytes" -v d="$disk" 'BEGIN {
	printf "  envelopes     : %d, %.0f bytes each, %.1f MiB in total\n", n, b / n, b / 1048576
	printf "  on disk (du)  : %.1f MiB\n", d / 1024 }'
