#!/usr/bin/env bash
# bench/activeread.sh: reading an installed model through client.OpenActive
# (hashed while read, checked at the end: bench/activeread) beside a plain
# read of the same file with no hashing and `sha256sum`, with a warm page
# cache (the file read just before) and a cold one (its pages dropped with
# posix_fadvise(POSIX_FADV_DONTNEED) after fsync).
#
#   SIZE_MIB=1024 RUNS=3 bench/activeread.sh
#   FORM=encrypted SIZE_MIB=1024 RUNS=3 bench/activeread.sh
#
# FORM=encrypted publishes the model encrypted (add-target --encrypt,
# delivery fleet) and installs it kept encrypted at rest (mclient init
# --at-rest encrypted --fleet-key): openactive then opens the kept key
# envelope with the fleet key and decrypts while it reads (every chunk
# authenticated, the plaintext hashed), and plain reads the ciphertext
# file as it is. FORM=plaintext (the default) is the unencrypted model.
#
# Prints MB/s (10^6 bytes per second) and peak RSS of each run, and the
# medians. Needs go, sha256sum and GNU time (/usr/bin/time).
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-1024}
FORM=${FORM:-plaintext}
RUNS=${RUNS:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/activeread-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

for tool in sha256sum /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done

echo "==> building mrepo, mclient and activeread"
(cd "$top" && go build -o "$work/mrepo" ./cmd/mrepo && go build -o "$work/mclient" ./cmd/mclient &&
	go build -o "$work/activeread" ./bench/activeread)
export MREPO_PASSPHRASE=bench-only-passphrase
"$work/mrepo" init --repo "$work/repo" --keys "$work/keys" >/dev/null

echo "==> publishing and installing a $SIZE_MIB MiB model"
b="$work/bundle"
mkdir -p "$b"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$b/model.bin"
printf '{"model_id": "bench", "version": "1.0.0"}\n' >"$b/manifest.json"
init_flags=()
if [ "$FORM" = encrypted ]; then
	# The fleet key pair (what openssl genpkey makes; mclient device-key
	# create writes the same PKCS#8 file), and its recipient.
	"$work/mclient" init --state "$work/keymaker" --root "$work/repo/metadata/1.root.json" --repo-url "file://$work/repo" >/dev/null
	"$work/mclient" device-key create --state "$work/keymaker" --backend "file:$work/fleet.pem" >/dev/null
	recipient=$("$work/mclient" fleet-key show --ref "file:$work/fleet.pem" | sed -n 's/^recipient: //p')
	export MREPO_CONTENT_PASSPHRASE=bench-only-content-passphrase
	"$work/mrepo" add-target --quiet --repo "$work/repo" --keys "$work/keys" --encrypt --delivery fleet --fleet-recipient "$recipient" "$b" >/dev/null
	init_flags=(--fleet-key "file:$work/fleet.pem" --at-rest encrypted)
else
	"$work/mrepo" add-target --quiet --repo "$work/repo" --keys "$work/keys" "$b" >/dev/null
fi
rm -rf "$b"
"$work/mclient" init --state "$work/state" --root "$work/repo/metadata/1.root.json" --repo-url "file://$work/repo" "${init_flags[@]}" >/dev/null
"$work/mclient" update --quiet --state "$work/state" --model-id bench >/dev/null
file="$work/state/models/bench/1.0.0/model.bin"
bytes=$(stat -c %s "$file")

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
reader() { # MODE [-cold]: prints "MB/s MB/s-cpu rss_kib"
	"$work/activeread" -state "$work/state" -model-id bench -mode "$@" |
		awk '{for (i = 1; i <= NF; i++) { if ($i == "MB/s") s = $(i-1); if ($i == "MB/s-cpu") c = $(i-1); if ($i == "RSS") r = $(i+1) } } END {print s, c, r}'
}
shasum() { # [cold]: prints "MB/s MB/s-cpu rss_kib"
	[ "${1:-}" = cold ] && "$work/activeread" -state "$work/state" -model-id bench -mode drop
	/usr/bin/time -f "%e %U %S %M" -o "$work/time.out" sha256sum "$file" >/dev/null
	read -r t u sy m <"$work/time.out"
	awk -v b="$bytes" -v t="$t" -v c="$(awk -v u="$u" -v s="$sy" 'BEGIN {print u + s}')" -v m="$m" \
		'BEGIN {printf "%.0f %.0f %d\n", b / t / 1e6, (c > 0 ? b / c / 1e6 : 0), m}'
}

echo "==> form $FORM; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for cache in warm cold; do
	declare -A speed=() cpu=() rss=()
	for i in $(seq 1 "$RUNS"); do
		line="$cache run $i:"
		for what in openactive plain sha256sum; do
			if [ "$cache" = warm ]; then cat "$file" >/dev/null; fi
			if [ "$what" = sha256sum ]; then
				read -r s c m < <(shasum "$cache")
			elif [ "$cache" = cold ]; then
				read -r s c m < <(reader "$what" -cold)
			else
				read -r s c m < <(reader "$what")
			fi
			speed[$what]+="$s "; cpu[$what]+="$c "; rss[$what]+="$m "
			line+="  $what $s MB/s ($c per CPU s, $((m / 1024)) MiB RSS)"
		done
		echo "$line"
	done
	echo "$cache medians ($SIZE_MIB MiB):"
	for what in openactive plain sha256sum; do
		# shellcheck disable=SC2086
		echo "  $what: $(median ${speed[$what]}) MB/s wall, $(median ${cpu[$what]}) MB/s per CPU second, peak RSS $(( $(median ${rss[$what]}) / 1024 )) MiB"
	done
	unset speed cpu rss
done
echo "==> load average $(cut -d' ' -f1-3 /proc/loadavg)"
