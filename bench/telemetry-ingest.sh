#!/usr/bin/env bash
# bench/telemetry-ingest.sh: the telemetry collector's ingest rate.
# Devices upload batches of 20 reports over loopback HTTP, 1, 16 or 64 at
# a time, to a collector on SQLite (WAL, synchronous=FULL: each batch is
# answered only once committed; concurrent batches share a commit). Runs
# BenchmarkIngestHTTP (telemetry/collector) and prints reports/s; the
# goal is at least 5,000 on the 2-core reference machine.
#
#   BATCHES=3000 COUNT=3 bench/telemetry-ingest.sh
#
# BATCHES is the number of uploads per run, COUNT the number of runs.
# The database is in a temporary directory (BENCH_TMP, else /var/tmp):
# put it on the disk the collector will use, since fsync speed decides.
set -euo pipefail

BATCHES=${BATCHES:-3000}
COUNT=${COUNT:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
export TMPDIR=${BENCH_TMP:-/var/tmp}
cd "$top"
out=$(go test -run '^$' -bench 'BenchmarkIngestHTTP' -benchtime "${BATCHES}x" -count "$COUNT" ./telemetry/collector)
echo "$out" | grep '^Benchmark'
# The median of each benchmark's reports/s over the runs.
for name in $(echo "$out" | awk '/^Benchmark/ { print $1 }' | sort -u); do
	echo "$out" | awk -v n="$name" '$1 == n { for (i = 1; i < NF; i++) if ($(i+1) == "reports/s") print $i }' |
		sort -n | awk -v n="$name" '{ v[NR] = $1 } END { printf "%s: median %.0f reports/s over %d runs\n", n, v[int((NR + 1) / 2)], NR }'
done
