#!/usr/bin/env bash
# bench/storage-s3.sh: the S3 storage backend against versitygw on
# loopback (storage.BenchmarkS3): a streamed Put of one large object (its
# throughput and the peak live heap while it uploads), Stat (a HEAD), Open
# and read it through, and a small compare-and-swap Put (timestamp.json).
#
#   OBJECT_MIB=256 COUNT=3 bench/storage-s3.sh
#
# Needs go and versitygw (on PATH or in GOBIN/GOPATH/bin:
# .ci/install-test-deps.sh installs it).
set -euo pipefail

OBJECT_MIB=${OBJECT_MIB:-256}
COUNT=${COUNT:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
EDGETUF_REQUIRE_BACKENDS=1 EDGETUF_BENCH_OBJECT_MIB=$OBJECT_MIB \
	go test ./storage/ -run '^$' -bench '^BenchmarkS3$' -benchtime "${COUNT}x"
