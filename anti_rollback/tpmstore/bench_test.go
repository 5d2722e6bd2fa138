package tpmstore

import (
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/internal/tpmdev"
	"github.com/google/go-tpm/tpm2/transport"
)

// counting counts the commands sent to the TPM, so that the cost on
// other hardware is the count times its latency per command.
type counting struct {
	transport.TPMCloser
	n *int
}

func (c counting) Send(cmd []byte) ([]byte, error) { *c.n++; return c.TPMCloser.Send(cmd) }

func countingStore(b *testing.B, sw *backendtest.SWTPM) (*Store, *int) {
	s := newStore(b, sw)
	n := new(int)
	s.Open = func() (transport.TPMCloser, error) {
		t, err := tpmdev.Open(s.Path)
		return counting{t, n}, err
	}
	return s, n
}

func report(b *testing.B, n *int, start int) {
	b.ReportMetric(float64(*n-start)/float64(b.N), "cmds/op")
}

// The TPM counter's cost per update, against swtpm (docs/design.md,
// section 21, reports the numbers): reading the epoch (what every update
// does, before choosing), one increment (one step of a raise), and the
// store calls of an update that confirms a version one epoch up (read
// the epoch, check the floor, raise the version floor twice, raise the
// epoch by one).

// benchEpoch runs op b.N times on a store whose model det has epoch 1.
func benchEpoch(b *testing.B, op func(s *Store, i int) error) {
	sw := backendtest.StartSWTPM(b)
	s, n := countingStore(b, sw)
	if err := s.RaiseEpoch("det", 1); err != nil {
		b.Fatal(err)
	}
	start := *n
	defer func() { report(b, n, start) }()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := op(s, i); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEpochRead(b *testing.B) {
	benchEpoch(b, func(s *Store, _ int) error { _, err := s.Epoch("det"); return err })
}

func BenchmarkEpochIncrement(b *testing.B) {
	benchEpoch(b, func(s *Store, i int) error { return s.RaiseEpoch("det", uint64(i+2)) })
}

func BenchmarkUpdateCalls(b *testing.B) {
	sw := backendtest.StartSWTPM(b)
	s, n := countingStore(b, sw)
	v := ver(b, "1.0.0")
	if err := s.Raise("det", v); err != nil {
		b.Fatal(err)
	}
	start := *n
	defer func() { report(b, n, start) }()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Epoch("det"); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Floor("det"); err != nil {
			b.Fatal(err)
		}
		if err := s.Raise("det", v); err != nil {
			b.Fatal(err)
		}
		if err := s.RaiseEpoch("det", uint64(i+1)); err != nil {
			b.Fatal(err)
		}
		if err := s.Raise("det", v); err != nil {
			b.Fatal(err)
		}
	}
}
