// Package tpmstore is an anti_rollback.EpochStore backed by a TPM 2.0:
// per model, the semantic-version floor stays in the state directory's
// file store (soft: as strong as the files), and the signed rollback
// epoch floor lives in a TPM NV counter that no file edit can lower.
//
// # Layout
//
// A TPM_NT_COUNTER only increments by one, and a newly defined counter
// starts at the highest value any counter on that TPM has had, not at 0.
// So each model has a pair of owner-hierarchy NV indexes:
//
//   - the counter (TPM_NT_COUNTER, 8 bytes) at FirstHandle + 2*slot;
//   - the base (ordinary, 8 bytes) at FirstHandle + 2*slot + 1: the
//     counter's value right after it was defined and first incremented,
//     written once and then locked for as long as the index exists
//     (TPMA_NV_WRITEDEFINE + TPM2_NV_WriteLock).
//
// The model's epoch floor is counter - base. The slot is derived from the
// model ID (SHA-256, modulo Slots) with linear probing on collision, and
// each index is labelled: its authPolicy is SHA-256 of a domain string
// and the model ID (never used as a policy: the indexes are read and
// written with their empty auth value), so the store can tell its own
// indexes, and this model's, from any other. A device with 10 models uses
// 20 NV indexes and 160 bytes of NV data (plus the TPM's per-index
// overhead, about 50 to 100 bytes each).
//
// # Failing closed
//
// A model whose floor is recorded in the state directory must have its
// pair on the TPM: if it is gone (a TPM2_Clear removes every owner index)
// or does not match, every method fails with anti_rollback.ErrUnavailable;
// so does a TPM that cannot be opened. There is no fallback to the file
// store. Reprovision starts new counters after an operator decides to
// trust the device again (docs/client.md, "Anti-rollback store").
package tpmstore

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/edgetuf/edgetuf/anti_rollback"
	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/internal/tpmdev"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// FirstHandle is the first NV index of the store's range, in the owner
// range of the TCG handle registry (0x01000000-0x013FFFFF); the range
// holds Slots pairs.
const FirstHandle = 0x013E0000

// Slots is how many models the range can hold.
const Slots = 256

// Domain strings of the labels (authPolicy) of the two indexes.
const (
	counterDomain = "edgetuf anti-rollback epoch counter v1\x00"
	baseDomain    = "edgetuf anti-rollback epoch base v1\x00"
)

// Store is the TPM store. Each method opens the TPM, does its work and
// closes it, so a TPM restarted in between (a device reboot, or swtpm in
// tests) is simply used again.
type Store struct {
	// Path is the TPM: /dev/tpmrm0 or a swtpm socket (tpmdev.Open).
	Path string
	// Files holds the semantic-version floors, and is the state
	// directory's record of which models must have counters.
	Files *anti_rollback.FileStore
	// Open opens the TPM (default tpmdev.Open(Path)); tests inject
	// faults.
	Open func() (transport.TPMCloser, error)
}

var _ anti_rollback.EpochStore = (*Store)(nil)

// New returns the store of the TPM at path, with its version floors in
// the file store in dir.
func New(path, dir string) *Store {
	return &Store{Path: path, Files: anti_rollback.NewFileStore(dir)}
}

// unavailable wraps err as anti_rollback.ErrUnavailable.
func unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", anti_rollback.ErrUnavailable, fmt.Sprintf(format, args...))
}

func (s *Store) open() (transport.TPMCloser, error) {
	var (
		t   transport.TPMCloser
		err error
	)
	if s.Open != nil {
		t, err = s.Open()
	} else {
		t, err = tpmdev.Open(s.Path)
	}
	if err != nil {
		return nil, unavailable("TPM %s: %v", s.Path, err)
	}
	return t, nil
}

// with runs fn with the TPM open.
func (s *Store) with(fn func(t transport.TPM) error) error {
	t, err := s.open()
	if err != nil {
		return err
	}
	defer t.Close()
	return fn(t)
}

