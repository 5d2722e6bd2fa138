# bench/delta-tools.sh, sourced by the delta benches (delta.sh on
# generated pairs, delta-real.sh on real model pairs): the reference
# tools (install, diff and apply command lines) and the measuring
# helpers. Source it after setting work (the scratch directory, which
# measure writes into), BSDIFF_TIMEOUT, OTHER_TIMEOUT and APPLY_RUNS, and
# mrepo (the binary built from the tree) for the tool "ours".
# shellcheck shell=bash disable=SC2154,SC2034,SC2004,SC2016,SC2206
# (work, top, mrepo and the result arrays belong to the sourcing script;
# sh -c scripts expand their own arguments; OURS_*_ARGS are word lists)

# Debian packages and binaries of the reference tools.
declare -A package=([bsdiff]=bsdiff [xdelta3]=xdelta3 [zstd]=zstd [xz]=xz-utils)
declare -A binaries=([bsdiff]="bsdiff bspatch" [xdelta3]=xdelta3 [zstd]=zstd [xz]=xz)
have() { local b; for b in ${binaries[$1]}; do command -v "$b" >/dev/null || return 1; done; }

# install_tools TOOL...: installs the Debian packages of the tools that
# are missing with apt-get (through sudo when not root) and says which
# cannot be had; `have TOOL` tells afterwards.
install_tools() {
	local t missing=() pkgs as_root=()
	for t in "$@"; do have "$t" || missing+=("$t"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	pkgs=$(for t in "${missing[@]}"; do echo "${package[$t]}"; done | sort -u | tr '\n' ' ')
	[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && as_root=(sudo)
	echo "==> installing $pkgs"
	if command -v apt-get >/dev/null && { [ "$(id -u)" -eq 0 ] || [ ${#as_root[@]} -gt 0 ]; }; then
		# shellcheck disable=SC2086
		"${as_root[@]}" apt-get install -y $pkgs >"$work/apt.log" 2>&1 ||
			{ "${as_root[@]}" apt-get update >>"$work/apt.log" 2>&1 && "${as_root[@]}" apt-get install -y $pkgs >>"$work/apt.log" 2>&1; } ||
			{ echo "bench: apt-get install $pkgs failed:"; tail -n 3 "$work/apt.log"; }
	else
		echo "bench: cannot install $pkgs here (needs apt-get, and root or sudo)"
	fi
	for t in "${missing[@]}"; do
		have "$t" || echo "bench: $t is not available: SKIPPING $t"
	done
}

# tool_versions TOOL...: one line per tool naming its version.
tool_versions() {
	local t
	for t in "$@"; do
		case $t in
		ours) echo "    ours: mrepo delta (this tree: $(cd "$top" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$top" && GIT_OPTIONAL_LOCKS=0 git diff --quiet HEAD -- 2>/dev/null || echo ' + uncommitted changes'))" ;;
		bsdiff) echo "    bsdiff: $(dpkg-query -W -f '${Version}' bsdiff 2>/dev/null || echo '?')" ;;
		xdelta3) echo "    xdelta3: $(xdelta3 -V 2>&1 | head -n 1)" ;;
		zstd) echo "    zstd: $(zstd -V)" ;;
		xz) echo "    xz: $(xz -V | head -n 1)" ;;
		esac
	done
}

