package cliutil

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

type progressRecord struct {
	Msg     string `json:"msg"`
	Work    string `json:"work"`
	Percent int    `json:"percent"`
	Done    int64  `json:"done"`
	Total   int64  `json:"total"`
	Rate    string `json:"rate"`
}

func progressRecords(t *testing.T, buf *bytes.Buffer) []progressRecord {
	t.Helper()
	var out []progressRecord
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var r progressRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}

// TestProgressLogTenRecords: work of at least the threshold logs exactly
// ten records, at 10%, 20% ... 100%, in order, however fine its reports
// are; a jump over several tenths logs the last; smaller work logs
// nothing; interleaved files each get their own records. The clock is
// injected (one second per report), so the rate is exact.
func TestProgressLogTenRecords(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	p := ProgressLog(NewLogger(&buf, LogSettings{Level: slog.LevelInfo, JSON: true}), 1000, now)
	for done := int64(0); done <= 1000; done += 7 {
		p("big.bin", done, 1000)
		p("small.bin", done/10, 100) // below the threshold
	}
	p("big.bin", 1000, 1000)
	recs := progressRecords(t, &buf)
	if len(recs) != 10 {
		t.Fatalf("%d records:\n%s", len(recs), buf.String())
	}
	for i, r := range recs {
		if r.Msg != "progress" || r.Work != "big.bin" || r.Percent != 10*(i+1) || r.Total != 1000 || r.Done*10/1000 != int64(i+1) || !strings.HasSuffix(r.Rate, " B/s") {
			t.Errorf("record %d: %+v", i, r)
		}
	}

	// Jumps, and two files at once.
	buf.Reset()
	p("a", 0, 2000)
	p("b", 0, 5000)
	p("a", 1000, 2000) // 50%: one record, not five
	p("b", 5000, 5000)
	p("a", 1100, 2000) // still 50%
	p("a", 2000, 2000)
	want := []progressRecord{{Work: "a", Percent: 50}, {Work: "b", Percent: 100}, {Work: "a", Percent: 100}}
	recs = progressRecords(t, &buf)
	if len(recs) != len(want) {
		t.Fatalf("records:\n%s", buf.String())
	}
	for i, w := range want {
		if recs[i].Work != w.Work || recs[i].Percent != w.Percent {
			t.Errorf("record %d: %+v, want %s at %d%%", i, recs[i], w.Work, w.Percent)
		}
	}
}

// TestProgressForQuiet: progress follows the logging flags: records on
// a stderr that is not a terminal; none with --quiet or --log-level warn.
func TestProgressForQuiet(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args  []string
		isNil bool
	}{
		{[]string{"prog", "cmd"}, false},
		{[]string{"prog", "--verbose", "cmd"}, false},
		{[]string{"prog", "cmd", "--quiet"}, true},
		{[]string{"prog", "--log-level", "warn", "cmd"}, true},
	} {
		var isNil bool
		app := AddLogFlags("prog", &cli.App{Name: "prog", ErrWriter: &bytes.Buffer{}, ExitErrHandler: func(*cli.Context, error) {},
			Commands: []*cli.Command{{Name: "cmd", Action: func(c *cli.Context) error { isNil = ProgressFor(c) == nil; return nil }}}})
		if err := app.Run(tc.args); err != nil || isNil != tc.isNil {
			t.Errorf("%v: nil %v, %v", tc.args, isNil, err)
		}
	}
}
