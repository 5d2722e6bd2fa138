#!/usr/bin/env bash
# bench/delta-real.sh: `mrepo delta` against the general delta tools on
# real model pairs: consecutive published versions of the same model,
# downloaded from the npm registry by exact version (the corpus list
# bench/delta-corpus.tsv), each checked against its SHA-256.
#
#   bench/delta-real.sh                        # every pair, every tool
#   PAIRS="pose-bundle silero-v5-v6" TOOLS="ours zstd hdiffz-m" bench/delta-real.sh
#   FETCH_ONLY=1 bench/delta-real.sh           # download and check the pairs only
#   REFERENCE=bench/results/delta-real-2026-12-05-baseline.txt bench/delta-real.sh
#                                              # ours only, the others from that run
#   HDIFFPATCH_SRC=~/src/HDiffPatch bench/delta-real.sh
#
# The corpus. Each row of CORPUS (default bench/delta-corpus.tsv) names a
# pair: the npm package, the old and the new version, the file's path in
# each package tarball and its SHA-256, the SHA-256 of each tarball, the
# TF.js manifest (model.json) paths when the pair has them, and what
# changed. A path of the form `DIR/resources.json#KEY` is a file that
# the package ships cut in chunks (@imgly/background-removal-data): the
# chunks that resources.json lists under KEY, concatenated. Tarballs are
# fetched with `npm pack NAME@VERSION` into ${CORPUS_CACHE:-/var/tmp/
# edgetuf-corpus}/npm and the pair files extracted to CORPUS_CACHE/pairs/
# NAME/{old,new}.EXT (with old.model.json and new.model.json for TF.js).
# A tarball or a file whose SHA-256 differs from the list's stops the
# script with a one-line reason; with a warm cache no network is needed.
# Needs npm (and its node), cmp, timeout, GNU time (apt-get install time)
# and go.
#
# The tools (TOOLS, default all, in this order; bsdiff runs last, over
# every pair, as it takes minutes on the larger ones):
#   ours      mrepo delta create --json [MANIFEST] OLD NEW PATCH, built from
#             this tree; apply: mrepo delta apply $OURS_APPLY_ARGS
#             (default --max-patch-ratio 2, so that a patch larger than
#             the file is still measured). MANIFEST: for pairs with
#             TF.js manifests, MREPO_MANIFEST_FLAGS with {old} and {new}
#             replaced by the manifest paths (e.g. "--old-manifest {old}
#             --new-manifest {new}"); unset, those two flags are passed
#             if `mrepo delta create --help` lists them, else none.
#   xdelta3   xdelta3 -9 -S djw, source window covering OLD
#   zstd      zstd -19 --long --patch-from, window covering both files
#   hdiffz-m  HDiffPatch hdiffz -m-6, hdiffz-s: hdiffz -s-64; each with
#             every compressor of HDIFF_COMPRESSORS (default "lzma2-9
#             zstd-21"; the dictionary is sized to the new file) and
#             single-threaded (-p-1); the smallest patch is kept.
#             Applied with hpatchz.
#   zstd-new  zstd -19 --long of the new file alone (a full download)
#   xz-new    xz -9e of the new file alone, for reference only
#   bsdiff    bsdiff 4.3 / bspatch
# Missing Debian tools are installed with apt-get (bench/delta-tools.sh).
# HDiffPatch is built from source for the benchmark (never committed):
# HDIFFZ and HPATCHZ name built binaries; else HDIFFPATCH_SRC names a
# source tree of https://github.com/sisong/HDiffPatch, with the lzma SDK
# of https://github.com/sisong/lzma beside it as ../lzma (or at
# HDIFFPATCH_LZMA_SRC), which its Makefile expects:
#   git clone https://github.com/sisong/HDiffPatch.git
#   git clone https://github.com/sisong/lzma.git
#   HDIFFPATCH_SRC=$PWD/HDiffPatch bench/delta-real.sh
# Both are copied to CORPUS_CACHE/hdiffpatch and built there with the
# system zlib, bzip2 and zstd (zlib1g-dev libbz2-dev libzstd-dev, installed
# with apt-get); delete that directory to rebuild. Without either, hdiffz
# on PATH is used, or HDiffPatch is skipped with a message.
#
# Each diff and apply runs under a timeout (BSDIFF_TIMEOUT, default 1200
# s; OTHER_TIMEOUT, default 600 s) and is followed by `sync` of what it
# wrote; every patch is applied and the output compared with the new file
# (cmp). Applies and the `cp new out && sync` floor run APPLY_RUNS times
# (default 3): median wall and CPU time, largest peak RSS. Per pair: each
# tool's patch size and share of the new file, diff wall and CPU time, peak
# RSS and RSS / old size, apply time and peak RSS, and our patch's record
# statistics. Ends with a summary table and, per pair, the issue's goals:
# ours at most 0.95x the smallest of the general tools (bsdiff, xdelta3,
# zstd, hdiffz-m, hdiffz-s, zstd-new), diff memory at most 8x the old file,
# apply under 32 MiB, and apply within 1.5x of the copy on pairs of 64 MiB
# or more; then the same for docs/delta.md as a markdown table. Scratch
# files go to a temporary directory under ${BENCH_TMP:-/var/tmp}.
#
# The general tools' results do not change with our code: REFERENCE=FILE
# (several, space-separated: a later file's rows replace an earlier's)
# takes them from an earlier run, its printed output or a table written
# with RESULTS_TSV=FILE (bench/delta-tools.sh: one row per pair and tool),
# and TOOLS then defaults to ours. Each pair's old and new sizes must be
# FILE's. The copy floor is measured anew. RESULTS_TSV=FILE writes the
# results of this run, with those taken from REFERENCE, as such a table.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${CORPUS:-$top/bench/delta-corpus.tsv}
CORPUS_CACHE=${CORPUS_CACHE:-/var/tmp/edgetuf-corpus}
PAIRS=${PAIRS:-}
REFERENCE=${REFERENCE:-}
RESULTS_TSV=${RESULTS_TSV:-}
if [ -n "$REFERENCE" ]; then TOOLS=${TOOLS:-ours}; fi
TOOLS=${TOOLS:-"ours xdelta3 zstd hdiffz-m hdiffz-s zstd-new xz-new bsdiff"}
HDIFF_COMPRESSORS=${HDIFF_COMPRESSORS:-"lzma2-9 zstd-21"}
BSDIFF_TIMEOUT=${BSDIFF_TIMEOUT:-1200}
OTHER_TIMEOUT=${OTHER_TIMEOUT:-600}
APPLY_RUNS=${APPLY_RUNS:-3}
OURS_DIFF_ARGS=${OURS_DIFF_ARGS:-}
OURS_APPLY_ARGS=${OURS_APPLY_ARGS:-"--max-patch-ratio 2"}
# APPLY_TOOL=deltaapply applies our patches with bench/deltaapply (as the
# device client does: direct I/O, Limits.MaxOutput) instead of mrepo, so
# that apply's peak RSS is delta.Apply's and not mrepo's 95 MB binary's.
APPLY_TOOL=${APPLY_TOOL:-mrepo}
FETCH_ONLY=${FETCH_ONLY:-}
GENERAL_TOOLS="bsdiff xdelta3 zstd hdiffz-m hdiffz-s zstd-new"
read -r -a general_tools <<<"$GENERAL_TOOLS"

