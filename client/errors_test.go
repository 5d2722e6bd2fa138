package client

import (
	"testing"
)

func TestCheckRepoURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"https://models.example.com/repo/", true},
		{"file:///media/usb/repo", true},
		{"http://", false},
		{"https:///path", false},
		{"file:///", false},
		{"file://host/path", false},
		{"file:relative", false},
		{"HTTP://127.0.0.1:1", false},
		{"ftp://example.com", false},
		{"http://example.com/?x=1", false},
		{"http://example.com/#frag", false},
		{"http://user:pw@example.com", false},
		{"", false},
		{"example.com", false},
		{"http://127.0.0.1:", false}, // Go would dial port 80
		{"https://example.com:/repo", false},
		{"http://127.0.0.1:0", false},
		{"http://127.0.0.1:65536", false},
		{"http://[::1]:8080/repo", true},
	} {
		err := CheckRepoURL(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("%q: %v, want ok=%v", tc.url, err, tc.ok)
		}
		if err != nil && CodeOf(err) != StateInvalid {
			t.Errorf("%q: code %s", tc.url, CodeOf(err))
		}
	}
}
