package repoloc

import (
	"encoding/json"
	"testing"
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
