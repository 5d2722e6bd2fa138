package verifiedread

import (
	"context"
	"encoding/hex"
	"io"
	"path/filepath"
	"sort"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/installed"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Model is the active version of a model and its files, as the signed
// metadata verified when it was made describes them. Nothing in it comes
// from a file of the state directory trusted because it exists: the
// lengths and hashes are the signed ones, and each file is checked as it
// is read.
type Model struct {
	ModelID string `json:"model_id"`
	Version string `json:"version"`
	// Path is the version's directory.
	Path string `json:"path"`
	// Files lists the signed files, sorted by name, the manifest included.
	Files []File `json:"files"`

	sfs    *safefs.FS
	signed map[string]*metadata.TargetFiles
}

// File is one signed file of a version.
type File struct {
	Name   string `json:"name"`
	Length int64  `json:"length"`
	// SHA256 is the signed SHA-256 in hex ("" if the target lists another
	// algorithm only; the reader checks every one it supports).
	SHA256 string `json:"sha256,omitempty"`
}

// New describes the version at dir with its signed files.
func New(sfs *safefs.FS, modelID, version, dir string, signed map[string]*metadata.TargetFiles) *Model {
	m := &Model{ModelID: modelID, Version: version, Path: dir, sfs: sfs, signed: signed}
	for name, tf := range signed {
		m.Files = append(m.Files, File{Name: name, Length: tf.Length, SHA256: hex.EncodeToString(tf.Hashes["sha256"])})
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Name < m.Files[j].Name })
	return m
}

// Open opens one of the version's files for one sequential, verified read
// (installed.Reader): a file that is missing, a link, not a regular file
// or not of its signed length fails HASH_MISMATCH here; a changed byte or
// a file that grows while it is read fails on the read that reaches its
// signed end. A name the version does not sign is TARGET_NOT_FOUND.
func (m *Model) Open(name string) (io.ReadCloser, error) {
	tf := m.signed[name]
	if tf == nil {
		return nil, codes.Errorf(codes.TargetNotFound, nil, "%s %s has no signed file %q", m.ModelID, m.Version, name)
	}
	r, err := installed.OpenReader(m.sfs, filepath.Join(m.Path, name), tf)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Verify re-hashes every file: exactly the signed files, each a regular
// file with its signed length and hashes (HASH_MISMATCH otherwise;
// CANCELLED or INTERRUPTED when ctx ends).
func (m *Model) Verify(ctx context.Context) error {
	return installed.VerifyDir(ctx, m.sfs, m.Path, m.signed)
}