die() { echo "bench: $*" >&2; exit 1; }
for tool in npm node cmp timeout /usr/bin/time sha256sum tar; do
	command -v "$tool" >/dev/null || die "$tool is required"
done
[ -r "$CORPUS" ] || die "no corpus list $CORPUS"
mkdir -p "$CORPUS_CACHE/npm" "$CORPUS_CACHE/pairs"
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/delta-real.XXXXXX")
trap 'rm -rf "$work"' EXIT

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# tarball NAME VERSION SHA256: prints the path of the package tarball in
# the cache, fetching it with npm pack if it is missing; refuses one
# whose SHA-256 is not SHA256.
tarball() {
	local name=$1 version=$2 want=$3 tgz got fetched
	tgz=$CORPUS_CACHE/npm/$(echo "$name" | tr -d @ | tr / -)-$version.tgz
	if [ ! -f "$tgz" ]; then
		mkdir -p "$work/pack"
		fetched=$(cd "$work/pack" && npm pack --silent "$name@$version" 2>"$work/npm.log" | tail -n 1) ||
			die "npm pack $name@$version failed: $(tail -n 1 "$work/npm.log")"
		if [ -z "$fetched" ] || [ ! -f "$work/pack/$fetched" ]; then die "npm pack $name@$version wrote no tarball"; fi
		mv "$work/pack/$fetched" "$tgz"
	fi
	got=$(sha256 "$tgz")
	[ "$got" = "$want" ] || die "$name@$version: the tarball's SHA-256 is $got, the corpus list says $want: refusing it (delete $tgz to fetch it again)"
	echo "$tgz"
}

