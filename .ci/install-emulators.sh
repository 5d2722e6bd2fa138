#!/usr/bin/env bash
# Installs the optional emulators the storage tests also run against
# (storage.TestAzureBackend, storage.TestGCSBackend):
#   - Azurite, Microsoft's Azure Storage emulator (npm package azurite),
#     into PREFIX (default /usr/local: azurite-blob lands on PATH);
#   - fake-gcs-server, a Google Cloud Storage emulator (a Go program; about
#     4 minutes to build cold on 2 cores), into GOBIN or GOPATH/bin.
# Without them those tests skip; with EDGETUF_REQUIRE_EMULATORS=1 they
# fail instead. Idempotent: installs only what is missing.
set -euo pipefail

AZURITE_VERSION=3.35.0
FAKE_GCS_MODULE=github.com/fsouza/fake-gcs-server
FAKE_GCS_VERSION=v1.56.1
PREFIX=${PREFIX:-/usr/local}

if ! command -v azurite-blob >/dev/null 2>&1; then
	if command -v npm >/dev/null 2>&1; then
		npm install --global --prefix "$PREFIX" --no-audit --no-fund "azurite@$AZURITE_VERSION"
	else
		echo "install-emulators: npm not found: Azurite not installed" >&2
	fi
fi
gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin=$(go env GOPATH | cut -d: -f1)/bin
if ! command -v fake-gcs-server >/dev/null 2>&1 && [ ! -x "$gobin/fake-gcs-server" ]; then
	go install "$FAKE_GCS_MODULE@$FAKE_GCS_VERSION"
fi
