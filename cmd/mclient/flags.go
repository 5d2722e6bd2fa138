// Flags and helpers that several mclient commands share: the state, model
// and JSON flags, the argument checks, opening the device's client (with
// the tests' clock), the models a command acts on, and the one-line
// failure.

package main

import (
	"fmt"
	"os"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/urfave/cli/v2"
)

var (
	stateFlag = &cli.StringFlag{Name: "state", Usage: "device state `DIR` (required)"}
	jsonFlag  = &cli.BoolFlag{Name: "json", Usage: "print the result as JSON"}
	modelFlag = &cli.StringFlag{Name: "model-id", Usage: "the model `ID` (required)"}
	// optModelFlag is --model-id where it is optional (all models without it).
	optModelFlag = &cli.StringFlag{Name: "model-id", Usage: "only this model `ID`"}
)

func command(required []string, cmd *cli.Command) *cli.Command {
	return cliutil.Command("mclient", required, cmd)
}

// testClock, when set, gives the reference time of the device commands
// (expiry checks, and the times written into results and events). Only
// cmd/mclient's test binary sets it (clock_test.go), from a variable its
// scripts set: the shipped binary reads no variable that moves the clock
// its freeze-attack defence relies on. FAKETIME moves only `mclient tuf`,
// the conformance suite's interface (tuf.go).
var testClock func() (time.Time, bool, error)

func openClient(c *cli.Context, opts client.Options) (*client.Client, error) {
	if testClock != nil {
		if now, ok, err := testClock(); err != nil {
			return nil, err
		} else if ok {
			opts.Now = func() time.Time { return now }
		}
	}
	// Set by the device image's service: the state directory must read
	// its pinned root from there (docs/client.md, section 11).
	opts.PinnedRoot = os.Getenv("MCLIENT_PINNED_ROOT")
	return client.Open(c.String("state"), opts)
}

// failure turns err into the one line mclient prints (the code first),
// with the result that --json prints after the error (cliutil.Run).
func failure(c *cli.Context, verb string, res any, err error) error {
	err = fmt.Errorf("%s: %w", verb, err)
	if res != nil && !isNil(res) {
		return cliutil.WithResult(err, res)
	}
	return err
}

func isNil(v any) bool {
	r, ok := v.(*client.Result)
	return ok && r == nil
}

// checkArgs refuses arguments, and makes a malformed --model-id a usage
// error (exit 64).
func checkArgs(c *cli.Context, verb string) error {
	if err := cliutil.NoArgs("mclient", c); err != nil {
		return err
	}
	if id := c.String("model-id"); id != "" {
		if err := targets.CheckModelID(id); err != nil {
			return cliutil.Usagef("%s: --model-id: %v", verb, err)
		}
	}
	return nil
}

// openFor checks the arguments of the device command verb and opens the
// device's client with the default options.
func openFor(c *cli.Context, verb string) (*client.Client, error) {
	if err := checkArgs(c, verb); err != nil {
		return nil, err
	}
	cl, err := openClient(c, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", verb, err)
	}
	return cl, nil
}

// modelIDs is --model-id, or without it every model on the device.
func modelIDs(c *cli.Context, cl *client.Client) ([]string, error) {
	if id := c.String("model-id"); id != "" {
		return []string{id}, nil
	}
	return cl.Models()
}
