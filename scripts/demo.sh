#!/usr/bin/env bash
# End-to-end demonstration of edgetuf, repository and device, on loopback:
#
#   build mrepo and mclient; run a key ceremony (3 root keys, threshold 2)
#   and pin the first root into a "device image"; publish detector 1.0.0 and
#   serve the repository on 127.0.0.1; initialise a device from the pinned
#   root and update it (1.0.0), publish 1.1.0 and update again; then publish
#   1.2.0 and show the device refusing it twice: once because it is not
#   compatible with what the device declares (nothing is downloaded), once
#   because the server's copy of its model.bin was tampered with
#   (HASH_MISMATCH), while 1.1.0 stays active and verifies. Alongside, a
#   telemetry collector (mrepo telemetry serve, SQLite) receives the
#   device's update reports, and mrepo rollout report shows them.
#
# Every step checks its own outcome: the script exits non-zero, naming the
# step, as soon as something does not behave as shown.
#
# Needs only Go (the first build fetches modules through the Go module
# proxy) and a POSIX shell. Everything happens in a temporary directory that
# is removed on exit; the servers listen on 127.0.0.1 only and are always
# stopped.
#
# The passphrase below is a TEST-ONLY value for throw-away keys. Never use
# MREPO_PASSPHRASE with a literal like this for real keys.
#
# Each step is a function called from main(); add a step by writing a
# function and adding one line there.

set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIXTURES="$ROOT_DIR/fixtures/models/detector"

export MREPO_PASSPHRASE='demo-only-NOT-A-SECRET'
unset FAKETIME # mclient honours it; the demo runs on the real clock

# What the demo device declares about itself. The fixture manifests require
# app >= 2.3.0, onnxruntime >= 1.17 and linux/amd64 or linux/arm64; the
# platform is given explicitly so the demo behaves the same on any machine.
DEVICE_FLAGS=(--app-version 2.4.0 --runtime onnxruntime@1.17.1 --platform linux/amd64 --variant lite)

WORK=""        # temporary directory, removed on exit
SERVER_PID=""    # mrepo serve, stopped on exit
COLLECTOR_PID="" # mrepo telemetry serve, stopped on exit
STEP=0
START=$SECONDS

