package cliutil

import (
	"log/slog"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
)

// ProgressThreshold is the size from which long work (hashing, storing,
// diffing, patching, downloading a file) logs its progress when stderr is
// not a terminal: smaller work finishes too soon to need it. Tests lower
// it.
var ProgressThreshold int64 = 64 << 20

// ProgressFor returns the progress callback of a command: a progress bar
// when stderr is a terminal; else, at the info level or below, one log
// record per 10% of each piece of work of ProgressThreshold bytes or more
// (ProgressLog); nil (no progress) with --quiet or a level above info.
func ProgressFor(c *cli.Context) func(name string, done, total int64) {
	s := Logging(c)
	if s.Level > slog.LevelInfo {
		return nil
	}
	if IsTerminal(c.App.ErrWriter) {
		return Progress(c.App.ErrWriter)
	}
	return ProgressLog(NewLogger(c.App.ErrWriter, s), ProgressThreshold, time.Now)
}

// ProgressLog returns a progress callback that logs, at the info level,
// one "progress" record each time a piece of work of at least threshold
// bytes passes another tenth of its total (10%, 20%, ... 100%; a jump over
// several tenths logs the last one), with the bytes done and total and the
// mean rate since its first report ("-" until there is one). Work is told apart by name, so
// interleaved reports of several files each get their own records. It is
// safe for concurrent use.
func ProgressLog(log *slog.Logger, threshold int64, now func() time.Time) func(name string, done, total int64) {
	type work struct {
		tenths int
		start  time.Time
		from   int64
	}
	var mu sync.Mutex
	active := map[string]*work{}
	return func(name string, done, total int64) {
		if total <= 0 || total < threshold {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		w := active[name]
		if w == nil {
			w = &work{start: now(), from: done}
			active[name] = w
		}
		tenths := int(min(done, total) * 10 / total)
		if tenths <= w.tenths {
			return
		}
		w.tenths = tenths
		rate := "-"
		if secs := now().Sub(w.start).Seconds(); secs > 0 && done > w.from {
			rate = HumanBytes(int64(float64(done-w.from)/secs)) + "/s"
		}
		log.Info("progress", "work", name, "percent", tenths*10, "done", done, "total", total, "rate", rate)
		if tenths == 10 {
			delete(active, name)
		}
	}
}
