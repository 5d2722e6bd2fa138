#!/usr/bin/env bash
# End-to-end demonstration of the edgetuf repository tool (mrepo):
#
#   build mrepo, run a key ceremony (3 root keys, threshold 2), publish two
#   versions of the fixture model, verify the repository from the pinned
#   root, show its status, refresh the timestamp as cron would, refuse a
#   downgrade, and serve it over HTTP on the loopback interface.
#
# Needs only Go (the first build fetches modules through the Go module
# proxy). curl is optional: without it the HTTP fetches are skipped.
# Everything happens in a temporary directory that is removed on exit; the
# server listens on 127.0.0.1 only and is always stopped.
#
# The passphrase below is a TEST-ONLY value for throw-away keys. Never use
# MREPO_PASSPHRASE with a literal like this for real keys.
#
# Each step is a function registered in main(); later issues add steps
# (the device client) by writing a function and adding one line there.

set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIXTURES="$ROOT_DIR/fixtures/models/detector"

export MREPO_PASSPHRASE='demo-only-NOT-A-SECRET'

WORK=""        # temporary directory, removed on exit
SERVER_PID=""  # mrepo serve, stopped on exit
STEP=0
START=$SECONDS

cleanup() {
	local rc=$?
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		rm -rf "$WORK"
	fi
	if [ "$rc" -ne 0 ]; then
		echo >&2
		echo "demo FAILED in step $STEP (exit status $rc)" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step() {
	STEP=$((STEP + 1))
	echo
	echo "==> $STEP. $*"
}

# run prints a command (with the temporary directory shortened to $WORK)
# and runs it.
run() {
	local shown="$*"
	echo "\$ ${shown//$WORK/\$WORK}"
	"$@"
}

die() {
	echo "demo: $*" >&2
	exit 1
}

# sha256_of prints the SHA-256 of a file, or nothing if no tool is found.
sha256_of() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 "$1" | cut -d' ' -f1
	fi
}

mrepo() { "$WORK/bin/mrepo" "$@"; }

step_build() {
	step "Build mrepo"
	command -v go >/dev/null 2>&1 || die "Go is not installed (https://go.dev/dl/)"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgetuf-demo.XXXXXX")
	echo "working directory: $WORK (removed on exit)"
	(cd "$ROOT_DIR" && run go build -o "$WORK/bin/mrepo" ./cmd/mrepo)
	REPO="$WORK/repo"          # what gets published (metadata/, targets/)
	KEYS="$WORK/keys"          # encrypted private keys
	OFFLINE="$WORK/offline"    # stands in for offline media holding root keys
	DEVICE="$WORK/device"      # stands in for a device image
	mkdir -p "$OFFLINE" "$DEVICE"
}

step_ceremony() {
	step "Key ceremony: 3 root keys, threshold 2; one key each for targets, snapshot, timestamp"
	echo "(test-only passphrase from MREPO_PASSPHRASE; all keys share it here)"
	run mrepo init --repo "$REPO" --keys "$KEYS" --root-keys 3 --root-threshold 2 | tee "$WORK/init.out"
	ROOT_SHA256=$(sed -n 's/^SHA-256 of 1.root.json: //p' "$WORK/init.out")
	[ -n "$ROOT_SHA256" ] || die "init did not print the root's SHA-256"

	echo
	echo "Root keys go offline: moving root-*.key out of the online key directory."
	mv "$KEYS"/root-*.key "$OFFLINE/"
	ls "$KEYS"

	echo
	echo "Pinning metadata/1.root.json into the device image."
	cp "$REPO/metadata/1.root.json" "$DEVICE/root.json"
	local got
	got=$(sha256_of "$DEVICE/root.json")
	if [ -z "$got" ]; then
		echo "(no sha256sum or shasum: digest check skipped)"
	elif [ "$got" != "$ROOT_SHA256" ]; then
		die "pinned root has SHA-256 $got, init printed $ROOT_SHA256"
	else
		echo "pinned root SHA-256 $got matches the ceremony output"
	fi
}

step_publish() {
	local version=$1
	step "Publish detector $version (fixtures/models/detector/$version)"
	run mrepo add-target --repo "$REPO" --keys "$KEYS" "$FIXTURES/$version"
}