// Floor is the file store's floor, once the model's counter pair is
// checked to be on the TPM (when a floor is recorded).
func (s *Store) Floor(modelID string) (targets.Version, bool, error) {
	v, ok, err := s.Files.Floor(modelID)
	if err != nil {
		return v, ok, err
	}
	err = s.with(func(t transport.TPM) error {
		_, err := s.pair(t, modelID, ok, false)
		return err
	})
	return v, ok, err
}

// Raise provisions the model's counter pair if it has none yet, then
// raises the version floor in the file store.
func (s *Store) Raise(modelID string, v targets.Version) error {
	if err := s.ensure(modelID); err != nil {
		return err
	}
	return s.Files.Raise(modelID, v)
}

// StepDown steps the version floor down (anti_rollback.Store); the epoch
// stays where it is: the client permits a version below it only when a
// signed revocation covers every epoch between.
func (s *Store) StepDown(modelID string, from, to targets.Version) error {
	_, ok, err := s.Files.Floor(modelID)
	if err != nil {
		return err
	}
	if err := s.with(func(t transport.TPM) error { _, err := s.pair(t, modelID, ok, false); return err }); err != nil {
		return err
	}
	return s.Files.StepDown(modelID, from, to)
}

// Epoch returns counter - base for the model, 0 if it has no pair yet.
func (s *Store) Epoch(modelID string) (uint64, error) {
	if err := targets.CheckModelID(modelID); err != nil {
		return 0, err
	}
	_, ok, err := s.Files.Floor(modelID)
	if err != nil {
		return 0, err
	}
	var e uint64
	err = s.with(func(t transport.TPM) error {
		p, err := s.pair(t, modelID, ok, false)
		if err != nil || p == nil {
			return err
		}
		e, err = p.epoch(t)
		return err
	})
	return e, err
}

// RaiseEpoch increments the model's counter until its epoch is e: one
// TPM2_NV_Increment per step.
func (s *Store) RaiseEpoch(modelID string, e uint64) error {
	if e > targets.MaxEpoch {
		return fmt.Errorf("epoch %d is above %d", e, targets.MaxEpoch)
	}
	if err := targets.CheckModelID(modelID); err != nil {
		return err
	}
	_, ok, err := s.Files.Floor(modelID)
	if err != nil {
		return err
	}
	return s.with(func(t transport.TPM) error {
		p, err := s.pair(t, modelID, ok, true)
		if err != nil {
			return err
		}
		cur, err := p.epoch(t)
		for ; err == nil && cur < e; cur++ {
			err = p.increment(t)
			crashpoint.Hit("tpmstore.increment")
		}
		return err
	})
}

// ensure provisions the model's pair unless it has one; a recorded floor
// without a pair is ErrUnavailable.
func (s *Store) ensure(modelID string) error {
	if err := targets.CheckModelID(modelID); err != nil {
		return err
	}
	_, ok, err := s.Files.Floor(modelID)
	if err != nil {
		return err
	}
	return s.with(func(t transport.TPM) error { _, err := s.pair(t, modelID, ok, true); return err })
}

// Reprovision gives every model with a recorded floor whose counter pair
// is missing (after a TPM clear, or a move to another TPM) a new pair,
// whose epoch starts at 0, and returns those models. Pairs that are there
// are kept. It is the operator's recovery (mclient init --reprovision):
// the hardware floor those models had is lost, and rebuilt as versions
// are confirmed again.
func (s *Store) Reprovision() ([]string, error) {
	models, err := s.Files.Models()
	if err != nil {
		return nil, err
	}
	var fresh []string
	err = s.with(func(t transport.TPM) error {
		for _, m := range models {
			p, err := s.pair(t, m, false, false)
			if err != nil {
				return err
			}
			if p == nil {
				if _, err := s.pair(t, m, false, true); err != nil {
					return err
				}
				fresh = append(fresh, m)
			}
		}
		return nil
	})
	return fresh, err
}

