package repoloc

import (
	"encoding/json"
	"testing"
)

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