# extract TGZ PATH OUT SHA256: writes the file at PATH in the tarball
# (DIR/resources.json#KEY: KEY's chunks concatenated) to OUT and checks
# its SHA-256. Keeps OUT when it is there with that SHA-256 already.
extract() {
	local tgz=$1 path=$2 out=$3 want=$4 dir got
	if [ -f "$out" ] && [ "$(sha256 "$out")" = "$want" ]; then return 0; fi
	dir=$work/x
	rm -rf "$dir" && mkdir -p "$dir"
	case $path in
	*'#'*)
		tar -xzf "$tgz" -C "$dir" "$(dirname "${path%%#*}")"
		# shellcheck disable=SC2016 # JavaScript, not shell
		node -e '
			const fs = require("fs"), path = require("path");
			const [index, key, out] = process.argv.slice(1);
			const entry = JSON.parse(fs.readFileSync(index, "utf8"))[key];
			if (!entry || !Array.isArray(entry.chunks)) { console.error(`no ${key} in ${index}`); process.exit(1); }
			const fd = fs.openSync(out, "w");
			for (const c of entry.chunks) {
				if (!/^[0-9a-f]{64}$/.test(c.hash)) { console.error(`bad chunk name ${c.hash}`); process.exit(1); }
				fs.writeSync(fd, fs.readFileSync(path.join(path.dirname(index), c.hash)));
			}
			fs.closeSync(fd);' "$dir/${path%%#*}" "${path#*#}" "$out.tmp" || die "cannot assemble $path from $tgz"
		;;
	*)
		tar -xzf "$tgz" -C "$dir" "$path" || die "no $path in $tgz"
		mv "$dir/$path" "$out.tmp"
		;;
	esac
	rm -rf "$dir"
	got=$(sha256 "$out.tmp")
	[ "$got" = "$want" ] || { rm -f "$out.tmp"; die "$path in $tgz: SHA-256 $got, the corpus list says $want: refusing it"; }
	mv "$out.tmp" "$out"
}

