#!/usr/bin/env bash
# bench/telemetry-store.sh: the telemetry stores (docs/telemetry.md,
# "Measured").
#   - PostgreSQL ingest (pgstore.BenchmarkIngest): reports/s in batches of
#     100 and 500 from 1 and 8 concurrent writers, one statement and one
#     commit per batch; the collector's group commit (BenchmarkIngestGrouped,
#     8 x 100 per commit); and, for comparison, COPY into a temporary table
#     (BenchmarkIngestCopy), which pgstore does not use.
#   - Counts, Series and Models at REPORTS stored reports (default one
#     million; the goal is under 1 s) for PostgreSQL and for store.Memory,
#     the in-process reference that scans every report.
#   - What an operator waits for at REPORTS stored reports (the goal is
#     under 1 s): the fleet report of a model (mrepo rollout report --db,
#     /v1/report) and its dashboard page (report, series, rendering), on
#     SQLite and PostgreSQL (telemetry/dashboard BenchmarkReadSide*).
#     ONLY=readside runs just this part.
# PostgreSQL runs with its default durability (fsync, synchronous commit)
# on a throwaway server that the benchmark starts (internal/backendtest).
#
#   REPORTS=1000000 INGEST_TIME=10s bench/telemetry-store.sh
#   ONLY=readside REPORTS=1000000 bench/telemetry-store.sh
#
# Needs go and Debian's postgresql (.ci/install-test-deps.sh installs it).
set -euo pipefail

REPORTS=${REPORTS:-1000000}
INGEST_TIME=${INGEST_TIME:-10s}
QUERY_TIME=${QUERY_TIME:-20x}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export EDGETUF_REQUIRE_BACKENDS=1 EDGETUF_BENCH_REPORTS=$REPORTS
uptime
if [ "${ONLY:-}" != readside ]; then
	go test ./telemetry/pgstore/ -run '^$' -bench '^BenchmarkIngest' -benchtime "$INGEST_TIME" -timeout 60m
	go test -v ./telemetry/pgstore/ -run '^$' -bench '^BenchmarkQueries$' -benchtime "$QUERY_TIME" -timeout 60m
	go test ./telemetry/store/ -run '^$' -bench '^BenchmarkMemoryQueries$' -benchtime "$QUERY_TIME" -timeout 60m
fi
# The SQLite database goes to TMPDIR (BENCH_TMP, else /var/tmp), on disk.
TMPDIR=${BENCH_TMP:-/var/tmp} go test -v ./telemetry/dashboard/ -run '^$' -bench '^BenchmarkReadSide(SQLite|Postgres)$' \
	-bench.reports "$REPORTS" -benchtime "$QUERY_TIME" -timeout 60m
uptime
