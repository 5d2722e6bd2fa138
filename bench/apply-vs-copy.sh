#!/usr/bin/env bash
# Apply time against a file copy, the goal of issue 17 for pairs of
# 64 MiB and more: "apply within 1.5x of a file copy". For each pair it
# applies our patch as the device does (bench/deltaapply: direct I/O
# output, fsync) and copies the new file (`cp new out && sync`), RUNS
# times each, alternating apply and copy so that a change in the
# machine's load hits both alike, and prints the medians, their ratio,
# apply's median CPU time (user+sys) and largest peak RSS, and the load
# average before and after. Each run starts after a `sync`, and wall
# times are taken to the microsecond (see timed below).
#
#	bench/apply-vs-copy.sh                      # all pairs below
#	bench/apply-vs-copy.sh isnet finetune       # some of them
#
# Pairs: isnet (the real 88 MB isnet-quint8-fp16 pair, from REAL_DIR:
# old.onnx and new.onnx, as bench/delta-real.sh fetches them) and the
# generated tail, finetune, int8-insert and head (bench/genpair, SIZE_MIB
# MiB, SEED). Environment:
#
#	RUNS=9            applies and copies per pair (at least 7 for a result)
#	SIZE_MIB=64       old-file size of the generated pairs
#	SEED=1
#	REAL_DIR=/work/corpus/isnet-quint8-fp16
#	WORK=/var/tmp/apply-vs-copy   pairs and patches, kept between runs
#	                  (patches are named by the tree of delta/, so a
#	                  change to the format makes new ones)
#	APPLY_BIN=        a deltaapply binary to measure instead of building
#	                  this tree's (to compare two builds on the same
#	                  patches)
#	MREPO=            an mrepo binary to make the patches with instead of
#	                  building this tree's
#	BEFORE_BIN=       a second deltaapply binary (an older build), run in
#	                  the same alternation (apply, before, copy): its
#	                  median, ratio and CPU are printed too
set -euo pipefail

RUNS=${RUNS:-9}
SIZE_MIB=${SIZE_MIB:-64}
SEED=${SEED:-1}
REAL_DIR=${REAL_DIR:-/work/corpus/isnet-quint8-fp16}
WORK=${WORK:-/var/tmp/apply-vs-copy}
top=$(cd "$(dirname "$0")/.." && pwd)
pairs=("$@")
[ ${#pairs[@]} -gt 0 ] || pairs=(isnet tail finetune int8-insert head)

for tool in go cp sync awk sort /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "apply-vs-copy: $tool is required" >&2; exit 1; }
done
mkdir -p "$WORK"
tag=$(cd "$top" && git rev-parse --short HEAD:delta 2>/dev/null || echo untracked)
apply_bin=${APPLY_BIN:-$WORK/deltaapply}
if [ -z "${APPLY_BIN:-}" ]; then
	(cd "$top" && go build -o "$apply_bin" ./bench/deltaapply)
fi
mrepo=${MREPO:-}
make_mrepo() {
	if [ -z "$mrepo" ]; then
		mrepo=$WORK/mrepo
		echo "==> building mrepo (to make the patches)"
		(cd "$top" && go build -o "$mrepo" ./cmd/mrepo)
	fi
}

# timed FILE COMMAND...: runs COMMAND after a sync (so that it writes
# back only its own data, not what the run before it left dirty) and
# appends "wall user sys maxrss-KiB" to FILE. The wall time is bash's
# EPOCHREALTIME around /usr/bin/time (microseconds; /usr/bin/time's own
# %e has 10 ms steps, too coarse for runs of 50-100 ms); /usr/bin/time
# gives the CPU times and the peak RSS.
timed() {
	local file=$1 s e rest
	shift
	sync
	s=$EPOCHREALTIME
	/usr/bin/time -f "%U %S %M" -o "$file.last" "$@"
	e=$EPOCHREALTIME
	rest=$(cat "$file.last")
	rm -f "$file.last"
	echo "$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.4f", e - s }') $rest" >>"$file"
}