# The corpus: fetch and check every selected pair.
declare -A p_old p_new p_oldman p_newman p_desc p_pkg
names=()
echo "==> corpus $CORPUS, cache $CORPUS_CACHE"
while IFS=$'\t' read -r name pkg oldv oldpath oldsha newv newpath newsha oldtgzsha newtgzsha oldman newman desc; do
	[ "$name" = name ] && continue
	if [ -n "$PAIRS" ] && [[ " $PAIRS " != *" $name "* ]]; then continue; fi
	ext=${newpath##*/}
	case $ext in *'#'* | *[!.]) ext=${ext##*.} ;; esac
	[[ $ext =~ ^[a-z0-9]{1,8}$ ]] || ext=bin
	dir=$CORPUS_CACHE/pairs/$name
	mkdir -p "$dir"
	oldtgz=$(tarball "$pkg" "$oldv" "$oldtgzsha")
	newtgz=$(tarball "$pkg" "$newv" "$newtgzsha")
	extract "$oldtgz" "$oldpath" "$dir/old.$ext" "$oldsha"
	extract "$newtgz" "$newpath" "$dir/new.$ext" "$newsha"
	p_oldman[$name]=- p_newman[$name]=-
	if [ "$oldman" != - ]; then
		# Manifests are checked through the shard they describe and the tarball.
		tar -xzf "$oldtgz" -O "$oldman" >"$dir/old.model.json" || die "no $oldman in $oldtgz"
		tar -xzf "$newtgz" -O "$newman" >"$dir/new.model.json" || die "no $newman in $newtgz"
		p_oldman[$name]=$dir/old.model.json p_newman[$name]=$dir/new.model.json
	fi
	p_old[$name]=$dir/old.$ext p_new[$name]=$dir/new.$ext p_desc[$name]=$desc p_pkg[$name]="$pkg $oldv -> $newv"
	names+=("$name")
	printf '    %-22s %s, %s bytes -> %s bytes, SHA-256 checked\n' "$name" "${p_pkg[$name]}" "$(stat -c %s "${p_old[$name]}")" "$(stat -c %s "${p_new[$name]}")"
done <"$CORPUS"
[ ${#names[@]} -gt 0 ] || die "no pair of the corpus matches PAIRS=\"$PAIRS\""
[ -n "$FETCH_ONLY" ] && exit 0

command -v go >/dev/null || die "go is required"
# shellcheck source=bench/delta-tools.sh
. "$top/bench/delta-tools.sh"
mrepo=$work/mrepo

# HDiffPatch: given binaries, a source tree to build, or hdiffz on PATH.
hdiffz=${HDIFFZ:-} hpatchz=${HPATCHZ:-}
build_hdiffpatch() {
	local src=$1 lzma=${HDIFFPATCH_LZMA_SRC:-$1/../lzma} dst=$CORPUS_CACHE/hdiffpatch
	if [ ! -x "$dst/HDiffPatch/hdiffz" ] || [ ! -x "$dst/HDiffPatch/hpatchz" ]; then
		[ -f "$src/Makefile" ] || { echo "bench: HDIFFPATCH_SRC=$src has no Makefile: SKIPPING HDiffPatch"; return 0; }
		[ -d "$lzma/C" ] || { echo "bench: no lzma SDK at $lzma (HDIFFPATCH_LZMA_SRC): SKIPPING HDiffPatch"; return 0; }
		package[hdiffpatch-deps]="zlib1g-dev libbz2-dev libzstd-dev make g++"
		binaries[hdiffpatch-deps]="make g++"
		install_tools hdiffpatch-deps
		echo "==> building HDiffPatch from $src into $dst"
		rm -rf "$dst" && mkdir -p "$dst"
		cp -a "$src" "$dst/HDiffPatch" && cp -a "$lzma" "$dst/lzma"
		make -C "$dst/HDiffPatch" -j"$(nproc)" LDEF=0 ZLIB=2 LZMA=1 ZSTD=2 MD5=0 XXH=0 BZIP2=2 hdiffz hpatchz >"$dst/build.log" 2>&1 ||
			{ echo "bench: building HDiffPatch failed (see $dst/build.log): SKIPPING HDiffPatch"; return 0; }
	fi
	hdiffz=$dst/HDiffPatch/hdiffz hpatchz=$dst/HDiffPatch/hpatchz
}
wants_hdiff=
[[ " $TOOLS " == *" hdiffz-"* ]] && wants_hdiff=1
if [ -n "$wants_hdiff" ] && { [ -z "$hdiffz" ] || [ -z "$hpatchz" ]; }; then
	if [ -n "${HDIFFPATCH_SRC:-}" ]; then
		build_hdiffpatch "$HDIFFPATCH_SRC"
	elif command -v hdiffz >/dev/null && command -v hpatchz >/dev/null; then
		hdiffz=$(command -v hdiffz) hpatchz=$(command -v hpatchz)
	fi
fi

# load_reference_results: with REFERENCE, the other tools' results from
# an earlier run (bench/delta-tools.sh, load_reference), checked against
# the pairs' sizes; ref_tools lists them.
declare -A r_bytes r_pct r_ds r_dcpu r_dm r_as r_acpu r_am r_check r_note
# shellcheck disable=SC2034 # ref_variant: delta.sh checks it
declare -A ref_old ref_new ref_variant
ref_tools=()
load_reference_results() {
	local name
	[ -n "$REFERENCE" ] || return 0
	load_reference "$REFERENCE" "${tools[@]}"
	for name in "${names[@]}"; do
		[ -n "${ref_new[$name]:-}" ] || { echo "bench: no results for $name in $REFERENCE"; continue; }
		[ "${ref_old[$name]}/${ref_new[$name]}" = "$(bytes "${p_old[$name]}")/$(bytes "${p_new[$name]}")" ] ||
			die "$REFERENCE: $name was ${ref_old[$name]} -> ${ref_new[$name]} bytes there, $(bytes "${p_old[$name]}") -> $(bytes "${p_new[$name]}") here: not the same pair"
	done
	echo "==> results of ${ref_tools[*]} from $REFERENCE"
}

debian_tools=()
for t in $TOOLS; do
	case $t in
	ours) ;;
	bsdiff | xdelta3 | zstd) debian_tools+=("$t") ;;
	zstd-new) debian_tools+=(zstd) ;;
	xz-new) debian_tools+=(xz) ;;
	hdiffz-m | hdiffz-s) ;;
	*) die "unknown tool $t (tools: ours xdelta3 zstd hdiffz-m hdiffz-s zstd-new xz-new bsdiff)" ;;
	esac
