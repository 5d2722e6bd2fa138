package repo

// Staged metadata: a new version of a role's metadata that is written
// without (enough) signatures, so that key holders can sign it one by one,
// each on their own (possibly air-gapped) machine, before it is published.
//
// A staged file is plain TUF metadata (the same JSON as the published
// file), kept in DIR/staged/ROLE.json, which mrepo serve never serves and
// nothing publishes. It can be copied anywhere; `mrepo sign` adds one
// holder's signature to it, `mrepo merge-signatures` merges signatures
// from several copies by key ID, and `mrepo publish-staged` publishes it
// once the signatures meet every threshold that applies.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// StagedDir is the directory, inside a repository, of staged metadata. It
// is not published.
const StagedDir = "staged"

// Errors of staging, signing and publishing staged metadata.
var (
	// ErrStaged: something is already staged for the role, or what is
	// staged no longer fits the repository (stale, expired).
	ErrStaged = errors.New("staged metadata")
	// ErrNothingStaged: there is no staged file for the role.
	ErrNothingStaged = errors.New("nothing staged")
	// ErrStagedMismatch: files to merge stage different content.
	ErrStagedMismatch = errors.New("staged files differ")
	// ErrNotSigningKey: a key that does not sign the staged role.
	ErrNotSigningKey = errors.New("not a signing key of the role")
)

// topLevelRoles are the roles that can be staged and rotated.
var topLevelRoles = []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}

// CheckTopLevelRole reports whether role is root, targets, snapshot or
// timestamp.
func CheckTopLevelRole(role string) error {
	if slices.Contains(topLevelRoles, role) {
		return nil
	}
	return fmt.Errorf("role %q: want root, targets, snapshot or timestamp (delegated roles are changed with their delegation)", role)
}

// StagedPath is where the repository in dir keeps the staged version of
// role.
func StagedPath(dir, role string) string {
	return filepath.Join(dir, StagedDir, role+".json")
}

