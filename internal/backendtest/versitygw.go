package backendtest

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestAccessKey and TestSecretKey are the credentials of every test S3
// server (and what LocalKMS hands the AWS SDK: local-kms accepts any), so
// that one process can sign with local-kms and publish into versitygw
// with one AWS environment. Test-only.
const (
	TestAccessKey = "test-only-access-key"
	TestSecretKey = "test-only-secret-key"
	TestRegion    = "us-east-1"
)

// S3Server is a running versitygw (github.com/versity/versitygw): an S3
// API in front of a fresh directory, on 127.0.0.1 only, for one test.
// It enforces the conditional writes a lock-free publisher relies on
// (If-None-Match: * and If-Match), as AWS S3 does.
type S3Server struct {
	// Endpoint is the gateway's URL, http://127.0.0.1:PORT.
	Endpoint string
	root     string
	env      []string
	buckets  atomic.Int64
}

// VersityGW starts versitygw for t with test-only credentials and an
// empty posix directory, waits until it answers, and stops it when t
// ends. It skips t, with the reason, when versitygw is not installed,
// unless EDGETUF_REQUIRE_BACKENDS=1. It changes nothing in this process's
// environment: see Env and UseInProcess.
func VersityGW(t testing.TB) *S3Server {
	t.Helper()
	bin := findTool(t, "versitygw")
	dir := t.TempDir()
	s := &S3Server{root: filepath.Join(dir, "buckets")}
	if err := os.MkdirAll(s.root, 0o700); err != nil {
		t.Fatal(err)
	}
	s.env = awsTestEnv(dir)
	// versitygw takes a fixed address and does not report the port the
	// kernel picked for ":0", so a free port is chosen here; another
	// process can take it in between, hence the few attempts.
	var log strings.Builder
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s.Endpoint = "http://127.0.0.1:" + port
		if s.start(t, bin, port, &log) {
			return s
		}
	}
	t.Fatalf("versitygw did not start:\n%s", log.String())
	return nil
}

// start runs versitygw on port and reports whether it answers there; when
// it does not (the port was taken), it appends why to log.
func (s *S3Server) start(t testing.TB, bin, port string, log *strings.Builder) bool {
	t.Helper()
	ok, why := startHTTP(t, bin, []string{"--quiet",
		"--access", TestAccessKey, "--secret", TestSecretKey, "--region", TestRegion,
		"--port", "127.0.0.1:" + port, "posix", s.root}, []string{"VGW_LOG_LEVEL=silent"},
		s.Endpoint+"/", "VERSITYGW")
	if !ok {
		fmt.Fprintf(log, "port %s: %s\n", port, why)
	}
	return ok
}

// NewBucket creates an empty bucket and returns the storage URL of a
// repository in it: s3://BUCKET?endpoint=..&region=..&use_path_style=true&disable_https=true
// (what storage.Open takes; credentials come from Env). Buckets of one
// server are independent: one per repository under test.
func (s *S3Server) NewBucket(t testing.TB) string {
	t.Helper()
	// versitygw's posix backend serves every directory of its root as a
	// bucket; creating the directory is creating the bucket.
	name := fmt.Sprintf("edgetuf-test-%d", s.buckets.Add(1))
	if err := os.Mkdir(filepath.Join(s.root, name), 0o755); err != nil {
		t.Fatal(err)
	}
	return s.URL(name)
}

// URL returns the storage URL of bucket on this server.
func (s *S3Server) URL(bucket string) string {
	q := url.Values{}
	q.Set("endpoint", s.Endpoint)
	q.Set("region", TestRegion)
	q.Set("use_path_style", "true")
	q.Set("disable_https", "true")
	return "s3://" + bucket + "?" + q.Encode()
}

// Env returns the AWS SDK settings that reach this server (the test-only
// credentials and region, no shared config or profile of the user running
// the tests), for a separate process.
func (s *S3Server) Env() []string { return s.env }

// UseInProcess sets Env in this process for t's duration (t.Setenv), for
// code under test that opens the bucket itself.
func (s *S3Server) UseInProcess(t testing.TB) { setEnv(t, s.env) }

// awsTestEnv is the AWS SDK environment of a test backend: test-only
// credentials, and no user's configuration, profile or instance metadata
// (dir holds the names of config files that do not exist).
func awsTestEnv(dir string) []string {
	return []string{
		"AWS_REGION=" + TestRegion,
		"AWS_ACCESS_KEY_ID=" + TestAccessKey,
		"AWS_SECRET_ACCESS_KEY=" + TestSecretKey,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "no-aws-credentials"),
	}
}

// setEnv sets env in this process for t's duration and unsets the AWS
// settings that would override it.
func setEnv(t testing.TB, env []string) {
	t.Helper()
	for _, kv := range env {
		name, val, _ := strings.Cut(kv, "=")
		t.Setenv(name, val)
	}
	for _, name := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		if _, ok := os.LookupEnv(name); ok {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

// findTool returns the path of a Go-installed test tool: on PATH, else in
// GOBIN or GOPATH/bin (where .ci/install-test-deps.sh puts it). It skips
// (or fails) t when the tool is in neither.
func findTool(t testing.TB, name string) string {
	t.Helper()
	if bin, err := exec.LookPath(name); err == nil {
		return bin
	}
	goEnv := func(v string) string {
		if s := os.Getenv(v); s != "" {
			return s
		}
		out, _ := exec.Command("go", "env", v).Output()
		return strings.TrimSpace(string(out))
	}
	dir := goEnv("GOBIN")
	if dir == "" {
		dir = filepath.Join(strings.Split(goEnv("GOPATH"), string(os.PathListSeparator))[0], "bin")
	}
	bin := filepath.Join(dir, name)
	if _, err := os.Stat(bin); err != nil {
		missing(t, name)
	}
	return bin
}
