package repoloc

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/repostore"
	"github.com/edgetuf/edgetuf/storage"
)

// TestObjectURL: an object's URL keeps the repository URL's query.
func TestObjectURL(t *testing.T) {
	for repo, want := range map[string]string{
		"s3://models/prod?region=eu-west-1&endpoint=http://127.0.0.1:7070": "s3://models/prod/metadata/1.root.json?region=eu-west-1&endpoint=http://127.0.0.1:7070",
		"s3://models":       "s3://models/metadata/1.root.json",
		"file:///srv/repo/": "file:///srv/repo/metadata/1.root.json",
	} {
		if got := (Loc{Repo: repo}).ObjectURL("metadata/1.root.json"); got != want {
			t.Errorf("ObjectURL(%s) = %s, want %s", repo, got, want)
		}
	}
}

// TestResult: with a URL the JSON result gains "attempts"; with a
// directory it is unchanged.
func TestResult(t *testing.T) {
	for _, tc := range []struct {
		repo string
		v    any
		want string
	}{
		{"file:///srv/repo", map[string]int{"version": 3}, `{"version":3,"attempts":2}`},
		{"file:///srv/repo", struct{}{}, `{"attempts":2}`},
		{"file:///srv/repo", []int{1}, `[1]`},
		{"/srv/repo", map[string]int{"version": 3}, `{"version":3}`},
	} {
		res, err := Loc{Repo: tc.repo}.Result(tc.v, 2)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(res)
		if string(got) != tc.want {
			t.Errorf("%s %v: %s, want %s", tc.repo, tc.v, got, tc.want)
		}
	}
}

// TestExplainCommitted: a rotation that lost its root version after its
// snapshot was published says so and what to run; other failures are
// left as they are.
func TestExplainCommitted(t *testing.T) {
	lost := &repostore.CommittedError{Snapshot: 7, Timestamp: true, Object: "metadata/3.root.json", Err: storage.ErrPrecondition}
	err := explainCommitted(fmt.Errorf("rotate: %w", lost))
	for _, want := range []string{
		"rotate: PARTIALLY_PUBLISHED: this publication's snapshot 7 and timestamp.json are published, but metadata/3.root.json was written by another publisher first",
		"another rotation won that root version",
		"run mrepo rotate again now, on the root that won",
		"stage it again with mrepo rotate --stage, have it signed, then mrepo publish-staged",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	var ce *repostore.CommittedError
	if !errors.As(err, &ce) || ce.ErrorCode() != "PARTIALLY_PUBLISHED" {
		t.Errorf("the explained error lost its code: %v", err)
	}
	cfg := explainCommitted(&repostore.CommittedError{Snapshot: 4, Object: "mrepo.json", Err: storage.ErrPrecondition})
	if want := "mrepo.json keeps the other publisher's content"; !strings.Contains(cfg.Error(), want) {
		t.Errorf("%q lacks %q", cfg, want)
	}
	other := repostore.ErrConflict
	if explainCommitted(other) != other || explainCommitted(nil) != nil {
		t.Error("explainCommitted changed an error that is not PARTIALLY_PUBLISHED")
	}
}