// stagedMeta is one staged metadata file of a top-level role.
type stagedMeta struct {
	role      string
	root      *metadata.Metadata[metadata.RootType]
	targets   *metadata.Metadata[metadata.TargetsType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	timestamp *metadata.Metadata[metadata.TimestampType]
}

// parseStaged parses staged metadata of role. The role's type is checked
// first, so that a targets file offered as root says so.
func parseStaged(data []byte, role string) (*stagedMeta, error) {
	if err := CheckTopLevelRole(role); err != nil {
		return nil, err
	}
	var peek struct {
		Signed struct {
			Type string `json:"_type"`
		} `json:"signed"`
	}
	// Staged files come from other people's signing tools: bounded like
	// every JSON document read here, before go-tuf parses them.
	if err := jsonlimit.Unmarshal(data, &peek, maxMetadataSize); err != nil {
		return nil, fmt.Errorf("not TUF metadata: %v", err)
	}
	if peek.Signed.Type != role {
		return nil, fmt.Errorf("holds %q metadata, not %s", peek.Signed.Type, role)
	}
	sm := &stagedMeta{role: role}
	var err error
	switch role {
	case metadata.ROOT:
		sm.root, err = metadata.Root().FromBytes(data)
		if err == nil {
			err = checkKeys(sm.root.Signed.Keys)
		}
	case metadata.TARGETS:
		sm.targets, err = metadata.Targets().FromBytes(data)
	case metadata.SNAPSHOT:
		sm.snapshot, err = metadata.Snapshot().FromBytes(data)
	case metadata.TIMESTAMP:
		sm.timestamp, err = metadata.Timestamp().FromBytes(data)
	}
	if err != nil {
		return nil, err
	}
	return sm, nil
}

func (s *stagedMeta) version() int64 {
	switch {
	case s.root != nil:
		return s.root.Signed.Version
	case s.targets != nil:
		return s.targets.Signed.Version
	case s.snapshot != nil:
		return s.snapshot.Signed.Version
	}
	return s.timestamp.Signed.Version
}

func (s *stagedMeta) expires() time.Time {
	switch {
	case s.root != nil:
		return s.root.Signed.Expires
	case s.targets != nil:
		return s.targets.Signed.Expires
	case s.snapshot != nil:
		return s.snapshot.Signed.Expires
	}
	return s.timestamp.Signed.Expires
}

// md is the metadata itself, as go-tuf's VerifyDelegate takes it.
func (s *stagedMeta) md() any {
	switch {
	case s.root != nil:
		return s.root
	case s.targets != nil:
		return s.targets
	case s.snapshot != nil:
		return s.snapshot
	}
	return s.timestamp
}

// payload is the canonical form of the signed part: what signatures sign.
func (s *stagedMeta) payload() ([]byte, error) {
	switch {
	case s.root != nil:
		return cjson.EncodeCanonical(s.root.Signed)
	case s.targets != nil:
		return cjson.EncodeCanonical(s.targets.Signed)
	case s.snapshot != nil:
		return cjson.EncodeCanonical(s.snapshot.Signed)
	}
	return cjson.EncodeCanonical(s.timestamp.Signed)
}

func (s *stagedMeta) sigs() []metadata.Signature {
	switch {
	case s.root != nil:
		return s.root.Signatures
	case s.targets != nil:
		return s.targets.Signatures
	case s.snapshot != nil:
		return s.snapshot.Signatures
	}
	return s.timestamp.Signatures
}

func (s *stagedMeta) setSigs(sigs []metadata.Signature) {
	switch {
	case s.root != nil:
		s.root.Signatures = sigs
	case s.targets != nil:
		s.targets.Signatures = sigs
	case s.snapshot != nil:
		s.snapshot.Signatures = sigs
	default:
		s.timestamp.Signatures = sigs
	}
}

func (s *stagedMeta) toBytes() ([]byte, error) {
	switch {
	case s.root != nil:
		return s.root.ToBytes(true)
	case s.targets != nil:
		return s.targets.ToBytes(true)
	case s.snapshot != nil:
		return s.snapshot.ToBytes(true)
	}
	return s.timestamp.ToBytes(true)
}

func (s *stagedMeta) ToBytes(bool) ([]byte, error) { return s.toBytes() }

// sign adds a signature by signer (whose key ID is id), replacing an
// older one by the same key: a file with two signatures by one key does
// not load.
func (s *stagedMeta) sign(id string, signer signature.Signer) error {
	payload, err := s.payload()
	if err != nil {
		return err
	}
	sig, err := signer.SignMessage(bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("signing with key %s: %w", keys.ShortID(id), err)
	}
	var out []metadata.Signature
	for _, old := range s.sigs() {
		if old.KeyID != id {
			out = append(out, old)
		}
	}
	s.setSigs(append(out, metadata.Signature{KeyID: id, Signature: sig}))
	return nil
}

// signedBy returns the key IDs, among ids, with a valid signature.
func (s *stagedMeta) signedBy(keysByID map[string]*metadata.Key, ids []string) []string {
	payload, err := s.payload()
	if err != nil {
		return nil
	}
	var out []string
	for _, id := range ids {
		k := keysByID[id]
		if k == nil || slices.Contains(out, id) {
			continue
		}
		for _, sig := range s.sigs() {
			if sig.KeyID == id && keys.Verify(k, payload, sig.Signature) == nil {
				out = append(out, id)
				break
			}
		}
	}
	return out
}

// KeyGroup is one set of keys whose threshold staged metadata must meet.
type KeyGroup struct {
	// Name says whose keys these are: "root v2" (the previous root's root
	// keys), "root v3" (the new root's own), or the role and root version
	// for other roles ("targets (root v3)").
	Name      string   `json:"name"`
	Threshold int      `json:"threshold"`
	KeyIDs    []string `json:"keyids"`
	Signed    []string `json:"signed"`
	Missing   []string `json:"missing"`
	label     string   // for messages: "the old root keys"
}

// Met reports whether the group's threshold is met.
func (g KeyGroup) Met() bool { return g.Threshold >= 1 && len(g.Signed) >= g.Threshold }

// SignatureStatus says whether staged metadata carries enough valid
// signatures: a new root version needs a threshold of the previous root's
// root keys and of its own; other roles the threshold of their keys.
type SignatureStatus struct {
	Role    string     `json:"role"`
	Version int64      `json:"version"`
	Groups  []KeyGroup `json:"groups"`
	Met     bool       `json:"threshold_met"`
}

// Detail lists each group: "1 of 2 signatures from the old root keys
// (missing: 1a2b3c4d, 5e6f7a8b), 2 of 2 from the new".
func (s *SignatureStatus) Detail() string {
	var parts []string
	for i, g := range s.Groups {
		p := fmt.Sprintf("%d of %d", len(g.Signed), g.Threshold)
		if i == 0 {
			p += " signatures"
		}
		p += " from " + g.label
		if !g.Met() && len(g.Missing) > 0 {
			short := make([]string, len(g.Missing))
			for j, id := range g.Missing {
				short[j] = keys.ShortID(id)
			}
			p += " (missing: " + strings.Join(short, ", ") + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// String is "threshold met for root v3: ..." or "threshold not met for
// root v3: ...".
func (s *SignatureStatus) String() string {
	met := "met"
	if !s.Met {
		met = "not met"
	}
	return fmt.Sprintf("threshold %s for %s v%d: %s", met, s.Role, s.Version, s.Detail())
}

// Err is nil when the thresholds are met, else an ErrThreshold naming the
// missing keys.
func (s *SignatureStatus) Err() error {
	if s.Met {
		return nil
	}
	return fmt.Errorf("%w for %s v%d: %s", ErrThreshold, s.Role, s.Version, s.Detail())
}

func group(sm *stagedMeta, name, label string, keysByID map[string]*metadata.Key, role *metadata.Role) KeyGroup {
	g := KeyGroup{Name: name, label: label, Threshold: role.Threshold, KeyIDs: role.KeyIDs, Signed: sm.signedBy(keysByID, role.KeyIDs), Missing: []string{}}
	for _, id := range role.KeyIDs {
		if !slices.Contains(g.Signed, id) {
			g.Missing = append(g.Missing, id)
		}
	}
	if g.Signed == nil {
		g.Signed = []string{}
	}
	return g
}

// signatureStatus checks staged metadata against the root that governs
// it: for a new root version, prev is the root before it (nil if unknown:
// only its own threshold is then checked); for other roles, prev is the
// current root.
func signatureStatus(sm *stagedMeta, prev *metadata.Metadata[metadata.RootType]) *SignatureStatus {
	st := &SignatureStatus{Role: sm.role, Version: sm.version()}
	if sm.role == metadata.ROOT {
		self := sm.root.Signed.Roles[metadata.ROOT]
		if prev != nil {
			old := prev.Signed.Roles[metadata.ROOT]
			if old != nil && self != nil && sameRole(old, self) && sameKeys(prev.Signed.Keys, sm.root.Signed.Keys, old.KeyIDs) {
				st.Groups = append(st.Groups, group(sm, fmt.Sprintf("root v%d and v%d", prev.Signed.Version, sm.version()), "the root keys", sm.root.Signed.Keys, self))
			} else {
				if old != nil {
					st.Groups = append(st.Groups, group(sm, fmt.Sprintf("root v%d", prev.Signed.Version), "the old root keys", prev.Signed.Keys, old))
				}
				if self != nil {
					st.Groups = append(st.Groups, group(sm, fmt.Sprintf("root v%d", sm.version()), "the new", sm.root.Signed.Keys, self))
				}
			}
		} else if self != nil {
			g := group(sm, fmt.Sprintf("root v%d", sm.version()), "the new root keys (the previous root's are not known here)", sm.root.Signed.Keys, self)
			st.Groups = append(st.Groups, g)
		}
	} else if prev != nil {
		if role := prev.Signed.Roles[sm.role]; role != nil {
			st.Groups = append(st.Groups, group(sm, fmt.Sprintf("%s (root v%d)", sm.role, prev.Signed.Version), "the "+sm.role+" keys", prev.Signed.Keys, role))
		}
	}
	st.Met = len(st.Groups) > 0
	for _, g := range st.Groups {
		st.Met = st.Met && g.Met()
	}
	return st
}

func sameRole(a, b *metadata.Role) bool {
	x, y := slices.Clone(a.KeyIDs), slices.Clone(b.KeyIDs)
	sort.Strings(x)
	sort.Strings(y)
	return a.Threshold == b.Threshold && slices.Equal(x, y)
}

// sameKeys reports whether both key maps hold the same keys under ids.
func sameKeys(a, b map[string]*metadata.Key, ids []string) bool {
	for _, id := range ids {
		x, err1 := cjson.EncodeCanonical(a[id])
		y, err2 := cjson.EncodeCanonical(b[id])
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}

// verifyStaged runs go-tuf's own threshold checks, the ones clients make,
// on staged metadata that signatureStatus found sufficient.
func verifyStaged(sm *stagedMeta, prev *metadata.Metadata[metadata.RootType]) error {
	if sm.role == metadata.ROOT {
		if err := prev.VerifyDelegate(metadata.ROOT, sm.root); err != nil {
			return fmt.Errorf("%w for root v%d: the old root keys: %v", ErrThreshold, sm.version(), err)
		}
		if err := sm.root.VerifyDelegate(metadata.ROOT, sm.root); err != nil {
			return fmt.Errorf("%w for root v%d: the new root keys: %v", ErrThreshold, sm.version(), err)
		}
		return nil
	}
	if err := prev.VerifyDelegate(sm.role, sm.md()); err != nil {
		return fmt.Errorf("%w for %s v%d: %v", ErrThreshold, sm.role, sm.version(), err)
	}
	return nil
}

// eligibleKeys returns the keys that may sign staged metadata, by key ID:
// for a root, its own root keys and those of prev (the root before it,
// when known); for another role, its keys in prev (the current root).
// nil means unknown (another role, and no root at hand).
func eligibleKeys(sm *stagedMeta, prev *metadata.Metadata[metadata.RootType]) map[string]*metadata.Key {
	out := map[string]*metadata.Key{}
	add := func(r *metadata.Metadata[metadata.RootType], role string) {
		if r == nil || r.Signed.Roles[role] == nil {
			return
		}
		for _, id := range r.Signed.Roles[role].KeyIDs {
			if k := r.Signed.Keys[id]; k != nil {
				out[id] = k
			}
		}
	}
	if sm.role == metadata.ROOT {
		add(sm.root, metadata.ROOT)
		add(prev, metadata.ROOT)
		return out
	}
	if prev == nil {
		return nil
	}
	add(prev, sm.role)
	return out
}

// cleanSignatures keeps only valid signatures by eligible keys, one per
// key: what is published carries nothing else.
func cleanSignatures(sm *stagedMeta, eligible map[string]*metadata.Key) error {
	payload, err := sm.payload()
	if err != nil {
		return err
	}
	var out []metadata.Signature
	seen := map[string]bool{}
	for _, sig := range sm.sigs() {
		k := eligible[sig.KeyID]
		if k == nil || seen[sig.KeyID] || keys.Verify(k, payload, sig.Signature) != nil {
			continue
		}
		seen[sig.KeyID] = true
		out = append(out, sig)
	}
	sm.setSigs(out)
	return nil
}

// Describe summarises staged metadata for the holder about to sign it:
// version, expiry and, for a root, every role's keys and threshold.
func describeStaged(sm *stagedMeta, prev *metadata.Metadata[metadata.RootType]) []string {
	out := []string{fmt.Sprintf("%s v%d, expires %s", sm.role, sm.version(), sm.expires().UTC().Format(targets.TimeFormat))}
	switch {
	case sm.root != nil:
		for _, name := range topLevelRoles {
			role := sm.root.Signed.Roles[name]
			if role == nil {
				continue
			}
			ids := make([]string, len(role.KeyIDs))
			for i, id := range role.KeyIDs {
				ids[i] = keys.ShortID(id)
			}
			out = append(out, fmt.Sprintf("  %-9s %d of %d keys: %s", name, role.Threshold, len(role.KeyIDs), strings.Join(ids, ", ")))
		}
		if prev != nil {
			if ch := rootChanges(prev, sm.root); len(ch) > 0 {
				out = append(out, fmt.Sprintf("  changes from root v%d: %s", prev.Signed.Version, strings.Join(ch, "; ")))
			}
		}
	case sm.targets != nil:
		n := len(sm.targets.Signed.Targets)
		d := 0
		if sm.targets.Signed.Delegations != nil {
			d = len(sm.targets.Signed.Delegations.Roles)
		}
		out = append(out, fmt.Sprintf("  %d targets, %d delegated roles", n, d))
	case sm.snapshot != nil:
		for _, name := range sortedIDs(sm.snapshot.Signed.Meta) {
			out = append(out, fmt.Sprintf("  %s v%d", name, sm.snapshot.Signed.Meta[name].Version))
		}
	case sm.timestamp != nil:
		if mf := sm.timestamp.Signed.Meta["snapshot.json"]; mf != nil {
			out = append(out, fmt.Sprintf("  snapshot.json v%d", mf.Version))
		}
	}
	return out
}

func sortedIDs[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// rootChanges lists what differs between two root versions, per role:
// keys added and removed, threshold changes.
func rootChanges(old, nr *metadata.Metadata[metadata.RootType]) []string {
	var out []string
	for _, name := range topLevelRoles {
		a, b := old.Signed.Roles[name], nr.Signed.Roles[name]
		if a == nil || b == nil {
			continue
		}
		for _, id := range b.KeyIDs {
			if !slices.Contains(a.KeyIDs, id) {
				out = append(out, fmt.Sprintf("%s: added key %s", name, keys.ShortID(id)))
			}
		}
		for _, id := range a.KeyIDs {
			if !slices.Contains(b.KeyIDs, id) {
				out = append(out, fmt.Sprintf("%s: removed key %s", name, keys.ShortID(id)))
			}
		}
		if a.Threshold != b.Threshold {
			out = append(out, fmt.Sprintf("%s: threshold %d -> %d", name, a.Threshold, b.Threshold))
		}
	}
	return out
}

// readStagedFile reads and parses a staged file.
func readStagedFile(fs afero.Fs, path, role string) (*stagedMeta, error) {
	data, err := readBounded(fs, path, maxMetadataSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w for %s: %s does not exist", ErrNothingStaged, role, path)
	}
	if err != nil {
		return nil, err
	}
	sm, err := parseStaged(data, role)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sm, nil
}

func writeStagedFile(fs afero.Fs, path string, sm *stagedMeta) error {
	data, err := sm.toBytes()
	if err != nil {
		return err
	}
	if err := fs.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfs.WriteFile(fs, path, data, 0o644)
}

// removeStaged removes a staged file once it is published, durably.
func (r *Repository) removeStaged(role string) error {
	p := StagedPath(r.dir, role)
	if err := r.fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return atomicfs.SyncDir(r.fs, filepath.Dir(p))
}

// StageResult reports a staged file and its signatures so far.
type StageResult struct {
	Role       string           `json:"role"`
	Version    int64            `json:"version"`
	Expires    time.Time        `json:"expires"`
	File       string           `json:"file"`
	Summary    []string         `json:"summary"`
	Signatures *SignatureStatus `json:"signatures"`
}

// Stage writes, unsigned, a new version of role with the current content
// and a fresh expiry, to DIR/staged/ROLE.json: for a root, version N+1
// with the same keys (a root re-signing); for targets, snapshot and
// timestamp, the next version. Key holders then sign it (SignStaged) and
// PublishStaged publishes it. To change keys, use Rotate.
func (r *Repository) Stage(role string) (*StageResult, error) {
	if err := CheckTopLevelRole(role); err != nil {
		return nil, err
	}
	if role == metadata.ROOT {
		res, err := r.Rotate(nil, RotateOptions{Role: metadata.ROOT, Stage: true})
		if err != nil {
			return nil, err
		}
		return res.Staged, nil
	}
	var res *StageResult
	_, err := r.update(r.load, func(t *tx) error {
		if err := r.checkNotStaged(role); err != nil {
			return err
		}
		st := t.st
		sm := &stagedMeta{role: role}
		exp := r.expires(role)
		switch role {
		case metadata.TARGETS:
			sm.targets = st.targets
			sm.targets.Signed.Version++
			sm.targets.Signed.Expires = exp
		case metadata.SNAPSHOT:
			sm.snapshot = st.snapshot
			sm.snapshot.Signed.Version++
			sm.snapshot.Signed.Expires = exp
		case metadata.TIMESTAMP:
			sm.timestamp = st.timestamp
			sm.timestamp.Signed.Version++
			sm.timestamp.Signed.Expires = exp
		}
		sm.setSigs([]metadata.Signature{})
		t.writeStaged(sm)
		res = &StageResult{Role: role, Version: sm.version(), Expires: sm.expires(), File: StagedPath(r.dir, role), Summary: describeStaged(sm, st.root), Signatures: signatureStatus(sm, st.root)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// checkNotStaged refuses to stage over an earlier staged file: holders
// may be signing it.
func (r *Repository) checkNotStaged(role string) error {
	p := StagedPath(r.dir, role)
	data, err := readBounded(r.fs, p, maxMetadataSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	v := "a version"
	if sm, err := parseStaged(data, role); err == nil {
		v = fmt.Sprintf("v%d", sm.version())
	}
	return fmt.Errorf("%w: %s %s is already staged in %s: publish it (mrepo publish-staged --role %s) or remove that file to start over", ErrStaged, role, v, p, role)
}

// SignResult reports the signatures added to staged metadata.
type SignResult struct {
	Role    string   `json:"role"`
	Version int64    `json:"version"`
	File    string   `json:"file"`
	Summary []string `json:"summary"`
	// Signed lists the key IDs that signed in this run.
	Signed []string `json:"signed"`
	// Signatures is the threshold status, when the keys that count are
	// known (always with a repository, and for a root's own keys).
	Signatures *SignatureStatus `json:"signatures,omitempty"`
	Warnings   []string         `json:"warnings"`
}

// SignOptions select the keys to sign with.
type SignOptions struct {
	// KeyIDs are the keys to sign with (they must be in the keyring).
	// Empty means every key of the keyring that may sign the role.
	KeyIDs []string
	// Describe, if set, is called with the summary of what is about to be
	// signed, before any key is loaded (so before any passphrase prompt).
	Describe func(summary []string)
}

// SignStaged adds signatures to the repository's staged ROLE.json: one
// per key of kr that may sign it (a root key of the staged root or of the
// current one; for other roles, a key of the role in the current root).
func (r *Repository) SignStaged(role string, kr keys.Keyring, opts SignOptions) (*SignResult, error) {
	if err := CheckTopLevelRole(role); err != nil {
		return nil, err
	}
	// The keys are opened (passphrases typed) without the writer lock;
	// the new signatures are then merged, under the lock, into the staged
	// file as it is by then, so that holders signing at the same time do
	// not drop each other's signatures.
	st, err := r.readState()
	if err != nil {
		return nil, err
	}
	p := StagedPath(r.dir, role)
	sm, err := readStagedFile(r.fs, p, role)
	if err != nil {
		return nil, err
	}
	write := func(signed *stagedMeta) error {
		_, err := r.update(r.readState, func(t *tx) error {
			cur, err := readStagedFile(r.fs, p, role)
			if err != nil {
				return err
			}
			a, err1 := cur.payload()
			b, err2 := signed.payload()
			if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
				return fmt.Errorf("%w: %s changed while it was being signed: sign again", ErrStaged, p)
			}
			sigs := cur.sigs()
			for _, s := range signed.sigs() {
				sigs = slices.DeleteFunc(sigs, func(x metadata.Signature) bool { return x.KeyID == s.KeyID })
				sigs = append(sigs, s)
			}
			cur.setSigs(sigs)
			*signed = *cur
			t.writeStaged(cur)
			return nil
		})
		return err
	}
	return signStaged(write, p, sm, st.root, kr, opts)
}

// SignStagedFile adds signatures to a staged file outside any repository
// (a copy on an air-gapped machine). For a root, the keys that may sign
// are known only partly (the staged root's own; a key of the previous
// root only is accepted with a warning); for other roles, not at all:
// every key given signs, with a warning. PublishStaged checks everything.
func SignStagedFile(fs afero.Fs, path, role string, kr keys.Keyring, opts SignOptions) (*SignResult, error) {
	sm, err := readStagedFile(fs, path, role)
	if err != nil {
		return nil, err
	}
	return signStaged(func(sm *stagedMeta) error { return writeStagedFile(fs, path, sm) }, path, sm, nil, kr, opts)
}

func signStaged(write func(*stagedMeta) error, path string, sm *stagedMeta, cur *metadata.Metadata[metadata.RootType], kr keys.Keyring, opts SignOptions) (*SignResult, error) {
	prev := cur
	if sm.role == metadata.ROOT && cur != nil && cur.Signed.Version != sm.version()-1 {
		return nil, fmt.Errorf("%w: staged root v%d does not follow the repository's root v%d: remove %s and stage again", ErrStaged, sm.version(), cur.Signed.Version, path)
	}
	summary := describeStaged(sm, prev)
	res := &SignResult{Role: sm.role, Version: sm.version(), File: path, Summary: summary, Signed: []string{}, Warnings: []string{}}
	eligible := eligibleKeys(sm, prev)
	ids := opts.KeyIDs
	if len(ids) == 0 {
		if eligible == nil {
			return nil, fmt.Errorf("which keys sign %s is not known without the repository: name the key to sign with", sm.role)
		}
		ids = sortedIDs(eligible)
	}
	if opts.Describe != nil {
		opts.Describe(summary)
	}
	anyTried := false
	for _, id := range ids {
		if eligible != nil && eligible[id] == nil {
			switch {
			case len(opts.KeyIDs) == 0:
				continue
			case sm.role == metadata.ROOT && prev == nil:
				res.Warnings = append(res.Warnings, fmt.Sprintf("key %s is not a root key of root v%d: its signature counts only if it is a root key of root v%d", keys.ShortID(id), sm.version(), sm.version()-1))
			case sm.role == metadata.ROOT:
				return nil, fmt.Errorf("%w: key %s is not a root key of root v%d or v%d", ErrNotSigningKey, keys.ShortID(id), prev.Signed.Version, sm.version())
			default:
				return nil, fmt.Errorf("%w: key %s is not a %s key of root v%d", ErrNotSigningKey, keys.ShortID(id), sm.role, prev.Signed.Version)
			}
		} else if eligible == nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("cannot check that key %s is a %s key without the repository; publish-staged will", keys.ShortID(id), sm.role))
		}
		s, err := kr.Signer(id)
		if errors.Is(err, keys.ErrKeyNotFound) && len(opts.KeyIDs) == 0 {
			continue
		}
		if err != nil {
			return nil, err
		}
		anyTried = true
		if err := sm.sign(id, s); err != nil {
			return nil, err
		}
		res.Signed = append(res.Signed, id)
	}
	if !anyTried {
		return nil, fmt.Errorf("%w: none of the keys at hand signs %s v%d", ErrNotSigningKey, sm.role, sm.version())
	}
	if err := write(sm); err != nil {
		return nil, err
	}
	if prev != nil || sm.role == metadata.ROOT {
		res.Signatures = signatureStatus(sm, prev)
	}
	return res, nil
}

// MergeResult reports a merge of signatures.
type MergeResult struct {
	Role    string `json:"role"`
	Version int64  `json:"version"`
	File    string `json:"file"`
	// Added lists the key IDs whose signatures were added.
	Added      []string         `json:"added"`
	Signatures *SignatureStatus `json:"signatures,omitempty"`
	Warnings   []string         `json:"warnings"`
}

// MergeSignatures merges into the repository's staged ROLE.json the
// signatures of other copies of it (each file's bytes in others, by
// name). Every copy must stage the same content; signatures are merged by
// key ID, and each must be a valid signature by a key that may sign.
func (r *Repository) MergeSignatures(role string, others map[string][]byte) (*MergeResult, error) {
	if err := CheckTopLevelRole(role); err != nil {
		return nil, err
	}
	var res *MergeResult
	_, err := r.update(r.readState, func(t *tx) error {
		p := StagedPath(r.dir, role)
		sm, err := readStagedFile(r.fs, p, role)
		if err != nil {
			return err
		}
		if res, err = mergeStaged(p, sm, t.st.root, others); err != nil {
			return err
		}
		t.writeStaged(sm)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// MergeSignaturesFile is MergeSignatures for a staged file outside any
// repository; signatures by keys it cannot identify are kept, with a
// warning, for PublishStaged to check.
func MergeSignaturesFile(fs afero.Fs, path, role string, others map[string][]byte) (*MergeResult, error) {
	sm, err := readStagedFile(fs, path, role)
	if err != nil {
		return nil, err
	}
	res, err := mergeStaged(path, sm, nil, others)
	if err != nil {
		return nil, err
	}
	if err := writeStagedFile(fs, path, sm); err != nil {
		return nil, err
	}
	return res, nil
}

// mergeStaged merges into sm the signatures of others, for the caller to
// write.
func mergeStaged(path string, sm *stagedMeta, cur *metadata.Metadata[metadata.RootType], others map[string][]byte) (*MergeResult, error) {
	if len(others) == 0 {
		return nil, errors.New("no files to merge")
	}
	payload, err := sm.payload()
	if err != nil {
		return nil, err
	}
	eligible := eligibleKeys(sm, cur)
	res := &MergeResult{Role: sm.role, Version: sm.version(), File: path, Added: []string{}, Warnings: []string{}}
	have := map[string]bool{}
	for _, s := range sm.sigs() {
		if k := eligible[s.KeyID]; k == nil || keys.Verify(k, payload, s.Signature) == nil {
			have[s.KeyID] = true
		}
	}
	sigs := sm.sigs()
	for _, name := range sortedIDs(others) {
		o, err := parseStaged(others[name], sm.role)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		op, err := o.payload()
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(op, payload) {
			return nil, fmt.Errorf("%w: %s stages other content than %s (%s v%d, expires %s, here v%d, expires %s): merge only copies of the same staged file",
				ErrStagedMismatch, name, path, o.role, o.version(), o.expires().UTC().Format(targets.TimeFormat), sm.version(), sm.expires().UTC().Format(targets.TimeFormat))
		}
		for _, s := range o.sigs() {
			if have[s.KeyID] {
				continue
			}
			switch k := eligible[s.KeyID]; {
			case eligible == nil || (k == nil && sm.role == metadata.ROOT && cur == nil):
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s: kept the signature by key %s unchecked (its key is not known here)", name, keys.ShortID(s.KeyID)))
			case k == nil:
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s: ignored the signature by key %s: not a key that signs %s v%d", name, keys.ShortID(s.KeyID), sm.role, sm.version()))
				continue
			case keys.Verify(k, payload, s.Signature) != nil:
				return nil, fmt.Errorf("%s: the signature by key %s does not verify: the file was altered", name, keys.ShortID(s.KeyID))
			}
			// Replace a signature by the same key that does not verify.
			sigs = slices.DeleteFunc(sigs, func(x metadata.Signature) bool { return x.KeyID == s.KeyID })
			sigs = append(sigs, s)
			have[s.KeyID] = true
			res.Added = append(res.Added, s.KeyID)
		}
	}
	sm.setSigs(sigs)
	if cur != nil || sm.role == metadata.ROOT {
		res.Signatures = signatureStatus(sm, cur)
	}
	return res, nil
}

// StagedInfo is one staged file, for status.
type StagedInfo struct {
	Role       string           `json:"role"`
	Version    int64            `json:"version"`
	Expires    time.Time        `json:"expires"`
	File       string           `json:"file"`
	Signatures *SignatureStatus `json:"signatures,omitempty"`
	Problem    string           `json:"problem,omitempty"`
}

// stagedInfo lists the staged files of the repository, for status.
func (r *Repository) stagedInfo(cur *metadata.Metadata[metadata.RootType]) []StagedInfo {
	var out []StagedInfo
	for _, role := range topLevelRoles {
		p := StagedPath(r.dir, role)
		data, err := readBounded(r.fs, p, maxMetadataSize)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		si := StagedInfo{Role: role, File: p}
		if err != nil {
			si.Problem = err.Error()
			out = append(out, si)
			continue
		}
		sm, err := parseStaged(data, role)
		if err != nil {
			si.Problem = err.Error()
			out = append(out, si)
			continue
		}
		si.Version, si.Expires = sm.version(), sm.expires()
		if role == metadata.ROOT && cur.Signed.Version != sm.version()-1 {
			if cur.Signed.Version == sm.version() {
				si.Problem = "published, but the rotation may be incomplete: run mrepo publish-staged --role root"
			} else {
				si.Problem = fmt.Sprintf("stale: the repository's root is v%d", cur.Signed.Version)
			}
		} else {
			si.Signatures = signatureStatus(sm, cur)
		}
		out = append(out, si)
	}
	return out
}
