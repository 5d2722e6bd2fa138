package staged

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/internal/pubkey"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Dir is the directory, inside a repository, of staged metadata. It
// is not published.
const Dir = "staged"

// Errors of staging, signing and publishing staged metadata.
var (
	// ErrConflict: something is already staged for the role, or what is
	// staged no longer fits the repository (stale, expired).
	ErrConflict = errors.New("staged metadata")
	// ErrNothingStaged: there is no staged file for the role.
	ErrNothingStaged = errors.New("nothing staged")
	// ErrMismatch: files to merge stage different content.
	ErrMismatch = errors.New("staged files differ")
	// ErrThreshold: the signatures (or the keys at hand) do not meet a
	// role's threshold.
	ErrThreshold = errors.New("signature threshold not met")
	// ErrNotSigningKey: a key that does not sign the staged role.
	ErrNotSigningKey = errors.New("not a signing key of the role")
)

// TopLevelRoles are the roles that can be staged and rotated: those of
// a root (internal/repofiles).
var TopLevelRoles = repofiles.TopLevelRoles

// CheckTopLevelRole reports whether role is root, targets, snapshot or
// timestamp.
func CheckTopLevelRole(role string) error {
	if slices.Contains(TopLevelRoles, role) {
		return nil
	}
	return fmt.Errorf("role %q: want root, targets, snapshot or timestamp (delegated roles are changed with their delegation)", role)
}

// Path is where the repository in dir keeps the staged version of
// role.
func Path(dir, role string) string {
	return filepath.Join(dir, Dir, role+".json")
}

// File is one staged metadata file of a top-level role: plain TUF
// metadata, exactly one of Root, Targets, Snapshot and Timestamp set (the
// one Role names).
type File struct {
	Role      string
	Root      *metadata.Metadata[metadata.RootType]
	Targets   *metadata.Metadata[metadata.TargetsType]
	Snapshot  *metadata.Metadata[metadata.SnapshotType]
	Timestamp *metadata.Metadata[metadata.TimestampType]
}

// Parse parses staged metadata of role. The role's type is checked
// first, so that a targets file offered as root says so.
func Parse(data []byte, role string) (*File, error) {
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
	if err := jsonlimit.Unmarshal(data, &peek, repofiles.MaxMetadataSize); err != nil {
		return nil, fmt.Errorf("not TUF metadata: %v", err)
	}
	if peek.Signed.Type != role {
		return nil, fmt.Errorf("holds %q metadata, not %s", peek.Signed.Type, role)
	}
	sm := &File{Role: role}
	var err error
	switch role {
	case metadata.ROOT:
		sm.Root, err = metadata.Root().FromBytes(data)
		if err == nil {
			err = pubkey.CheckAll(sm.Root.Signed.Keys)
		}
	case metadata.TARGETS:
		sm.Targets, err = metadata.Targets().FromBytes(data)
	case metadata.SNAPSHOT:
		sm.Snapshot, err = metadata.Snapshot().FromBytes(data)
	case metadata.TIMESTAMP:
		sm.Timestamp, err = metadata.Timestamp().FromBytes(data)
	}
	if err != nil {
		return nil, err
	}
	return sm, nil
}

// Version is the staged version.
func (s *File) Version() int64 {
	switch {
	case s.Root != nil:
		return s.Root.Signed.Version
	case s.Targets != nil:
		return s.Targets.Signed.Version
	case s.Snapshot != nil:
		return s.Snapshot.Signed.Version
	}
	return s.Timestamp.Signed.Version
}

// Expires is when the staged version expires.
func (s *File) Expires() time.Time {
	switch {
	case s.Root != nil:
		return s.Root.Signed.Expires
	case s.Targets != nil:
		return s.Targets.Signed.Expires
	case s.Snapshot != nil:
		return s.Snapshot.Signed.Expires
	}
	return s.Timestamp.Signed.Expires
}

// Metadata is the metadata itself, as go-tuf's VerifyDelegate takes it.
func (s *File) Metadata() any {
	switch {
	case s.Root != nil:
		return s.Root
	case s.Targets != nil:
		return s.Targets
	case s.Snapshot != nil:
		return s.Snapshot
	}
	return s.Timestamp
}

