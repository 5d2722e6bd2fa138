#!/usr/bin/env bash
# bench/scale.sh: publishing and verifying at catalog scale (issue 16).
# Generates a repository of MODELS x VERSIONS versions in hash bins
# (bench/genrepo: a manifest and one small payload each, so 2 targets per
# version plus a version index per model), then measures
#   1. mrepo add-target of one more version of one model (RUNS times),
#   2. mrepo verify of the whole repository, and mrepo verify --since the
#      snapshot before those publications (incremental verify),
# each with its wall time and peak RSS, split into anonymous memory (what
# mrepo allocated) and file-backed pages (the mapped binary: clean, shared
# and reclaimable) by bench/memsplit.
#
#   MODELS=1000 VERSIONS=100 RUNS=3 bench/scale.sh
#
# Needs go and GNU time (/usr/bin/time; apt-get install time) for genrepo.
set -euo pipefail

MODELS=${MODELS:-1000}
VERSIONS=${VERSIONS:-100}
RUNS=${RUNS:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/mrepo-scale.XXXXXX")
trap 'rm -rf "$work"' EXIT
command -v /usr/bin/time >/dev/null || { echo "bench: GNU time (/usr/bin/time) is required" >&2; exit 1; }

echo "==> building mrepo, genrepo and memsplit"
(cd "$top" && go build -o "$work/mrepo" ./cmd/mrepo && go build -o "$work/genrepo" ./bench/genrepo && go build -o "$work/memsplit" ./bench/memsplit)
export MREPO_PASSPHRASE=bench-only-passphrase

echo "==> generating ${MODELS} models x ${VERSIONS} versions"
/usr/bin/time -f "genrepo: %e s, %M KiB max RSS" "$work/genrepo" -dir "$work/g" -models "$MODELS" -versions "$VERSIONS"
repo=$work/g/repo
du -sh "$repo/metadata" | sed 's/^/metadata: /'
ls "$repo/metadata" | grep -c '\.bins-' | sed 's/^/bin files: /'
wc -c <"$(ls -v "$repo"/metadata/*.snapshot.json | tail -1)" | sed 's/^/snapshot bytes: /'
sync

measure() { # name, command...: prints "name: seconds s, KiB max RSS (anonymous + file-backed)"
	local name=$1; shift
	"$work/memsplit" -o "$work/mem.out" -- "$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
	read -r _ t _ m _ anon _ file _ <"$work/mem.out"
	echo "$name: $t s, $m KiB max RSS (at the peak: $anon KiB anonymous + $file KiB file-backed)"
}

since=$(ls -v "$repo"/metadata/*.snapshot.json | tail -1 | sed 's|.*/||; s|\..*||')
mkdir -p "$work/bundle"
for i in $(seq 1 "$RUNS"); do
	printf '{"model_id": "model-0042", "version": "2.%d.0"}\n' "$i" >"$work/bundle/manifest.json"
	head -c 65536 /dev/urandom >"$work/bundle/model.bin"
	sync
	measure "add-target run $i" "$work/mrepo" add-target --repo "$repo" --keys "$work/g/keys" "$work/bundle"
done
measure "verify" "$work/mrepo" verify --repo "$repo" --root "$repo/metadata/1.root.json"
tail -c 300 "$work/out" | sed 's/.*; /verify: /'
measure "verify --since $since (after $RUNS publications)" "$work/mrepo" verify --repo "$repo" --root "$repo/metadata/1.root.json" --since "$since"

# ---- Writers other than add-target, on one model (issue 16: lazy hash bins) ----
# mrepo rollout set, rollout halt, revoke, unrevoke, policy set and policy
# clear of WRITER_MODEL, and mrepo targets --role of one bin, each with its
# wall time, CPU time (user + system, bench/memsplit's sampling included)
# and peak RSS. With BEFORE=REF (a git ref of this repository, e.g.
# BEFORE=main), mrepo built from REF runs the same commands first, on the
# same repository. WRITERS=0 skips this block.
if [ "${WRITERS:-1}" != 0 ]; then
	WRITER_MODEL=${WRITER_MODEL:-model-0042@1.50.0}
	onebin=$(ls "$repo/metadata" | grep -m1 '\.bins-' | sed 's/^[0-9]*\.//; s/\.json$//')
	measure_cpu() { # name, command...: measure, with the CPU time
		local name=$1; shift
		/usr/bin/time -o "$work/cpu" -f "%U %S" "$work/memsplit" -o "$work/mem.out" -- "$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
		read -r _ t _ m _ anon _ file _ <"$work/mem.out"
		read -r u s <"$work/cpu"
		echo "$name: $t s, CPU $u s user + $s s system, $m KiB max RSS (at the peak: $anon KiB anonymous + $file KiB file-backed)"
	}
	writers() { # label, mrepo binary
		local label=$1 bin=$2
		local k=(--repo "$repo" --keys "$work/g/keys")
		measure_cpu "$label rollout set" "$bin" rollout set "${k[@]}" --percent 10 "$WRITER_MODEL"
		measure_cpu "$label rollout halt" "$bin" rollout halt "${k[@]}" --reason bench "$WRITER_MODEL"
		measure_cpu "$label revoke" "$bin" revoke "${k[@]}" --reason bench "$WRITER_MODEL"
		measure_cpu "$label unrevoke" "$bin" unrevoke "${k[@]}" "$WRITER_MODEL"
		measure_cpu "$label policy set" "$bin" policy set "${k[@]}" --min-battery 30 "$WRITER_MODEL"
		measure_cpu "$label policy clear" "$bin" policy clear "${k[@]}" "$WRITER_MODEL"
		measure_cpu "$label targets --role $onebin" "$bin" targets "${k[@]}" --role "$onebin"
	}
	if [ -n "${BEFORE:-}" ]; then
		echo "==> building mrepo from $BEFORE"
		mkdir -p "$work/before"
		git -C "$top" archive "$BEFORE" | tar -x -C "$work/before"
		(cd "$work/before" && go build -o "$work/mrepo-before" ./cmd/mrepo)
		writers "$BEFORE:" "$work/mrepo-before"
	fi
	writers "this tree:" "$work/mrepo"
fi
