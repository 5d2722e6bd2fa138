#!/usr/bin/env bash
# Runs every test of edgetuf on a fresh machine: the README's test command,
# and what CI (.ci/run) runs after its format and vet checks.
#
#   ./scripts/test.sh                 everything (about 12 minutes on 2 cores)
#   ./scripts/test.sh -run X ./client only `go test -run X ./client` (after the set-up)
#
# 1. Installs what the tests need beyond Go (.ci/install-test-deps.sh:
#    SoftHSM2 and a C compiler for the PKCS#11 key backend, local-kms for
#    the AWS KMS one, swtpm for the TPM, versitygw as the S3 server of the
#    storage tests, PostgreSQL for the telemetry store, chromium for the
#    dashboard's browser test, qemu-user for the arm64 assembly; it skips
#    what is already there). Then
#    EDGETUF_REQUIRE_BACKENDS=1 turns the tests' "not installed" skips into
#    failures: nothing is skipped silently.
# 2. go test -timeout 30m ./...  (no test depends on timing, so a loaded
#    machine only makes it slower: cmd/mrepo and cmd/mclient take 4-10
#    minutes each on 2 busy cores, and go test's default 10-minute timeout
#    per package left too little margin).
# 3. go test -race ./delta: the apply pipeline's goroutines (read-ahead,
#    rebuild, hash, write). -race on everything would slow a 2-core run
#    several times over.
# 4. delta/internal/planes as arm64 (its NEON assembly, under qemu-aarch64;
#    on an arm64 machine, as amd64 under qemu-x86_64 instead: its SSE2
#    assembly) and with the purego tag (the generic Go code alone). A
#    missing qemu fails the run, saying so.
# 5. The official TUF conformance suite against `mclient tuf`
#    (../shared/tuf-conformance/run.sh, which installs pytest and faketime
#    from Debian when missing): all 113 tests, no expected failures.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

start=$SECONDS
section() { echo; echo "==> $* ($((SECONDS - start)) s)"; }

section "install test dependencies (.ci/install-test-deps.sh)"
bash .ci/install-test-deps.sh
export EDGETUF_REQUIRE_BACKENDS=1

if [ $# -gt 0 ]; then
	section "go test $*"
	go test "$@"
	exit
fi

section "go test -timeout 30m ./..."
go test -timeout 30m ./...

section "go test -timeout 30m -race ./delta"
go test -timeout 30m -race ./delta

section "delta/internal/planes on the other vector architecture (qemu) and with -tags purego"
# go test ./... ran this machine's assembly; the other one runs under
# qemu's user-mode emulation: arm64 (NEON) here, amd64 (SSE2) on arm64.
other=arm64 emu=qemu-aarch64
if [ "$(uname -m)" = aarch64 ]; then
	other=amd64 emu=qemu-x86_64
fi
if ! command -v "$emu" >/dev/null 2>&1; then
	echo "test.sh: $emu is missing (Debian package qemu-user; .ci/install-test-deps.sh installs it): the $other assembly of delta/internal/planes cannot be tested" >&2
	exit 1
fi
GOARCH=$other go test -exec "$emu" ./delta/internal/planes
go test -tags purego ./delta/internal/planes

section "TUF conformance suite against mclient tuf (.ci/conformance.sh, strict)"
bash .ci/conformance.sh

section "done"
