package cliutil

import (
	"fmt"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
)

// CountProgress returns a callback drawing a bar of things done (not
// bytes: envelopes written, ...) on the command's stderr when it is a
// terminal and logging is not quiet; nil otherwise. what names them.
func CountProgress(c *cli.Context, what string) func(done, total int64) {
	w := c.App.ErrWriter
	if Quiet(c) || !IsTerminal(w) {
		return nil
	}
	var bar *progressbar.ProgressBar
	return func(done, total int64) {
		if bar == nil {
			bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription(what),
				progressbar.OptionShowCount(),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
			)
		}
		bar.Set64(done)
	}
}