# measure LIMIT WROTE CMD...: runs CMD then `sync WROTE` under a timeout of
# LIMIT seconds; sets m_rc (124: timeout), m_s (wall seconds), m_cpu (user
# + system CPU seconds), m_mib (peak RSS of the largest process, MiB).
# Output goes to $work/cmd.log.
measure() {
	local limit=$1 wrote=$2 m_kib m_user m_sys
	shift 2
	m_rc=0
	/usr/bin/time -f "%e %M %U %S" -o "$work/time.out" timeout -k 10 "$limit" \
		sh -c 'f=$1; shift; "$@" && sync "$f"' sh "$wrote" "$@" >"$work/cmd.log" 2>&1 || m_rc=$?
	read -r m_s m_kib m_user m_sys < <(tail -n 1 "$work/time.out")
	m_mib=$(awk -v k="$m_kib" 'BEGIN {printf "%.1f", k / 1024}')
	m_cpu=$(awk -v u="$m_user" -v s="$m_sys" 'BEGIN {printf "%.2f", u + s}')
	[ "$m_rc" -eq 137 ] && m_rc=124 # killed after the grace period
	return 0
}
# measure_runs LIMIT WROTE CMD...: APPLY_RUNS measures of CMD, each
# after removing WROTE and syncing; m_s is the median wall time, m_cpu
# the median CPU time, m_mib the largest peak RSS. Stops at the first
# failure, with its m_rc.
measure_runs() {
	local i times=() cpus=() peak=0
	for ((i = 0; i < APPLY_RUNS; i++)); do
		rm -f "$2"
		sync
		measure "$@"
		[ "$m_rc" -ne 0 ] && return 0
		times+=("$m_s")
		cpus+=("$m_cpu")
		peak=$(awk -v a="$peak" -v b="$m_mib" 'BEGIN {print (b > a ? b : a)}')
	done
	m_s=$(median "${times[@]}")
	m_cpu=$(median "${cpus[@]}")
	m_mib=$peak
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
fail_reason() { # the last line of the failed command's output
	if [ "$m_rc" -eq 124 ]; then echo "timeout"; else echo "failed (exit $m_rc): $(tail -n 1 "$work/cmd.log")"; fi
}
bytes() { stat -c %s "$1"; }
# Windows of the reference tools: zstd's window log covers old and new
# together (--patch-from), xdelta3's source window covers old.
zstd_wlog() { awk -v n=$(($(bytes "$1") + $(bytes "$2"))) 'BEGIN {w = 27; while (2 ^ w < n && w < 31) w++; print w}'; }
xdelta_win() { awk -v n="$(bytes "$1")" 'BEGIN {w = 2 ^ 26; while (w < n && w < 2 ^ 31) w *= 2; printf "%d", w}'; }

# pow2_at_least N MIN MAX: the smallest power of two >= N, clamped.
pow2_at_least() { awk -v n="$1" -v lo="$2" -v hi="$3" 'BEGIN {w = lo; while (w < n && w < hi) w *= 2; printf "%d", w}'; }

# diff_cmd TOOL OLD NEW PATCH [COMPRESSOR]: sets cmd. HDiffPatch
# (hdiffz-m: hdiffz -m-6, hdiffz-s: -s-64, single-threaded) takes the
# binaries in hdiffz and hpatchz and a COMPRESSOR such as lzma2-9 or
# zstd-21, whose dictionary or window is sized to the new file; zstd-new
# is zstd -19 --long of the new file alone (a full download).
diff_cmd() {
	local t=$1 old=$2 new=$3 patch=$4 comp=${5:-} dict mode wlog
	case $t in
	ours) cmd=("$mrepo" delta create $OURS_DIFF_ARGS "$old" "$new" "$patch") ;;
	bsdiff) cmd=(bsdiff "$old" "$new" "$patch") ;;
	xdelta3) cmd=(xdelta3 -9 -S djw -B "$(xdelta_win "$old")" -e -f -s "$old" "$new" "$patch") ;;
	zstd) cmd=(zstd -q -f -19 --single-thread --long="$(zstd_wlog "$old" "$new")" --patch-from="$old" "$new" -o "$patch") ;;
	hdiffz-m | hdiffz-s)
		mode=-m-6
		[ "$t" = hdiffz-s ] && mode=-s-64
		dict=$(pow2_at_least "$(bytes "$new")" 1048576 134217728)
		case $comp in
		lzma2-* | lzma-*) comp=$comp-$((dict / 1048576))m ;;
		zstd-*) comp=$comp-$(awk -v d="$dict" 'BEGIN {print int(log(d) / log(2) + 0.5)}') ;;
		esac
		cmd=("$hdiffz" "$mode" -p-1 "-c-$comp" -f "$old" "$new" "$patch")
		;;
	zstd-new)
		wlog=$(awk -v n="$(bytes "$new")" 'BEGIN {w = 20; while (2 ^ w < n && w < 31) w++; print w}')
		cmd=(zstd -q -f -19 --single-thread --long="$wlog" "$new" -o "$patch")
		;;
	esac
}
apply_cmd() { # TOOL OLD NEW PATCH OUT: sets cmd (NEW only sizes the windows)
	case $1 in
	hdiffz-*) cmd=("$hpatchz" -f "$2" "$4" "$5") ;;
	zstd-new) cmd=(zstd -q -f -d --long=31 "$4" -o "$5") ;;
	ours) cmd=("$mrepo" delta apply $OURS_APPLY_ARGS "$2" "$4" "$5") ;;
	bsdiff) cmd=(bspatch "$2" "$5" "$4") ;;
	xdelta3) cmd=(xdelta3 -d -f -B "$(xdelta_win "$2")" -s "$2" "$4" "$5") ;;
	zstd) cmd=(zstd -q -f -d --long="$(zstd_wlog "$2" "$3")" --patch-from="$2" "$4" -o "$5") ;;
	esac
}
verdict() { if awk "BEGIN {exit !($1)}"; then echo "ok"; else echo "MISSED"; fi; }
limit_for() { if [ "$1" = bsdiff ]; then echo "$BSDIFF_TIMEOUT"; else echo "$OTHER_TIMEOUT"; fi; }
ratio() { awk -v a="$1" -v b="$2" -v f="${3:-%.3f}" 'BEGIN {printf f, (b > 0 ? a / b : 0)}'; } # A B [FORMAT]
percent() { awk -v p="$1" -v n="$2" 'BEGIN {printf "%.2f", n ? 100 * p / n : 0}'; }

