#!/usr/bin/env bash
# bench/addtarget.sh: publishing a large model with `mrepo add-target`,
# measured side by side with the floor for hashing and publishing a file
# once: `openssl dgst -sha256` of it, then `cp` and `sync` (OpenSSL and Go's
# crypto/sha256 both use the CPU's SHA extensions; coreutils sha256sum does
# not and is no reference).
#
#   SIZE_MIB=1024 RUNS=5 bench/addtarget.sh
#
# Prints, per run and as medians, wall time and peak RSS of both, and the
# ratio. Needs go, openssl and GNU time (/usr/bin/time; apt-get install time).
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-5}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/mrepo-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

for tool in openssl /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done

echo "==> building mrepo"
(cd "$top" && go build -o "$work/mrepo" ./cmd/mrepo)
export MREPO_PASSPHRASE=bench-only-passphrase

echo "==> generating a ${SIZE_MIB} MiB payload"
mkdir -p "$work/bundle"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$work/bundle/model.bin"
"$work/mrepo" init --repo "$work/repo" --keys "$work/keys" >/dev/null
sync

measure() { # prints "seconds maxrss_kib"
	/usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >/dev/null
	cat "$work/time.out"
}

ref_t=() ref_m=() our_t=() our_m=()
for i in $(seq 1 "$RUNS"); do
	rm -f "$work/copy.bin"; sync
	read -r t m < <(measure bash -c "openssl dgst -sha256 '$work/bundle/model.bin' && cp '$work/bundle/model.bin' '$work/copy.bin' && sync")
	ref_t+=("$t"); ref_m+=("$m")
	printf '{"model_id": "bench", "version": "1.0.%d"}\n' "$i" >"$work/bundle/manifest.json"
	sync
	read -r t m < <(measure "$work/mrepo" add-target --repo "$work/repo" --keys "$work/keys" "$work/bundle")
	our_t+=("$t"); our_m+=("$m")
	echo "run $i: openssl+cp+sync ${ref_t[-1]} s (${ref_m[-1]} KiB max RSS of the largest process)  mrepo add-target ${our_t[-1]} s (${our_m[-1]} KiB max RSS)"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
rt=$(median "${ref_t[@]}"); ot=$(median "${our_t[@]}"); om=$(median "${our_m[@]}")
echo
echo "payload ${SIZE_MIB} MiB, ${RUNS} runs, medians:"
echo "  openssl dgst -sha256 + cp + sync : ${rt} s"
echo "  mrepo add-target                 : ${ot} s, peak RSS $((om / 1024)) MiB"
awk -v o="$ot" -v r="$rt" 'BEGIN {printf "  ratio add-target / floor         : %.2fx (target <= 1.3x)\n", o / r}'
read -r t m < <(measure "$work/mrepo" verify --repo "$work/repo" --root "$work/repo/metadata/1.root.json")
echo "  mrepo verify (${RUNS} versions, $((RUNS * SIZE_MIB)) MiB of targets re-hashed): ${t} s, peak RSS $((m / 1024)) MiB"