cleanup() {
	local rc=$? pid
	for pid in "$SERVER_PID" "$COLLECTOR_PID"; do
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
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

# show prints a command as it would be typed, with the temporary directory
# shortened to $WORK and paths in this repository made relative.
show() {
	local shown="$*"
	shown=${shown//$ROOT_DIR\//}
	echo "\$ ${shown//$WORK/\$WORK}"
}

# run shows a command and runs it; its failure ends the demo.
run() {
	show "$@"
	"$@"
}

# run_fails CODE CMD...: shows CMD, runs it, and requires it to fail with
# exit status 1 and CODE in its one-line error on stderr (printed too).
run_fails() {
	local code=$1 rc=0
	shift
	show "$@"
	"$@" 2>"$WORK/stderr" || rc=$?
	sed "s|$WORK|\$WORK|g" "$WORK/stderr"
	[ "$rc" -eq 1 ] || die "expected exit status 1, got $rc"
	grep -q "$code" "$WORK/stderr" || die "expected $code on stderr"
	echo "(exit status 1, $code, as expected)"
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

# The binaries, called through these functions so that shown commands read
# "mrepo ..." and "mclient ...".
mrepo() { "$WORK/bin/mrepo" "$@"; }
mclient() { "$WORK/bin/mclient" "$@"; }
genpair() { "$WORK/bin/genpair" "$@"; }

# expect_active V: the device's active version of detector is V, confirmed.
expect_active() {
	mclient status --state "$DEV" --model-id detector >"$WORK/status.out"
	grep -q "^  active: *$1\$" "$WORK/status.out" ||
		{ cat "$WORK/status.out"; die "expected detector $1 to be active (and not on trial)"; }
}

step_build() {
	step "Build mrepo (repository tool) and mclient (device client)"
	command -v go >/dev/null 2>&1 || die "Go is not installed (https://go.dev/dl/)"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgetuf-demo.XXXXXX")
	echo "working directory: $WORK (removed on exit)"
	# Said before the first go command, which may be silent for minutes.
	echo "building mrepo, mclient and genpair (bench/genpair, makes test weights) with go build;"
	echo "the first build downloads the modules (and Go 1.26 if this Go is older) through the Go module proxy"
	echo "and compiles them: this can take a few minutes"
	(cd "$ROOT_DIR" && run go build -o "$WORK/bin/mrepo" ./cmd/mrepo)
	(cd "$ROOT_DIR" && run go build -o "$WORK/bin/mclient" ./cmd/mclient)
	(cd "$ROOT_DIR" && run go build -o "$WORK/bin/genpair" ./bench/genpair)
	echo "built in $((SECONDS - START)) s; what to record about a binary (docs/key-ceremony.md):"
	run mrepo --version
	REPO="$WORK/repo"          # what gets published (metadata/, targets/)
	KEYS="$WORK/keys"          # encrypted private keys
	OFFLINE="$WORK/offline"    # stands in for offline media holding root keys
	IMAGE="$WORK/image"        # stands in for the device image (read-only on a device)
	DEV="$WORK/device"         # the device's state directory
	mkdir -p "$OFFLINE" "$IMAGE"
	BUILT_AT=$SECONDS
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

	echo "Pinning metadata/1.root.json into the device image."
	cp "$REPO/metadata/1.root.json" "$IMAGE/root.json"
	local got
	got=$(sha256_of "$IMAGE/root.json")
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

step_verify_repo() {
	step "Release gate: verify the repository from the pinned root"
	run mrepo verify --repo "$REPO" --root "$IMAGE/root.json"
}

step_serve() {
	step "Serve the repository on 127.0.0.1 (background; stopped on exit)"
	local addrfile="$WORK/serve.addr"
	# The binary itself goes to the background (not the mrepo shell function,
	# which would put a subshell there), so SERVER_PID is the server's own PID.
	show mrepo serve --repo "$REPO" --addr 127.0.0.1:0 --addr-file "$addrfile" --access-log "&"
	"$WORK/bin/mrepo" serve --repo "$REPO" --addr 127.0.0.1:0 --addr-file "$addrfile" --access-log \
		>"$WORK/serve.out" 2>"$WORK/serve.log" &
	SERVER_PID=$!
	URL="http://$(wait_addr "$addrfile" "$SERVER_PID" "$WORK/serve.log" "mrepo serve")"
	sed "s|$WORK|\$WORK|g" "$WORK/serve.out"
}

# wait_addr FILE PID LOG NAME prints the address a server started in the
# background (PID, logging to LOG) writes to FILE, once it is there.
wait_addr() {
	local addrfile=$1 pid=$2 log=$3 name=$4 i
	for i in $(seq 100); do
		# The address file is complete once it ends with a newline.
		if [ -s "$addrfile" ] && [ -z "$(tail -c 1 "$addrfile")" ]; then
			break
		fi
		kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "$name exited early"; }
		sleep 0.1
	done
	[ -s "$addrfile" ] || die "$name did not write $addrfile within 10 s"
	head -n 1 "$addrfile"
}

step_collector() {
	step "Run the fleet telemetry collector on 127.0.0.1, storing reports in SQLite (background; stopped on exit)"
	local addrfile="$WORK/collector.addr"
	TELEMETRY_DB="$WORK/telemetry.db"
	show mrepo telemetry serve --db "$TELEMETRY_DB" --addr 127.0.0.1:0 --addr-file "$addrfile" "&"
	"$WORK/bin/mrepo" telemetry serve --db "$TELEMETRY_DB" --addr 127.0.0.1:0 --addr-file "$addrfile" \
		>"$WORK/collector.out" 2>"$WORK/collector.log" &
	COLLECTOR_PID=$!
	COLLECTOR_URL="http://$(wait_addr "$addrfile" "$COLLECTOR_PID" "$WORK/collector.log" "mrepo telemetry serve")"
	sed "s|$WORK|\$WORK|g" "$WORK/collector.out"
}

step_device_init() {
	step "Device: initialise the state directory from the pinned root (no network)"
	run mclient init --state "$DEV" --root "$IMAGE/root.json" --repo-url "$URL" \
		--device-id demo-serial-0042 --device-class demo-board --telemetry-url "$COLLECTOR_URL"
	echo "after each update the device sends its reports (sampled, no device ID) to the collector"
	# A tiny health check: mclient runs it with the new version's directory
	# as its last argument; exit 0 means the model is usable.
	cat >"$WORK/bin/selftest" <<-'EOF'
		#!/bin/sh
		# Demo health check: the model is non-empty and has its 6 labels.
		[ -s "$1/model.bin" ] && [ "$(wc -l <"$1/labels.txt")" -eq 6 ]
	EOF
	chmod +x "$WORK/bin/selftest"
	echo "health check for the updates below (\$WORK/bin/selftest):"
	sed -n 3p "$WORK/bin/selftest" | sed 's/^/  /'
}

step_update() {
	local want=$1
	step "Device: update (expect detector $want)"
	run mclient update --state "$DEV" --model-id detector "${DEVICE_FLAGS[@]}" --health-check "$WORK/bin/selftest"
	expect_active "$want"
}

step_status() {
	step "Device: status"
	run mclient status --state "$DEV"
	expect_active 1.1.0
	grep -q '^  previous: *1.0.0$' "$WORK/status.out" || die "expected 1.0.0 as the previous version"
	grep -q '^  floor: *1.1.0$' "$WORK/status.out" || die "expected the anti-rollback floor at 1.1.0"
}

# A second model, segmenter: 16 MiB of float32 weights (generated), whose
# 1.1.0 retrains the last layers. 1.1.0 is published with a patch from
# 1.0.0, and the device updates by delta.
step_delta_publish() {
	step "Publish segmenter 1.0.0, then 1.1.0 with a patch from 1.0.0 (16 MiB float32 weights; 1.1.0 retrains the last layers)"
	mkdir -p "$WORK/seg/1.0.0" "$WORK/seg/1.1.0"
	run genpair -pair tail -size 16MiB -seed 7 "$WORK/seg/1.0.0/model.bin" "$WORK/seg/1.1.0/model.bin"
	local v
	for v in 1.0.0 1.1.0; do
		printf '{"model_id": "segmenter", "version": "%s", "variant": "lite"}\n' "$v" >"$WORK/seg/$v/manifest.json"
	done
	run mrepo add-target --repo "$REPO" --keys "$KEYS" "$WORK/seg/1.0.0"
	run mclient update --state "$DEV" --model-id segmenter "${DEVICE_FLAGS[@]}"
	run mrepo add-target --repo "$REPO" --keys "$KEYS" --delta-from 1.0.0 "$WORK/seg/1.1.0" | tee "$WORK/delta-publish.out"
	grep -q 'delta model.bin from 1.0.0: .*published' "$WORK/delta-publish.out" || die "expected the patch from 1.0.0 to be published"
}

step_delta_update() {
	step "Device: update segmenter by delta: the patch is signed, applied in staging, checked against 1.1.0's signed SHA-256"
	run mclient update --state "$DEV" --model-id segmenter "${DEVICE_FLAGS[@]}" | tee "$WORK/delta-update.out"
	grep -q 'downloaded by delta from 1.0.0 instead of 16.0 MiB' "$WORK/delta-update.out" || die "expected model.bin to come by delta"
	run mclient verify --state "$DEV" --model-id segmenter
}

# served_model_bin V prints the path of version V's model.bin in the
# repository (stored under its consistent-snapshot name <sha256>.model.bin).
served_model_bin() {
	local f
	for f in "$REPO/targets/models/detector/$1"/*.model.bin; do
		[ -f "$f" ] || die "no served model.bin for detector $1"
		echo "$f"
	done
}

step_incompatible() {
	step "Device: a device that does not declare its runtime skips 1.2.0 (fail closed)"
	echo "detector 1.2.0 requires onnxruntime >= 1.17; this run leaves --runtime out."
	local before
	before=$(grep -c ' GET /targets/' "$WORK/serve.log" || true)
	run mclient update --state "$DEV" --model-id detector \
		--app-version 2.4.0 --platform linux/amd64 --variant lite | tee "$WORK/update.out"
	grep -q '^  skipped 1\.2\.0: INCOMPATIBLE: ' "$WORK/update.out" || die "expected 1.2.0 skipped as INCOMPATIBLE"
	echo "(exit status 0: the device stays on 1.1.0, the newest version it can run)"
	local after
	after=$(grep -c ' GET /targets/' "$WORK/serve.log" || true)
	[ "$before" = "$after" ] || die "the device fetched target files for an incompatible version"
	echo "the server's access log shows no target file fetched: eligibility was decided from signed metadata"
	expect_active 1.1.0
}

step_tamper() {
	step "Attack: flip one byte of detector 1.2.0's model.bin on the server"
	local f
	f=$(served_model_bin 1.2.0)
	echo "file: ${f#"$REPO"/}"
	# Same length, one byte different: only the hash can tell.
	local old
	old=$(od -An -tx1 -j 100 -N 1 "$f" | tr -d ' \n')
	if [ "$old" = "00" ]; then printf '\377' ; else printf '\000'; fi |
		dd of="$f" bs=1 seek=100 count=1 conv=notrunc 2>/dev/null
	echo "byte 100 was 0x$old, is now 0x$(od -An -tx1 -j 100 -N 1 "$f" | tr -d ' \n')"
	echo
	echo "The release gate would have caught it:"
	run_fails HASH_MISMATCH mrepo verify --repo "$REPO" --root "$IMAGE/root.json"
}

step_update_tampered() {
	step "Device: update is offered 1.2.0 and rejects the tampered download"
	run_fails HASH_MISMATCH mclient update --state "$DEV" --model-id detector "${DEVICE_FLAGS[@]}" \
		--health-check "$WORK/bin/selftest"
	[ ! -e "$DEV/models/detector/1.2.0" ] || die "detector 1.2.0 was installed"
	echo "nothing of 1.2.0 was installed; the corrupt download was deleted from staging"
}

step_still_good() {
	step "Device: 1.1.0 is still active and still verifies"
	run mclient status --state "$DEV"
	expect_active 1.1.0
	grep -q '^  last: *failed at .*: HASH_MISMATCH\b' "$WORK/status.out" || die "expected the last result to be HASH_MISMATCH"
	run mclient verify --state "$DEV" --model-id detector
}

step_events() {
	step "Device: the event log (telemetry-safe: no device ID, no payload data)"
	run cat "$DEV/events.jsonl"
	if grep -q 'demo-serial-0042' "$DEV/events.jsonl"; then
		die "the event log contains the device ID"
	fi
	echo "the device ID given at init (demo-serial-0042) appears nowhere in it"
}

step_report() {
	step "Operator: what the device reported, from the collector (mrepo rollout report)"
	run mrepo rollout report --collector "$COLLECTOR_URL" detector | tee "$WORK/report.out"
	grep -q '^version 1\.1\.0: ' "$WORK/report.out" || die "expected reports of detector 1.1.0"
	grep -q '^    failed  *HASH_MISMATCH ' "$WORK/report.out" || die "expected 1.2.0's HASH_MISMATCH in the report"
	echo
	echo "The same from the collector's database (as a cron job would read it); segmenter's delta shows as bytes saved:"
	run mrepo rollout report --db "$TELEMETRY_DB" segmenter | tee "$WORK/report-seg.out"
	grep -q '^  downloads: .* saved$' "$WORK/report-seg.out" || die "expected segmenter's bytes saved"
	echo "the dashboard: $COLLECTOR_URL/dashboard?model=detector"
}

step_stop_server() {
	step "Stop the servers"
	echo "what the device fetched (access log, targets only):"
	grep ' GET /targets/' "$WORK/serve.log" | sed 's/^/  /'
	local rc=0
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || rc=$?
	SERVER_PID=""
	[ "$rc" -eq 0 ] || die "mrepo serve exited with status $rc"
	kill -TERM "$COLLECTOR_PID"
	wait "$COLLECTOR_PID" || rc=$?
	COLLECTOR_PID=""
	[ "$rc" -eq 0 ] || die "mrepo telemetry serve exited with status $rc"
	sed "s|$WORK|\$WORK|g" "$WORK/collector.out" | tail -n 1
	echo "servers stopped (exit status 0)"
}

main() {
	step_build
	step_ceremony
	step_publish 1.0.0
	step_verify_repo
	step_serve
	step_collector
	step_device_init
	step_update 1.0.0
	step_publish 1.1.0
	step_update 1.1.0
	step_status
	step_delta_publish
	step_delta_update
	step_publish 1.2.0
	step_incompatible
	step_tamper
	step_update_tampered
	step_still_good
	step_events
	step_report
	step_stop_server
	echo
	echo "demo OK: $STEP steps in $((SECONDS - START)) s ($((SECONDS - BUILT_AT)) s after the build)"
}

main "$@"
