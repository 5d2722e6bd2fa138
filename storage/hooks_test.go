//go:build !edgetuf_no_s3 && !edgetuf_no_gs && !edgetuf_no_azblob

package storage

import (
	"errors"
	"path"
	"path/filepath"
	"strings"
	"testing"

	gcs "cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
)

// The provider hooks below are exercised end to end by the backend suite
// against versitygw (S3) and Azurite (Azure); these tests pin what each
// sets, and that a write whose precondition cannot be attached is refused
// rather than made unconditional.

func TestS3HookSetsIfMatchAndSize(t *testing.T) {
	bw, err := s3Flavor{}.beforeWrite(PutOptions{IfMatch: `"abc"`, Size: 42, SizeKnown: true})
	if err != nil {
		t.Fatal(err)
	}
	in := &transfermanager.UploadObjectInput{}
	if err := bw(func(i any) bool {
		switch p := i.(type) {
		case **transfermanager.UploadObjectInput:
			*p = in
		case **transfermanager.Client:
			*p = &transfermanager.Client{}
		default:
			return false
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if aws.ToString(in.IfMatch) != `"abc"` || aws.ToInt64(in.ContentLength) != 42 {
		t.Fatalf("IfMatch %q, ContentLength %d", aws.ToString(in.IfMatch), aws.ToInt64(in.ContentLength))
	}
}

func TestAzureHookSetsIfMatch(t *testing.T) {
	bw, err := azureFlavor{}.beforeWrite(PutOptions{IfMatch: `"0x8D"`})
	if err != nil {
		t.Fatal(err)
	}
	opts := &azblob.UploadStreamOptions{}
	if err := bw(func(i any) bool {
		p, ok := i.(**azblob.UploadStreamOptions)
		if ok {
			*p = opts
		}
		return ok
	}); err != nil {
		t.Fatal(err)
	}
	if got := opts.AccessConditions.ModifiedAccessConditions.IfMatch; got == nil || string(*got) != `"0x8D"` {
		t.Fatalf("IfMatch = %v", got)
	}
}

func TestGCSHookUsesGeneration(t *testing.T) {
	bw, err := gcsFlavor{}.beforeWrite(PutOptions{IfMatch: gcsETag(1234)})
	if err != nil {
		t.Fatal(err)
	}
	h := (&gcs.Client{}).Bucket("b").Object("o")
	orig := h
	if err := bw(func(i any) bool {
		p, ok := i.(***gcs.ObjectHandle)
		if ok {
			*p = &h
		}
		return ok
	}); err != nil {
		t.Fatal(err)
	}
	if h == orig {
		t.Fatal("the object handle was not replaced by a conditional one")
	}
	// An ETag this backend never returned cannot match: refused before
	// any request.
	for _, bad := range []string{`"abc"`, `"gen-x"`, `"gen-0"`, "gen-5", `"gen--1"`} {
		if _, err := (gcsFlavor{}).beforeWrite(PutOptions{IfMatch: bad}); !errors.Is(err, ErrPrecondition) {
			t.Errorf("IfMatch %s: %v, want ErrPrecondition", bad, err)
		}
	}
}

// TestHooksRefuseWhenUnavailable: a driver that no longer offers the hook
// gets an error, never an unconditional write.
func TestHooksRefuseWhenUnavailable(t *testing.T) {
	for _, name := range []string{"s3", "gs", "azblob"} {
		fl := cloudFlavor(name, nil)
		bw, err := fl.beforeWrite(PutOptions{IfMatch: gcsETag(7)})
		if err != nil {
			t.Fatal(err)
		}
		if err := bw(func(any) bool { return false }); !errors.Is(err, errHookUnavailable) {
			t.Errorf("%s: %v, want errHookUnavailable", name, err)
		}
	}
}

// FuzzCheckName: every name checkName accepts is a clean relative path
// that stays inside the directory it is joined to.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"metadata/1.root.json", "targets/models/m/1.0.0/ab.model.bin", "../x", "a//b", "/abs", "a/./b", `a\b`, "a/..", "...", "a/.../b", ".hidden"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkName(name) != nil {
			return
		}
		if path.Clean(name) != name || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			t.Fatalf("accepted %q, which is not a clean relative path", name)
		}
		root := filepath.FromSlash("/repo")
		if j := filepath.Join(root, filepath.FromSlash(name)); !strings.HasPrefix(j, root+string(filepath.Separator)) {
			t.Fatalf("accepted %q, which joins to %s outside %s", name, j, root)
		}
	})
}
