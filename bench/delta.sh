#!/usr/bin/env bash
# bench/delta.sh: delta patches between two versions of a model file with
# `mrepo delta create` / `mrepo delta apply`, measured side by side, in one
# run, with the reference tools bsdiff/bspatch 4.3, xdelta3 and
# zstd --patch-from, on deterministic model-like pairs from
# internal/modelpairs (bench/genpair):
#
#   bench/delta.sh                                    # 64 MiB pairs, all tools
#   SIZE_MIB=4 TOOLS="bsdiff xdelta3 zstd" bench/delta.sh
#   PAIRS= APPLY_SIZES_MIB="64 256 1024" bench/delta.sh   # apply memory flatness only
#   PAIRS= BIG_GIB=4 bench/delta.sh                   # a 4 GiB pair, ours only
#   REFERENCE="bench/results/delta-2026-11-26-readahead.txt bench/results/delta-2026-12-05-hdiffpatch.tsv" bench/delta.sh
#                                                     # ours only, the others from those runs
#
# Per pair (PAIRS, default "tail finetune int8-insert head"; pairs are
# described by `go run ./bench/genpair -list`) of SIZE_MIB MiB (default
# 64), each tool of TOOLS (default "ours bsdiff xdelta3 zstd") diffs old
# to new and applies the patch to old, and the output is compared with
# new (cmp). Prints patch size, its share of the new file, wall time and
# peak RSS of diff and apply, and the floor for apply: `cp new out && sync`.
# Every diff and apply is followed by `sync` of the file it wrote, as mrepo
# fsyncs what it writes. Applies and the cp floor run APPLY_RUNS times
# (default 5), each into a fresh file; the median time is shown, with the
# largest peak RSS: single runs of a 0.1 s job vary by 2x on this disk.
# Ends with ours against the smallest reference patch and against
# bsdiff's diff time, next to issue 17's targets, and those as a markdown
# table for docs/delta.md.
#
# The reference tools' results do not change with our code: REFERENCE
# names earlier runs (their printed output, or tables written with
# RESULTS_TSV=FILE; several, space-separated, a later file's rows
# replacing an earlier's) whose results are used for the tools not run
# now; TOOLS then defaults to ours. Each pair must have the size, seed and
# file lengths of the reference's. RESULTS_TSV=FILE writes this run's
# results, with those taken from REFERENCE, as a table
# (bench/delta-tools.sh).
#
# The reference tools run as
#   bsdiff OLD NEW PATCH                      bspatch OLD OUT PATCH
#   xdelta3 -9 -S djw -B W -e -f -s OLD NEW PATCH    xdelta3 -d -f -B W -s OLD PATCH OUT
#   zstd -19 --single-thread --long=L --patch-from=OLD NEW -o PATCH
#                                             zstd -d --long=L --patch-from=OLD PATCH -o OUT
#   hdiffz-m, hdiffz-s: HDiffPatch's hdiffz -m-6 and -s-64 (-p-1), each
#             with every compressor of HDIFF_COMPRESSORS (default "lzma2-9
#             zstd-21"), the smallest patch kept; applied with hpatchz.
#             HDIFFZ and HPATCHZ name the binaries; else the build of
#             bench/delta-real.sh in CORPUS_CACHE, or hdiffz on PATH.
#   zstd-new: zstd -19 --long of the new file alone (a full download)
# with W and L covering the files (xdelta3's source window, zstd's window
# log); -S djw and --single-thread give their smallest patches on these
# pairs. Each reference tool runs under a timeout (BSDIFF_TIMEOUT, default
# 1200 s: bsdiff takes many minutes on some 64 MiB pairs; OTHER_TIMEOUT,
# default 600 s, for the others and ours) and shows "timeout" when it hits
# it. Missing tools are installed with apt-get (through sudo when not
# root); a tool that cannot be installed is skipped with a message.
#
# APPLY_SIZES_MIB="64 256 1024": for each size, ours on the tail pair:
# create, then apply next to `cp new out && sync`, to show apply memory
# flat whatever the file size. BIG_GIB=4: a BIG_GIB GiB tail pair, ours
# only (diff in bounded memory, apply); needs 5 x BIG_GIB GiB free, and
# is skipped with less than 20 GiB free. SEED (default 1) seeds the pairs;
# OURS_DIFF_ARGS adds options to `mrepo delta create`. APPLY_TOOL=
# deltaapply applies our patches with bench/deltaapply (as the device
# client does) instead of `mrepo delta apply`, so that apply's peak RSS
# is delta.Apply's, not mrepo's 95 MB binary's. Files go to a
# temporary directory under ${BENCH_TMP:-/var/tmp}. Needs go, cmp,
# timeout and GNU time (/usr/bin/time; apt-get install time).
set -euo pipefail

