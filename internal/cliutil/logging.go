package cliutil

import (
	"errors"
	"io"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v2"
)

// The logging flags of mrepo and mclient. Log records go to stderr, as
// text (the default) or JSON lines; stdout stays the command's output.
// At the default level (info) a command logs nothing but the progress of
// long work (ProgressFor) and warnings; --verbose adds a record for each
// step. The one-line failure message is not a log record.
const (
	quietFlag     = "quiet"
	verboseFlag   = "verbose"
	logLevelFlag  = "log-level"
	logFormatFlag = "log-format"
)

// logFlags returns new instances of the logging flags (a flag value must
// not be shared between the app and its commands: urfave/cli records on
// it that it was set).
func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: quietFlag, Usage: "print only errors on stderr: no progress, no warnings (--log-level error)"},
		&cli.BoolFlag{Name: verboseFlag, Usage: "log each step on stderr (--log-level debug)"},
		&cli.StringFlag{Name: logLevelFlag, Usage: "log records on stderr from `LEVEL` up: debug, info, warn or error (default info)"},
		&cli.StringFlag{Name: logFormatFlag, Usage: "log records on stderr as `FORMAT`: text or json (default text)"},
	}
}

// AddLogFlags gives the app and every command and subcommand of it the
// logging flags (--quiet, --verbose, --log-level, --log-format), so they
// are accepted before the command (mrepo --verbose add-target) and after
// it, and checks their values before any command runs (a bad one is a
// usage error).
func AddLogFlags(prog string, app *cli.App) *cli.App {
	app.Flags = append(app.Flags, logFlags()...)
	app.Before = checkLogFlagsBefore(prog, "", app.Before)
	var walk func(path string, cmds []*cli.Command)
	walk = func(path string, cmds []*cli.Command) {
		for _, cmd := range cmds {
			name := strings.TrimSpace(path + " " + cmd.Name)
			cmd.Flags = append(cmd.Flags, logFlags()...)
			cmd.Before = checkLogFlagsBefore(prog, name, cmd.Before)
			walk(name, cmd.Subcommands)
		}
	}
	walk("", app.Commands)
	return app
}

func checkLogFlagsBefore(prog, name string, next cli.BeforeFunc) cli.BeforeFunc {
	return func(c *cli.Context) error {
		if _, err := logSettingsOf(c); err != nil {
			where := prog
			if name != "" {
				where = prog + " " + name
				err = Usagef("%s: %s (see %s --help)", name, err.Error(), where)
			} else {
				err = Usagef("%s (see %s --help)", err.Error(), where)
			}
			return err
		}
		if next != nil {
			return next(c)
		}
		return nil
	}
}

// LogSettings are the logging flags a command runs with.
type LogSettings struct {
	Level slog.Level
	JSON  bool
	Quiet bool // --quiet, or --log-level error: no progress, no warnings
}

// logSettingsOf reads the logging flags: those given after the command
// override those given before it.
func logSettingsOf(c *cli.Context) (LogSettings, error) {
	s := LogSettings{Level: slog.LevelInfo}
	lineage := c.Lineage()
	for i := len(lineage) - 1; i >= 0; i-- {
		ctx := lineage[i]
		set := map[string]bool{}
		for _, n := range ctx.LocalFlagNames() {
			set[n] = true
		}
		n := 0
		for _, f := range []string{quietFlag, verboseFlag, logLevelFlag} {
			if set[f] {
				n++
			}
		}
		if n > 1 {
			return s, errors.New("give one of --quiet, --verbose and --log-level")
		}
		switch {
		case set[quietFlag] && ctx.Bool(quietFlag):
			s.Level = slog.LevelError
		case set[verboseFlag] && ctx.Bool(verboseFlag):
			s.Level = slog.LevelDebug
		case set[logLevelFlag]:
			lv, ok := parseLevel(ctx.String(logLevelFlag))
			if !ok {
				return s, errors.New("--log-level " + ctx.String(logLevelFlag) + ": want debug, info, warn or error")
			}
			s.Level = lv
		}
		if set[logFormatFlag] {
			switch ctx.String(logFormatFlag) {
			case "text":
				s.JSON = false
			case "json":
				s.JSON = true
			default:
				return s, errors.New("--log-format " + ctx.String(logFormatFlag) + ": want text or json")
			}
		}
	}
	s.Quiet = s.Level > slog.LevelWarn
	return s, nil
}

func parseLevel(v string) (slog.Level, bool) {
	switch strings.ToLower(v) {
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// Logging returns the logging flags a command runs with (the defaults if
// they are malformed: AddLogFlags refuses those before a command runs).
func Logging(c *cli.Context) LogSettings {
	s, _ := logSettingsOf(c)
	return s
}

// Logger returns the command's logger: records from the level the flags
// set up, as text or JSON lines, on the app's stderr.
func Logger(c *cli.Context) *slog.Logger {
	return NewLogger(c.App.ErrWriter, Logging(c))
}

// NewLogger returns a logger writing records from s.Level up to w, as
// text or JSON lines.
func NewLogger(w io.Writer, s LogSettings) *slog.Logger {
	opts := &slog.HandlerOptions{Level: s.Level}
	if s.JSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Quiet reports whether --quiet (or --log-level error) silences progress
// and warnings.
func Quiet(c *cli.Context) bool { return Logging(c).Quiet }
