#!/usr/bin/env bash
# Release builds of mrepo and mclient, with nothing but Go (no goreleaser):
#
#   scripts/release.sh [VERSION]   build into dist/: mrepo and mclient for
#                                  linux/amd64, linux/arm64, linux/arm (GOARM=7)
#   scripts/release.sh --check     CI: build mclient for linux/arm with the
#                                  release flags and for this machine with the
#                                  same stamps, in a temporary directory, and
#                                  check what the latter's --version reports
#
# VERSION defaults to `git describe --tags --always --dirty` (or "unknown"
# outside Git). Every binary is static (CGO_ENABLED=0), built with
# -trimpath and stripped (-ldflags "-s -w"), and stamped with the version,
# the commit, whether the tree had uncommitted changes, the commit time and
# the build time (SOURCE_DATE_EPOCH if set, for reproducible builds; else
# now): `mrepo
# --version` and `mclient --version` print them. dist/ gets the binaries,
# named COMMAND-OS-ARCH (armv7 for linux/arm), and SHA256SUMS; the size of
# each stripped mclient is printed.
#
# Without cgo, mrepo cannot use PKCS#11 keys (HSMs): `mrepo --version`
# says "pkcs11: no". Build mrepo with CGO_ENABLED=1 on the signing host if
# it needs them (docs/key-backends.md).

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PKG=github.com/edgetuf/edgetuf
STAMP=$PKG/internal/cliutil
PLATFORMS=(linux/amd64 linux/arm64 linux/arm/7)
COMMANDS=(mrepo mclient)
DIST=dist

die() {
	echo "release: $*" >&2
	exit 1
}

CHECK=""
case "${1:-}" in
--check) CHECK=1 VERSION=v0.0.0-release-check ;;
-h | --help)
	sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
	exit 0
	;;
-*) die "unknown option $1 (see $0 --help)" ;;
"") VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo unknown) ;;
*) VERSION=$1 ;;
esac
[ "$#" -le 1 ] || die "at most one argument, VERSION (see $0 --help)"
[[ $VERSION =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] || die "version $VERSION: only letters, digits and . _ + - please"

command -v go >/dev/null 2>&1 || die "Go is not installed (https://go.dev/dl/)"
COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
COMMIT_TIME=unknown
if [ "$COMMIT" = unknown ]; then
	MODIFIED=unknown
elif [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	MODIFIED=true
else
	MODIFIED=false
fi
if [ "$COMMIT" != unknown ]; then
	COMMIT_TIME=$(TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd HEAD)
fi
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
	BUILD_TIME=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null ||
		date -u -r "$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
else
	BUILD_TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ)
fi
LDFLAGS="-s -w -X $STAMP.stampVersion=$VERSION -X $STAMP.stampCommit=$COMMIT -X $STAMP.stampModified=$MODIFIED"
LDFLAGS+=" -X $STAMP.stampCommitTime=$COMMIT_TIME -X $STAMP.stampBuildTime=$BUILD_TIME"

# build OUT OS/ARCH[/ARM] COMMAND: one static, trimmed, stripped, stamped binary.
build() {
	local out=$1 goos goarch goarm
	IFS=/ read -r goos goarch goarm <<<"$2"
	CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch GOARM=$goarm \
		go build -trimpath -ldflags "$LDFLAGS" -o "$out" "./cmd/$3"
}

# name OS/ARCH[/ARM]: linux-amd64, linux-armv7.
name() {
	local goos goarch goarm
	IFS=/ read -r goos goarch goarm <<<"$1"
	echo "$goos-$goarch${goarm:+v$goarm}"
}

size() {
	local bytes
	bytes=$(wc -c <"$1" | tr -d ' ')
	awk -v b="$bytes" 'BEGIN { printf "%.1f MiB (%d bytes)\n", b / 1048576, b }'
}

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$@"
	else
		shasum -a 256 "$@"
	fi
}

if [ -n "$CHECK" ]; then
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/release-check.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	host=$(go env GOOS)/$(go env GOARCH)
	echo "release check: mclient for linux/arm/7 with the release flags, for $host with the same stamps"
	# The stamps: -X of a variable that does not exist is silently ignored.
	# Built with the ambient settings rather than CGO_ENABLED=0 -trimpath,
	# so that it reuses what go test compiled (CI runs this after the tests).
	go build -ldflags "$LDFLAGS" -o "$tmp/mclient" ./cmd/mclient
	"$tmp/mclient" --version >"$tmp/version.out"
	for want in "mclient $VERSION" "commit: $COMMIT" "commit time: $COMMIT_TIME" "build time: $BUILD_TIME" "platform: $host" "pkcs11: no"; do
		grep -qxF "$want" "$tmp/version.out" || { cat "$tmp/version.out" >&2; die "mclient --version does not say: $want"; }
	done
	grep -qx "modified: \(yes\|no\|unknown\)" "$tmp/version.out" || die "mclient --version has no modified line"
	build "$tmp/mclient-arm" linux/arm/7 mclient
	go version -m "$tmp/mclient-arm" >"$tmp/buildinfo"
	for want in "GOARCH=arm" "GOARM=7" "CGO_ENABLED=0" "-trimpath=true"; do
		grep -q "build[[:space:]]$want\$" "$tmp/buildinfo" || die "linux/arm build: no $want in go version -m"
	done
	echo "mclient linux/arm/7: $(size "$tmp/mclient-arm")"
	echo "release check OK"
	exit 0
fi

mkdir -p "$DIST"
echo "building edgetuf $VERSION (commit $COMMIT, modified $MODIFIED) into $DIST/"
files=()
for p in "${PLATFORMS[@]}"; do
	for cmd in "${COMMANDS[@]}"; do
		f="$cmd-$(name "$p")"
		echo "  $f"
		build "$DIST/$f" "$p" "$cmd"
		files+=("$f")
	done
done
(cd "$DIST" && sha256 "${files[@]}" >SHA256SUMS)
echo "$DIST/SHA256SUMS written"
echo
echo "stripped mclient size per architecture:"
for p in "${PLATFORMS[@]}"; do
	printf '  %-12s %s\n' "$p" "$(size "$DIST/mclient-$(name "$p")")"
done