PAIRS=${PAIRS-"tail finetune int8-insert head"}
SIZE_MIB=${SIZE_MIB:-64}
REFERENCE=${REFERENCE:-}
RESULTS_TSV=${RESULTS_TSV:-}
if [ -n "$REFERENCE" ]; then TOOLS=${TOOLS:-ours}; fi
TOOLS=${TOOLS:-"ours bsdiff xdelta3 zstd"}
APPLY_TOOL=${APPLY_TOOL:-mrepo}
SEED=${SEED:-1}
BSDIFF_TIMEOUT=${BSDIFF_TIMEOUT:-1200}
OTHER_TIMEOUT=${OTHER_TIMEOUT:-600}
APPLY_SIZES_MIB=${APPLY_SIZES_MIB:-}
BIG_GIB=${BIG_GIB:-}
APPLY_RUNS=${APPLY_RUNS:-5}
OURS_DIFF_ARGS=${OURS_DIFF_ARGS:-}
HDIFF_COMPRESSORS=${HDIFF_COMPRESSORS:-"lzma2-9 zstd-21"}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/delta-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

for tool in go cmp timeout /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done

# shellcheck source=bench/delta-tools.sh
. "$top/bench/delta-tools.sh"
mrepo=$work/mrepo
OURS_APPLY_ARGS=
# HDiffPatch: HDIFFZ and HPATCHZ, else the build of bench/delta-real.sh
# in CORPUS_CACHE, else hdiffz on PATH.
hdiff_dir=${CORPUS_CACHE:-/var/tmp/edgetuf-corpus}/hdiffpatch/HDiffPatch
hdiffz=${HDIFFZ:-} hpatchz=${HPATCHZ:-}
if [ -z "$hdiffz" ] && [ -x "$hdiff_dir/hdiffz" ]; then hdiffz=$hdiff_dir/hdiffz hpatchz=$hdiff_dir/hpatchz; fi
if [ -z "$hdiffz" ] && command -v hdiffz >/dev/null; then hdiffz=$(command -v hdiffz) hpatchz=$(command -v hpatchz || true); fi
listed=()
for t in $TOOLS; do
	case $t in
	ours | hdiffz-m | hdiffz-s) ;;
	bsdiff | xdelta3 | zstd) listed+=("$t") ;;
	zstd-new) listed+=(zstd) ;;
	*) echo "bench: unknown tool $t (tools: ours bsdiff xdelta3 zstd hdiffz-m hdiffz-s zstd-new)" >&2; exit 1 ;;
	esac
done
install_tools "${listed[@]}"
tools=()
for t in $TOOLS; do
	case $t in
	ours) tools+=(ours) ;;
	hdiffz-*) if [ -n "$hdiffz" ] && [ -x "$hdiffz" ] && [ -x "$hpatchz" ]; then tools+=("$t"); else echo "bench: no HDiffPatch (set HDIFFZ and HPATCHZ, or build it with bench/delta-real.sh): SKIPPING $t"; fi ;;
	zstd-new) have zstd && tools+=("$t") ;;
	*) have "$t" && tools+=("$t") ;;
	esac
done

