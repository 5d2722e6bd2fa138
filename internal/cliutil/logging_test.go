package cliutil

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// logApp is an app with one command and one subcommand, with the logging
// flags; it records the settings its command ran with.
func logApp(got *LogSettings) *cli.App {
	action := func(c *cli.Context) error { *got = Logging(c); return nil }
	return AddLogFlags("prog", &cli.App{
		Name: "prog", Writer: &bytes.Buffer{}, ErrWriter: &bytes.Buffer{},
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			{Name: "cmd", Action: action},
			{Name: "group", Subcommands: []*cli.Command{{Name: "sub", Action: action}}},
		},
	})
}

// TestLogFlags: --quiet, --verbose, --log-level and --log-format are
// accepted before the command and after it (on a subcommand too); after
// the command wins; a bad value or two levels at once is a usage error.
func TestLogFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args  string
		level slog.Level
		json  bool
		quiet bool
	}{
		{"cmd", slog.LevelInfo, false, false},
		{"--verbose cmd", slog.LevelDebug, false, false},
		{"cmd --verbose", slog.LevelDebug, false, false},
		{"--quiet cmd", slog.LevelError, false, true},
		{"cmd --log-level warn", slog.LevelWarn, false, false},
		{"cmd --log-level error", slog.LevelError, false, true},
		{"--log-format json cmd", slog.LevelInfo, true, false},
		{"--verbose --log-format json cmd --quiet", slog.LevelError, true, true},
		{"--quiet cmd --log-level debug", slog.LevelDebug, false, false},
		{"group sub --verbose --log-format json", slog.LevelDebug, true, false},
		{"--quiet group sub", slog.LevelError, false, true},
	} {
		var got LogSettings
		if err := logApp(&got).Run(append([]string{"prog"}, strings.Fields(tc.args)...)); err != nil {
			t.Fatalf("%s: %v", tc.args, err)
		}
		if got.Level != tc.level || got.JSON != tc.json || got.Quiet != tc.quiet {
			t.Errorf("%s: %+v", tc.args, got)
		}
	}
	for _, tc := range []struct{ args, msg string }{
		{"--log-level loud cmd", "--log-level loud: want debug, info, warn or error (see prog --help)"},
		{"cmd --log-format yaml", "cmd: --log-format yaml: want text or json (see prog cmd --help)"},
		{"cmd --quiet --verbose", "cmd: give one of --quiet, --verbose and --log-level (see prog cmd --help)"},
		{"group sub --quiet --log-level info", "group sub: give one of --quiet, --verbose and --log-level (see prog group sub --help)"},
	} {
		var got LogSettings
		err := logApp(&got).Run(append([]string{"prog"}, strings.Fields(tc.args)...))
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != ExitUsage || ee.Msg != tc.msg {
			t.Errorf("%s: %v", tc.args, err)
		}
	}
}

// TestLoggerFormats: text records by default, JSON lines with
// --log-format json, nothing below the level.
func TestLoggerFormats(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	NewLogger(&buf, LogSettings{Level: slog.LevelInfo}).Debug("hidden")
	NewLogger(&buf, LogSettings{Level: slog.LevelInfo}).Info("shown", "file", "a.bin")
	NewLogger(&buf, LogSettings{Level: slog.LevelDebug, JSON: true}).Debug("step", "n", 1)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "level=INFO msg=shown file=a.bin") ||
		!strings.HasPrefix(lines[1], `{"time":`) || !strings.Contains(lines[1], `"level":"DEBUG","msg":"step","n":1}`) {
		t.Fatalf("records:\n%s", buf.String())
	}
}
