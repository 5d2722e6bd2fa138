package cliutil

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestBuildVersion: --version reports what Go recorded (go install
// module@version, go build in a Git checkout), the release stamps of
// scripts/release.sh override it, and anything unknown is "unknown".
func TestBuildVersion(t *testing.T) {
	pkcs11 := Feature{Name: "pkcs11", Enabled: false}
	// Nothing known: go run, a test binary, -buildvcs=false.
	for _, info := range []*debug.BuildInfo{nil, {Main: debug.Module{Version: "(devel)"}}} {
		v := buildVersion("mclient", info, []Feature{pkcs11})
		want := Version{Program: "mclient", Version: Unknown, Commit: Unknown, Modified: Unknown, CommitTime: Unknown,
			BuildTime: Unknown, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
			Features: map[string]bool{"pkcs11": false}}
		if v.String() != want.String() {
			t.Errorf("info %v: got\n%s\nwant\n%s", info, v, want)
		}
	}

	// go build in a Git checkout with uncommitted changes.
	info := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/edgetuf/edgetuf", Version: "v0.0.0-20261204140000-03db877abcde+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "03db877abcdef0123456789abcdef0123456789a"},
			{Key: "vcs.time", Value: "2026-12-04T14:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	v := buildVersion("mrepo", info, []Feature{{Name: "pkcs11", Enabled: true}})
	got := v.String()
	for _, line := range []string{
		"mrepo v0.0.0-20261204140000-03db877abcde+dirty\n",
		"\ncommit: 03db877abcdef0123456789abcdef0123456789a\n",
		"\nmodified: yes\n",
		"\ncommit time: 2026-12-04T14:00:00Z\n",
		"\nbuild time: unknown\n",
		"\ngo: go1.26.8\n",
		"\nplatform: " + runtime.GOOS + "/" + runtime.GOARCH + "\n",
		"\npkcs11: yes\n",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("no %q in\n%s", line, got)
		}
	}

	// A release build: the stamps win.
	defer func(v, c, m, ct, b string) {
		stampVersion, stampCommit, stampModified, stampCommitTime, stampBuildTime = v, c, m, ct, b
	}(stampVersion, stampCommit, stampModified, stampCommitTime, stampBuildTime)
	stampVersion, stampCommit, stampModified = "v1.2.3", "0123456789abcdef0123456789abcdef01234567", "false"
	stampCommitTime, stampBuildTime = "2026-12-04T14:30:00Z", "2026-12-04T15:00:00Z"
	v = buildVersion("mrepo", info, nil)
	if v.Version != "v1.2.3" || v.Commit != stampCommit || v.Modified != "no" || v.BuildTime != stampBuildTime ||
		v.CommitTime != stampCommitTime || len(v.Features) != 0 {
		t.Errorf("stamped: %+v", v)
	}
	stampModified = "maybe"
	if v = buildVersion("mrepo", nil, nil); v.Modified != Unknown {
		t.Errorf("modified stamp %q: %q", stampModified, v.Modified)
	}
}

// TestPlatform: a 32-bit ARM build names its GOARM version, as
// scripts/release.sh's linux/arm build (GOARM=7) does.
func TestPlatform(t *testing.T) {
	for _, c := range []struct {
		goos, goarch, goarm, want string
	}{
		{"linux", "amd64", "", "linux/amd64"},
		{"linux", "arm", "7", "linux/arm/v7"},
		{"linux", "arm", "6,softfloat", "linux/arm/v6,softfloat"},
		{"linux", "arm", "", "linux/arm"},
		{"linux", "arm64", "7", "linux/arm64"},
	} {
		settings := []debug.BuildSetting{{Key: "GOOS", Value: c.goos}}
		if c.goarm != "" {
			settings = append(settings, debug.BuildSetting{Key: "GOARM", Value: c.goarm})
		}
		if got := platform(c.goos, c.goarch, settings); got != c.want {
			t.Errorf("%s/%s GOARM=%q: %q, want %q", c.goos, c.goarch, c.goarm, got, c.want)
		}
	}
}
