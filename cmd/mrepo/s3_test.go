package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/repostore"
	"github.com/edgetuf/edgetuf/server"
	"github.com/edgetuf/edgetuf/storage"
	"github.com/edgetuf/edgetuf/storage/storagetest"
	"github.com/edgetuf/edgetuf/targets"
)

// writeBundle writes a bundle of model version with one payload file.
func writeBundle(t *testing.T, dir, model, version string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest, _ := json.Marshal(targets.Manifest{ModelID: model, Version: version})
	if err := os.WriteFile(filepath.Join(dir, targets.ManifestName), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.bin"), []byte(model+" "+version+" weights"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fetchObject copies the object name of the repository at url into a
// local file and returns its path (the root a verifier pins).
func fetchObject(t *testing.T, url, name string) string {
	t.Helper()
	ctx := context.Background()
	b, err := storage.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	data, _ := storagetest.Read(t, b, name)
	p := filepath.Join(t.TempDir(), filepath.Base(name))
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// statusModels returns `mrepo status --json`'s published versions per model.
func statusModels(t *testing.T, env []string, url string) map[string][]string {
	t.Helper()
	var st struct {
		Models []struct {
			ModelID  string   `json:"model_id"`
			Versions []string `json:"versions"`
		} `json:"models"`
	}
	out := mrepoCmd(t, env, "status", "--repo", url, "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	m := map[string][]string{}
	for _, model := range st.Models {
		m[model.ModelID] = model.Versions
	}
	return m
}

// TestConcurrentPublishersS3 is issue 16's concurrency requirement against
// a real S3 server: 8 `mrepo add-target` processes (8 CI runners, each
// with its own session) publish 5 versions each of their own model into
// one repository in versitygw at the same time, all through the same
// top-level targets role, so that their conditional writes collide. Every
// one of the 40 versions is published, none is lost, and `mrepo verify`
// from the first root accepts the result.
func TestConcurrentPublishersS3(t *testing.T) {
	s3 := backendtest.VersityGW(t)
	s3.UseInProcess(t) // fetchObject opens the bucket in this process
	url := s3.NewBucket(t)
	env := append(s3.Env(), passphraseEnv+"=test-only-passphrase")
	base := t.TempDir()
	kdir := filepath.Join(base, "keys")
	mrepoCmd(t, env, "init", "--repo", url, "--keys", kdir)
	root := fetchObject(t, url, "metadata/1.root.json")

	const publishers, versions = 8, 5
	attempts := make([][]int, publishers)
	errs := make([]error, publishers)
	var start, wg sync.WaitGroup
	start.Add(1)
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			for v := 1; v <= versions; v++ {
				bundle := filepath.Join(base, fmt.Sprintf("bundle-%d-%d", p, v))
				writeBundle(t, bundle, fmt.Sprintf("pub-%d", p), fmt.Sprintf("1.0.%d", v))
				out, stderr, err := runMrepo(env, "add-target", "--repo", url, "--keys", kdir, "--json", bundle)
				if err != nil {
					errs[p] = fmt.Errorf("publisher %d, version 1.0.%d: %v\n%s", p, v, err, stderr)
					return
				}
				var res struct {
					Attempts int `json:"attempts"`
				}
				if err := json.Unmarshal([]byte(out), &res); err != nil || res.Attempts < 1 {
					errs[p] = fmt.Errorf("publisher %d: add-target --json: attempts %d, %v\n%s", p, res.Attempts, err, out)
					return
				}
				if res.Attempts > 1 && !strings.Contains(stderr, "conflict with another publisher, retrying") {
					errs[p] = fmt.Errorf("publisher %d: %d attempts, but stderr does not say why:\n%s", p, res.Attempts, stderr)
					return
				}
				attempts[p] = append(attempts[p], res.Attempts)
			}
		}()
	}
	start.Done()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("attempts per publication, per publisher: %v", attempts)

	models := statusModels(t, env, url)
	for p := range publishers {
		var want []string
		for v := 1; v <= versions; v++ {
			want = append(want, fmt.Sprintf("1.0.%d", v))
		}
		if got := models[fmt.Sprintf("pub-%d", p)]; !slices.Equal(got, want) {
			t.Errorf("pub-%d: published versions %v, want %v", p, got, want)
		}
	}
	out := mrepoCmd(t, env, "verify", "--repo", url, "--root", root)
	if !strings.HasPrefix(out, "OK:") {
		t.Fatalf("mrepo verify: %s", out)
	}
}

// TestStatelessRunnerPublishesWithKMSKeys is docs/deployment.md section 4:
// an administrator creates the repository in S3 (versitygw) and rotates
// the online roles to keys generated in AWS KMS (local-kms); a CI runner
// that has only those keys' references and public keys (no private key,
// no passphrase), the bucket URL and a fresh scratch directory publishes a
// model and re-signs the timestamp. The repository verifies from the first
// root, the runner keeps no copy of it, and a device installs the model
// from it.
func TestStatelessRunnerPublishesWithKMSKeys(t *testing.T) {
	kms := backendtest.LocalKMS(t) // also sets the AWS settings in this process
	s3 := backendtest.VersityGW(t)
	url := s3.NewBucket(t)
	// Both take the same test-only credentials; the S3 settings come last.
	env := append(kms.Env(), s3.Env()...)
	base := t.TempDir()

	// The administrator: init with file keys, then KMS keys for the online
	// roles in their place.
	admin := filepath.Join(base, "admin-keys")
	adminEnv := append(slices.Clone(env), passphraseEnv+"=test-only-passphrase")
	var initRes struct {
		Keys []struct{ Role, KeyID string }
	}
	if err := json.Unmarshal([]byte(mrepoCmd(t, adminEnv, "init", "--repo", url, "--keys", admin, "--json")), &initRes); err != nil {
		t.Fatal(err)
	}
	ci := filepath.Join(base, "ci-keys")
	if err := os.MkdirAll(ci, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, k := range initRes.Keys {
		if k.Role == "root" {
			continue
		}
		name := k.Role + "-kms"
		keyRefAdd(t, adminEnv, admin, name, "awskms:///alias/edgetuf-"+k.Role, "ecdsa-p256")
		mrepoCmd(t, adminEnv, "rotate", "--repo", url, "--keys", admin, "--role", k.Role,
			"--add-key", filepath.Join(admin, name+".pub"), "--remove-key", k.KeyID)
		for _, suffix := range []string{".ref", ".pub"} {
			data, err := os.ReadFile(filepath.Join(admin, name+suffix))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(ci, name+suffix), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	root := fetchObject(t, url, "metadata/1.root.json")

	// The runner: no passphrase source at all, a scratch directory of its
	// own that must be empty again afterwards.
	t.Setenv(passphraseEnv, "")
	os.Unsetenv(passphraseEnv)
	scratch := filepath.Join(base, "runner-scratch")
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(base, "bundle")
	writeBundle(t, bundle, "det", "1.0.0")
	mrepoCmd(t, env, "add-target", "--repo", url, "--keys", ci, "--scratch", scratch, bundle)
	mrepoCmd(t, env, "timestamp", "--repo", url, "--keys", ci, "--scratch", scratch)
	if left, _ := os.ReadDir(scratch); len(left) != 0 {
		t.Errorf("the runner's scratch directory still holds %d entries", len(left))
	}
	out := mrepoCmd(t, env, "verify", "--repo", url, "--root", root)
	if !strings.HasPrefix(out, "OK:") {
		t.Fatalf("mrepo verify: %s", out)
	}

	// A device that trusts 1.root.json installs the model from the bucket
	// (served here by mrepo's static server over a read-only session).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := storage.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sess, err := repostore.Begin(ctx, b, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	srv := httptest.NewServer(server.Handler(sess.Fs(), sess.Dir()))
	defer srv.Close()
	rootJSON, err := os.ReadFile(root)
	if err != nil {
		t.Fatal(err)
	}
	deviceInstalls(t, rootJSON, srv.URL, "det", "1.0.0")
}