# Results of the pair runs, by "pair tool"; with REFERENCE, the other
# tools' from an earlier run (bench/delta-tools.sh, load_reference).
declare -A r_bytes r_pct r_ds r_dcpu r_dm r_as r_acpu r_am r_check r_note
declare -A floor_s oldlen newlen ref_old ref_new ref_variant
ref_tools=()
[ -n "$REFERENCE" ] && load_reference "$REFERENCE" "${tools[@]}"
# check_reference PAIR: the reference's PAIR must be this run's (size,
# seed and file lengths).
check_reference() {
	local pair=$1
	[ -n "$REFERENCE" ] || return 0
	if [ -z "${ref_new[$pair]:-}" ]; then
		echo "    (no results of ${ref_tools[*]} for $pair in $REFERENCE)"
		return 0
	fi
	[ "${ref_variant[$pair]}/${ref_old[$pair]}/${ref_new[$pair]}" = "${SIZE_MIB} MiB, seed $SEED/${oldlen[$pair]}/${newlen[$pair]}" ] || {
		echo "bench: $REFERENCE: $pair was ${ref_variant[$pair]}, ${ref_old[$pair]} -> ${ref_new[$pair]} bytes there, ${SIZE_MIB} MiB, seed $SEED, ${oldlen[$pair]} -> ${newlen[$pair]} bytes here: not the same pair" >&2
		exit 1
	}
	echo "    ${ref_tools[*]}: from $REFERENCE"
}

echo "==> bench/delta.sh, $(date -u '+%Y-%m-%d %H:%M UTC'): PAIRS=\"$PAIRS\" SIZE_MIB=$SIZE_MIB TOOLS=\"$TOOLS\" SEED=$SEED${REFERENCE:+ REFERENCE=$REFERENCE} APPLY_SIZES_MIB=\"$APPLY_SIZES_MIB\" BIG_GIB=$BIG_GIB APPLY_RUNS=$APPLY_RUNS BSDIFF_TIMEOUT=$BSDIFF_TIMEOUT OTHER_TIMEOUT=$OTHER_TIMEOUT${OURS_DIFF_ARGS:+ OURS_DIFF_ARGS=\"$OURS_DIFF_ARGS\"}"
echo "==> building mrepo and genpair"
(cd "$top" && go build -o "$work/mrepo" ./cmd/mrepo && go build -o "$work/genpair" ./bench/genpair)
# ours_apply: the command that applies our patches (APPLY_TOOL).
ours_apply=("$work/mrepo" delta apply)
if [ "$APPLY_TOOL" = deltaapply ]; then
	(cd "$top" && go build -o "$work/deltaapply" ./bench/deltaapply)
	ours_apply=("$work/deltaapply")
fi
"$work/mrepo" delta create --help >/dev/null 2>&1 || echo "bench: this mrepo has no 'delta create': ours will fail"

echo "==> $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(uptime | sed 's/.*load/load/')"
tool_versions "${tools[@]}"
[[ " ${tools[*]} " == *" hdiffz-"* ]] && echo "    HDiffPatch: $("$hpatchz" -v 2>&1 | head -n 1) ($hdiffz), compressors $HDIFF_COMPRESSORS"


fmt_row() { printf '  %-10s %13s %8s %9s %9s %9s %9s  %s\n' "$@"; }
header_row() {
	fmt_row tool "patch bytes" "% new" "diff s" "diff MiB" "apply s" "apply MiB" check
}