done
install_tools "${debian_tools[@]}"
tools=()
for t in $TOOLS; do
	case $t in
	ours) tools+=(ours) ;;
	hdiffz-*) if [ -n "$hdiffz" ] && [ -x "$hdiffz" ] && [ -x "$hpatchz" ]; then tools+=("$t"); else echo "bench: no HDiffPatch (set HDIFFZ and HPATCHZ, or HDIFFPATCH_SRC): SKIPPING $t"; fi ;;
	zstd-new) have zstd && tools+=("$t") ;;
	xz-new) have xz && tools+=("$t") ;;
	*) have "$t" && tools+=("$t") ;;
	esac
done
# bsdiff last, after every other tool on every pair.
first_tools=() last_tools=()
for t in "${tools[@]}"; do if [ "$t" = bsdiff ]; then last_tools+=("$t"); else first_tools+=("$t"); fi; done

echo "==> bench/delta-real.sh, $(date -u '+%Y-%m-%d %H:%M UTC'): PAIRS=\"${names[*]}\" TOOLS=\"${tools[*]}\" HDIFF_COMPRESSORS=\"$HDIFF_COMPRESSORS\" APPLY_RUNS=$APPLY_RUNS BSDIFF_TIMEOUT=$BSDIFF_TIMEOUT OTHER_TIMEOUT=$OTHER_TIMEOUT${OURS_DIFF_ARGS:+ OURS_DIFF_ARGS=\"$OURS_DIFF_ARGS\"} OURS_APPLY_ARGS=\"$OURS_APPLY_ARGS\"${REFERENCE:+ REFERENCE=$REFERENCE}${MREPO_MANIFEST_FLAGS:+ MREPO_MANIFEST_FLAGS=\"$MREPO_MANIFEST_FLAGS\"}"
echo "==> building mrepo"
(cd "$top" && go build -o "$mrepo" ./cmd/mrepo)
if [ "$APPLY_TOOL" = deltaapply ]; then
	(cd "$top" && go build -o "$work/deltaapply" ./bench/deltaapply)
fi
manifest_flags=${MREPO_MANIFEST_FLAGS-}
if [ -z "${MREPO_MANIFEST_FLAGS+set}" ]; then
	help=$("$mrepo" delta create --help 2>&1 || true)
	if [[ $help == *--old-manifest* && $help == *--new-manifest* ]]; then
		manifest_flags="--old-manifest {old} --new-manifest {new}"
	fi
