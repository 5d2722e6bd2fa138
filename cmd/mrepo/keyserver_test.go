package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/contentkeys"
	"github.com/edgetuf/edgetuf/internal/modelcrypttest"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
)

// TestKeyserverReloadsOnSIGHUP: a device enrolled while the service runs
// is refused until SIGHUP, then gets a challenge; SIGTERM stops the
// service with status 0. (testscript's kill sends no SIGHUP.)
func TestKeyserverReloadsOnSIGHUP(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs POSIX signals")
	}
	t.Parallel()
	k := newKillEnv(t)
	k.writeManifest("1.0.0")
	if err := os.WriteFile(filepath.Join(k.bundle, "weights.bin"), []byte("w"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := k.run("add-target", "--repo", k.repo, "--keys", k.keys, k.bundle); err != nil {
		t.Fatalf("add-target: %v\n%s", err, out)
	}
	const contentPass = "test-only-content-passphrase"
	store, err := contentkeys.Open(k.keys, contentPass)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := store.Create("killtest", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	signers, err := testrepo.DirSigners(k.keys, killPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	e := targets.Encryption{Scheme: targets.EncryptionScheme, Recipient: ck.Recipient(), Delivery: targets.DeliveryKeyServer}
	if err := testrepo.ForgeEncryptedDir(k.repo, "killtest", "1.0.0", e, signers); err != nil {
		t.Fatal(err)
	}
	a, b := modelcrypttest.NewDeviceKey(t).Recipient, modelcrypttest.NewDeviceKey(t).Recipient
	dir := t.TempDir()
	devices, addrFile := filepath.Join(dir, "devices.txt"), filepath.Join(dir, "addr")
	if err := os.WriteFile(devices, []byte(a+" first\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := k.command("keyserver", "--repo", k.repo, "--keys", k.keys, "--devices", devices, "--listen", "127.0.0.1:0", "--addr-file", addrFile)
	cmd.Env = append(cmd.Env, "MREPO_CONTENT_PASSPHRASE="+contentPass)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	var addr []byte
	for { // the test's own timeout bounds this
		if addr, err = os.ReadFile(addrFile); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	url := "http://" + strings.TrimSpace(string(addr)) + "/v1/challenge"
	challenge := func(device string) (int, string) {
		body, _ := json.Marshal(modelcrypt.ChallengeRequest{ModelID: "killtest", Version: "1.0.0", Device: device})
		resp, err := http.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r modelcrypt.Refusal
		json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r.Code
	}
	if st, code := challenge(a); st != http.StatusOK {
		t.Fatalf("enrolled device: %d %s", st, code)
	}
	if st, code := challenge(b); st != http.StatusForbidden || code != modelcrypt.RefusalNotEnrolled {
		t.Fatalf("device not yet enrolled: %d %s", st, code)
	}
	if err := os.WriteFile(devices, []byte(a+" first\n"+b+" second\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	if !lines.Scan() || lines.Text() != "mrepo: keyserver: reloaded: 2 devices enrolled" {
		t.Fatalf("after SIGHUP, stderr %q", lines.Text())
	}
	if st, code := challenge(b); st != http.StatusOK {
		t.Fatalf("device enrolled by SIGHUP: %d %s", st, code)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
		t.Errorf("stderr: %s", lines.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
	if !strings.HasPrefix(stdout.String(), "Key service for "+k.repo+" at http://") {
		t.Fatalf("stdout %q", stdout.String())
	}
}
