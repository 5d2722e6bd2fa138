package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/edgetuf/edgetuf/anti_rollback"
	"github.com/edgetuf/edgetuf/anti_rollback/tpmstore"
	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/urfave/cli/v2"
)

// The anti-rollback store flags of mclient init.
func antiRollbackFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "anti-rollback", Value: tpmstore.SpecFile, Usage: "anti-rollback `STORE`: file (the state directory) or tpm:PATH (a TPM 2.0 NV counter per model; PATH /dev/tpmrm0 or a swtpm socket)"},
		&cli.BoolFlag{Name: "reprovision", Usage: "on an existing state directory: use --anti-rollback tpm:PATH from now on and start new TPM counters for every model that has none (after a TPM clear or replacement)"},
	}
}

// unavailable gives a store error its code: a TPM fault
// (anti_rollback.ErrUnavailable) is ANTI_ROLLBACK_UNAVAILABLE; anything
// else (a damaged floor file of the state directory) is STATE_INVALID,
// as the client codes it (client/internal/epochgate.Err).
func unavailable(err error) error {
	if errors.Is(err, anti_rollback.ErrUnavailable) {
		return &client.Error{Code: client.AntiRollbackUnavailable, Err: err}
	}
	return &client.Error{Code: client.StateInvalid, Err: err}
}

// initAntiRollback checks --anti-rollback for a new state directory: a
// TPM must answer.
func initAntiRollback(c *cli.Context) (string, error) {
	spec := c.String("anti-rollback")
	path, err := tpmstore.ParseSpec(spec)
	if err != nil {
		return "", cliutil.Usagef("init: --anti-rollback: %v", err)
	}
	if path == "" {
		return "", nil // the default: nothing stored
	}
	if err := tpmstore.New(path, "").Probe(); err != nil {
		return "", fmt.Errorf("init: %w", unavailable(err))
	}
	return spec, nil
}

// reprovision is mclient init --reprovision: the recovery after a TPM
// clear (docs/client.md, "Anti-rollback store").
func reprovision(c *cli.Context) error {
	spec := c.String("anti-rollback")
	path, err := tpmstore.ParseSpec(spec)
	if err != nil {
		return cliutil.Usagef("init: --anti-rollback: %v", err)
	}
	if path == "" {
		return cliutil.Usagef("init: --reprovision needs --anti-rollback tpm:PATH")
	}
	for _, f := range []string{"root", "repo-url", "device-id", "min-version", "ca-file"} {
		if c.IsSet(f) {
			return cliutil.Usagef("init: --reprovision changes only the anti-rollback store: --%s is not allowed", f)
		}
	}
	if _, err := client.EditConfig(c.String("state"), func(cfg *client.Config) error { cfg.AntiRollback = spec; return nil }); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	cl, err := openClient(c, client.Options{})
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	st, ok := cl.AntiRollback().(*tpmstore.Store)
	if !ok {
		return errors.New("init: the state directory's store is not a TPM store")
	}
	fresh, err := st.Reprovision()
	if err != nil {
		return fmt.Errorf("init: %w", unavailable(err))
	}
	if len(fresh) == 0 {
		fmt.Fprintf(c.App.Writer, "Anti-rollback store %s: every model's counters are on the TPM; nothing to re-provision\n", spec)
		return nil
	}
	fmt.Fprintf(c.App.Writer, "Re-provisioned anti-rollback store %s: new counters (hardware epoch 0) for %s; the next update raises each to its active version's epoch\n", spec, strings.Join(fresh, ", "))
	return nil
}

// storeOf describes the anti-rollback store for status: its kind, and for
// a store that keeps epochs the model's hardware epoch.
func storeOf(cl *client.Client, modelID string) (string, *uint64, error) {
	spec := cl.Config().AntiRollback
	if spec == "" {
		spec = tpmstore.SpecFile
	}
	es, ok := cl.AntiRollback().(anti_rollback.EpochStore)
	if !ok {
		return spec, nil, nil
	}
	e, err := es.Epoch(modelID)
	if err != nil {
		return spec, nil, unavailable(err)
	}
	return spec, &e, nil
}

// storeNote names a store other than the default in init's output.
func storeNote(spec string) string {
	if spec == "" {
		return ""
	}
	return ", anti-rollback store " + spec
}

// modelStatus is what mclient status prints of a model: the client's
// status and the anti-rollback store.
type modelStatus struct {
	*client.ModelStatus
	Store         string  `json:"anti_rollback_store"`
	HardwareEpoch *uint64 `json:"hardware_epoch,omitempty"`
	// Encryption describes an encrypted active version (absent: not
	// encrypted, or no active version).
	Encryption *encryptionInfo `json:"encryption,omitempty"`
}
