package cliutil

import (
	"fmt"
	"io"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// Stamped by scripts/release.sh with -ldflags "-X ...": the release
// version, the commit, "true" or "false" for a modified tree, and the
// commit and build times (RFC 3339). Empty in any other build, where the
// build information Go records (go build in a Git checkout, go install
// module@version) fills in what it can.
var (
	stampVersion    string
	stampCommit     string
	stampModified   string
	stampCommitTime string
	stampBuildTime  string
)

// Unknown is what --version prints for a value the binary does not know
// (no stamp, and no VCS information: go run, go test, a build outside a
// Git checkout or with -buildvcs=false).
const Unknown = "unknown"

// Feature is an optional capability a build may or may not include, such
// as PKCS#11 keys; --version reports each one as "NAME: yes" or "NAME: no".
type Feature struct {
	Name    string
	Enabled bool
}

// Version describes a binary: `PROG --version` prints it as text, `PROG
// version --json` as JSON. A value that is not known is "unknown".
type Version struct {
	Program    string          `json:"program"`
	Version    string          `json:"version"`
	Commit     string          `json:"commit"`
	Modified   string          `json:"modified"` // "yes", "no" or "unknown": the tree had uncommitted changes
	CommitTime string          `json:"commit_time"`
	BuildTime  string          `json:"build_time"`
	GoVersion  string          `json:"go_version"`
	Platform   string          `json:"platform"` // GOOS/GOARCH, with /v7 for GOARM=7
	Features   map[string]bool `json:"features"`
}

// BuildVersion returns the description of this binary: the release
// stamps if any, else what debug.ReadBuildInfo recorded.
func BuildVersion(prog string, features ...Feature) Version {
	info, _ := debug.ReadBuildInfo()
	return buildVersion(prog, info, features)
}

func buildVersion(prog string, info *debug.BuildInfo, features []Feature) Version {
	v := Version{
		Program:    prog,
		Version:    Unknown,
		Commit:     Unknown,
		Modified:   Unknown,
		CommitTime: Unknown,
		BuildTime:  Unknown,
		GoVersion:  runtime.Version(),
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
		Features:   map[string]bool{},
	}
	if info != nil {
		if mv := info.Main.Version; mv != "" && mv != "(devel)" {
			v.Version = mv
		}
		if info.GoVersion != "" {
			v.GoVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.time":
				v.CommitTime = s.Value
			case "vcs.modified":
				v.Modified = yesNo(s.Value)
			}
		}
		v.Platform = platform(runtime.GOOS, runtime.GOARCH, info.Settings)
	}
	for _, stamp := range []struct{ from, to *string }{
		{&stampVersion, &v.Version},
		{&stampCommit, &v.Commit},
		{&stampCommitTime, &v.CommitTime},
		{&stampBuildTime, &v.BuildTime},
	} {
		if *stamp.from != "" {
			*stamp.to = *stamp.from
		}
	}
	if stampModified != "" {
		v.Modified = yesNo(stampModified)
	}
	for _, f := range features {
		v.Features[f.Name] = f.Enabled
	}
	return v
}

// platform is GOOS/GOARCH, and for 32-bit ARM the GOARM version recorded
// in the build settings: linux/arm/v7 (linux/arm/v7,softfloat).
func platform(goos, goarch string, settings []debug.BuildSetting) string {
	p := goos + "/" + goarch
	for _, s := range settings {
		if s.Key == "GOARM" && goarch == "arm" && s.Value != "" {
			p += "/v" + strings.TrimSuffix(s.Value, ",hardfloat")
		}
	}
	return p
}

func yesNo(b string) string {
	switch b {
	case "true":
		return "yes"
	case "false":
		return "no"
	}
	return Unknown
}

// WriteText prints v as "name: value" lines, the first one "PROG VERSION".
func (v Version) WriteText(w io.Writer) error {
	_, err := io.WriteString(w, v.String())
	return err
}

// String is the text WriteText prints.
func (v Version) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", v.Program, v.Version)
	fmt.Fprintf(&b, "commit: %s\n", v.Commit)
	fmt.Fprintf(&b, "modified: %s\n", v.Modified)
	fmt.Fprintf(&b, "commit time: %s\n", v.CommitTime)
	fmt.Fprintf(&b, "build time: %s\n", v.BuildTime)
	fmt.Fprintf(&b, "go: %s\n", v.GoVersion)
	fmt.Fprintf(&b, "platform: %s\n", v.Platform)
	for _, name := range slices.Sorted(maps.Keys(v.Features)) {
		fmt.Fprintf(&b, "%s: %s\n", name, yesNo(strconv.FormatBool(v.Features[name])))
	}
	return b.String()
}

// WithVersion gives app a --version option and a version command (with
// --json), which print BuildVersion(prog, features...). --version takes
// no command: `PROG --version COMMAND` is a usage error.
func WithVersion(app *cli.App, features ...Feature) *cli.App {
	prog := app.Name
	app.Flags = append(app.Flags, &cli.BoolFlag{
		Name:  "version",
		Usage: "print the version, commit, Go version and build options, and exit (" + prog + " version --json for JSON)",
	})
	before := app.Before
	app.Before = func(c *cli.Context) error {
		if c.Bool("version") && c.Args().Present() {
			return Usagef("--version takes no command (see %s --help)", prog)
		}
		if before != nil {
			return before(c)
		}
		return nil
	}
	action := app.Action
	app.Action = func(c *cli.Context) error {
		if c.Bool("version") {
			return BuildVersion(prog, features...).WriteText(c.App.Writer)
		}
		if action != nil {
			return action(c)
		}
		return nil
	}
	app.Commands = append(app.Commands, Command(prog, nil, &cli.Command{
		Name:      "version",
		Usage:     "print the version, commit, Go version and build options",
		UsageText: prog + " version [--json]",
		Description: `Prints what identifies this binary: its version (the release, or the Go
module version), the VCS commit and whether the tree had uncommitted
changes, the commit and build times, the Go version, the platform, and
which optional features it was built with. A value the binary does not
know (a build without release stamps outside a Git checkout, go run) is
"unknown". Record this output with the SHA-256 of the binary.`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if err := NoArgs(prog, c); err != nil {
				return err
			}
			v := BuildVersion(prog, features...)
			if c.Bool("json") {
				return WriteJSON(c.App.Writer, v)
			}
			return v.WriteText(c.App.Writer)
		},
	}))
	return app
}
