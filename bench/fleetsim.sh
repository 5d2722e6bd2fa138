#!/usr/bin/env bash
# bench/fleetsim.sh: the fleet simulation of issue 13 at DEVICES devices
# (internal/fleetsim, TestFleetCanary: a 5% canary failing its health
# check on 30% of devices, half the fleet checking in and reporting to a
# real collector, the automatic halt reading the collector's report, the
# whole fleet checking in, the report checked against the simulation). Reports the test's own log (the numbers of the
# simulation and the time of each wave), then the wall time, CPU time and
# peak RSS of the test process (bench/memsplit). The devices' state directories
# go to /dev/shm when it has room (fleetsim's stateRoot): their space,
# about 70 KiB a device, is tmpfs memory, not the process's RSS.
#
#   DEVICES=10000 bench/fleetsim.sh
#
# Needs go.
set -euo pipefail

DEVICES=${DEVICES:-10000}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/fleetsim.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "==> building the fleetsim test and memsplit"
(cd "$top" && go test -c -o "$work/fleetsim.test" ./internal/fleetsim && go build -o "$work/memsplit" ./bench/memsplit)

echo "==> TestFleetCanary with ${DEVICES} devices"
# CPU time (user + system) is the figure that does not depend on what else
# the machine runs; wall time does.
TIMEFORMAT='%U %S'
{ time (cd "$top/internal/fleetsim" && FLEETSIM_DEVICES=$DEVICES "$work/memsplit" -o "$work/mem.out" -- \
	"$work/fleetsim.test" -test.run '^TestFleetCanary$' -test.v -test.count=1 2>&1); } 2>"$work/cpu"
read -r secs peak anon file < <(awk '{print $2, $4, $6, $8}' "$work/mem.out")
read -r user sys <"$work/cpu"
echo "${DEVICES} devices: ${secs} s wall, CPU ${user} s user + ${sys} s system, peak RSS ${peak} KiB (${anon} anonymous + ${file} file-backed at the sampled peak); load now $(cut -d' ' -f1-3 /proc/loadavg)"
