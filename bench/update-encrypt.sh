#!/usr/bin/env bash
# bench/update-encrypt.sh: a device's first `mclient update` to a large
# model published encrypted (delivery fleet, installed as plaintext: the
# ciphertext downloaded, decrypted as it arrives, the plaintext verified),
# against the same update of the same bytes published in plaintext, over
# loopback HTTP, runs alternating so that both see the same machine (issue
# 14's target: within 1.15x of the plaintext update, peak memory under
# 64 MiB).
#
#   SIZE_MIB=1024 RUNS=5 bench/update-encrypt.sh
#
# Prints, per run and as medians, wall time, CPU time (user + system) and
# peak RSS of the mclient process, and the ratios. Needs go, openssl and
# GNU time (/usr/bin/time; apt-get install time).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/pair.sh"
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/mclient-bench.XXXXXX")
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

require_tools openssl /usr/bin/time

echo "==> building mrepo and mclient"
(cd "$top" && go build -o "$work/mrepo" ./cmd/mrepo && go build -o "$work/mclient" ./cmd/mclient)
export MREPO_PASSPHRASE=bench-only-passphrase
export MREPO_CONTENT_PASSPHRASE=bench-only-content-passphrase
"$work/mrepo" init --repo "$work/repo" --keys "$work/keys" >/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/fleet.pem" 2>/dev/null
chmod 0600 "$work/fleet.pem"
"$work/mclient" fleet-key show --ref "file:$work/fleet.pem" | awk '/^recipient:/ {print $2}' >"$work/fleet.recipient"

echo "==> publishing a ${SIZE_MIB} MiB payload as model plain and as model enc (encrypted)"
mkdir -p "$work/bundle"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$work/bundle/model.bin"
printf '{"model_id": "plain", "version": "1.0.0"}\n' >"$work/bundle/manifest.json"
"$work/mrepo" add-target --repo "$work/repo" --keys "$work/keys" "$work/bundle" >/dev/null
printf '{"model_id": "enc", "version": "1.0.0"}\n' >"$work/bundle/manifest.json"
"$work/mrepo" add-target --repo "$work/repo" --keys "$work/keys" --encrypt --delivery fleet \
	--fleet-recipient-file "$work/fleet.recipient" "$work/bundle" >/dev/null
rm -rf "$work/bundle"
"$work/mrepo" serve --repo "$work/repo" --addr 127.0.0.1:0 --addr-file "$work/addr" >/dev/null &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/addr" ] && break; sleep 0.1; done
url="http://$(cat "$work/addr")"
sync

update() { # a new device's first update of model $1; prints "seconds maxrss_kib cpu_seconds"
	rm -rf "$work/state"
	sync
	"$work/mclient" init --state "$work/state" --root "$work/repo/metadata/1.root.json" --repo-url "$url" \
		--fleet-key "file:$work/fleet.pem" >/dev/null
	measure "$work/mclient" update --state "$work/state" --model-id "$1"
}
update_plain() { update plain; }
update_encrypted() { update enc; }
# One pair unmeasured first: the first update of each version after the
# publishing above runs cold (on the development VM its socket copies in
# the kernel cost 2 to 3 times their usual CPU), which inflated the
# medians before (docs/client.md, section 4, Cost).
update_plain >/dev/null
update_encrypted >/dev/null
for i in $(seq 1 "$RUNS"); do
	pair_run "$i" update "encrypted update" update_plain update_encrypted
done

pair_report "mclient update (plaintext)" "mclient update (encrypted)" 1.15x
