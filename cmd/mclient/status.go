package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/urfave/cli/v2"
)

func statusCommand() *cli.Command {
	return command([]string{"state"}, &cli.Command{
		Name:      "status",
		Usage:     "show the active model versions and the device's update state",
		UsageText: "mclient status --state DIR [--model-id ID] [--json]",
		Description: `For each model (or only --model-id): the active version and its directory,
the previous version, whether the active one is still on trial, installed
versions, versions marked bad, the anti-rollback floor and store (with a TPM
store, the model's hardware rollback epoch) and the last update
result, whether the active version is encrypted (its delivery, and
whether it is kept encrypted at rest or was decrypted at install), and the retry schedule after failed runs (backoff: attempts, next
attempt time, last code; versions that failed verification). With --json
and a single model (or --model-id), one JSON object with at least
model_id, version and path (and "schedule" when there is one); with
several, {"models": [...]}.
Status reads the state only; "mclient verify" re-checks the files.`,
		Flags: []cli.Flag{stateFlag, optModelFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			cl, err := openFor(c, "status")
			if err != nil {
				return err
			}
			ids, err := modelIDs(c, cl)
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			var all []modelStatus
			for _, id := range ids {
				st, err := cl.Status(id)
				if err != nil {
					return fmt.Errorf("status: %w", err)
				}
				ms := modelStatus{ModelStatus: st}
				if ms.Store, ms.HardwareEpoch, err = storeOf(cl, id); err != nil {
					return fmt.Errorf("status: %w", err)
				}
				if st.Version != "" {
					ms.Encryption = encryptionOf(cl, id)
				}
				all = append(all, ms)
			}
			if c.Bool("json") {
				if len(all) == 1 {
					return cliutil.WriteJSON(c.App.Writer, all[0])
				}
				if all == nil {
					all = []modelStatus{}
				}
				return cliutil.WriteJSON(c.App.Writer, map[string]any{"models": all})
			}
			if len(all) == 0 {
				fmt.Fprintln(c.App.Writer, "No models on this device yet.")
			}
			for _, st := range all {
				printStatus(c, st)
			}
			return nil
		},
	})
}

func printStatus(c *cli.Context, st modelStatus) {
	w := c.App.Writer
	fmt.Fprintf(w, "model %s\n", st.ModelID)
	if st.Version == "" {
		fmt.Fprintf(w, "  active:     none\n")
	} else {
		trial := ""
		if st.Trial {
			trial = " (on trial: health check pending)"
		}
		fmt.Fprintf(w, "  active:     %s%s\n  path:       %s\n", st.Version, trial, st.Path)
	}
	if st.Previous != "" {
		fmt.Fprintf(w, "  previous:   %s\n", st.Previous)
	}
	fmt.Fprintf(w, "  installed:  %s\n", orNone(strings.Join(st.Installed, ", ")))
	bad := strings.Join(st.BadVersions, ", ")
	switch {
	case st.BadMarksLost:
		bad = "lost (a damaged state.json): the next update counts every published version as bad"
	case st.BadThrough != "" && bad != "":
		bad += ", and every version up to " + st.BadThrough
	case st.BadThrough != "":
		bad = "every version up to " + st.BadThrough
	}
	fmt.Fprintf(w, "  bad:        %s\n", orNone(bad))
	fmt.Fprintf(w, "  floor:      %s\n", orNone(st.Floor))
	if st.HardwareEpoch != nil {
		fmt.Fprintf(w, "  store:      %s, hardware epoch %d\n", st.Store, *st.HardwareEpoch)
	} else {
		fmt.Fprintf(w, "  store:      %s\n", st.Store)
	}
	if e := st.Encryption; e != nil {
		if e.Error != "" {
			fmt.Fprintf(w, "  encrypted:  unknown: %s\n", e.Error)
		} else {
			fmt.Fprintf(w, "  encrypted:  %s, delivery %s, %s at rest\n", e.Scheme, e.Delivery, e.AtRest)
		}
	}
	if s := st.Schedule; s != nil {
		if s.Attempts > 0 {
			fmt.Fprintf(w, "  backoff:    %d failed attempt(s), the last %s; next attempt at %s\n", s.Attempts, s.LastCode, s.NotBefore)
		}
		vs := slices.Sorted(maps.Keys(s.VerifyFailures))
		for _, v := range vs {
			f := s.VerifyFailures[v]
			line := fmt.Sprintf("%s failed verification %d time(s)", v, f.Count)
			if f.Until != "" {
				line += ", deferred until " + f.Until
			}
			fmt.Fprintf(w, "  verify:     %s\n", line)
		}
	}
	if r := st.LastResult; r != nil {
		line := fmt.Sprintf("%s at %s", r.Outcome, r.Time)
		if r.Code != "" {
			line += fmt.Sprintf(": %s", r.Code)
		}
		if len(r.Files) > 0 && (r.Outcome == client.OutcomeUpdated || r.Outcome == client.OutcomeRepaired) {
			line += fmt.Sprintf(" (%s", transferred(r))
			for _, f := range r.Files {
				if f.Method == client.MethodDeltaFallback {
					line += fmt.Sprintf("; %s: the patch from %s failed (%s), downloaded whole", f.File, f.Base, f.Code)
				}
			}
			line += ")"
		}
		fmt.Fprintf(w, "  last:       %s\n", line)
	}
}

// encryptionInfo is how status describes an encrypted active version.
type encryptionInfo struct {
	Scheme    string `json:"scheme,omitempty"`
	Delivery  string `json:"delivery,omitempty"`
	Recipient string `json:"recipient,omitempty"`
	// AtRest is the installed form: "plaintext" or "encrypted".
	AtRest string `json:"at_rest,omitempty"`
	// Error says why the signed metadata could not be read (status reads
	// the state only and reports, rather than fails).
	Error string `json:"error,omitempty"`
}

// encryptionOf describes the encryption of modelID's active version from
// the signed metadata the device trusts, opening no key; nil: the version
// is not encrypted.
func encryptionOf(cl *client.Client, modelID string) *encryptionInfo {
	enc, atRest, err := cl.ActiveEncryption(modelID)
	switch {
	case err != nil:
		return &encryptionInfo{Error: cliutil.OneLine(err)}
	case enc == nil:
		return nil
	}
	info := &encryptionInfo{Scheme: enc.Scheme, Delivery: enc.Delivery, Recipient: enc.Recipient, AtRest: "plaintext"}
	if atRest {
		info.AtRest = "encrypted"
	}
	return info
}
