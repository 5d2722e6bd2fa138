#!/usr/bin/env bash
# Runs the official TUF conformance suite against `mclient tuf`, strictly:
# every test must pass (no expected failures, no skips). Exit 0 only then.
#
#   .ci/conformance.sh [pytest args, e.g. -k delegation]
#
# The suite (tuf-conformance with python-tuf and securesystemslib, and a
# run.sh that installs pytest and faketime from Debian when missing) is
# not vendored into this repository: TUF_CONFORMANCE names its directory,
# by default ../shared/tuf-conformance beside the checkout. A missing suite
# is an error, never a skip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

suite=${TUF_CONFORMANCE:-../shared/tuf-conformance}
if [ ! -x "$suite/run.sh" ]; then
	echo "conformance: no TUF conformance suite at $suite (set TUF_CONFORMANCE)" >&2
	exit 1
fi
client=scripts/tuf-conformance-client.sh
# The suite reads expected failures from CLIENT.xfails: there must be none.
if [ -e "$client.xfails" ]; then
	echo "conformance: $client.xfails exists: expected failures are not allowed" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/mclient" ./cmd/mclient

status=0
MCLIENT="$tmp/mclient" "$suite/run.sh" "$client" "$@" 2>&1 | tee "$tmp/out" || status=$?
if [ "$status" -ne 0 ]; then
	echo "conformance: the suite failed (exit status $status)" >&2
	exit 1
fi
# pytest exits 0 with skipped or expected-failed tests too: the summary
# line must report passed tests and nothing else (but the tests a -k in
# the arguments deselected).
summary=$(tail -n 1 "$tmp/out")
if ! [[ $summary =~ ^[0-9]+\ passed(,\ [0-9]+\ deselected)?\ in\  ]]; then
	echo "conformance: not every test passed: $summary" >&2
	exit 1
fi
