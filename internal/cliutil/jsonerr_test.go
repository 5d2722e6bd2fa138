package cliutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

type codedErr struct{}

func (codedErr) Error() string     { return "NETWORK: down" }
func (codedErr) ErrorCode() string { return "NETWORK" }

// TestJSONErrorShape: one shape for every failure: the "error" object
// first, then the command's own result (an object's members, anything
// else as "result").
func TestJSONErrorShape(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    error
		status int
		want   string
	}{
		{errors.New("boom"), 1, `{"error":{"code":"FAILED","message":"m","exit_status":1}}`},
		{Usagef("bad"), 64, `{"error":{"code":"USAGE","message":"m","exit_status":64}}`},
		{nil, 130, `{"error":{"code":"INTERRUPTED","message":"m","exit_status":130}}`},
		{fmt.Errorf("update: %w", codedErr{}), 1, `{"error":{"code":"NETWORK","message":"m","exit_status":1}}`},
		{WithResult(codedErr{}, map[string]any{"outcome": "failed"}), 1, `{"error":{"code":"NETWORK","message":"m","exit_status":1},"outcome":"failed"}`},
		{WithResult(errors.New("x"), struct{}{}), 1, `{"error":{"code":"FAILED","message":"m","exit_status":1}}`},
		{WithResult(errors.New("x"), []int{1}), 1, `{"error":{"code":"FAILED","message":"m","exit_status":1},"result":[1]}`},
		{WithResult(&ExitError{Code: 75, Msg: "later", Err: codedErr{}}, nil), 75, `{"error":{"code":"NETWORK","message":"m","exit_status":75}}`},
	} {
		var buf bytes.Buffer
		if err := writeJSONError(&buf, tc.err, tc.status, "m"); err != nil {
			t.Fatal(err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, buf.Bytes()); err != nil {
			t.Fatalf("%v: not JSON: %s", tc.err, buf.Bytes())
		}
		if compact.String() != tc.want {
			t.Errorf("%v: %s, want %s", tc.err, compact.String(), tc.want)
		}
	}
}

// TestRunJSONOnlyWithJSON: Run prints the JSON error only when the
// failing command has --json set, and always the one line on stderr.
func TestRunJSONOnlyWithJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args     string
		json     bool
		status   int
		wantLine string
	}{
		{"c x --json", true, 1, "prog: failed\n"},
		{"c --json=false x", false, 1, "prog: failed\n"},
		{"c x", false, 1, "prog: failed\n"},
		{"c x --json --bogus", true, 64, ""},
		{"", false, 64, "prog: expected a command (see prog --help)\n"},
	} {
		var stdout, stderr bytes.Buffer
		app := &cli.App{Name: "prog", Writer: &stdout, ErrWriter: &stderr, OnUsageError: OnUsageError("prog"),
			ExitErrHandler: func(*cli.Context, error) {},
			Commands: []*cli.Command{{Name: "c", Flags: []cli.Flag{&cli.BoolFlag{Name: "json"}}, OnUsageError: OnUsageError("prog"),
				Action: func(*cli.Context) error { return errors.New("failed") }}}}
		args := append([]string{"prog"}, strings.Fields(tc.args)...)
		status := Run("prog", app, args, &stderr)
		if status != tc.status {
			t.Errorf("%q: status %d, want %d", tc.args, status, tc.status)
		}
		if got := json.Valid(stdout.Bytes()) && stdout.Len() > 0; got != tc.json {
			t.Errorf("%q: stdout %q, want JSON: %v", tc.args, stdout.String(), tc.json)
		}
		if lines := strings.SplitAfter(stderr.String(), "\n"); (tc.wantLine != "" && lines[len(lines)-2] != tc.wantLine) || !strings.HasPrefix(lines[len(lines)-2], "prog: ") {
			t.Errorf("%q: stderr %q, want last line %q", tc.args, stderr.String(), tc.wantLine)
		}
	}
}
