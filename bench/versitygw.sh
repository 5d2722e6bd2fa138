# bench/versitygw.sh: sourced by the bench scripts that need an S3 server.
#
#   start_versitygw ROOT BUCKET
#
# starts versitygw (on PATH or in GOBIN/GOPATH/bin: .ci/install-test-deps.sh
# installs it) on a free loopback port over the directory ROOT, whose
# subdirectories are its buckets, with bench-only credentials exported as
# the AWS_* variables, and waits until it answers. It sets gw_pid (the
# caller stops it) and url, the mrepo --repo URL of BUCKET. Needs curl
# and python3; versitygw's log goes to ROOT.log.
start_versitygw() {
	local root=$1 bucket=$2 vgw port up=""
	vgw=$(command -v versitygw || true)
	if [ -z "$vgw" ]; then
		vgw=$(go env GOBIN)
		[ -n "$vgw" ] || vgw="$(go env GOPATH | cut -d: -f1)/bin"
		vgw="$vgw/versitygw"
	fi
	[ -x "$vgw" ] || { echo "bench: versitygw is required (.ci/install-test-deps.sh)" >&2; exit 1; }
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	# Bench-only credentials.
	export AWS_ACCESS_KEY_ID=bench-only-access-key AWS_SECRET_ACCESS_KEY=bench-only-secret-key AWS_REGION=us-east-1
	export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
	"$vgw" --quiet --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" --port "127.0.0.1:$port" posix "$root" >"$root.log" 2>&1 &
	gw_pid=$!
	for _ in $(seq 1 300); do
		kill -0 "$gw_pid" 2>/dev/null || break
		curl -s -o /dev/null "http://127.0.0.1:$port/" && { up=1; break; }
		sleep 0.1
	done
	[ -n "$up" ] || { echo "bench: versitygw did not start on 127.0.0.1:$port:" >&2; cat "$root.log" >&2; exit 1; }
	url="s3://$bucket?endpoint=http%3A%2F%2F127.0.0.1%3A$port&region=us-east-1&use_path_style=true&disable_https=true"
}