// Probe checks that the TPM answers.
func (s *Store) Probe() error {
	return s.with(func(t transport.TPM) error {
		if _, err := (tpm2.GetRandom{BytesRequested: 1}).Execute(t); err != nil {
			return unavailable("TPM %s: %v", s.Path, err)
		}
		return nil
	})
}

// pair finds the model's counter pair. Without one it returns nil when
// nothing is expected and create is false, provisions one when create is
// true and nothing is expected, and fails with ErrUnavailable when a pair
// is expected (a floor is recorded).
func (s *Store) pair(t transport.TPM, modelID string, expected, create bool) (*pair, error) {
	p, free, err := lookup(t, modelID)
	if err != nil {
		return nil, err
	}
	if p != nil && p.complete {
		return p, nil
	}
	if expected {
		return nil, unavailable("the TPM holds no rollback counter for %s, but the state directory records a floor for it (TPM cleared or replaced?): re-provision with mclient init --reprovision", modelID)
	}
	if !create {
		return nil, nil
	}
	if p == nil {
		if free < 0 {
			return nil, unavailable("no free slot for %s in the TPM's NV range %#x (+%d pairs)", modelID, FirstHandle, Slots)
		}
		p = &pair{model: modelID, counter: tpm2.TPMHandle(FirstHandle + 2*free), base: tpm2.TPMHandle(FirstHandle + 2*free + 1)}
	}
	if err := p.provision(t); err != nil {
		return nil, err
	}
	return p, nil
}

// slot is the model's first slot.
func slot(modelID string) int {
	h := sha256.Sum256([]byte("edgetuf anti-rollback slot v1\x00" + modelID))
	return int(binary.BigEndian.Uint32(h[:4]) % Slots)
}

// label is the authPolicy that marks an index as this model's.
func label(domain, modelID string) []byte {
	h := sha256.Sum256([]byte(domain + modelID))
	return h[:]
}

// pair is one model's indexes and what is known of their state.
type pair struct {
	model         string
	counter, base tpm2.TPMHandle
	// Set by lookup: whether each index exists, is written, and (base)
	// is locked.
	counterDefined, counterWritten bool
	baseDefined, baseWritten       bool
	baseLocked, complete           bool
}

// lookup probes the model's slots: it returns the model's pair (complete
// or partly provisioned), or nil and the first free slot (-1 if none).
// An index of a slot that is labelled for another model is skipped; one
// that is labelled for this model but has other attributes makes the
// store unavailable (not ours to trust, nor to overwrite).
func lookup(t transport.TPM, modelID string) (*pair, int, error) {
	first := slot(modelID)
	for i := 0; i < Slots; i++ {
		sl := (first + i) % Slots
		p := &pair{model: modelID, counter: tpm2.TPMHandle(FirstHandle + 2*sl), base: tpm2.TPMHandle(FirstHandle + 2*sl + 1)}
		cpub, err := readPublic(t, p.counter)
		if err != nil {
			return nil, -1, err
		}
		if cpub == nil {
			bpub, err := readPublic(t, p.base)
			if err != nil {
				return nil, -1, err
			}
			if bpub == nil {
				return nil, sl, nil // a free slot ends the probe
			}
			if !slices.Equal(bpub.AuthPolicy.Buffer, label(baseDomain, modelID)) {
				continue
			}
			return nil, -1, unavailable("the TPM holds the rollback base index %#x of %s without its counter", uint32(p.base), modelID)
		}
		if !slices.Equal(cpub.AuthPolicy.Buffer, label(counterDomain, modelID)) {
			continue // another model's, or not the store's
		}
		if !sameIndex(cpub, counterTemplate(p.counter, modelID)) {
			return nil, -1, unavailable("the TPM's rollback counter %#x of %s has unexpected attributes", uint32(p.counter), modelID)
		}
		p.counterDefined, p.counterWritten = true, cpub.Attributes.Written
		bpub, err := readPublic(t, p.base)
		if err != nil {
			return nil, -1, err
		}
		if bpub != nil {
			if !sameIndex(bpub, baseTemplate(p.base, modelID)) {
				return nil, -1, unavailable("the TPM's rollback base index %#x of %s does not match", uint32(p.base), modelID)
			}
			p.baseDefined, p.baseWritten, p.baseLocked = true, bpub.Attributes.Written, bpub.Attributes.WriteLocked
		}
		p.complete = p.counterWritten && p.baseWritten && p.baseLocked
		return p, -1, nil
	}
	return nil, -1, nil
}