# apply_and_check KEY NEW OUT LIMIT CMD...: APPLY_RUNS applies of CMD
# into OUT (measure_runs), then OUT compared with NEW; sets r_as, r_acpu,
# r_am and r_check (the caller's arrays) for KEY.
apply_and_check() {
	local k=$1 new=$2 out=$3 limit=$4
	shift 4
	measure_runs "$limit" "$out" "$@"
	r_as[$k]=$m_s r_acpu[$k]=$m_cpu r_am[$k]=$m_mib
	if [ "$m_rc" -ne 0 ]; then
		r_check[$k]="apply $(fail_reason)"
	elif cmp -s "$out" "$new"; then
		r_check[$k]=ok
	else
		r_check[$k]="MISMATCH: output differs from new"
	fi
}

# Reference results: the general tools' patches do not change between our
# commits, so a run of ours alone can reuse their numbers from an earlier
# run (REFERENCE=FILE). FILE is either a results table written with
# RESULTS_TSV=FILE, or the printed output of delta.sh or delta-real.sh.
# The table, one row per pair and tool, tab-separated:
results_header="pair	tool	variant	old_bytes	new_bytes	patch_bytes	pct	diff_s	diff_cpu	diff_mib	apply_s	apply_cpu	apply_mib	check	compressor"
# (variant: "64 MiB, seed 1" for a generated pair, - for a real one;
# compressor: HDiffPatch's smallest; - where unknown or not applicable.)

