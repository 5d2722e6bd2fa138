package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/status"
	"github.com/spf13/afero"
)

// TestVerifyExpired covers what testdata/expiry.txtar cannot: metadata
// that has already expired. The CLI always signs with the current time and
// a lifetime of at least an hour, so the clock is moved instead, through
// the options verify and status are built on.
func TestVerifyExpired(t *testing.T) {
	t.Parallel()
	fs := afero.NewMemMapFs()
	kd := &keys.Dir{FS: fs, Path: "keys", Passphrase: func(string, bool) ([]byte, error) {
		return []byte("test-only-passphrase"), nil
	}}
	if _, err := repo.Init(fs, "repo", kd, repo.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	root, err := afero.ReadFile(fs, "repo/metadata/1.root.json")
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	now := time.Now()
	// Default lifetimes: timestamp 1 day, snapshot 7, targets 90, root 365.
	for _, tc := range []struct {
		name  string
		later time.Duration
		want  []string // roles reported as expired
	}{
		{"now", 0, nil},
		{"two days later", 2 * day, []string{"timestamp"}},
		{"eight days later", 8 * day, []string{"timestamp", "snapshot"}},
		{"a hundred days later", 100 * day, []string{"timestamp", "snapshot", "targets"}},
		{"two years later", 730 * day, []string{"root", "timestamp", "snapshot", "targets"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A --valid-for window must not hide or duplicate an expiry.
			rep := audit.Verify(fs, "repo", root, audit.Options{Now: now.Add(tc.later), ValidFor: time.Hour})
			var got []string
			for _, p := range rep.Problems {
				if p.Code != audit.MetadataExpired {
					t.Errorf("unexpected problem %s", p)
					continue
				}
				if !strings.HasPrefix(p.String(), "METADATA_EXPIRED: "+p.Role+": expired at ") {
					t.Errorf("problem reads %q", p)
				}
				got = append(got, p.Role)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("expired roles %v, want %v", got, tc.want)
			}
			if rep.OK() != (len(tc.want) == 0) {
				t.Errorf("OK() = %v with problems %v", rep.OK(), rep.Problems)
			}
		})
	}

	// status reports an expired role as a warning.
	r, err := repo.Open(fs, "repo")
	if err != nil {
		t.Fatal(err)
	}
	st, err := status.Read(fs, "repo", status.Options{Now: now.Add(2 * day), Lifetime: r.Config().Expiry.For})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(st.Warnings, func(w string) bool { return strings.HasPrefix(w, "timestamp: EXPIRED at ") }) {
		t.Errorf("status warnings %q lack the expired timestamp", st.Warnings)
	}
}
