package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/server"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// runMrepo runs the mrepo binary (TestMain puts it on PATH) as a separate
// process with env added, and returns its stdout and stderr; it is safe to
// call from any goroutine.
func runMrepo(env []string, args ...string) (stdout, stderr string, err error) {
	bin, err := exec.LookPath("mrepo")
	if err != nil {
		return "", "", fmt.Errorf("mrepo is not on PATH (TestMain installs it): %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// mrepoCmd runs the mrepo binary (TestMain puts it on PATH) as a separate
// process, as CI and cron do, and returns its stdout; failure is fatal.
func mrepoCmd(t *testing.T, env []string, args ...string) string {
	t.Helper()
	stdout, stderr, err := runMrepo(env, args...)
	if err != nil {
		t.Fatalf("mrepo %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	if stderr != "" {
		t.Logf("mrepo %s: stderr: %s", args[0], stderr)
	}
	return stdout
}

// keyRefAdd registers (and generates) a key with `mrepo key-ref add --json`.
func keyRefAdd(t *testing.T, env []string, dir, name, ref, keyType string) keyRefResult {
	t.Helper()
	out := mrepoCmd(t, env, "key-ref", "add", "--keys", dir, "--name", name, "--ref", ref, "--generate", "--key-type", keyType, "--json")
	var res keyRefResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("key-ref add --json: %v\n%s", err, out)
	}
	if !res.Generated || res.KeyID == "" || res.Name != name {
		t.Fatalf("key-ref add: %+v", res)
	}
	return res
}

// newRepoWithOnlineKeys writes version 1 of a repository in dir whose
// root is signed by a throwaway root key and whose targets, snapshot and
// timestamp roles have the keys of pubs (role -> key), signing every role
// through kr. It is what `mrepo init` writes, with keys that init cannot
// generate; it returns 1.root.json.
func newRepoWithOnlineKeys(t *testing.T, dir string, pubs map[string]*metadata.Key, kr keys.Keyring) []byte {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	rootKey, err := keys.Generate("root", keys.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	root := metadata.Root(now.Add(365 * 24 * time.Hour))
	if err := root.Signed.AddKey(rootKey.Public, metadata.ROOT); err != nil {
		t.Fatal(err)
	}
	for role, pub := range pubs {
		if err := root.Signed.AddKey(pub, role); err != nil {
			t.Fatal(err)
		}
	}
	signWith := func(md interface {
		ClearSignatures()
	}, role string, sign func(id string) error) {
		md.ClearSignatures()
		for _, id := range root.Signed.Roles[role].KeyIDs {
			if err := sign(id); err != nil {
				t.Fatalf("signing %s: %v", role, err)
			}
		}
	}
	meta := filepath.Join(dir, repo.MetadataDir)
	for _, d := range []string{meta, filepath.Join(dir, repo.TargetsDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name string, md interface{ ToBytes(bool) ([]byte, error) }) *metadata.MetaFiles {
		data, err := md.ToBytes(true)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(meta, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		return &metadata.MetaFiles{Version: 1, Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}}
	}
	rs, err := rootKey.Signer()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Sign(rs); err != nil {
		t.Fatal(err)
	}
	write("1.root.json", root)
	tg := metadata.Targets(now.Add(90 * 24 * time.Hour))
	signWith(tg, metadata.TARGETS, func(id string) error {
		s, err := kr.Signer(id)
		if err == nil {
			_, err = tg.Sign(s)
		}
		return err
	})
	sn := metadata.Snapshot(now.Add(7 * 24 * time.Hour))
	sn.Signed.Meta["targets.json"] = write("1.targets.json", tg)
	signWith(sn, metadata.SNAPSHOT, func(id string) error {
		s, err := kr.Signer(id)
		if err == nil {
			_, err = sn.Sign(s)
		}
		return err
	})
	ts := metadata.Timestamp(now.Add(24 * time.Hour))
	ts.Signed.Meta["snapshot.json"] = write("1.snapshot.json", sn)
	signWith(ts, metadata.TIMESTAMP, func(id string) error {
		s, err := kr.Signer(id)
		if err == nil {
			_, err = ts.Sign(s)
		}
		return err
	})
	write("timestamp.json", ts)
	cfg := `{"format": "mrepo-config-v1", "expiry": {"root": "365d", "targets": "90d", "snapshot": "7d", "timestamp": "1d"}}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, repo.ConfigFile), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	rootBytes, err := os.ReadFile(filepath.Join(meta, "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Open(afero.NewOsFs(), dir); err != nil {
		t.Fatalf("the hand-made repository does not open: %v", err)
	}
	return rootBytes
}

// TestKeyRefSignsRepository is the key backends end to end: the targets
// key is an Ed25519 key and the snapshot key an ECDSA P-256 key generated
// inside a SoftHSM2 token, the timestamp key an ECDSA P-256 key in AWS KMS
// (local-kms), all registered with `mrepo key-ref add`. The key directory
// holds no private key at all. `mrepo add-target` and `mrepo timestamp`
// (separate processes, as in CI and cron) sign through the token and the
// KMS; `mrepo verify` accepts the result, and a device updates from it.
func TestKeyRefSignsRepository(t *testing.T) {
	hsm := backendtest.NewSoftHSM(t, "edgetuf")
	hsm.UseInProcess(t) // newRepoWithOnlineKeys signs version 1 in this process
	t.Cleanup(func() { keys.ClosePKCS11() })
	kms := backendtest.LocalKMS(t)
	env := append(hsm.Env(), kms.Env()...)
	// No passphrase source at all: nothing may need decrypting.
	t.Setenv(passphraseEnv, "")
	os.Unsetenv(passphraseEnv)

	base := t.TempDir()
	kdir := filepath.Join(base, "keys")
	tk := keyRefAdd(t, env, kdir, "targets-hsm", hsm.URI("edgetuf-targets"), "ed25519")
	sk := keyRefAdd(t, env, kdir, "snapshot-hsm", hsm.URI("edgetuf-snapshot"), "ecdsa-p256")
	tsk := keyRefAdd(t, env, kdir, "timestamp-kms", "awskms:///alias/edgetuf-timestamp", "ecdsa-p256")
	if tk.KeyType != "ed25519" || sk.KeyType != "ecdsa" || tsk.KeyType != "ecdsa" || tsk.Backend != keys.BackendAWSKMS {
		t.Fatalf("key types: %+v %+v %+v", tk, sk, tsk)
	}
	for _, r := range []keyRefResult{tk, sk} {
		if r.Extractable == nil || *r.Extractable {
			t.Fatalf("%s: the token reports its private key extractable (%v)", r.Name, r.Extractable)
		}
	}
	list := mrepoCmd(t, env, "key-ref", "list", "--keys", kdir)
	for _, r := range []keyRefResult{tk, sk, tsk} {
		if !strings.Contains(list, r.KeyID) || !strings.Contains(list, r.Name) {
			t.Fatalf("key-ref list lacks %s:\n%s", r.Name, list)
		}
	}

	kd := &keys.Dir{FS: afero.NewOsFs(), Path: kdir}
	pubs := map[string]*metadata.Key{}
	for role, name := range map[string]string{metadata.TARGETS: tk.Name, metadata.SNAPSHOT: sk.Name, metadata.TIMESTAMP: tsk.Name} {
		data, err := os.ReadFile(filepath.Join(kdir, name+keys.PubSuffix))
		if err != nil {
			t.Fatal(err)
		}
		if pubs[role], err = keys.ParsePublic(data); err != nil {
			t.Fatal(err)
		}
	}
	rdir := filepath.Join(base, "repo")
	rootJSON := newRepoWithOnlineKeys(t, rdir, pubs, kd)

	bundle := filepath.Join(base, "bundle")
	os.MkdirAll(bundle, 0o755)
	manifest, _ := json.Marshal(targets.Manifest{ModelID: "det", Version: "1.0.0"})
	os.WriteFile(filepath.Join(bundle, targets.ManifestName), manifest, 0o644)
	model := bytes.Repeat([]byte("weights!"), 4096)
	os.WriteFile(filepath.Join(bundle, "model.bin"), model, 0o644)

	mrepoCmd(t, env, "add-target", "--repo", rdir, "--keys", kdir, bundle)
	mrepoCmd(t, env, "timestamp", "--repo", rdir, "--keys", kdir)
	out := mrepoCmd(t, env, "verify", "--repo", rdir, "--root", filepath.Join(rdir, "metadata", "1.root.json"))
	if !strings.HasPrefix(out, "OK: root v1, timestamp v3, snapshot v2, targets v2;") {
		t.Fatalf("mrepo verify: %s", out)
	}
	if matches, _ := filepath.Glob(filepath.Join(kdir, "*"+keys.KeySuffix)); len(matches) != 0 {
		t.Fatalf("private key files in the key directory: %v", matches)
	}
	// Each role is signed by its backend key, and by nothing else, in the
	// encoding every TUF implementation verifies: checked here with the
	// standard library over the canonical JSON of "signed" (sigstore, and so
	// go-tuf, would also accept a raw r||s ECDSA signature; python-tuf would
	// not).
	for file, want := range map[string]keyRefResult{"2.targets.json": tk, "2.snapshot.json": sk, "timestamp.json": tsk} {
		data, err := os.ReadFile(filepath.Join(rdir, "metadata", file))
		if err != nil {
			t.Fatal(err)
		}
		var md struct {
			Signed     json.RawMessage      `json:"signed"`
			Signatures []metadata.Signature `json:"signatures"`
		}
		if err := json.Unmarshal(data, &md); err != nil {
			t.Fatal(err)
		}
		if len(md.Signatures) != 1 || md.Signatures[0].KeyID != want.KeyID {
			t.Fatalf("%s signatures %+v, want one by %s", file, md.Signatures, keys.ShortID(want.KeyID))
		}
		var signed any
		if err := json.Unmarshal(md.Signed, &signed); err != nil {
			t.Fatal(err)
		}
		canonical, err := cjson.EncodeCanonical(signed)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := pubs[roleOfFile(file)].ToPublicKey()
		if err != nil {
			t.Fatal(err)
		}
		sig := []byte(md.Signatures[0].Signature)
		ok := false
		switch p := pub.(type) {
		case ed25519.PublicKey:
			ok = ed25519.Verify(p, canonical, sig)
		case *ecdsa.PublicKey:
			sum := sha256.Sum256(canonical)
			ok = ecdsa.VerifyASN1(p, sum[:], sig)
		}
		if !ok {
			t.Fatalf("%s: the %s signature by %s does not verify as a standard (ASN.1 DER for ECDSA) signature", file, want.KeyType, want.Name)
		}
	}
	if rep := audit.Verify(afero.NewOsFs(), rdir, rootJSON, audit.Options{}); !rep.OK() {
		t.Fatalf("audit.Verify: %+v", rep.Problems)
	}

	// A device that trusts 1.root.json installs the model.
	srv := httptest.NewServer(server.Handler(afero.NewOsFs(), rdir))
	defer srv.Close()
	res := deviceInstalls(t, rootJSON, srv.URL, "det", "1.0.0")
	got, err := os.ReadFile(filepath.Join(res.Path, "model.bin"))
	if err != nil || !bytes.Equal(got, model) {
		t.Fatalf("installed model.bin differs (%v)", err)
	}
	t.Logf("device installed %s %s from metadata signed by SoftHSM2 (%s, %s) and local-kms (%s)",
		res.ModelID, res.Version, keys.ShortID(tk.KeyID), keys.ShortID(sk.KeyID), keys.ShortID(tsk.KeyID))
}

// deviceInstalls initializes a device that trusts rootJSON and updates
// model from the repository at repoURL; the update must install version.
func deviceInstalls(t *testing.T, rootJSON []byte, repoURL, model, version string) *client.Result {
	t.Helper()
	state := filepath.Join(t.TempDir(), "device")
	if err := client.Init(state, rootJSON, client.InitOptions{RepoURL: repoURL}); err != nil {
		t.Fatal(err)
	}
	c, err := client.Open(state, client.Options{RetryBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := c.Update(ctx, client.UpdateRequest{ModelID: model})
	if err != nil || res.Outcome != client.OutcomeUpdated || res.Version != version {
		t.Fatalf("device update: %v (%+v)", err, res)
	}
	return res
}

func roleOfFile(name string) string {
	for _, r := range []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if strings.HasSuffix(name, r+".json") {
			return r
		}
	}
	return ""
}

// TestKeyRefUsage: key-ref's refusals are one-line usage errors.
func TestKeyRefUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"key-ref"}, cliutil.ExitUsage, "expected a command"},
		{[]string{"key-ref", "frob"}, cliutil.ExitUsage, `unknown command "frob"`},
		{[]string{"key-ref", "add", "--keys", dir, "--name", "x"}, cliutil.ExitUsage, "--ref is required"},
		{[]string{"key-ref", "add", "--keys", dir, "--name", "x", "--ref", "pkcs11:token=t;object=k?pin-value=1"}, cliutil.ExitUsage, "pin-value is not allowed"},
		{[]string{"key-ref", "add", "--keys", dir, "--name", "x", "--ref", "gcpkms://k"}, cliutil.ExitUsage, "not built into this mrepo"},
		{[]string{"key-ref", "add", "--keys", dir, "--name", "x", "--ref", "awskms:///alias/x", "--key-type", "ecdsa-p256"}, cliutil.ExitUsage, "goes with --generate"},
		{[]string{"key-ref", "list", "--keys", dir, "extra"}, cliutil.ExitUsage, "unexpected argument"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"mrepo"}, c.args...), &stdout, &stderr)
		// One line, after the group's help when the command is missing.
		lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
		help := len(c.args) == 1 && strings.HasPrefix(stderr.String(), "NAME:\n")
		if code != c.code || !strings.Contains(lines[len(lines)-1], c.want) || (len(lines) != 1) != help {
			t.Errorf("mrepo %s: exit %d, stderr %q; want exit %d and one line containing %q", strings.Join(c.args, " "), code, stderr.String(), c.code, c.want)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"mrepo", "key-ref", "list", "--keys", dir}, &stdout, &stderr); code != 0 || stdout.String() != "No key references.\n" {
		t.Errorf("key-ref list of an empty directory: exit %d, %q %q", code, stdout.String(), stderr.String())
	}
}
