package rootchain

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// testKey is a deterministic Ed25519 key (seed byte b).
func testKey(b byte) ed25519.PrivateKey { return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32)) }

// makeRoot returns root version v whose roles all use key holder, signed
// by every key of signers: deterministic bytes.
func makeRoot(t testing.TB, v int64, holder ed25519.PrivateKey, signers ...ed25519.PrivateKey) []byte {
	t.Helper()
	root := metadata.Root(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	root.Signed.Version = v
	key, err := metadata.KeyFromPublicKey(holder.Public())
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if err := root.Signed.AddKey(key, role); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range signers {
		s, err := signature.LoadSigner(k, crypto.Hash(0))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := root.Sign(s); err != nil {
			t.Fatal(err)
		}
	}
	data, err := root.ToBytes(false)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// testChain is v1 (key a), v2 (key b, signed by a and b), v3 (key c,
// signed by b and c), and a root v2 of another repository (key x).
type testChain struct{ v1, v2, v3, other2 []byte }

func newTestChain(t testing.TB) testChain {
	a, b, c, x := testKey(1), testKey(2), testKey(3), testKey(9)
	return testChain{makeRoot(t, 1, a, a), makeRoot(t, 2, b, a, b), makeRoot(t, 3, c, b, c), makeRoot(t, 2, x, x)}
}

// setup writes the pinned root and the cache files (version -> bytes).
func setup(t testing.TB, pinned []byte, cache map[int64][]byte) Source {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "image-root.json")
	if err := os.WriteFile(p, pinned, 0o644); err != nil {
		t.Fatal(err)
	}
	src := Source{Pinned: p, FS: safefs.New(dir), Dir: filepath.Join(dir, "state", "root-chain")}
	if err := os.MkdirAll(src.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for v, data := range cache {
		if err := os.WriteFile(filepath.Join(src.Dir, FileName(v)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

const limit = 512000

func TestLoadAndMatch(t *testing.T) {
	tc := newTestChain(t)
	c, err := Load(setup(t, tc.v1, map[int64][]byte{2: tc.v2, 3: tc.v3}), limit)
	if err != nil || c.Newest() != 3 {
		t.Fatalf("load: %v", err)
	}
	for _, m := range []struct {
		name   string
		cached []byte
		newest bool
		want   []byte // nil: ROOT_CHAIN_BROKEN
	}{
		{"newest", tc.v3, true, tc.v3},
		{"older, offline copy", tc.v2, false, tc.v2},
		{"older, online", tc.v2, true, nil},
		{"pinned, online", tc.v1, true, nil},
		{"another repository's v2", tc.other2, false, nil},
		{"garbage", []byte("{"), false, nil},
		{"missing", nil, false, nil},
		{"beyond the chain", makeRoot(t, 4, testKey(3), testKey(3)), false, nil},
	} {
		got, err := c.Match(m.cached, m.newest)
		if m.want == nil {
			if codes.CodeOf(err) != codes.RootChainBroken {
				t.Errorf("%s: got %v, want ROOT_CHAIN_BROKEN", m.name, err)
			}
		} else if err != nil || !bytes.Equal(got, m.want) {
			t.Errorf("%s: %v", m.name, err)
		}
	}

	// An image update: v2 pinned, v3 cached (v2 in the cache is not read).
	c, err = Load(setup(t, tc.v2, map[int64][]byte{2: []byte("stale"), 3: tc.v3}), limit)
	if err != nil || c.Newest() != 3 {
		t.Fatalf("load from v2: %v", err)
	}
	// v3 pinned, a cached root.json v2 older than it: the pinned root.
	c, err = Load(setup(t, tc.v3, nil), limit)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Match(tc.v2, true); err != nil || !bytes.Equal(got, tc.v3) {
		t.Fatalf("older cache: %v", err)
	}

	for name, cache := range map[string]map[int64][]byte{
		"another repository's v2": {2: tc.other2, 3: tc.v3},
		"v3 in place of v2":       {2: tc.v3},
		"garbage":                 {2: []byte("garbage")},
		"v2 not signed by v1":     {2: makeRoot(t, 2, testKey(2), testKey(2))},
	} {
		c, err := Load(setup(t, tc.v1, cache), limit)
		if codes.CodeOf(err) != codes.RootChainBroken || c == nil || c.Newest() != 1 {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, pinned := range map[string][]byte{"garbage": []byte("x"), "unsigned": makeRoot(t, 1, testKey(1))} {
		if _, err := Load(setup(t, pinned, nil), limit); codes.CodeOf(err) != codes.PinnedRootUnusable {
			t.Errorf("pinned %s: %v", name, err)
		}
	}
	src := setup(t, tc.v1, nil)
	os.Remove(src.Pinned)
	if _, err := Load(src, limit); codes.CodeOf(err) != codes.PinnedRootUnusable {
		t.Errorf("pinned missing: %v", err)
	}
	src.Want = "/elsewhere/root.json"
	if _, err := Load(src, limit); codes.CodeOf(err) != codes.RootChainBroken {
		t.Errorf("another path required: %v", err)
	}
}

// TestExtendAndRepair: Extend records the roots the repository serves,
// stops at 404, refuses one that does not follow; Repair drops the cache
// from the first root that does not follow and resets the metadata.
func TestExtendAndRepair(t *testing.T) {
	tc := newTestChain(t)
	src := setup(t, tc.v1, nil)
	c, err := Load(src, limit)
	if err != nil {
		t.Fatal(err)
	}
	served := map[int64][]byte{2: tc.v2, 3: tc.v3}
	fetch := func(v int64) ([]byte, error) {
		if d, ok := served[v]; ok {
			return d, nil
		}
		return nil, &metadata.ErrDownloadHTTP{StatusCode: http.StatusNotFound}
	}
	if err := c.Extend(fetch, 256); err != nil || c.Newest() != 3 {
		t.Fatalf("extend: %v", err)
	}
	for v, want := range served {
		if got, _ := os.ReadFile(filepath.Join(src.Dir, FileName(v))); !bytes.Equal(got, want) {
			t.Fatalf("%d.root.json not recorded", v)
		}
	}
	served[4] = makeRoot(t, 4, testKey(9), testKey(9))
	if err := c.Extend(fetch, 256); err == nil || c.Newest() != 3 {
		t.Fatalf("a root v4 not signed by v3: %v", err)
	}
	if _, err := os.Stat(filepath.Join(src.Dir, FileName(4))); !os.IsNotExist(err) {
		t.Fatal("a refused root was recorded")
	}
	netErr := errors.New("connection reset")
	if err := c.Extend(func(int64) ([]byte, error) { return nil, netErr }, 256); !errors.Is(err, netErr) {
		t.Fatalf("network error: %v", err)
	}

	os.WriteFile(filepath.Join(src.Dir, FileName(3)), tc.other2, 0o600)
	os.WriteFile(filepath.Join(src.Dir, FileName(4)), tc.v3, 0o600)
	c, err = Load(src, limit)
	if codes.CodeOf(err) != codes.RootChainBroken || c.Newest() != 2 {
		t.Fatalf("load: %v", err)
	}
	meta := filepath.Join(filepath.Dir(src.Dir), "metadata")
	os.MkdirAll(meta, 0o700)
	os.WriteFile(filepath.Join(meta, "timestamp.json"), []byte("{}"), 0o600)
	c.Repair(meta)
	if c, err = Load(src, limit); err != nil || c.Newest() != 2 {
		t.Fatalf("after repair: %v", err)
	}
	entries, _ := os.ReadDir(meta)
	got, _ := os.ReadFile(filepath.Join(meta, "root.json"))
	if len(entries) != 1 || !bytes.Equal(got, tc.v2) {
		t.Fatalf("metadata after repair: %d files, root.json %q", len(entries), got)
	}
	if _, err := c.Match(got, true); err != nil {
		t.Fatal(err)
	}
}

// FuzzRootChain: whatever bytes stand in the chain cache as root v3 and as
// a metadata directory's root.json, Load accepts only a root with the
// genuine v3's signed content (no key of v2 is at the fuzzer's hand), and
// Match returns only a root of the verified chain, the newest one when
// asked for it. Seed corpus: testdata/fuzz/FuzzRootChain.
func FuzzRootChain(f *testing.F) {
	tc := newTestChain(f)
	for _, s := range [][2][]byte{{tc.v3, tc.v3}, {tc.v3, tc.v2}, {tc.other2, tc.v1}, {[]byte("garbage"), []byte(`{"signed":{"version":2}}`)}, {nil, tc.other2}} {
		f.Add(s[0], s[1])
	}
	genuine, err := metadata.Root().FromBytes(tc.v3)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, file, cached []byte) {
		cache := map[int64][]byte{2: tc.v2}
		if file != nil {
			cache[3] = file
		}
		c, err := Load(setup(t, tc.v1, cache), limit)
		if err != nil && codes.CodeOf(err) != codes.RootChainBroken {
			t.Fatalf("load: %v", err)
		}
		if c.Newest() == 3 {
			got, err := metadata.Root().FromBytes(file)
			a, _ := json.Marshal(got.Signed)
			b, _ := json.Marshal(genuine.Signed)
			if err != nil || !bytes.Equal(a, b) {
				t.Fatalf("accepted a root v3 that is not the genuine one: %v", err)
			}
		}
		for _, newest := range []bool{false, true} {
			root, err := c.Match(cached, newest)
			if err != nil {
				if codes.CodeOf(err) != codes.RootChainBroken {
					t.Fatalf("match: %v", err)
				}
				continue
			}
			if newest && !bytes.Equal(root, c.NewestRoot()) {
				t.Fatal("newest: not the newest root of the chain")
			}
			found := false
			for _, r := range c.roots {
				found = found || bytes.Equal(r, root)
			}
			if !found {
				t.Fatal("Match returned a root outside the chain")
			}
		}
	})
}

// BenchmarkLoad is the cost a chain of N cached roots adds to every
// session (docs/client.md, section 11: reading and verifying them).
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			cache := map[int64][]byte{}
			pinned := makeRoot(b, 1, testKey(1), testKey(1))
			for v := int64(2); v <= int64(n)+1; v++ {
				cache[v] = makeRoot(b, v, testKey(byte(v)), testKey(byte(v-1)), testKey(byte(v)))
			}
			src := setup(b, pinned, cache)
			b.ResetTimer()
			for b.Loop() {
				if c, err := Load(src, limit); err != nil || c.Newest() != int64(n)+1 {
					b.Fatal(err)
				}
			}
		})
	}
}
