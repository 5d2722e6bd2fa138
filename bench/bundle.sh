#!/usr/bin/env bash
# bench/bundle.sh: a bundle of many small files (tokenizers, sharded
# weights, label sets), published with `mrepo add-target` and installed
# on a device over loopback with `mclient update`, then `mrepo verify`
# of the whole repository and `mrepo verify --since` of the last
# publication only.
#
#   FILES=1000 MIN_KIB=1 MAX_KIB=64 RUNS=3 OTHERS=9 bench/bundle.sh
#
# OTHERS models of FILES files each are published first (the repository
# of issue 16's measurement: 10 models x 1,000 files). Each run then
# publishes a new version of the measured model (new random bytes, so
# nothing is reused) and installs it on a fresh device. Prints wall time
# and peak RSS per run and the medians. BIN=DIR takes mrepo and mclient
# from DIR instead of building them (to measure another commit). Needs go
# and GNU time (/usr/bin/time).
set -euo pipefail

FILES=${FILES:-1000}
MIN_KIB=${MIN_KIB:-1}
MAX_KIB=${MAX_KIB:-64}
RUNS=${RUNS:-3}
OTHERS=${OTHERS:-0}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/bundle-bench.XXXXXX")
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

command -v /usr/bin/time >/dev/null || { echo "bench: /usr/bin/time is required" >&2; exit 1; }

if [ -n "${BIN:-}" ]; then
	cp "$BIN/mrepo" "$BIN/mclient" "$work/"
else
	echo "==> building mrepo and mclient"
	(cd "$top" && go build -o "$work/mrepo" ./cmd/mrepo && go build -o "$work/mclient" ./cmd/mclient)
fi
export MREPO_PASSPHRASE=bench-only-passphrase
"$work/mrepo" init --repo "$work/repo" --keys "$work/keys" >/dev/null
"$work/mrepo" serve --repo "$work/repo" --addr 127.0.0.1:0 --addr-file "$work/addr" >/dev/null &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/addr" ] && break; sleep 0.1; done
url="http://$(cat "$work/addr")"

# bundle VERSION [MODEL]: FILES files of MIN_KIB..MAX_KIB KiB of random
# bytes.
bundle() {
	rm -rf "$work/bundle"
	mkdir -p "$work/bundle"
	local i size
	for i in $(seq -w 1 "$FILES"); do
		size=$(( (RANDOM % (MAX_KIB - MIN_KIB + 1) + MIN_KIB) * 1024 ))
		head -c "$size" /dev/urandom >"$work/bundle/shard-$i.bin"
	done
	printf '{"model_id": "%s", "version": "%s"}\n' "${2:-bundle}" "$1" >"$work/bundle/manifest.json"
}

if [ "$OTHERS" -gt 0 ]; then
	echo "==> publishing $OTHERS other models of $FILES files"
	for m in $(seq 1 "$OTHERS"); do
		bundle 1.0.0 "other$m"
		"$work/mrepo" add-target --repo "$work/repo" --keys "$work/keys" "$work/bundle" >/dev/null
	done
fi

measure() { # prints "seconds maxrss_kib"
	/usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >/dev/null
	cat "$work/time.out"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

add_t=() add_m=() upd_t=() upd_m=()
for i in $(seq 1 "$RUNS"); do
	bundle "1.0.$i"
	bytes=$(du -sk "$work/bundle" | cut -f1)
	sync
	read -r t m < <(measure "$work/mrepo" add-target --repo "$work/repo" --keys "$work/keys" "$work/bundle")
	add_t+=("$t"); add_m+=("$m")
	rm -rf "$work/state"; sync
	"$work/mclient" init --state "$work/state" --root "$work/repo/metadata/1.root.json" --repo-url "$url" >/dev/null
	read -r t m < <(measure "$work/mclient" update --state "$work/state" --model-id bundle)
	upd_t+=("$t"); upd_m+=("$m")
	echo "run $i (${FILES} files, ${bytes} KiB): mrepo add-target ${add_t[-1]} s (${add_m[-1]} KiB max RSS)  mclient update ${upd_t[-1]} s (${upd_m[-1]} KiB max RSS)"
done
echo
echo "${FILES} files of ${MIN_KIB}-${MAX_KIB} KiB, ${RUNS} runs, medians:"
echo "  mrepo add-target : $(median "${add_t[@]}") s, peak RSS $(( $(median "${add_m[@]}") / 1024 )) MiB"
echo "  mclient update   : $(median "${upd_t[@]}") s, peak RSS $(( $(median "${upd_m[@]}") / 1024 )) MiB"
read -r t m < <(measure "$work/mrepo" verify --repo "$work/repo" --root "$work/repo/metadata/1.root.json")
echo "  mrepo verify (all ${RUNS} versions)        : ${t} s, peak RSS $((m / 1024)) MiB"
if "$work/mrepo" verify --help 2>&1 | grep -- --since >/dev/null; then # not -q: mrepo killed by SIGPIPE would fail the pipe (pipefail)
	since=$(( $(ls "$work/repo/metadata" | sed -n 's/^\([0-9]*\)\.snapshot\.json$/\1/p' | sort -n | tail -1) - 1 ))
	read -r t m < <(measure "$work/mrepo" verify --repo "$work/repo" --root "$work/repo/metadata/1.root.json" --since "$since")
	echo "  mrepo verify --since $since (last version): ${t} s, peak RSS $((m / 1024)) MiB"
fi