# reference_rows FILE: prints FILE as results rows (without the header).
reference_rows() {
	if [ "$(head -n 1 "$1")" = "$results_header" ]; then
		tail -n +2 "$1"
		return 0
	fi
	# A printed run: "==> pair NAME: ..." (delta-real.sh) or "==> pair
	# NAME, 64 MiB, seed 1: ..." (delta.sh) opens a pair, "old N bytes, new
	# M bytes" gives its sizes, the header row says which columns the rows
	# have, and in delta-real.sh's bsdiff section "  NAME:" opens a pair
	# again. Any other "==>" line closes the pair.
	awk -v tools=" ours bsdiff xdelta3 zstd hdiffz-m hdiffz-s zstd-new xz-new " '
		function clean(s) { sub(/[,:]$/, "", s); return s }
		/^==> pair / {
			pair = clean($3); variant = "-"
			if (match($0, /, [0-9]+ MiB, seed [0-9]+:/)) variant = substr($0, RSTART + 2, RLENGTH - 3)
			next
		}
		/^==> bsdiff, last/ { pair = ""; inbsdiff = 1; next }
		/^==>/ { pair = ""; inbsdiff = 0; next }
		/^    old [0-9]+ bytes, new [0-9]+ bytes/ { oldb[pair] = $2; newb[pair] = $5; vari[pair] = variant; next }
		/^  tool +patch bytes/ { cpucol = ($0 ~ /diff cpu/); next }
		inbsdiff && /^  [a-z0-9][a-z0-9._-]*:$/ { pair = clean($1); next }
		pair == "" || !/^  [^ ]/ || index(tools, " " $1 " ") == 0 { next }
		{
			# delta-real.sh: tool bytes % diff-s diff-cpu diff-MiB x-old apply-s apply-MiB check...
			# delta.sh:      tool bytes % diff-s diff-MiB apply-s apply-MiB check...
			if (cpucol) { ds = $4; dcpu = $5; dm = $6; as = $8; am = $9; rest = 10 }
			else { ds = $4; dcpu = "-"; dm = $5; as = $6; am = $7; rest = 8 }
			check = ""; note = ""
			for (i = rest; i <= NF; i++) {
				if ($i ~ /^\(/) { for (; i <= NF; i++) note = note " " $i; break }
				check = check (check == "" ? "" : " ") $i
			}
			# The note lists each compressor tried: "(lzma2-9 2111689, zstd-21 2237588)".
			comp = "-"
			gsub(/[(),]/, "", note)
			n = split(note, w, " ")
			for (i = 1; i < n; i += 2) if (w[i + 1] == $2) comp = w[i]
			row[++nrows] = pair SUBSEP $1 SUBSEP $2 SUBSEP $3 SUBSEP ds SUBSEP dcpu SUBSEP dm SUBSEP as SUBSEP am SUBSEP check SUBSEP comp
		}
		END {
			for (r = 1; r <= nrows; r++) {
				split(row[r], f, SUBSEP)
				p = f[1]
				printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t-\t%s\t%s\t%s\n", p, f[2], vari[p], oldb[p], newb[p], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11]
			}
		}' "$1"
}

# load_reference "FILE..." TOOL...: fills the result arrays (r_bytes,
# r_pct, r_ds, r_dcpu, r_dm, r_as, r_acpu, r_am, r_check, r_note) for each
# pair and tool of the FILEs (space-separated; a later file's row replaces
# an earlier one's) except the TOOLs (those run now), and ref_old,
# ref_new, ref_variant by pair; ref_tools lists the tools loaded. Rows of
# a failed tool keep their check (e.g. "diff timeout").
load_reference() {
	local files=$1 file pair tool variant oldb newb pb pct ds dcpu dm as acpu am check comp k
	shift
	ref_tools=()
	for file in $files; do
		[ -r "$file" ] || { echo "bench: no reference results $file" >&2; exit 1; }
		while IFS=$'\t' read -r pair tool variant oldb newb pb pct ds dcpu dm as acpu am check comp; do
			[[ " $* " == *" $tool "* ]] && continue
			k="$pair $tool"
			if [ -n "${ref_new[$pair]:-}" ] && [ "${ref_variant[$pair]}/${ref_old[$pair]}/${ref_new[$pair]}" != "$variant/$oldb/$newb" ]; then
				echo "bench: $file: $tool's $pair is $variant/$oldb/$newb (variant/old/new bytes), another reference row's ${ref_variant[$pair]}/${ref_old[$pair]}/${ref_new[$pair]}: not the same pair" >&2
				exit 1
			fi
			ref_old[$pair]=$oldb ref_new[$pair]=$newb ref_variant[$pair]=$variant
			unset 'r_bytes[$k]' 'r_pct[$k]' 'r_note[$k]'
			if [ "$pb" != - ]; then r_bytes[$k]=$pb r_pct[$k]=$pct; fi
			r_ds[$k]=$ds r_dcpu[$k]=$dcpu r_dm[$k]=$dm r_as[$k]=$as r_acpu[$k]=$acpu r_am[$k]=$am r_check[$k]=$check
			[ "$comp" != - ] && r_note[$k]=$comp
			[[ " ${ref_tools[*]} " == *" $tool "* ]] || ref_tools+=("$tool")
		done < <(reference_rows "$file")
	done
	[ ${#ref_tools[@]} -gt 0 ] || { echo "bench: no results of other tools than ($*) in $files" >&2; exit 1; }
}

# write_results FILE PAIR_VARIANT_FN: writes the results table of every
# pair in pairs_order and tool in tools_order that has a result; the
# function PAIR_VARIANT_FN PAIR prints "variant<TAB>old_bytes<TAB>new_bytes".
write_results() {
	local file=$1 fn=$2 pair tool k variant oldb newb
	{
		echo "$results_header"
		for pair in "${pairs_order[@]}"; do
			IFS=$'\t' read -r variant oldb newb < <("$fn" "$pair")
			for tool in "${tools_order[@]}"; do
				k="$pair $tool"
				[ -n "${r_check[$k]:-}" ] || continue
				printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pair" "$tool" "$variant" "$oldb" "$newb" \
					"${r_bytes[$k]:--}" "${r_pct[$k]:--}" "${r_ds[$k]:--}" "${r_dcpu[$k]:--}" "${r_dm[$k]:--}" \
					"${r_as[$k]:--}" "${r_acpu[$k]:--}" "${r_am[$k]:--}" "${r_check[$k]}" "${r_note[$k]:--}"
			done
		done
	} >"$file"
}

# Ours against the issue's goals (issue 17), shared by delta.sh and
# delta-real.sh. best_general NAME TOOL...: sets best_bytes and best_tool
# ("hdiffz-m (lzma2-9)") of pair NAME: the smallest checked patch of the
# TOOLs.
declare -A best_bytes best_tool
best_general() {
	local name=$1 t k b='' bt=''
	shift
	for t in "$@"; do
		k="$name $t"
		[ "${r_check[$k]:-}" = ok ] || continue
		if [ -z "$b" ] || [ "${r_bytes[$k]}" -lt "$b" ]; then b=${r_bytes[$k]} bt=$t${r_note[$k]:+ (${r_note[$k]})}; fi
	done
	best_bytes[$name]=$b best_tool[$name]=$bt
}

# judge_ours NAME OLD_BYTES NEW_BYTES CP_S: sets g_size, g_mem, g_apply
# and g_time of pair NAME to "met", "NOT met" or "n/a" (a goal that does
# not apply), mem_budget (bytes) and apply_ratio (ours / cp), from
# r_* of "NAME ours" and best_bytes (best_general first):
#   size:   patch <= 0.95x the best general tool
#   memory: diff peak RSS <= 8x the old file, or 160 MiB for old files
#           under 20 MiB (docs/delta.md section 6)
#   apply:  apply peak RSS < 32 MiB (the mrepo process, its binary's
#           mapped pages included)
#   time:   apply median <= 1.5x the median of cp new out && sync, on new
#           files of 64 MiB or more
declare -A g_size g_mem g_apply g_time mem_budget apply_ratio
met_word() { if [ "$(verdict "$1")" = ok ]; then echo met; else echo "NOT met"; fi; }
judge_ours() {
	local name=$1 oldlen=$2 newlen=$3 cp_s=$4 k="$1 ours"
	g_size[$name]=n/a
	[ -n "${best_bytes[$name]}" ] && g_size[$name]=$(met_word "${r_bytes[$k]} <= 0.95 * ${best_bytes[$name]}")
	mem_budget[$name]=$((oldlen < (20 << 20) ? 160 << 20 : 8 * oldlen))
	g_mem[$name]=$(met_word "${r_dm[$k]} * 1048576 <= ${mem_budget[$name]}")
	g_apply[$name]=$(met_word "${r_am[$k]} < 32")
	apply_ratio[$name]=-
	awk -v c="$cp_s" 'BEGIN {exit !(c > 0)}' && apply_ratio[$name]=$(awk -v a="${r_as[$k]}" -v c="$cp_s" 'BEGIN {printf "%.2fx", a / c}')
	g_time[$name]=n/a
	[ "$newlen" -ge $((64 << 20)) ] && g_time[$name]=$(met_word "${r_as[$k]} <= 1.5 * $cp_s")
	return 0
}
size_cell() { # KEY: "69.51%", or "0.00% (184 B)" when the percentage hides the size
	if awk -v p="${r_pct[$1]}" 'BEGIN {exit !(p < 0.1)}'; then echo "${r_pct[$1]}% (${r_bytes[$1]} B)"; else echo "${r_pct[$1]}%"; fi
}
x_old() { awk -v m="$1" -v o="$2" 'BEGIN {printf "%.1fx", m * 1048576 / o}'; } # MIB OLD_BYTES

# goals_markdown_header, goals_markdown_row NAME OLD_BYTES CP_S: the
# table of ours against the best general tool and the goals, for
# docs/delta.md (after judge_ours NAME).
goals_markdown_header() {
	echo "| Pair | ours | best general tool | ours / best | size (<= 0.95) | diff peak RSS, x old | memory (8x, 160 MiB floor) | apply peak RSS | apply / cp + sync | apply time (1.5x, >= 64 MiB) |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
}
goals_markdown_row() {
	local name=$1 k="$1 ours"
	if [ "${r_check[$k]:-}" != ok ]; then
		echo "| $name | ${r_check[$k]:-did not run} | ${best_tool[$name]:--} | - | NOT met | - | - | - | - | - |"
		return 0
	fi
	printf '| %s | %s | %s | %s | %s | %s MiB, %s | %s | %s MiB | %s / %s s = %s | %s |\n' "$name" "$(size_cell "$k")" \
		"${best_tool[$name]:+${best_tool[$name]} $(size_cell "$name ${best_tool[$name]%% *}")}" \
		"$([ -n "${best_bytes[$name]}" ] && awk -v o="${r_bytes[$k]}" -v b="${best_bytes[$name]}" 'BEGIN {printf "%.3f", o / b}' || echo -)" "${g_size[$name]}" \
		"${r_dm[$k]}" "$(x_old "${r_dm[$k]}" "$2")" "${g_mem[$name]}" "${r_am[$k]}" \
		"${r_as[$k]}" "$3" "${apply_ratio[$name]}" "${g_time[$name]}"
}
