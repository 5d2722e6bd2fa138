package repostore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/internal/repostoretest"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/repostore"
	"github.com/edgetuf/edgetuf/storage"
	"github.com/edgetuf/edgetuf/storage/storagetest"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

const root2 = "metadata/2.root.json"

// otherRoot is what the publisher that wins root version 2 writes there.
var otherRoot = []byte(`{"other":"publisher"}`)

// rootThief is a Backend on which another publisher writes 2.root.json
// just before this one does: after this publisher's snapshot and
// timestamp.json are out, the race the pre-commit check cannot close.
type rootThief struct{ storage.Backend }

func (r *rootThief) Put(ctx context.Context, name string, body io.Reader, o storage.PutOptions) error {
	if name == root2 {
		if err := r.Backend.Put(ctx, name, bytes.NewReader(otherRoot), storage.PutOptions{IfAbsent: true}); err != nil {
			return err
		}
	}
	return r.Backend.Put(ctx, name, body, o)
}

// seedWithRootKey uploads a test repository whose root key is at hand
// and returns a keyring of all its keys.
func seedWithRootKey(t *testing.T, b storage.Backend) keys.MemKeyring {
	r, rootKeys := testrepo.NewWithRootKeys(t, 1, 1)
	repostoretest.SeedFrom(t, b, r)
	ring := keys.MemKeyring{}
	for _, kr := range []keys.MemKeyring{r.Keys, rootKeys} {
		for id, k := range kr {
			ring[id] = k
		}
	}
	return ring
}

// rotateSnapshotKey rotates the snapshot role to a new key: root 2, and
// snapshot and timestamp re-signed.
func rotateSnapshotKey(t *testing.T, ring keys.MemKeyring) func(fs afero.Fs, dir string) error {
	nk, err := keys.Generate("snapshot-2", keys.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	ring.Add(nk)
	return func(fs afero.Fs, dir string) error {
		r, err := repo.Open(fs, dir)
		if err != nil {
			return err
		}
		_, err = r.Rotate(ring, repo.RotateOptions{Role: metadata.SNAPSHOT, AddKeys: []*metadata.Key{nk.Public}})
		return err
	}
}

// TestRotationLosesRootAfterSnapshot: a rotation whose snapshot and
// timestamp.json are published loses N.root.json to another publisher.
// That is PARTIALLY_PUBLISHED, not a conflict: Run does not run the
// rotation again (which would publish it a second time), and the other
// publisher's root stays.
func TestRotationLosesRootAfterSnapshot(t *testing.T) {
	b := storage.NewMemory()
	runs := 0
	op := rotateSnapshotKey(t, seedWithRootKey(t, b))
	_, err := repostore.Run(context.Background(), &rootThief{b}, fast, func(fs afero.Fs, dir string) error {
		runs++
		return op(fs, dir)
	})
	var ce *repostore.CommittedError
	if !errors.As(err, &ce) || errors.Is(err, repostore.ErrConflict) {
		t.Fatalf("Run: %v, want a CommittedError and no ErrConflict", err)
	}
	if ce.Object != root2 || ce.Snapshot != 2 || !ce.Timestamp || ce.ErrorCode() != "PARTIALLY_PUBLISHED" {
		t.Errorf("CommittedError %+v", ce)
	}
	for _, want := range []string{"PARTIALLY_PUBLISHED: this publication's snapshot 2 and timestamp.json are published", root2 + " was written by another publisher first"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if runs != 1 {
		t.Errorf("the rotation ran %d times, want once", runs)
	}
	if got, _ := storagetest.Read(t, b, root2); got != string(otherRoot) {
		t.Errorf("2.root.json is %q, want the other publisher's", got)
	}
	data, _ := storagetest.Read(t, b, "metadata/timestamp.json")
	ts, err := metadata.Timestamp().FromBytes([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if v := ts.Signed.Meta["snapshot.json"].Version; v != 2 || objects(t, b)["metadata/2.snapshot.json"] == "" {
		t.Errorf("timestamp.json names snapshot %d, want the rotation's 2, published", v)
	}
}

// TestRotationRootTakenBeforeCommit: another publisher's N.root.json is
// there before this rotation commits anything: a conflict, nothing of the
// rotation is visible (Run would run it again on the new root).
func TestRotationRootTakenBeforeCommit(t *testing.T) {
	b := storage.NewMemory()
	ring := seedWithRootKey(t, b)
	s := begin(t, b)
	if err := rotateSnapshotKey(t, ring)(s.Fs(), s.Dir()); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(context.Background(), root2, bytes.NewReader(otherRoot), storage.PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	before := objects(t, b)
	_, err := s.Commit(context.Background())
	if !errors.Is(err, repostore.ErrConflict) {
		t.Fatalf("Commit: %v, want ErrConflict", err)
	}
	if !sameObjects(before, objects(t, b)) {
		t.Error("the losing rotation changed the store")
	}
}
