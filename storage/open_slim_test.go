//go:build edgetuf_no_s3 || edgetuf_no_gs || edgetuf_no_azblob

package storage

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestOpenSchemeNotBuiltIn: a binary built without an object store's
// driver (a build tag edgetuf_no_SCHEME) refuses its URLs with
// ErrBadURL, naming the tag, and opens the others.
func TestOpenSchemeNotBuiltIn(t *testing.T) {
	out := 0
	for _, scheme := range []string{"s3", "gs", "azblob"} {
		if cloudFlavors[scheme] != nil {
			continue
		}
		out++
		_, err := Open(context.Background(), scheme+"://bucket/prefix")
		if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), "edgetuf_no_"+scheme) {
			t.Errorf("%s://: %v, want ErrBadURL naming the build tag", scheme, err)
		}
	}
	if out == 0 {
		t.Fatal("built with an edgetuf_no_ tag, yet every object store is built in")
	}
	if _, err := Open(context.Background(), "file://"+t.TempDir()); err != nil {
		t.Fatalf("file:// in a slim build: %v", err)
	}
}