// readPublic returns an index's public area, nil if there is no index at
// h.
func readPublic(t transport.TPM, h tpm2.TPMHandle) (*tpm2.TPMSNVPublic, error) {
	rsp, err := tpm2.NVReadPublic{NVIndex: h}.Execute(t)
	if errors.Is(err, tpm2.TPMRCHandle) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("reading the TPM's NV index %#x: %v", uint32(h), err)
	}
	pub, err := rsp.NVPublic.Contents()
	if err != nil {
		return nil, unavailable("reading the TPM's NV index %#x: %v", uint32(h), err)
	}
	return pub, nil
}

func counterTemplate(h tpm2.TPMHandle, modelID string) tpm2.TPMSNVPublic {
	return tpm2.TPMSNVPublic{NVIndex: h, NameAlg: tpm2.TPMAlgSHA256,
		Attributes: tpm2.TPMANV{AuthWrite: true, AuthRead: true, OwnerRead: true, NoDA: true, NT: tpm2.TPMNTCounter},
		AuthPolicy: tpm2.TPM2BDigest{Buffer: label(counterDomain, modelID)}, DataSize: 8}
}

func baseTemplate(h tpm2.TPMHandle, modelID string) tpm2.TPMSNVPublic {
	return tpm2.TPMSNVPublic{NVIndex: h, NameAlg: tpm2.TPMAlgSHA256,
		Attributes: tpm2.TPMANV{AuthWrite: true, AuthRead: true, OwnerRead: true, NoDA: true, WriteAll: true, WriteDefine: true, NT: tpm2.TPMNTOrdinary},
		AuthPolicy: tpm2.TPM2BDigest{Buffer: label(baseDomain, modelID)}, DataSize: 8}
}

// sameIndex compares an index's public area with the store's template,
// ignoring the state bits (written, write-locked).
func sameIndex(got *tpm2.TPMSNVPublic, want tpm2.TPMSNVPublic) bool {
	a, b := got.Attributes, want.Attributes
	return got.NVIndex == want.NVIndex && got.NameAlg == want.NameAlg && got.DataSize == want.DataSize &&
		slices.Equal(got.AuthPolicy.Buffer, want.AuthPolicy.Buffer) &&
		a.NT == b.NT && a.AuthWrite == b.AuthWrite && a.AuthRead == b.AuthRead && a.OwnerRead == b.OwnerRead &&
		a.OwnerWrite == b.OwnerWrite && a.PolicyWrite == b.PolicyWrite && a.PolicyRead == b.PolicyRead &&
		a.PPWrite == b.PPWrite && a.PPRead == b.PPRead && a.NoDA == b.NoDA && a.WriteAll == b.WriteAll &&
		a.WriteDefine == b.WriteDefine && a.WriteSTClear == b.WriteSTClear && a.ReadSTClear == b.ReadSTClear &&
		a.GlobalLock == b.GlobalLock && a.PolicyDelete == b.PolicyDelete && a.ClearSTClear == b.ClearSTClear &&
		a.Orderly == b.Orderly && a.PlatformCreate == b.PlatformCreate
}

