# bench/pair.sh, sourced by the benches that time a plain and an encrypted
# command in alternating runs (addtarget-encrypt.sh, update-encrypt.sh):
# they fill the arrays plain_t, plain_m, plain_c, enc_t, enc_m, enc_c
# (wall seconds, peak RSS in KiB, CPU seconds of each run).

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