// Payload is the canonical form of the signed part: the bytes that
// signatures sign, and that must be equal in every copy of the file.
func (s *File) Payload() ([]byte, error) {
	switch {
	case s.Root != nil:
		return cjson.EncodeCanonical(s.Root.Signed)
	case s.Targets != nil:
		return cjson.EncodeCanonical(s.Targets.Signed)
	case s.Snapshot != nil:
		return cjson.EncodeCanonical(s.Snapshot.Signed)
	}
	return cjson.EncodeCanonical(s.Timestamp.Signed)
}

// Signatures are the file's signatures, valid or not.
func (s *File) Signatures() []metadata.Signature {
	switch {
	case s.Root != nil:
		return s.Root.Signatures
	case s.Targets != nil:
		return s.Targets.Signatures
	case s.Snapshot != nil:
		return s.Snapshot.Signatures
	}
	return s.Timestamp.Signatures
}

// SetSignatures replaces the file's signatures.
func (s *File) SetSignatures(sigs []metadata.Signature) {
	switch {
	case s.Root != nil:
		s.Root.Signatures = sigs
	case s.Targets != nil:
		s.Targets.Signatures = sigs
	case s.Snapshot != nil:
		s.Snapshot.Signatures = sigs
	default:
		s.Timestamp.Signatures = sigs
	}
}

// ToBytes is the file as it is written: the same JSON as the published
// metadata (pretty is ignored: staged files are always indented).
func (s *File) ToBytes(pretty bool) ([]byte, error) {
	switch {
	case s.Root != nil:
		return s.Root.ToBytes(true)
	case s.Targets != nil:
		return s.Targets.ToBytes(true)
	case s.Snapshot != nil:
		return s.Snapshot.ToBytes(true)
	}
	return s.Timestamp.ToBytes(true)
}

// Sign adds a signature by signer (whose key ID is id), replacing an
// older one by the same key: a file with two signatures by one key does
// not load.
func (s *File) Sign(id string, signer signature.Signer) error {
	payload, err := s.Payload()
	if err != nil {
		return err
	}
	sig, err := signer.SignMessage(bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("signing with key %s: %w", keys.ShortID(id), err)
	}
	var out []metadata.Signature
	for _, old := range s.Signatures() {
		if old.KeyID != id {
			out = append(out, old)
		}
	}
	s.SetSignatures(append(out, metadata.Signature{KeyID: id, Signature: sig}))
	return nil
}

// signedBy returns the key IDs, among ids, with a valid signature.
func (s *File) signedBy(keysByID map[string]*metadata.Key, ids []string) []string {
	payload, err := s.Payload()
	if err != nil {
		return nil
	}
	var out []string
	for _, id := range ids {
		k := keysByID[id]
		if k == nil || slices.Contains(out, id) {
			continue
		}
		for _, sig := range s.Signatures() {
			if sig.KeyID == id && keys.Verify(k, payload, sig.Signature) == nil {
				out = append(out, id)
				break
			}
		}
	}
	return out
}

// ReadFile reads and parses a staged file.
func ReadFile(fs afero.Fs, path, role string) (*File, error) {
	data, err := repofiles.ReadBounded(fs, path, repofiles.MaxMetadataSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w for %s: %s does not exist", ErrNothingStaged, role, path)
	}
	if err != nil {
		return nil, err
	}
	sm, err := Parse(data, role)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sm, nil
}

// CheckNone refuses to stage over an earlier staged file of role in the
// repository in dir (ErrConflict): holders may be signing it.
func CheckNone(fs afero.Fs, dir, role string) error {
	p := Path(dir, role)
	data, err := repofiles.ReadBounded(fs, p, repofiles.MaxMetadataSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	v := "a version"
	if sm, err := Parse(data, role); err == nil {
		v = fmt.Sprintf("v%d", sm.Version())
	}
	return fmt.Errorf("%w: %s %s is already staged in %s: publish it (mrepo publish-staged --role %s) or remove that file to start over", ErrConflict, role, v, p, role)
}

// WriteFile writes a staged file atomically, creating its directory.
func WriteFile(fs afero.Fs, path string, sm *File) error {
	data, err := sm.ToBytes(true)
	if err != nil {
		return err
	}
	if err := fs.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfs.WriteFile(fs, path, data, 0o644)
}