size=$((SIZE_MIB * 1024 * 1024))
for pair in $PAIRS; do
	echo
	echo "==> pair $pair, ${SIZE_MIB} MiB, seed $SEED: $("$work/genpair" -list | awk -v p="$pair" '$1 == p {$1 = ""; print substr($0, 2)}')"
	old=$work/$pair.old new=$work/$pair.new patch=$work/patch out=$work/out
	"$work/genpair" -pair "$pair" -size "$size" -seed "$SEED" "$old" "$new"
	newlen[$pair]=$(bytes "$new")
	oldlen[$pair]=$(bytes "$old")
	echo "    old ${oldlen[$pair]} bytes, new ${newlen[$pair]} bytes; $(uptime | sed 's/.*load/load/')"
	check_reference "$pair"
	header_row
	measure_runs "$OTHER_TIMEOUT" "$out" cp "$new" "$out"
	floor_s[$pair]=$m_s
	fmt_row "cp (floor)" - - - - "$m_s" "$m_mib" "cp new out && sync"
	for t in "${tools[@]}"; do
		k="$pair $t"
		rm -f "$patch" "$out"; sync
		# HDiffPatch: each compressor of HDIFF_COMPRESSORS, the smallest patch kept.
		comps=(-)
		[[ $t == hdiffz-* ]] && read -r -a comps <<<"$HDIFF_COMPRESSORS"
		kept=
		for c in "${comps[@]}"; do
			rm -f "$patch.try"; sync
			diff_cmd "$t" "$old" "$new" "$patch.try" "${c#-}"
			measure "$(limit_for "$t")" "$patch.try" "${cmd[@]}"
			[ "$m_rc" -eq 0 ] || { [ -n "$kept" ] || rc=$m_rc ds=$m_s dcpu=$m_cpu dm=$m_mib; continue; }
			if [ -z "$kept" ] || [ "$(bytes "$patch.try")" -lt "$kept" ]; then
				kept=$(bytes "$patch.try") rc=0 ds=$m_s dcpu=$m_cpu dm=$m_mib
				[ "$c" != - ] && r_note[$k]=$c
				mv "$patch.try" "$patch"
			fi
		done
		rm -f "$patch.try"
		m_rc=$rc
		r_ds[$k]=$ds r_dcpu[$k]=$dcpu r_dm[$k]=$dm
		if [ "$m_rc" -ne 0 ]; then
			r_check[$k]="diff $(fail_reason)"
			# A timeout kills the tool but loses its rusage: no peak RSS.
			[ "$m_rc" -eq 124 ] && r_ds[$k]=">$(limit_for "$t")" r_dm[$k]=-
			fmt_row "$t" - - "${r_ds[$k]}" "${r_dm[$k]}" - - "${r_check[$k]}"
			continue
		fi
		r_bytes[$k]=$(bytes "$patch")
		r_pct[$k]=$(percent "${r_bytes[$k]}" "${newlen[$pair]}")
		apply_cmd "$t" "$old" "$new" "$patch" "$out"
		[ "$t" = ours ] && cmd=("${ours_apply[@]}" "$old" "$patch" "$out")
		apply_and_check "$k" "$new" "$out" "$(limit_for "$t")" "${cmd[@]}"
		fmt_row "$t" "${r_bytes[$k]}" "${r_pct[$k]}" "${r_ds[$k]}" "${r_dm[$k]}" "${r_as[$k]}" "${r_am[$k]}" "${r_check[$k]}${r_note[$k]:+ (${r_note[$k]} ${r_bytes[$k]})}"
	done
	rm -f "$old" "$new" "$patch" "$out"
done

