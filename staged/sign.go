package staged

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// SignResult reports a signing run.
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

// SignFile adds signatures to a staged file outside any repository
// (a copy on an air-gapped machine). For a root, the keys that may sign
// are known only partly (the staged root's own; a key of the previous
// root only is accepted with a warning); for other roles, not at all:
// every key given signs, with a warning. PublishStaged checks everything.
func SignFile(fs afero.Fs, path, role string, kr keys.Keyring, opts SignOptions) (*SignResult, error) {
	sm, err := ReadFile(fs, path, role)
	if err != nil {
		return nil, err
	}
	return Sign(func(sm *File) error { return WriteFile(fs, path, sm) }, path, sm, nil, kr, opts)
}

// Sign signs sm (read from path) with the keys of kr that may sign it and
// hands the result to write. cur is the repository's newest root when the
// caller has the repository (nil on a machine that only has the file):
// then the keys that may sign are known and checked, and the threshold
// status is reported.
func Sign(write func(*File) error, path string, sm *File, cur *metadata.Metadata[metadata.RootType], kr keys.Keyring, opts SignOptions) (*SignResult, error) {
	prev := cur
	if sm.Role == metadata.ROOT && cur != nil && cur.Signed.Version != sm.Version()-1 {
		return nil, fmt.Errorf("%w: staged root v%d does not follow the repository's root v%d: remove %s and stage again", ErrConflict, sm.Version(), cur.Signed.Version, path)
	}
	summary := Describe(sm, prev)
	res := &SignResult{Role: sm.Role, Version: sm.Version(), File: path, Summary: summary, Signed: []string{}, Warnings: []string{}}
	eligible := EligibleKeys(sm, prev)
	ids := opts.KeyIDs
	if len(ids) == 0 {
		if eligible == nil {
			return nil, fmt.Errorf("which keys sign %s is not known without the repository: name the key to sign with", sm.Role)
		}
		ids = sortedKeys(eligible)
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
			case sm.Role == metadata.ROOT && prev == nil:
				res.Warnings = append(res.Warnings, fmt.Sprintf("key %s is not a root key of root v%d: its signature counts only if it is a root key of root v%d", keys.ShortID(id), sm.Version(), sm.Version()-1))
			case sm.Role == metadata.ROOT:
				return nil, fmt.Errorf("%w: key %s is not a root key of root v%d or v%d", ErrNotSigningKey, keys.ShortID(id), prev.Signed.Version, sm.Version())
			default:
				return nil, fmt.Errorf("%w: key %s is not a %s key of root v%d", ErrNotSigningKey, keys.ShortID(id), sm.Role, prev.Signed.Version)
			}
		} else if eligible == nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("cannot check that key %s is a %s key without the repository; publish-staged will", keys.ShortID(id), sm.Role))
		}
		s, err := kr.Signer(id)
		if errors.Is(err, keys.ErrKeyNotFound) && len(opts.KeyIDs) == 0 {
			continue
		}
		if err != nil {
			return nil, err
		}
		anyTried = true
		if err := sm.Sign(id, s); err != nil {
			return nil, err
		}
		res.Signed = append(res.Signed, id)
	}
	if !anyTried {
		return nil, fmt.Errorf("%w: none of the keys at hand signs %s v%d", ErrNotSigningKey, sm.Role, sm.Version())
	}
	if err := write(sm); err != nil {
		return nil, err
	}
	if prev != nil || sm.Role == metadata.ROOT {
		res.Signatures = CheckSignatures(sm, prev)
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

// MergeFile merges into the staged file at path the signatures of other
// copies of it (each file's bytes in others, by name), outside any
// repository (repo's MergeSignatures is the same inside one). Every copy
// must stage the same content; signatures are merged by key ID, and each
// must be a valid signature; signatures by keys it cannot identify are
// kept, with a warning, for PublishStaged to check.
func MergeFile(fs afero.Fs, path, role string, others map[string][]byte) (*MergeResult, error) {
	sm, err := ReadFile(fs, path, role)
	if err != nil {
		return nil, err
	}
	res, err := Merge(path, sm, nil, others)
	if err != nil {
		return nil, err
	}
	if err := WriteFile(fs, path, sm); err != nil {
		return nil, err
	}
	return res, nil
}

// Merge merges into sm the signatures of others, for the caller to
// write.
func Merge(path string, sm *File, cur *metadata.Metadata[metadata.RootType], others map[string][]byte) (*MergeResult, error) {
	if len(others) == 0 {
		return nil, errors.New("no files to merge")
	}
	payload, err := sm.Payload()
	if err != nil {
		return nil, err
	}
	eligible := EligibleKeys(sm, cur)
	res := &MergeResult{Role: sm.Role, Version: sm.Version(), File: path, Added: []string{}, Warnings: []string{}}
	have := map[string]bool{}
	for _, s := range sm.Signatures() {
		if k := eligible[s.KeyID]; k == nil || keys.Verify(k, payload, s.Signature) == nil {
			have[s.KeyID] = true
		}
	}
	sigs := sm.Signatures()
	for _, name := range sortedKeys(others) {
		o, err := Parse(others[name], sm.Role)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		op, err := o.Payload()
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(op, payload) {
			return nil, fmt.Errorf("%w: %s stages other content than %s (%s v%d, expires %s, here v%d, expires %s): merge only copies of the same staged file",
				ErrMismatch, name, path, o.Role, o.Version(), o.Expires().UTC().Format(targets.TimeFormat), sm.Version(), sm.Expires().UTC().Format(targets.TimeFormat))
		}
		for _, s := range o.Signatures() {
			if have[s.KeyID] {
				continue
			}
			switch k := eligible[s.KeyID]; {
			case eligible == nil || (k == nil && sm.Role == metadata.ROOT && cur == nil):
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s: kept the signature by key %s unchecked (its key is not known here)", name, keys.ShortID(s.KeyID)))
			case k == nil:
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s: ignored the signature by key %s: not a key that signs %s v%d", name, keys.ShortID(s.KeyID), sm.Role, sm.Version()))
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
	sm.SetSignatures(sigs)
	if cur != nil || sm.Role == metadata.ROOT {
		res.Signatures = CheckSignatures(sm, cur)
	}
	return res, nil
}