# median: the middle of the numbers on stdin (the lower middle for an
# even count).
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "==> bench/apply-vs-copy.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores: RUNS=$RUNS SIZE_MIB=$SIZE_MIB SEED=$SEED apply=$apply_bin patches of delta tree $tag"
echo "    load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
before=${BEFORE_BIN:-}
printf '%-12s %7s %8s %8s %6s %9s %8s' pair "new MB" "apply s" "copy s" ratio "apply CPU" "RSS MiB"
[ -z "$before" ] || printf ' %9s %7s %9s %8s' "before s" ratio "CPU" "RSS MiB"
echo
for pair in "${pairs[@]}"; do
	dir=$WORK/$pair
	mkdir -p "$dir"
	if [ "$pair" = isnet ]; then
		old=$REAL_DIR/old.onnx new=$REAL_DIR/new.onnx
		if [ ! -f "$old" ] || [ ! -f "$new" ]; then
			echo "apply-vs-copy: no $REAL_DIR/old.onnx and new.onnx (bench/delta-real.sh fetches the pair)" >&2
			exit 1
		fi
	else
		old=$dir/old-$SIZE_MIB-$SEED new=$dir/new-$SIZE_MIB-$SEED
		if [ ! -f "$new" ]; then
			(cd "$top" && go run ./bench/genpair -pair "$pair" -size "${SIZE_MIB}MiB" -seed "$SEED" "$old" "$new" 2>/dev/null)
		fi
	fi
	patch=$dir/patch-${SIZE_MIB}-$SEED-$tag
	if [ ! -f "$patch" ]; then
		make_mrepo
		"$mrepo" delta create "$old" "$new" "$patch" >/dev/null 2>&1
	fi
	out=$dir/out
	: >"$dir/apply.times"
	: >"$dir/copy.times"
	: >"$dir/before.times"
	for _ in $(seq "$RUNS"); do
		rm -f "$out"
		timed "$dir/apply.times" "$apply_bin" "$old" "$patch" "$out"
		cmp -s "$out" "$new" || { echo "apply-vs-copy: $pair: the applied file differs from the new one" >&2; exit 1; }
		if [ -n "$before" ]; then
			rm -f "$out"
			timed "$dir/before.times" "$before" "$old" "$patch" "$out"
		fi
		rm -f "$out"
		# shellcheck disable=SC2016 # the inner shell expands $1 and $2
		timed "$dir/copy.times" sh -c 'cp "$1" "$2" && sync' sh "$new" "$out"
	done
	rm -f "$out"
	c=$(awk '{ print $1 }' "$dir/copy.times" | median)
	# summary FILE: median wall, ratio to the copy, median CPU, largest RSS.
	summary() {
		local a cpu
		a=$(awk '{ print $1 }' "$1" | median)
		cpu=$(awk '{ print $2 + $3 }' "$1" | median)
		awk -v a="$a" -v c="$c" -v cpu="$cpu" '{ if ($4 > m) m = $4 } END { printf "%.3f %s %.2f %.1f\n", a, (c > 0 ? sprintf("%.2f", a / c) : "-"), cpu, m / 1024 }' "$1"
	}
	c=$(printf '%.3f' "$c")
	read -r a ratio cpu rss < <(summary "$dir/apply.times")
	printf '%-12s %7.1f %8s %8s %6s %9s %8s' "$pair" "$(awk -v n="$(stat -c %s "$new")" 'BEGIN { print n / 1e6 }')" "$a" "$c" "$ratio" "$cpu" "$rss"
	if [ -n "$before" ]; then
		read -r a ratio cpu rss < <(summary "$dir/before.times")
		printf ' %9s %7s %9s %8s' "$a" "$ratio" "$cpu" "$rss"
	fi
	echo
done
echo "    load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "    (medians of $RUNS alternating runs; apply CPU is user+sys; goal: ratio <= 1.5)"
