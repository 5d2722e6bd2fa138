package anti_rollback

import (
	"errors"
	"os"
	"testing"
)

// TestStepDown: the floor steps down from exactly the current floor, once,
// and never otherwise.
func TestStepDown(t *testing.T) {
	s := newStore(t)
	// No floor: nothing to step down from.
	if err := s.StepDown("m", ver(t, "2.0.0"), ver(t, "1.0.0")); !errors.Is(err, ErrStepDown) {
		t.Fatalf("step down without a floor: %v", err)
	}
	if err := s.Raise("m", ver(t, "2.0.0")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to string }{
		{"3.0.0", "1.0.0"},       // from is not the floor (above it)
		{"1.5.0", "1.0.0"},       // from is not the floor (below it)
		{"2.0.0", "2.0.0"},       // not a step down
		{"2.0.0", "2.1.0"},       // up, not down
		{"2.0.0+other", "1.0.0"}, // same precedence, another version
	} {
		if err := s.StepDown("m", ver(t, c.from), ver(t, c.to)); !errors.Is(err, ErrStepDown) {
			t.Errorf("StepDown(%s, %s): %v, want ErrStepDown", c.from, c.to, err)
		}
		wantFloor(t, s, "m", "2.0.0")
	}
	if err := s.StepDown("m", ver(t, "2.0.0"), ver(t, "1.0.0")); err != nil {
		t.Fatalf("step down: %v", err)
	}
	wantFloor(t, s, "m", "1.0.0")
	// Exactly once: the floor is no longer 2.0.0.
	if err := s.StepDown("m", ver(t, "2.0.0"), ver(t, "0.9.0")); !errors.Is(err, ErrStepDown) {
		t.Fatalf("second step down: %v", err)
	}
	wantFloor(t, s, "m", "1.0.0")
	// Raise still works from the new floor, and refuses below it.
	if err := s.Raise("m", ver(t, "0.9.0")); !errors.Is(err, ErrLower) {
		t.Fatalf("raise below: %v", err)
	}
}

// TestStepDownTorn: a crash between the two copies' writes leaves the
// higher floor (the step can be taken again), never a lower one.
func TestStepDownTorn(t *testing.T) {
	s := newStore(t)
	if err := s.Raise("m", ver(t, "2.0.0")); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(s.paths("m")[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StepDown("m", ver(t, "2.0.0"), ver(t, "1.0.0")); err != nil {
		t.Fatal(err)
	}
	// The primary copy as it was before the step: the write cut short.
	if err := os.WriteFile(s.paths("m")[0], good, 0o600); err != nil {
		t.Fatal(err)
	}
	wantFloor(t, s, "m", "2.0.0")
	if err := s.StepDown("m", ver(t, "2.0.0"), ver(t, "1.0.0")); err != nil {
		t.Fatalf("step down again: %v", err)
	}
	wantFloor(t, s, "m", "1.0.0")
}
