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
# and reclaimable) by bench/memsplit. add-target is measured with the
# binary as go build writes it and as installed by cp (or a package
# manager): the kernel maps the page cache of a file written through mmap,
# as the linker writes it, in larger folios (56 MiB mapped instead of 36
# on Linux 6.18, ext4; docs/deployment.md section 7). Then
#   3. add-target under a hard memory limit of LIMIT_MIB (64) MiB with the
#      binary's page cache charged too (bench/memlimit.sh; skipped where no
#      memory cgroup is writable), RUNS runs in one cgroup;
#   4. with S3=1, add-target against versitygw (an S3 server over a local
#      directory) on loopback serving the same repository, RUNS times.
#
#   MODELS=1000 VERSIONS=100 RUNS=3 [LIMIT_MIB=64] [S3=1] bench/scale.sh
#
# Needs go and GNU time (/usr/bin/time; apt-get install time) for genrepo;
# with S3=1, versitygw (.ci/install-test-deps.sh), curl and python3.
set -euo pipefail

MODELS=${MODELS:-1000}
VERSIONS=${VERSIONS:-100}
RUNS=${RUNS:-3}
LIMIT_MIB=${LIMIT_MIB:-64}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/mrepo-scale.XXXXXX")
gw_pid=""
cleanup() {
	if [ -n "$gw_pid" ]; then
		kill "$gw_pid" 2>/dev/null || true
		wait "$gw_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # so that the EXIT trap stops versitygw then too
. "$top/bench/versitygw.sh"
command -v /usr/bin/time >/dev/null || { echo "bench: GNU time (/usr/bin/time) is required" >&2; exit 1; }

echo "==> building mrepo, genrepo and memsplit"
(cd "$top" && go build -o "$work/mrepo" ./cmd/mrepo && go build -o "$work/genrepo" ./bench/genrepo && go build -o "$work/memsplit" ./bench/memsplit)
cp "$work/mrepo" "$work/mrepo-cp"
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
echo 0 >"$work/n"
# bundle: the next version of model-0042 (2.N.0), with a new payload.
bundle() {
	local n=$(($(cat "$work/n") + 1))
	echo "$n" >"$work/n"
	printf '{"model_id": "model-0042", "version": "2.%d.0"}\n' "$n" >"$work/bundle/manifest.json"
	head -c 65536 /dev/urandom >"$work/bundle/model.bin"
}
for i in $(seq 1 "$RUNS"); do
	bundle
	sync
	measure "add-target run $i" "$work/mrepo" add-target --repo "$repo" --keys "$work/g/keys" "$work/bundle"
	bundle
	sync
	measure "add-target run $i (binary copied by cp)" "$work/mrepo-cp" add-target --repo "$repo" --keys "$work/g/keys" "$work/bundle"
done

# The strict runs: each publishes the next version with the copy of the
# binary that memlimit.sh made inside the cgroup ($MEMLIMIT_BIN).
{
	echo '#!/bin/sh'
	echo "n=\$((\$(cat '$work/n') + 1)); echo \$n >'$work/n'"
	echo "printf '{\"model_id\": \"model-0042\", \"version\": \"2.%d.0\"}\\n' \$n >'$work/bundle/manifest.json'"
	echo "exec \"\$MEMLIMIT_BIN\" add-target --repo '$repo' --keys '$work/g/keys' '$work/bundle' >/dev/null"
} >"$work/next.sh"
chmod +x "$work/next.sh"
echo "==> add-target under a hard memory limit of $LIMIT_MIB MiB, the binary's page cache charged (bench/memlimit.sh)"
MEMLIMIT_RUNS=$RUNS "$top/bench/memlimit.sh" "$LIMIT_MIB" "$work/mrepo" "$work/next.sh" || echo "memlimit: a run failed (status $?)"

measure "verify" "$work/mrepo" verify --repo "$repo" --root "$repo/metadata/1.root.json"
tail -c 300 "$work/out" | sed 's/.*; /verify: /'
measure "verify --since $since (after $((3 * RUNS)) publications)" "$work/mrepo" verify --repo "$repo" --root "$repo/metadata/1.root.json" --since "$since"

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

[ "${S3:-}" = 1 ] || exit 0
echo "==> add-target against versitygw serving the same repository"
# The repository directory becomes the bucket "repo". versitygw's posix
# backend keeps an object's ETag (its MD5) in the user.etag attribute,
# which files it did not write lack: set it, as uploading the 200,000
# objects would.
mkdir "$work/s3"
mv "$repo" "$work/s3/repo"
python3 - "$work/s3/repo" <<'PY'
import hashlib, os, sys
for d, _, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(d, f)
        with open(p, 'rb') as fh:
            os.setxattr(p, 'user.etag', ('"%s"' % hashlib.md5(fh.read()).hexdigest()).encode())
PY
start_versitygw "$work/s3" repo
for i in $(seq 1 "$RUNS"); do
	bundle
	measure "add-target --repo s3:// run $i (binary copied by cp)" "$work/mrepo-cp" add-target --repo "$url" --keys "$work/g/keys" "$work/bundle"
done