fi
echo "    manifests for ours: ${manifest_flags:-none (this mrepo takes no manifest flags; set MREPO_MANIFEST_FLAGS)}"
echo "==> $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(uptime | sed 's/.*load/load/')"
mapfile -t listed < <({ [[ " ${tools[*]} " == *" ours "* ]] && echo ours; printf '%s\n' "${debian_tools[@]}" | sort -u; } | grep .)
tool_versions "${listed[@]}"
[ -n "$hdiffz" ] && [[ " ${tools[*]} " == *" hdiffz-"* ]] && echo "    HDiffPatch: $("$hpatchz" -v 2>&1 | head -n 1) ($hdiffz)"
load_reference_results

# real_diff_cmd TOOL OLD NEW PATCH [COMPRESSOR] NAME: sets cmd.
# shellcheck disable=SC2016 # the sh -c scripts expand their own arguments
real_diff_cmd() {
	local t=$1 old=$2 new=$3 patch=$4 comp=${5:-} name=${6:-} flags
	case $t in
	ours)
		flags=$manifest_flags
		if [ -n "$flags" ] && [ "${p_oldman[$name]}" != - ]; then
			flags=${flags//\{old\}/${p_oldman[$name]}}
			flags=${flags//\{new\}/${p_newman[$name]}}
		else
			flags=
		fi
		# shellcheck disable=SC2206 # flags are words
		cmd=("$mrepo" delta create --json $flags $OURS_DIFF_ARGS "$old" "$new" "$patch")
		;;
	xz-new) cmd=(sh -c 'xz -9e -T1 -c "$1" >"$2"' sh "$new" "$patch") ;;
	*) diff_cmd "$t" "$old" "$new" "$patch" "$comp" ;;
	esac
}
# shellcheck disable=SC2016 # the sh -c scripts expand their own arguments
real_apply_cmd() { # TOOL OLD NEW PATCH OUT: sets cmd
	case $1 in
	ours) if [ "$APPLY_TOOL" = deltaapply ]; then cmd=("$work/deltaapply" -max-patch-ratio 2 "$2" "$4" "$5"); else apply_cmd "$@"; fi ;;
	xz-new) cmd=(sh -c 'xz -d -c "$1" >"$2"' sh "$4" "$5") ;;
	*) apply_cmd "$@" ;;
	esac
}

fmt_row() { printf '  %-10s %11s %7s %8s %8s %8s %7s %8s %9s  %s\n' "$@"; }
header_row() { fmt_row tool "patch bytes" "% new" "diff s" "diff cpu" "diff MiB" "x old" "apply s" "apply MiB" check; }

# Results, by "pair tool" (declared above, with the reference's).
declare -A floor_s
ours_stats=()

