# bench/pair.sh, sourced by the benches that time a plain and an encrypted
# command in alternating runs (addtarget-encrypt.sh, update-encrypt.sh):
# they fill the arrays plain_t, plain_m, plain_c, enc_t, enc_m, enc_c
# (wall seconds, peak RSS in KiB, CPU seconds of each run). Source it
# after setting top (the repository) and before making work (the
# scratch directory, which measure writes into); it sets SIZE_MIB and
# RUNS to their defaults unless they are set.

SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-5}
plain_t=() plain_m=() plain_c=() enc_t=() enc_m=() enc_c=()

# require_tools TOOL... exits with a one-line reason if one is missing.
require_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
	done
}

# measure CMD... runs CMD under GNU time, its output discarded and its
# stderr appended to $work/stderr.log, and prints "seconds maxrss_kib
# cpu_seconds".
measure() {
	/usr/bin/time -f "%e %M %U %S" -o "$work/time.out" "$@" >/dev/null 2>>"$work/stderr.log"
	awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$work/time.out"
}

# pair_run I PLAIN_LABEL ENCRYPTED_LABEL PLAIN_FUNC ENCRYPTED_FUNC runs
# run I: the plain function, then the encrypted one (each prints
# measure's line), adds both to the arrays and prints the run.
pair_run() {
	local t m c
	read -r t m c < <("$4")
	plain_t+=("$t"); plain_m+=("$m"); plain_c+=("$c")
	read -r t m c < <("$5")
	enc_t+=("$t"); enc_m+=("$m"); enc_c+=("$c")
	echo "run $1: $2 ${plain_t[-1]} s (CPU ${plain_c[-1]} s, $((plain_m[-1] / 1024)) MiB peak RSS)  $3 ${enc_t[-1]} s (CPU ${enc_c[-1]} s, $((enc_m[-1] / 1024)) MiB peak RSS)  load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# median prints the median of its numeric arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# pair_report PLAIN_LABEL ENCRYPTED_LABEL TARGET prints the medians of
# both and their ratios (TARGET: the wall-time ratio to meet, e.g. 1.3x).
pair_report() {
	local pt et pm em pc ec
	pt=$(median "${plain_t[@]}"); et=$(median "${enc_t[@]}")
	pm=$(median "${plain_m[@]}"); em=$(median "${enc_m[@]}")
	pc=$(median "${plain_c[@]}"); ec=$(median "${enc_c[@]}")
	echo
	echo "payload ${SIZE_MIB} MiB, ${RUNS} runs each, medians (load average now $(cut -d' ' -f1-3 /proc/loadavg)):"
	printf '  %-28s: %s s (CPU %s s), peak RSS %d MiB\n' "$1" "$pt" "$pc" $((pm / 1024))
	printf '  %-28s: %s s (CPU %s s), peak RSS %d MiB\n' "$2" "$et" "$ec" $((em / 1024))
	awk -v e="$et" -v p="$pt" -v ec="$ec" -v pc="$pc" -v t="$3" \
		'BEGIN {printf "  ratio encrypted / plain     : %.2fx wall (target <= %s), %.2fx CPU\n", e / p, t, ec / pc}'
}
