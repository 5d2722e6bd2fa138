package tpmstore

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/edgetuf/edgetuf/anti_rollback"
	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/targets"
)

func ver(t testing.TB, s string) targets.Version {
	t.Helper()
	v, err := targets.ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newStore(t testing.TB, sw *backendtest.SWTPM) *Store {
	return New(sw.Socket, filepath.Join(t.TempDir(), "anti-rollback"))
}

func wantEpoch(t testing.TB, s *Store, model string, want uint64) {
	t.Helper()
	got, err := s.Epoch(model)
	if err != nil || got != want {
		t.Fatalf("epoch of %s: %d %v, want %d", model, got, err, want)
	}
}

// TestEpochCounter: a model's epoch starts at 0 although the TPM's counters
// do not, rises one increment per step, never goes down, survives a TPM
// restart, and models are independent.
func TestEpochCounter(t *testing.T) {
	sw := backendtest.StartSWTPM(t)
	s := newStore(t, sw)
	wantEpoch(t, s, "det", 0)
	if err := s.RaiseEpoch("det", 3); err != nil {
		t.Fatal(err)
	}
	wantEpoch(t, s, "det", 3)
	// A second model defined after the first counter moved still starts
	// at 0 (its base records where it started).
	if err := s.RaiseEpoch("seg", 1); err != nil {
		t.Fatal(err)
	}
	wantEpoch(t, s, "seg", 1)
	if err := s.RaiseEpoch("det", 2); err != nil {
		t.Fatal(err)
	}
	wantEpoch(t, s, "det", 3)
	sw.Restart(t)
	wantEpoch(t, s, "det", 3)
	wantEpoch(t, s, "seg", 1)
	if err := s.RaiseEpoch("det", targets.MaxEpoch+1); err == nil {
		t.Fatal("an epoch above MaxEpoch was accepted")
	}
	// The store's file floors and the epochs are separate.
	if err := s.Raise("det", ver(t, "1.4.0")); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.Floor("det"); err != nil || !ok || v.String() != "1.4.0" {
		t.Fatalf("floor %s %v %v", v, ok, err)
	}
}

// TestClearFailsClosed: after TPM2_Clear a model with a recorded floor is
// unavailable for every method (never a floor of 0), a model without one
// simply starts again, and Reprovision gives the first new counters at
// epoch 0.
func TestClearFailsClosed(t *testing.T) {
	sw := backendtest.StartSWTPM(t)
	s := newStore(t, sw)
	if err := s.Raise("det", ver(t, "1.4.0")); err != nil {
		t.Fatal(err)
	}
	if err := s.RaiseEpoch("det", 2); err != nil {
		t.Fatal(err)
	}
	sw.Clear(t)
	for name, call := range map[string]func() error{
		"Floor":      func() error { _, _, err := s.Floor("det"); return err },
		"Epoch":      func() error { _, err := s.Epoch("det"); return err },
		"Raise":      func() error { return s.Raise("det", ver(t, "1.5.0")) },
		"RaiseEpoch": func() error { return s.RaiseEpoch("det", 3) },
		"StepDown":   func() error { return s.StepDown("det", ver(t, "1.4.0"), ver(t, "1.3.0")) },
	} {
		if err := call(); !errors.Is(err, anti_rollback.ErrUnavailable) {
			t.Errorf("%s after a clear: %v, want ErrUnavailable", name, err)
		}
	}
	wantEpoch(t, s, "other", 0)
	fresh, err := s.Reprovision()
	if err != nil || len(fresh) != 1 || fresh[0] != "det" {
		t.Fatalf("reprovision: %v %v", fresh, err)
	}
	wantEpoch(t, s, "det", 0)
	if v, ok, err := s.Floor("det"); err != nil || !ok || v.String() != "1.4.0" {
		t.Fatalf("floor after reprovision: %s %v %v", v, ok, err)
	}
	if fresh, err := s.Reprovision(); err != nil || len(fresh) != 0 {
		t.Fatalf("second reprovision: %v %v", fresh, err)
	}
}

// TestUnreachableFailsClosed: a TPM that is stopped, or a path that is
// not a TPM, makes every method fail with ErrUnavailable.
func TestUnreachableFailsClosed(t *testing.T) {
	sw := backendtest.StartSWTPM(t)
	s := newStore(t, sw)
	if err := s.Raise("det", ver(t, "1.0.0")); err != nil {
		t.Fatal(err)
	}
	sw.Stop()
	notTPM := New(filepath.Join(t.TempDir(), "nothing"), s.Files.Dir)
	for _, st := range []*Store{s, notTPM} {
		if _, _, err := st.Floor("det"); !errors.Is(err, anti_rollback.ErrUnavailable) {
			t.Errorf("Floor: %v", err)
		}
		if _, err := st.Epoch("new"); !errors.Is(err, anti_rollback.ErrUnavailable) {
			t.Errorf("Epoch: %v", err)
		}
		if err := st.Raise("det", ver(t, "2.0.0")); !errors.Is(err, anti_rollback.ErrUnavailable) {
			t.Errorf("Raise: %v", err)
		}
		if err := st.Probe(); !errors.Is(err, anti_rollback.ErrUnavailable) {
			t.Errorf("Probe: %v", err)
		}
	}
	if v, _, _ := s.Files.Floor("det"); v.String() != "1.0.0" {
		t.Fatalf("the file floor moved to %s", v)
	}
}
