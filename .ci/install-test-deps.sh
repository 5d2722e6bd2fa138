#!/usr/bin/env bash
# Installs what the key-backend tests sign through (keys/, cmd/mrepo/):
#   - SoftHSM2, a PKCS#11 token in software (Debian package softhsm2), and a
#     C compiler, since the PKCS#11 backend loads the module through cgo;
#   - local-kms, an AWS KMS emulator (a Go program, pinned below);
#   - swtpm, a software TPM 2.0, for the TPM anti-rollback store and the
#     TPM device-key backend;
#   - versitygw, an S3 server over a local directory (a Go program, pinned
#     below), for the storage backend and S3 publishing tests;
#   - PostgreSQL (Debian package postgresql: initdb and postgres under
#     /usr/lib/postgresql/N/bin, and the postgres system user the tests'
#     server runs as when they run as root), for the PostgreSQL telemetry
#     store (telemetry/pgstore). Tests run their own throwaway server; the
#     cluster the package may start is not used;
#   - chromium, the headless browser the telemetry dashboard's browser
#     test drives (telemetry/dashboard, through chromedp);
#   - qemu-user (qemu-aarch64, qemu-x86_64), which runs the tests of
#     delta/internal/planes built for the other vector architecture
#     (NEON on amd64 machines, SSE2 on arm64 ones; scripts/test.sh).
# Idempotent: it checks first and installs only what is missing, so a
# second run takes well under a second. Run as root, or with sudo
# available. Tests start and stop them themselves (internal/backendtest).
set -euo pipefail

# local-kms has no tagged releases on the module proxy; this is the newest
# pseudo-version, checked to build with Go 1.26.
LOCAL_KMS_MODULE=github.com/nsmithuk/local-kms
LOCAL_KMS_VERSION=v0.0.0-20260228092603-2a5e92d09ab6
# versitygw v1.8.0 enforces both If-None-Match: * and If-Match on PutObject,
# which the lock-free publisher relies on (docs/deployment.md).
VERSITYGW_MODULE=github.com/versity/versitygw
VERSITYGW_VERSION=v1.8.0

start=$SECONDS
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo="sudo -n"
	else
		echo "install-test-deps: not root and no sudo: cannot install Debian packages" >&2
	fi
fi

apt_packages=()
if [ ! -e /usr/lib/softhsm/libsofthsm2.so ] || ! command -v softhsm2-util >/dev/null 2>&1; then
	apt_packages+=(softhsm2)
fi
if ! command -v swtpm >/dev/null 2>&1 || ! command -v swtpm_ioctl >/dev/null 2>&1; then
	apt_packages+=(swtpm swtpm-tools)
fi
if ! command -v chromium >/dev/null 2>&1; then
	apt_packages+=(chromium)
fi
if ! command -v gcc >/dev/null 2>&1 && ! command -v cc >/dev/null 2>&1; then
	apt_packages+=(gcc libc6-dev)
fi
if ! command -v qemu-aarch64 >/dev/null 2>&1 || ! command -v qemu-x86_64 >/dev/null 2>&1; then
	apt_packages+=(qemu-user)
fi
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || ! id postgres >/dev/null 2>&1; then
	apt_packages+=(postgresql)
fi
if [ ${#apt_packages[@]} -gt 0 ]; then
	echo "install-test-deps: apt-get install ${apt_packages[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
else
	echo "install-test-deps: softhsm2, swtpm, a C compiler, postgresql, chromium and qemu-user are installed"
fi

gobin=$(go env GOBIN)
if [ -z "$gobin" ]; then
	gobin="$(go env GOPATH | cut -d: -f1)/bin"
fi
# go_tool NAME MODULE PACKAGE VERSION: go install PACKAGE@VERSION unless
# GOBIN already holds NAME built from MODULE at VERSION.
go_tool() {
	local name=$1 module=$2 pkg=$3 version=$4 have=""
	if [ -x "$gobin/$name" ]; then
		have=$(go version -m "$gobin/$name" 2>/dev/null | awk -v m="$module" '$1 == "mod" && $2 == m { print $3 }')
	fi
	if [ "$have" != "$version" ]; then
		echo "install-test-deps: go install $pkg@$version"
		# Outside the repository, so that its go.mod is not consulted.
		(cd / && go install "$pkg@$version")
	else
		echo "install-test-deps: $name $version is installed"
	fi
}
go_tool local-kms "$LOCAL_KMS_MODULE" "$LOCAL_KMS_MODULE" "$LOCAL_KMS_VERSION"
go_tool versitygw "$VERSITYGW_MODULE" "$VERSITYGW_MODULE/cmd/versitygw" "$VERSITYGW_VERSION"
echo "install-test-deps: done in $((SECONDS - start)) s"
