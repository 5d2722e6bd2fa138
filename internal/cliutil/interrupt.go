package cliutil

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

// Keys of the App.Metadata that Run and ExitOnSignal share.
const (
	metaJSON = "cliutil.json" // bool: the command runs with --json
	metaStop = "cliutil.stop" // func(): releases ExitOnSignal's signals
)

// ExitOnSignal makes the first SIGINT or SIGTERM end the process at once,
// for commands whose work takes no context (mrepo's writers): it prints
// the one line "prog: interrupted" on stderr (and with --json the JSON
// failure, code INTERRUPTED) and exits 130 or 143. That is as safe as a
// crash at the same point, which every writer survives: nothing is
// published half way, and the next writer removes the temporaries left
// behind (the kill tests check both). A command that stops gracefully on
// a signal (mrepo serve, mclient update) uses SignalContext instead and
// must not call it. Call it from a Before of the app run by Run, which
// releases the signals when the command returns.
func ExitOnSignal(c *cli.Context) {
	app := c.App
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			status := SignalStatus(sig)
			if json, _ := app.Metadata[metaJSON].(bool); json {
				writeJSONError(app.Writer, nil, status, "interrupted")
			}
			fmt.Fprintf(app.ErrWriter, "%s: interrupted\n", app.Name)
			os.Exit(status)
		case <-done:
		}
	}()
	if app.Metadata == nil {
		app.Metadata = map[string]any{}
	}
	app.Metadata[metaStop] = func() {
		signal.Stop(ch)
		close(done)
	}
}
