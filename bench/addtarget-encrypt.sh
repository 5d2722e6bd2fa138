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

SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-5}
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/pair.sh"
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/mrepo-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

command -v /usr/bin/time >/dev/null || { echo "bench: /usr/bin/time is required" >&2; exit 1; }

echo "==> building mrepo"
(cd "$top" && go build -o "$work/mrepo" ./cmd/mrepo)
export MREPO_PASSPHRASE=bench-only-passphrase
export MREPO_CONTENT_PASSPHRASE=bench-only-content-passphrase

echo "==> generating a ${SIZE_MIB} MiB payload"
mkdir -p "$work/bundle"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$work/bundle/model.bin"
"$work/mrepo" init --repo "$work/repo" --keys "$work/keys" >/dev/null
sync

measure() { # prints "seconds maxrss_kib cpu_seconds"
	/usr/bin/time -f "%e %M %U %S" -o "$work/time.out" "$@" >/dev/null 2>>"$work/stderr.log"
	awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$work/time.out"
}

plain_t=() plain_m=() plain_c=() enc_t=() enc_m=() enc_c=()
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
for i in $(seq 1 "$RUNS"); do
	read -r t m c < <(publish $((2 * i - 1)))
	plain_t+=("$t"); plain_m+=("$m"); plain_c+=("$c")
	read -r t m c < <(publish $((2 * i)) --encrypt --delivery device)
	enc_t+=("$t"); enc_m+=("$m"); enc_c+=("$c")
	echo "run $i: add-target ${plain_t[-1]} s (CPU ${plain_c[-1]} s, ${plain_m[-1]} KiB max RSS)  add-target --encrypt ${enc_t[-1]} s (CPU ${enc_c[-1]} s, ${enc_m[-1]} KiB max RSS)  load $(cut -d" " -f1-3 /proc/loadavg)"
done

pair_report "mrepo add-target" "mrepo add-target --encrypt" 1.3x