# Ours against the targets (issue 17; docs/delta.md section 7): patch at
# most 0.95x the smallest reference patch (of the tools run and those of
# REFERENCE), the fine-tune pair at most 50% of the file, diff at least 5x
# faster than bsdiff, diff memory at most 8x the old file (160 MiB under
# 20 MiB), apply under 32 MiB and, at 64 MiB or more, within 1.5x of
# copying the output. With REFERENCE, bsdiff's diff time is the
# reference run's: a ratio of wall times taken at different loads.
if [ -n "$PAIRS" ] && [[ " ${tools[*]} " == *" ours "* ]]; then
	references=()
	for t in bsdiff xdelta3 zstd hdiffz-m hdiffz-s zstd-new; do [[ " ${tools[*]} ${ref_tools[*]} " == *" $t "* ]] && references+=("$t"); done
	echo
	echo "==> ours against the references (${references[*]}) and the targets (${SIZE_MIB} MiB pairs)"
	for pair in $PAIRS; do
		k="$pair ours"
		if [ -z "${r_bytes[$k]:-}" ] || [ "${r_check[$k]}" != ok ]; then
			echo "  $pair: ours ${r_check[$k]:-did not run}"
			continue
		fi
		best_general "$pair" "${references[@]}"
		judge_ours "$pair" "${oldlen[$pair]}" "${newlen[$pair]}" "${floor_s[$pair]}"
		line="  $pair: patch ${r_bytes[$k]} bytes (${r_pct[$k]}% of new)"
		if [ -n "${best_bytes[$pair]}" ]; then
			line+=", smallest reference ${best_bytes[$pair]} (${best_tool[$pair]}): ours/ref $(ratio "${r_bytes[$k]}" "${best_bytes[$pair]}") [target <= 0.95: ${g_size[$pair]}]"
		else
			line+=", no reference patch to compare with"
		fi
		[ "$pair" = finetune ] && line+=" [target <= 50%: $(met_word "${r_pct[$k]} <= 50")]"
		echo "$line"
		bs=${r_ds["$pair bsdiff"]:-}
		if [ -n "$bs" ]; then
			if [[ $bs == ">"* ]]; then
				echo "      diff ${r_ds[$k]} s, bsdiff timed out after ${bs#>} s: ours > $(awk -v o="${r_ds[$k]}" -v b="${bs#>}" 'BEGIN {printf "%.0fx", b / (o > 0 ? o : 0.01)}') faster [target >= 5x: met]"
			elif [ -n "${r_bytes["$pair bsdiff"]:-}" ]; then
				echo "      diff ${r_ds[$k]} s vs bsdiff $bs s: $(awk -v o="${r_ds[$k]}" -v b="$bs" 'BEGIN {printf "%.1fx", b / (o > 0 ? o : 0.01)}') faster [target >= 5x: $(met_word "$bs >= 5 * ${r_ds[$k]}")]"
			fi
		fi
		echo "      diff peak ${r_dm[$k]} MiB = $(x_old "${r_dm[$k]}" "${oldlen[$pair]}") the old file [target <= $((mem_budget[$pair] >> 20)) MiB: ${g_mem[$pair]}]; apply peak ${r_am[$k]} MiB [target < 32: ${g_apply[$pair]}], apply ${r_as[$k]} s (CPU ${r_acpu[$k]} s) vs cp ${floor_s[$pair]} s: ${apply_ratio[$pair]} [target <= 1.5x at >= 64 MiB: ${g_time[$pair]}]"
	done
	echo
	echo "==> markdown for docs/delta.md section 7: $(date -u '+%Y-%m-%d'), ours at $(cd "$top" && git rev-parse --short HEAD 2>/dev/null || echo unknown), ${SIZE_MIB} MiB pairs${REFERENCE:+, references from $REFERENCE}, applied with ${APPLY_TOOL:-mrepo}"
	echo
	goals_markdown_header
	for pair in $PAIRS; do goals_markdown_row "$pair" "${oldlen[$pair]}" "${floor_s[$pair]}"; done
fi
if [ -n "$RESULTS_TSV" ] && [ -n "$PAIRS" ]; then
	pair_sizes() { printf '%s\t%s\t%s\n' "${SIZE_MIB} MiB, seed $SEED" "${oldlen[$1]}" "${newlen[$1]}"; }
	read -r -a pairs_order <<<"$PAIRS"
	tools_order=(ours bsdiff xdelta3 zstd hdiffz-m hdiffz-s zstd-new)
	write_results "$RESULTS_TSV" pair_sizes
	echo
	echo "==> results table written to $RESULTS_TSV"
fi

# ours_pair LABEL OLD NEW: create, apply, cp floor and check, one row.
ours_row() {
	local label=$1 old=$2 new=$3 patch=$work/patch out=$work/out
	local ds dm as am cs check pb
	rm -f "$patch" "$out"; sync
	# shellcheck disable=SC2086 # OURS_DIFF_ARGS is a word list
	measure "$OTHER_TIMEOUT" "$patch" "$work/mrepo" delta create $OURS_DIFF_ARGS "$old" "$new" "$patch"
	ds=$m_s dm=$m_mib
	o_dm=$dm o_am=
	if [ "$m_rc" -ne 0 ]; then
		printf '  %-9s diff %s\n' "$label" "$(fail_reason)"
		return 0
	fi
	pb=$(bytes "$patch")
	sync
	measure_runs "$OTHER_TIMEOUT" "$out" "${ours_apply[@]}" "$old" "$patch" "$out"
	as=$m_s am=$m_mib o_am=$am
	if [ "$m_rc" -ne 0 ]; then check="apply $(fail_reason)"; elif cmp -s "$out" "$new"; then check=ok; else check=MISMATCH; fi
	measure_runs "$OTHER_TIMEOUT" "$out" cp "$new" "$out"
	cs=$m_s
	rm -f "$out"
	printf '  %-9s %12s %9s %9s %9s %9s %9s %8s  %s\n' "$label" "$pb" "$ds" "$dm" "$as" "$am" "$cs" \
		"$(awk -v a="$as" -v c="$cs" 'BEGIN {printf "%.2fx", a / (c > 0 ? c : 0.01)}')" "$check"
}
ours_header() {
	printf '  %-9s %12s %9s %9s %9s %9s %9s %8s  %s\n' size "patch bytes" "diff s" "diff MiB" "apply s" "apply MiB" "cp s" "apply/cp" check
}

if [ -n "$APPLY_SIZES_MIB" ]; then
	echo
	echo "==> apply memory against file size: ours on the tail pair at $APPLY_SIZES_MIB MiB (cp s: cp new out && sync)"
	ours_header
	peaks=()
	for mib in $APPLY_SIZES_MIB; do
		"$work/genpair" -pair tail -size $((mib * 1024 * 1024)) -seed "$SEED" "$work/a.old" "$work/a.new"
		ours_row "${mib} MiB" "$work/a.old" "$work/a.new"
		[ -n "$o_am" ] && peaks+=("$o_am")
		rm -f "$work/a.old" "$work/a.new"
	done
	if [ ${#peaks[@]} -gt 0 ]; then
		printf '%s\n' "${peaks[@]}" | sort -g | awk '{a[NR] = $1} END {printf "  apply peak RSS from %s to %s MiB [target < 32 MiB at every size: %s]\n", a[1], a[NR], a[NR] < 32 ? "ok" : "MISSED"}'
	fi
fi

if [ -n "$BIG_GIB" ]; then
	echo
	echo "==> a ${BIG_GIB} GiB tail pair, ours only (target: diff peak under 2048 MiB, apply under 32 MiB)"
	free_gib=$(df -P -k "$work" | awk 'NR == 2 {printf "%d", $4 / 1048576}')
	need=$((5 * BIG_GIB))
	[ "$need" -lt 20 ] && need=20
	if [ "$free_gib" -lt "$need" ]; then
		echo "  SKIPPED: ${free_gib} GiB free under $work, needs ${need} GiB"
	else
		echo "  ${free_gib} GiB free; generating (streamed to disk)"
		"$work/genpair" -pair tail -size "${BIG_GIB}GiB" -seed "$SEED" "$work/b.old" "$work/b.new"
		ours_header
		ours_row "${BIG_GIB} GiB" "$work/b.old" "$work/b.new"
		echo "  diff peak ${o_dm} MiB [target < 2048 MiB: $(verdict "${o_dm} < 2048")]; apply peak ${o_am:--} MiB [target < 32 MiB: $(verdict "0${o_am} > 0 && 0${o_am} < 32")]"
		rm -f "$work/b.old" "$work/b.new"
	fi
fi