// provision completes the pair from whatever state a crash left it in:
// define the counter, increment it once (a counter cannot be read before
// it is written), define the base, write the counter's value into it and
// lock it for good. Each step is idempotent given lookup's state bits.
func (p *pair) provision(t transport.TPM) error {
	fail := func(what string, err error) error {
		return unavailable("provisioning the rollback counter of %s (%s): %v", p.model, what, err)
	}
	if !p.counterDefined {
		def := tpm2.NVDefineSpace{AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
			PublicInfo: tpm2.New2B(counterTemplate(p.counter, p.model))}
		if _, err := def.Execute(t); err != nil {
			return fail("define the counter", err)
		}
	}
	if !p.counterWritten {
		if err := p.increment(t); err != nil {
			return err
		}
	}
	if !p.baseDefined {
		def := tpm2.NVDefineSpace{AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
			PublicInfo: tpm2.New2B(baseTemplate(p.base, p.model))}
		if _, err := def.Execute(t); err != nil {
			return fail("define the base", err)
		}
	}
	crashpoint.Hit("tpmstore.provision.counter")
	if !p.baseWritten {
		c, err := p.read(t, p.counter)
		if err != nil {
			return err
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], c)
		n, a := p.named(t, p.base)
		w := tpm2.NVWrite{AuthHandle: a, NVIndex: n, Data: tpm2.TPM2BMaxNVBuffer{Buffer: b[:]}}
		if _, err := w.Execute(t); err != nil {
			return fail("write the base", err)
		}
	}
	crashpoint.Hit("tpmstore.provision.base")
	if !p.baseLocked {
		n, a := p.named(t, p.base)
		if _, err := (tpm2.NVWriteLock{AuthHandle: a, NVIndex: n}).Execute(t); err != nil {
			return fail("lock the base", err)
		}
	}
	p.counterDefined, p.counterWritten, p.baseDefined, p.baseWritten, p.baseLocked, p.complete = true, true, true, true, true, true
	return nil
}

// named is h with its current name (which changes when it is written),
// and auth the same authorised with the index's own empty auth value.
func (p *pair) named(t transport.TPM, h tpm2.TPMHandle) (tpm2.NamedHandle, tpm2.AuthHandle) {
	n := tpm2.NamedHandle{Handle: h}
	if rsp, err := (tpm2.NVReadPublic{NVIndex: h}).Execute(t); err == nil {
		n.Name = rsp.NVName
	}
	return n, tpm2.AuthHandle{Handle: h, Name: n.Name, Auth: tpm2.PasswordAuth(nil)}
}

// read reads an 8-byte index.
func (p *pair) read(t transport.TPM, h tpm2.TPMHandle) (uint64, error) {
	n, a := p.named(t, h)
	rsp, err := tpm2.NVRead{AuthHandle: a, NVIndex: n, Size: 8}.Execute(t)
	if err != nil {
		return 0, unavailable("reading the rollback index %#x of %s: %v", uint32(h), p.model, err)
	}
	if len(rsp.Data.Buffer) != 8 {
		return 0, unavailable("the rollback index %#x of %s holds %d bytes", uint32(h), p.model, len(rsp.Data.Buffer))
	}
	return binary.BigEndian.Uint64(rsp.Data.Buffer), nil
}

// epoch is counter - base.
func (p *pair) epoch(t transport.TPM) (uint64, error) {
	c, err := p.read(t, p.counter)
	if err != nil {
		return 0, err
	}
	b, err := p.read(t, p.base)
	if err != nil {
		return 0, err
	}
	if c < b || c-b > targets.MaxEpoch {
		return 0, unavailable("the rollback counter of %s is at %d, its base at %d", p.model, c, b)
	}
	return c - b, nil
}

func (p *pair) increment(t transport.TPM) error {
	n, a := p.named(t, p.counter)
	if _, err := (tpm2.NVIncrement{AuthHandle: a, NVIndex: n}).Execute(t); err != nil {
		return unavailable("incrementing the rollback counter of %s: %v", p.model, err)
	}
	return nil
}
