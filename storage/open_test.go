package storage_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/storage"
)

func TestIsURL(t *testing.T) {
	for s, want := range map[string]bool{
		"s3://bucket":              true,
		"gs://bucket/prefix":       true,
		"azblob://container":       true,
		"file:///srv/repo":         true,
		"http://example.com/repo":  true, // a URL, so Open says the scheme is unsupported
		"/srv/repo":                false,
		"repo":                     false,
		"./s3:/x":                  false,
		`C:\repo`:                  false,
		"C://repo":                 false, // a drive letter, not a scheme
		"":                         false,
		"s3:bucket":                false,
		"relative/dir/with://odd":  false,
		"3s://bucket":              false,
		"file:relative":            false,
		"FILE:///srv/repo":         true,
		"git+ssh://host/repo.git":  true,
		"s3+custom.v2://bucket/x/": true,
	} {
		if got := storage.IsURL(s); got != want {
			t.Errorf("IsURL(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestOpenRejectsBadURLs: every URL Open cannot serve safely is an
// ErrBadURL naming what is wrong, and no message shows a credential.
func TestOpenRejectsBadURLs(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ url, says string }{
		{"http://example.com/repo", `unknown scheme "http"`},
		{"s3:///prefix", "missing bucket"},
		{"gs://", "missing bucket"},
		{"azblob://?x=1", "missing bucket"},
		{"s3://AKIAEXAMPLE:SuperSecret123@bucket", "credentials in the URL"},
		{"gs://user:SuperSecret123@bucket/p", "credentials in the URL"},
		{"s3://bucket?prefix=a/", "as the URL's path"},
		{"s3://bucket/a/../b", "prefix"},
		{"file://relative/dir", "local directory"},
		{"file:///", "ABSOLUTE"},
		{"file://" + dir + "?create_dir=1", "no query parameters"},
		{"file://" + dir + "/nope/../x", "ABSOLUTE"},
		{"s3://bucket#frag", "fragment"},
		{"not a url", "not a URL"},
	} {
		b, err := storage.Open(context.Background(), tc.url)
		if err == nil {
			b.Close()
			t.Errorf("Open(%q) succeeded", tc.url)
			continue
		}
		if !errors.Is(err, storage.ErrBadURL) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("Open(%q) = %v, want ErrBadURL saying %q", tc.url, err, tc.says)
		}
		if strings.Contains(err.Error(), "SuperSecret123") {
			t.Errorf("Open(%q) error shows the secret: %v", tc.url, err)
		}
	}
}

// TestOpenFileDirMustExist: a file:// URL of a missing directory or of a
// file is an error, and nothing is created.
func TestOpenFileDirMustExist(t *testing.T) {
	dir := t.TempDir()
	if b, err := storage.Open(context.Background(), "file://"+dir+"/missing"); err == nil {
		b.Close()
		t.Fatal("Open of a missing directory succeeded")
	}
	if _, err := os.Stat(dir + "/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open created the directory (%v)", err)
	}
	if err := os.WriteFile(dir+"/file", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := storage.Open(context.Background(), "file://"+dir+"/file"); !errors.Is(err, storage.ErrBadURL) {
		t.Fatalf("Open of a file = %v, want ErrBadURL", err)
	}
}

// TestOpenUnknownParameterNamesIt: gocloud's own parameters pass through,
// a typo is refused before anything is written.
func TestOpenUnknownParameterNamesIt(t *testing.T) {
	_, err := storage.Open(context.Background(), "s3://bucket?regoin=us-east-1")
	if err == nil || !strings.Contains(err.Error(), "regoin") {
		t.Fatalf("Open with a misspelt parameter = %v, want an error naming it", err)
	}
}

// TestStringRedactsSecrets: String (what messages and logs show) never
// contains a secret-looking query value.
func TestStringRedactsSecrets(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test-only")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-only")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	b, err := storage.Open(context.Background(), "s3://bucket/fleet?region=us-east-1&kmskeyid=SuperSecret123&endpoint=http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s := b.String()
	if strings.Contains(s, "SuperSecret123") || !strings.Contains(s, "s3://bucket/fleet") || !strings.Contains(s, "kmskeyid=REDACTED") {
		t.Fatalf("String() = %q", s)
	}
}
