package tpmstore

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/edgetuf/edgetuf/anti_rollback"
	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/internal/tpmdev"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// define defines an index from a template with the owner's empty auth.
func define(t *testing.T, tpm transport.TPM, pub tpm2.TPMSNVPublic) {
	t.Helper()
	def := tpm2.NVDefineSpace{AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}, PublicInfo: tpm2.New2B(pub)}
	if _, err := def.Execute(tpm); err != nil {
		t.Fatalf("define %#x: %v", uint32(pub.NVIndex), err)
	}
}

func openTPM(t *testing.T, sw *backendtest.SWTPM) transport.TPMCloser {
	t.Helper()
	tpm, err := tpmdev.Open(sw.Socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tpm.Close() })
	return tpm
}

func handles(model string) (tpm2.TPMHandle, tpm2.TPMHandle) {
	s := slot(model)
	return tpm2.TPMHandle(FirstHandle + 2*s), tpm2.TPMHandle(FirstHandle + 2*s + 1)
}

// TestProbeSkipsForeignIndexes: indexes at the model's slot that carry
// another label (another model's, or anything else's) are skipped by
// linear probing, and the model gets the next slot.
func TestProbeSkipsForeignIndexes(t *testing.T) {
	sw := backendtest.StartSWTPM(t)
	tpm := openTPM(t, sw)
	c, b := handles("det")
	define(t, tpm, counterTemplate(c, "other"))
	define(t, tpm, baseTemplate(b, "other"))
	s := newStore(t, sw)
	if err := s.RaiseEpoch("det", 2); err != nil {
		t.Fatal(err)
	}
	wantEpoch(t, s, "det", 2)
	p, _, err := lookup(tpm, "det")
	if err != nil || p == nil || p.counter != c+2 {
		t.Fatalf("det's pair: %+v %v, want the next slot %#x", p, err, uint32(c+2))
	}
}

// TestLabelledIndexWithOtherAttributes: an index labelled for the model
// but with other attributes (not what the store defines: a counter anyone
// could have planted to hold a chosen value) makes the store unavailable;
// it is neither trusted nor replaced.
func TestLabelledIndexWithOtherAttributes(t *testing.T) {
	sw := backendtest.StartSWTPM(t)
	tpm := openTPM(t, sw)
	c, _ := handles("det")
	forged := counterTemplate(c, "det")
	forged.Attributes.NT = tpm2.TPMNTOrdinary
	define(t, tpm, forged)
	s := newStore(t, sw)
	if _, err := s.Epoch("det"); !errors.Is(err, anti_rollback.ErrUnavailable) {
		t.Fatalf("Epoch: %v", err)
	}
	if err := s.RaiseEpoch("det", 1); !errors.Is(err, anti_rollback.ErrUnavailable) {
		t.Fatalf("RaiseEpoch: %v", err)
	}
}

// TestProvisionResumes: counters left half-provisioned by a crash (the
// counter defined but never incremented; the base defined but not
// written; written but not locked) are completed by the next call, and
// the model starts at epoch 0.
func TestProvisionResumes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, tpm transport.TPM, p *pair)
	}{
		{"counter defined", func(t *testing.T, tpm transport.TPM, p *pair) {
			define(t, tpm, counterTemplate(p.counter, p.model))
		}},
		{"base defined", func(t *testing.T, tpm transport.TPM, p *pair) {
			define(t, tpm, counterTemplate(p.counter, p.model))
			if err := p.increment(tpm); err != nil {
				t.Fatal(err)
			}
			define(t, tpm, baseTemplate(p.base, p.model))
		}},
		{"base written", func(t *testing.T, tpm transport.TPM, p *pair) {
			define(t, tpm, counterTemplate(p.counter, p.model))
			if err := p.increment(tpm); err != nil {
				t.Fatal(err)
			}
			define(t, tpm, baseTemplate(p.base, p.model))
			v, err := p.read(tpm, p.counter)
			if err != nil {
				t.Fatal(err)
			}
			var buf [8]byte
			binary.BigEndian.PutUint64(buf[:], v)
			n, a := p.named(tpm, p.base)
			w := tpm2.NVWrite{AuthHandle: a, NVIndex: n, Data: tpm2.TPM2BMaxNVBuffer{Buffer: buf[:]}}
			if _, err := w.Execute(tpm); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sw := backendtest.StartSWTPM(t)
			tpm := openTPM(t, sw)
			c, b := handles("det")
			p := &pair{model: "det", counter: c, base: b}
			tc.plant(t, tpm, p)
			s := newStore(t, sw)
			wantEpoch(t, s, "det", 0)
			if err := s.RaiseEpoch("det", 1); err != nil {
				t.Fatal(err)
			}
			wantEpoch(t, s, "det", 1)
			got, _, err := lookup(tpm, "det")
			if err != nil || got == nil || !got.complete || got.counter != c {
				t.Fatalf("after the resumed provisioning: %+v %v", got, err)
			}
		})
	}
}