step_refuse_downgrade() {
	step "Refuse to republish or roll back: publishing detector 1.0.0 again must fail"
	if run mrepo add-target --repo "$REPO" --keys "$KEYS" "$FIXTURES/1.0.0" 2>&1; then
		die "add-target accepted a version that is already published"
	fi
	echo "refused, as expected; nothing was changed"
}

step_verify() {
	step "Verify the repository from the pinned root (release gate)"
	run mrepo verify --repo "$REPO" --root "$DEVICE/root.json"
}

step_status() {
	step "Repository status"
	run mrepo status --repo "$REPO"
}

step_timestamp() {
	step "Refresh the timestamp, as the cron job does"
	run mrepo timestamp --repo "$REPO" --keys "$KEYS"
	run mrepo verify --repo "$REPO" --root "$DEVICE/root.json"
}

step_serve() {
	step "Serve the repository on 127.0.0.1 and fetch from it"
	local addrfile="$WORK/serve.addr"
	# The binary itself goes to the background (not the mrepo shell function,
	# which would put a subshell there), so SERVER_PID is the server's own PID.
	echo "\$ mrepo serve --repo \$WORK/repo --addr 127.0.0.1:0 --addr-file \$WORK/serve.addr --access-log &"
	"$WORK/bin/mrepo" serve --repo "$REPO" --addr 127.0.0.1:0 --addr-file "$addrfile" --access-log \
		>"$WORK/serve.out" 2>"$WORK/serve.log" &
	SERVER_PID=$!
	local i
	for i in $(seq 100); do
		# The address file is complete once it ends with a newline.
		if [ -s "$addrfile" ] && [ -z "$(tail -c 1 "$addrfile")" ]; then
			break
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; die "mrepo serve exited early"; }
		sleep 0.1
	done
	[ -s "$addrfile" ] || die "mrepo serve did not write $addrfile within 10 s"
	ADDR=$(head -n 1 "$addrfile")
	cat "$WORK/serve.out"

	if ! command -v curl >/dev/null 2>&1; then
		echo "(curl is not installed: skipping the HTTP fetches; the server did start at $ADDR)"
		return
	fi
	local base="http://$ADDR"
	run curl -fsS -D "$WORK/ts.headers" -o "$WORK/timestamp.json" "$base/metadata/timestamp.json"
	grep -i -E '^(HTTP/|cache-control|content-length)' "$WORK/ts.headers"

	# Targets are stored under consistent-snapshot names: <sha256>.<file>.
	local stored name
	stored=$(cd "$REPO/targets" && ls models/detector/1.1.0/*.model.bin)
	name=${stored##*/}
	run curl -fsS -D "$WORK/model.headers" -o "$WORK/model.bin" "$base/targets/$stored"
	grep -i -E '^(HTTP/|cache-control|content-length|etag)' "$WORK/model.headers"
	local got
	got=$(sha256_of "$WORK/model.bin")
	if [ -n "$got" ]; then
		[ "$got" = "${name%%.*}" ] || die "downloaded model.bin has SHA-256 $got, its name says ${name%%.*}"
		echo "downloaded model.bin: SHA-256 matches its hash-prefixed name"
	fi
	if command -v cmp >/dev/null 2>&1; then
		cmp "$WORK/model.bin" "$FIXTURES/1.1.0/model.bin"
		echo "downloaded model.bin is byte-identical to fixtures/models/detector/1.1.0/model.bin"
	fi

	echo "access log:"
	sed 's/^/  /' "$WORK/serve.log"
}

step_stop_server() {
	step "Stop the server"
	kill -TERM "$SERVER_PID"
	local rc=0
	wait "$SERVER_PID" || rc=$?
	SERVER_PID=""
	[ "$rc" -eq 0 ] || die "mrepo serve exited with status $rc"
	echo "server stopped (exit status 0)"
}

main() {
	step_build
	step_ceremony
	step_publish 1.0.0
	step_publish 1.1.0
	step_refuse_downgrade
	step_verify
	step_status
	step_timestamp
	step_serve
	step_stop_server
	echo
	echo "demo OK: $STEP steps in $((SECONDS - START)) s"
}

main "$@"
