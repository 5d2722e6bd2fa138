package main

import (
	"fmt"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/urfave/cli/v2"
)

func verifyCommand() *cli.Command {
	return command([]string{"state"}, &cli.Command{
		Name:      "verify",
		Usage:     "re-check the active model's files against signed metadata",
		UsageText: "mclient verify --state DIR [--model-id ID] [--json]",
		Description: `Re-hashes every file of the active version (of --model-id, or of every
model) against the signed metadata the device trusts, and fails if a file
is missing, changed, or added. Needs no network. Exit 1 with the error code
(HASH_MISMATCH for a replaced file) if anything is wrong.`,
		Flags: []cli.Flag{stateFlag, optModelFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			cl, err := openFor(c, "verify")
			if err != nil {
				return err
			}
			ids, err := modelIDs(c, cl)
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			if len(ids) == 0 {
				err := &client.Error{Code: client.NoActiveModel, Msg: "no models on this device"}
				return cliutil.WithResult(fmt.Errorf("verify: %w", err), map[string]any{"models": []any{}, "code": err.Code, "message": err.Msg})
			}
			type verdict struct {
				ModelID string      `json:"model_id"`
				Version string      `json:"version"`
				Path    string      `json:"path"`
				OK      bool        `json:"ok"`
				Code    client.Code `json:"code,omitempty"`
				Message string      `json:"message,omitempty"`
			}
			var out []verdict
			var firstErr error
			for _, id := range ids {
				st, err := cl.Verify(id)
				v := verdict{ModelID: id, OK: err == nil}
				if st != nil {
					v.Version, v.Path = st.Version, st.Path
				}
				if err != nil {
					v.Code, v.Message = client.CodeOf(err), client.ReasonOf(err)
					if firstErr == nil {
						firstErr = fmt.Errorf("verify: %s: %w", id, err)
					}
				} else if !c.Bool("json") {
					fmt.Fprintf(c.App.Writer, "OK: %s %s: every file matches its signed length and SHA-256\n", id, st.Version)
				}
				out = append(out, v)
			}
			var res any = map[string]any{"models": out}
			if len(out) == 1 {
				res = out[0]
			}
			if firstErr != nil {
				return cliutil.WithResult(firstErr, res) // with --json, after the error
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			return nil
		},
	})
}
