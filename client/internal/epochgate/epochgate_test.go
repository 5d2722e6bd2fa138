package epochgate

import (
	"errors"
	"testing"

	"github.com/edgetuf/edgetuf/anti_rollback"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/targets"
)

func l(v string, epoch uint64, revoked bool) Listed {
	ver, err := targets.ParseVersion(v)
	if err != nil {
		panic(err)
	}
	return Listed{Version: ver, Epoch: epoch, Revoked: revoked}
}

// TestAdmits: below the hardware epoch, a version is admitted only when
// every epoch between is listed and entirely revoked; a replay that hides
// an epoch, or one live version in it, keeps it out.
func TestAdmits(t *testing.T) {
	for _, tc := range []struct {
		name string
		all  []Listed
		hw   uint64
		want map[string]bool
	}{
		{"at or above", []Listed{l("1.4.0", 2, false), l("1.3.0", 1, false)}, 2, map[string]bool{"1.4.0": true, "1.3.0": false}},
		{"no epoch yet", []Listed{l("1.3.0", 0, false)}, 0, map[string]bool{"1.3.0": true}},
		{"one revoked epoch", []Listed{l("1.4.0", 2, true), l("1.3.0", 1, false), l("1.2.0", 0, false)}, 2, map[string]bool{"1.3.0": true, "1.2.0": false}},
		{"a live version in the epoch", []Listed{l("1.4.1", 2, false), l("1.4.0", 2, true), l("1.3.0", 1, false)}, 2, map[string]bool{"1.3.0": false}},
		{"the epoch hidden (replayed metadata)", []Listed{l("1.3.0", 1, false)}, 2, map[string]bool{"1.3.0": false}},
		{"two epochs revoked", []Listed{l("1.5.0", 3, true), l("1.4.0", 2, true), l("1.3.0", 1, false)}, 3, map[string]bool{"1.3.0": true}},
		{"a gap between", []Listed{l("1.5.0", 3, true), l("1.3.0", 1, false)}, 3, map[string]bool{"1.3.0": false}},
	} {
		for _, c := range tc.all {
			want, ok := tc.want[c.Version.String()]
			if ok && admits(c, tc.all, tc.hw) != want {
				t.Errorf("%s: admits(%s) = %v", tc.name, c.Version, !want)
			}
		}
	}
}

// epochs is an in-memory EpochStore.
type epochs struct {
	anti_rollback.Store
	e   map[string]uint64
	err error
}

func (s *epochs) Epoch(m string) (uint64, error) { return s.e[m], s.err }
func (s *epochs) RaiseEpoch(m string, e uint64) error {
	if s.err != nil {
		return s.err
	}
	s.e[m] = max(s.e[m], e)
	return nil
}

// TestGate: Filter drops what the epoch does not admit and refuses a list
// with nothing admitted; Allows refuses an explicit request; CheckActive
// raises the epoch for an admitted confirmed version, refuses one moved
// back by hand unless a newer admitted one will replace it; store faults
// are ANTI_ROLLBACK_UNAVAILABLE.
func TestGate(t *testing.T) {
	st := &epochs{Store: anti_rollback.NewFileStore(t.TempDir()), e: map[string]uint64{"m": 2}}
	g, err := Open(st, "", "")
	if err != nil {
		t.Fatal(err)
	}
	id := func(x Listed) Listed { return x }
	out, err := Filter(g, "m", []Listed{l("1.5.0", 3, false), l("1.4.0", 2, false), l("1.3.0", 1, false)}, id)
	if err != nil || len(out) != 2 {
		t.Fatalf("filter: %v %v", out, err)
	}
	if err := g.Allows("m", "1.3.0"); codes.CodeOf(err) != codes.RollbackRejected {
		t.Fatalf("allows 1.3.0: %v", err)
	}
	if err := g.Allows("m", "1.4.0"); err != nil {
		t.Fatal(err)
	}
	// A version Filter did not list has no known epoch: refused.
	if err := g.Allows("m", "1.2.0"); codes.CodeOf(err) != codes.RollbackRejected {
		t.Fatalf("allows unlisted 1.2.0: %v", err)
	}
	// A newer admitted version exists: the update will replace 1.3.0.
	if err := g.CheckActive("m", "1.3.0"); err != nil {
		t.Fatal(err)
	}
	if err := g.CheckActive("m", "1.5.0"); err != nil || st.e["m"] != 3 {
		t.Fatalf("check active 1.5.0: %v, epoch %d", err, st.e["m"])
	}
	if _, err := Filter(g, "m", []Listed{l("1.4.0", 2, false), l("1.3.0", 1, false)}, id); codes.CodeOf(err) != codes.RollbackRejected {
		t.Fatalf("nothing admitted: %v", err)
	}
	if err := g.CheckActive("m", "1.4.0"); codes.CodeOf(err) != codes.RollbackRejected {
		t.Fatalf("check active below the epoch: %v", err)
	}
	st.err = errors.Join(anti_rollback.ErrUnavailable, errors.New("gone"))
	if _, err := Filter(g, "m", []Listed{l("1.5.0", 3, false)}, id); codes.CodeOf(err) != codes.AntiRollbackUnavailable {
		t.Fatalf("store fault: %v", err)
	}
}
