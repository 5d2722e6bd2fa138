// Package backendtest starts the external services that tests run
// against: the key backends that the key-reference tests sign through (a
// SoftHSM2 token for PKCS#11, local-kms as an AWS KMS emulator, swtpm as a
// TPM), versitygw, an S3 server for the storage and publishing tests,
// PostgreSQL for the telemetry store, and a headless Chromium for the
// telemetry dashboard. A test calls SoftHSM, LocalKMS, StartSWTPM,
// VersityGW, Postgres or Chromium; each skips the test, with the reason,
// when its component is not installed, unless
// EDGETUF_REQUIRE_BACKENDS=1 (CI sets it after installing them), in which
// case a missing component fails the test. .ci/install-test-deps.sh
// installs them all. It is test support only: every PIN and credential
// here is a test value.
package backendtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/pkcs11tok"
)

// SoftHSMModule is where Debian's softhsm2 package puts the PKCS#11 module.
const SoftHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// TestPIN and TestSOPIN are the PINs of every test token. Test-only.
const (
	TestPIN   = "test-only-pin-1234"
	TestSOPIN = "test-only-so-pin-5678"
)

const installHint = "run .ci/install-test-deps.sh"

// missing skips (or, when backends are required, fails) t.
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("EDGETUF_REQUIRE_BACKENDS") == "1" {
		t.Fatalf("%s is not installed, and EDGETUF_REQUIRE_BACKENDS=1: %s", what, installHint)
	}
	t.Skipf("%s is not installed: %s", what, installHint)
}

// SoftHSM is a SoftHSM2 token for one test.
type SoftHSM struct {
	Module  string // the PKCS#11 module
	Conf    string // the SOFTHSM2_CONF file
	Token   string // the token's label
	PIN     string // the user PIN (test-only)
	PINFile string // a file holding PIN, for pin-source=file:
}

// URI returns a PKCS#11 reference to key object in the token, with its
// module path and PIN file.
func (h *SoftHSM) URI(object string) string {
	return fmt.Sprintf("pkcs11:token=%s;object=%s?module-path=%s&pin-source=file:%s", h.Token, object, h.Module, h.PINFile)
}

// Env returns the environment a separate process needs to use the token.
func (h *SoftHSM) Env() []string { return []string{"SOFTHSM2_CONF=" + h.Conf} }

// UseInProcess points this process's SoftHSM2 at the token's
// configuration (t.Setenv of SOFTHSM2_CONF). The module reads it when it
// is initialized, so the caller must make the code under test finalize
// the module when t ends (keys.ClosePKCS11 in a t.Cleanup registered
// after this call), so that the next test's module reads its own.
func (h *SoftHSM) UseInProcess(t testing.TB) {
	t.Setenv("SOFTHSM2_CONF", h.Conf)
}

// Util runs softhsm2-util with the token's configuration.
func (h *SoftHSM) Util(args ...string) ([]byte, error) {
	cmd := exec.Command("softhsm2-util", args...)
	cmd.Env = append(os.Environ(), h.Env()...)
	return cmd.CombinedOutput()
}

func findSoftHSM(t testing.TB) {
	t.Helper()
	if !cgoEnabled {
		missing(t, "a C compiler (this test binary was built without cgo, which PKCS#11 needs)")
	}
	if _, err := os.Stat(SoftHSMModule); err != nil {
		missing(t, "softhsm2 (module "+SoftHSMModule+")")
	}
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		missing(t, "softhsm2 (softhsm2-util)")
	}
}

func writeConf(dir string) (string, error) {
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return "", err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	data := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	return conf, os.WriteFile(conf, []byte(data), 0o600)
}

// NewSoftHSM creates a SoftHSM2 configuration with one initialized token,
// labelled label, in t's temporary directory. Processes that t starts use
// it through Env; to use it in this process, call UseInProcess.
func NewSoftHSM(t testing.TB, label string) *SoftHSM {
	t.Helper()
	findSoftHSM(t)
	conf, err := writeConf(filepath.Join(t.TempDir(), "softhsm"))
	if err != nil {
		t.Fatal(err)
	}
	return newToken(t, conf, label)
}

// AddToken initializes another token under h's configuration. A process
// that has already initialized the module does not see it.
func (h *SoftHSM) AddToken(t testing.TB, label string) *SoftHSM {
	t.Helper()
	return newToken(t, h.Conf, label)
}

func newToken(t testing.TB, conf, label string) *SoftHSM {
	t.Helper()
	pinFile := filepath.Join(filepath.Dir(conf), label+".pin")
	if err := os.WriteFile(pinFile, []byte(TestPIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := &SoftHSM{Module: SoftHSMModule, Conf: conf, Token: label, PIN: TestPIN, PINFile: pinFile}
	if out, err := h.Util("--init-token", "--free", "--label", label, "--so-pin", TestSOPIN, "--pin", TestPIN); err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return h
}

// KMS is a running local-kms.
type KMS struct {
	Endpoint string // http://127.0.0.1:PORT
	env      []string
}

// Env returns the AWS SDK settings that reach this KMS (dummy test
// credentials, region, endpoint), for a separate process.
func (k *KMS) Env() []string { return k.env }

var startedRE = regexp.MustCompile(`Local KMS started on [0-9.]*:([0-9]+)`)

// LocalKMS starts local-kms for t with an empty data directory, points the
// AWS SDK of this process at it (t.Setenv), and stops it when t ends.
// local-kms binds every interface (it takes no address); it runs on a port
// the kernel picks and only for the test's duration.
func LocalKMS(t testing.TB) *KMS {
	t.Helper()
	bin := findTool(t, "local-kms")
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "PORT=0", "KMS_DATA_PATH="+filepath.Join(dir, "data"),
		"KMS_REGION=us-east-1", "KMS_ACCOUNT_ID=111122223333", "KMS_SEED_PATH="+filepath.Join(dir, "no-seed.yaml"))
	cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting local-kms: %v", err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		pw.Close()
		<-done
	})
	port := make(chan string, 1)
	var logMu sync.Mutex
	var log strings.Builder
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			logMu.Lock()
			log.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if m := startedRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case port <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	var p string
	select {
	case p = <-port:
	case <-time.After(30 * time.Second):
		logMu.Lock()
		defer logMu.Unlock()
		t.Fatalf("local-kms did not start within 30s:\n%s", log.String())
	}
	k := &KMS{Endpoint: "http://127.0.0.1:" + p}
	// Test-only dummy credentials: local-kms accepts any.
	k.env = append([]string{"AWS_ENDPOINT_URL_KMS=" + k.Endpoint}, awsTestEnv(dir)...)
	setEnv(t, k.env)
	return k
}

// InProcessSoftHSM is NewSoftHSM for a token this process uses itself
// (UseInProcess): when t ends it finalizes every PKCS#11 module the
// process loaded (pkcs11tok.Close, which keys.ClosePKCS11 is too), so that
// the next test's module reads its own configuration.
func InProcessSoftHSM(t testing.TB, label string) *SoftHSM {
	t.Helper()
	h := NewSoftHSM(t, label)
	h.UseInProcess(t)
	t.Cleanup(func() {
		if err := pkcs11tok.Close(); err != nil {
			t.Error(err)
		}
	})
	return h
}