# run_tool NAME TOOL: diffs (the smallest of HDIFF_COMPRESSORS for
# HDiffPatch), applies, checks and prints the row.
run_tool() {
	local name=$1 t=$2 old=${p_old[$1]} new=${p_new[$1]} patch=$work/patch out=$work/out
	local k="$1 $2" comps=(-) c best='' note='' newlen
	newlen=$(bytes "$new")
	[[ $t == hdiffz-* ]] && read -r -a comps <<<"$HDIFF_COMPRESSORS"
	for c in "${comps[@]}"; do
		rm -f "$patch.try" "$out"
		sync
		real_diff_cmd "$t" "$old" "$new" "$patch.try" "${c#-}" "$name"
		measure "$(limit_for "$t")" "$patch.try" "${cmd[@]}"
		if [ "$m_rc" -ne 0 ]; then
			r_check[$k]="diff $(fail_reason)"
			[ "$m_rc" -eq 124 ] && m_s=">$(limit_for "$t")" m_mib=- m_cpu=-
			[ -z "$best" ] && r_ds[$k]=$m_s r_dcpu[$k]=$m_cpu r_dm[$k]=$m_mib
			continue
		fi
		[ "$t" = ours ] && ours_stats+=("$name $(tr -d '\n ' <"$work/cmd.log" | grep -o '"stats":{[^}]*}' || echo '?')")
		[ "$c" != - ] && note+="${note:+, }$c $(bytes "$patch.try")"
		if [ -z "$best" ] || [ "$(bytes "$patch.try")" -lt "$best" ]; then
			best=$(bytes "$patch.try")
			mv "$patch.try" "$patch"
			r_ds[$k]=$m_s r_dcpu[$k]=$m_cpu r_dm[$k]=$m_mib r_note[$k]=${c#-}
			unset 'r_check[$k]'
		fi
	done
	rm -f "$patch.try"
	if [ -z "$best" ]; then
		fmt_row "$t" - - "${r_ds[$k]}" "${r_dcpu[$k]}" "${r_dm[$k]}" - - - "${r_check[$k]}"
		return 0
	fi
	r_bytes[$k]=$best
	r_pct[$k]=$(percent "$best" "$newlen")
	real_apply_cmd "$t" "$old" "$new" "$patch" "$out"
	apply_and_check "$k" "$new" "$out" "$(limit_for "$t")" "${cmd[@]}"
	rm -f "$patch" "$out"
	fmt_row "$t" "$best" "${r_pct[$k]}" "${r_ds[$k]}" "${r_dcpu[$k]}" "${r_dm[$k]}" \
		"$(awk -v m="${r_dm[$k]}" -v o="$(bytes "$old")" 'BEGIN {printf "%.1fx", m * 1048576 / (o > 0 ? o : 1)}')" \
		"${r_as[$k]}" "${r_am[$k]}" "${r_check[$k]}${note:+ ($note)}"
}

for name in "${names[@]}"; do
	echo
	echo "==> pair $name: ${p_pkg[$name]}: ${p_desc[$name]}"
	echo "    old $(bytes "${p_old[$name]}") bytes, new $(bytes "${p_new[$name]}") bytes; $(uptime | sed 's/.*load/load/')"
	header_row
	measure_runs "$OTHER_TIMEOUT" "$work/out" cp "${p_new[$name]}" "$work/out"
	floor_s[$name]=$m_s
	rm -f "$work/out"
	fmt_row "cp (floor)" - - - - - - "$m_s" "$m_mib" "cp new out && sync"
	for t in "${first_tools[@]}"; do run_tool "$name" "$t"; done
done
if [ ${#last_tools[@]} -gt 0 ]; then
	echo
	echo "==> bsdiff, last (timeout $BSDIFF_TIMEOUT s)"
	header_row
	for name in "${names[@]}"; do
		echo "  $name:"
		run_tool "$name" bsdiff
	done
fi

if [ ${#ours_stats[@]} -gt 0 ]; then
	echo
	echo "==> our patches' records (bytes of the new file each kind of record produced)"
	printf '  %s\n' "${ours_stats[@]}"
fi

# The summary: % of the new file per tool (the tools run now and those
# from REFERENCE), the best general tool, and ours against the goals.
columns=()
for t in ours xdelta3 zstd hdiffz-m hdiffz-s zstd-new xz-new bsdiff; do
	[[ " ${tools[*]} ${ref_tools[*]} " == *" $t "* ]] && columns+=("$t")
done
cell() { # NAME TOOL
	local k="$1 $2"
	if [ "${r_check[$k]:-}" = ok ]; then echo "${r_pct[$k]}%"; elif [ -n "${r_check[$k]:-}" ]; then echo "fail"; else echo "-"; fi
}
print_summary() {
	local name t row hdr sep o b bt
	echo
	echo "==> summary: patch size as % of the new file (lower is better); best: the smallest general tool (${GENERAL_TOOLS// /, }; xz-new is for reference only)${REFERENCE:+; ${ref_tools[*]} from $REFERENCE}"
	hdr="| pair | new bytes |" sep="|---|---|"
	for t in "${columns[@]}"; do hdr+=" $t |" sep+="---|"; done
	echo "$hdr best general tool | ours / best | goal <= 0.95 |"
	echo "$sep---|---|---|"
	for name in "${names[@]}"; do
		row="| $name | $(bytes "${p_new[$name]}") |"
		for t in "${columns[@]}"; do row+=" $(cell "$name" "$t") |"; done
		best_general "$name" "${general_tools[@]}"
		b=${best_bytes[$name]} bt=${best_tool[$name]}
		o=${r_bytes["$name ours"]:-}
		if [ -n "$b" ] && [ -n "$o" ] && [ "${r_check["$name ours"]}" = ok ]; then
			row+=" $bt ${r_pct["$name ${bt%% *}"]}% | $(ratio "$o" "$b") | $(verdict "$o <= 0.95 * $b") |"
		else
			row+=" ${bt:--} | - | - |"
		fi
		echo "$row"
	done
}

print_goals() {
	local name k met=0 mem_met=0 total=0 line
	echo
	echo "==> ours against the goals: patch <= 0.95x the best general tool; diff peak RSS <= 8x the old file (160 MiB for old files under 20 MiB); apply peak < 32 MiB; apply (median of $APPLY_RUNS) <= 1.5x cp new out && sync on pairs >= 64 MiB"
	for name in "${names[@]}"; do
		k="$name ours"
		total=$((total + 1))
		if [ "${r_check[$k]:-}" != ok ]; then
			echo "  $name: ours ${r_check[$k]:-did not run}: goals NOT met"
			continue
		fi
		judge_ours "$name" "$(bytes "${p_old[$name]}")" "$(bytes "${p_new[$name]}")" "${floor_s[$name]}"
		[ "${g_size[$name]}" = met ] && met=$((met + 1))
		[ "${g_mem[$name]}" = met ] && mem_met=$((mem_met + 1))
		line="  $name: ${r_pct[$k]}%"
		[ -n "${best_bytes[$name]}" ] && line+=" vs ${best_tool[$name]} ${r_pct["$name ${best_tool[$name]%% *}"]}%: $(ratio "${r_bytes[$k]}" "${best_bytes[$name]}")x [size: ${g_size[$name]}]"
		line+="; diff ${r_ds[$k]} s (CPU ${r_dcpu[$k]} s), ${r_dm[$k]} MiB = $(x_old "${r_dm[$k]}" "$(bytes "${p_old[$name]}")") old, budget $((mem_budget[$name] >> 20)) MiB [memory: ${g_mem[$name]}]"
		line+="; apply ${r_as[$k]} s (CPU ${r_acpu[$k]:--} s), ${r_am[$k]} MiB [< 32 MiB: ${g_apply[$name]}], cp ${floor_s[$name]} s, apply / cp ${apply_ratio[$name]} [time, >= 64 MiB: ${g_time[$name]}]"
		echo "$line"
	done
	echo "  size goal met on $met of $total pairs, memory goal on $mem_met of $total"
}

# print_markdown: the table for docs/delta.md ("Real model pairs"), ours
# against the best general tool and the goals, ready to paste.
print_markdown() {
	local name
	echo
	echo "==> markdown for docs/delta.md: $(date -u '+%Y-%m-%d'), ours at $(cd "$top" && git rev-parse --short HEAD 2>/dev/null || echo unknown)${REFERENCE:+, general tools from $REFERENCE}, applied with ${APPLY_TOOL:-mrepo}"
	echo
	goals_markdown_header
	for name in "${names[@]}"; do goals_markdown_row "$name" "$(bytes "${p_old[$name]}")" "${floor_s[$name]}"; done
}

print_summary
if [[ " ${tools[*]} " == *" ours "* ]]; then
	print_goals
	print_markdown
fi
if [ -n "$RESULTS_TSV" ]; then
	pair_sizes() { printf -- '-\t%s\t%s\n' "$(bytes "${p_old[$1]}")" "$(bytes "${p_new[$1]}")"; }
	pairs_order=("${names[@]}") tools_order=("${columns[@]}")
	write_results "$RESULTS_TSV" pair_sizes
	echo
	echo "==> results table written to $RESULTS_TSV"
fi
