// Package repofiles is the on-disk layout of a published TUF repository,
// as the writer lays it out and as a client or an auditor reads it:
//
//	metadata/N.root.json     every root version, N = 1, 2, ...
//	metadata/N.<role>.json   targets, delegated roles and snapshot (consistent snapshots)
//	metadata/timestamp.json  the only file ever overwritten
//	targets/<dir>/<sha256>.<file>
//
// and the bounded reads of that layout: every metadata file is read with a
// size and nesting limit, because its bytes come from whoever can write the
// repository.
//
// It also reads the current state as a client reaches it (ReadState:
// timestamp, snapshot, top-level targets, newest root), for the writer and
// for status.
//
// It is shared by the repository writer (package repo), the auditor
// (package audit), the static server (package server), mrepo status
// (package status) and the delegation tree (package delegation), so that
// they agree on where things are without importing each other. It must
// never import repo, keys or any package that writes a repository or holds
// keys; it writes nothing itself.
package repofiles

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"

	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Directory names inside a repository: the two published trees.
const (
	MetadataDir = "metadata"
	TargetsDir  = "targets"
)

// TopLevelRoles are the roles of a root, in the order the chain is
// usually told (staged.TopLevelRoles names the same list).
var TopLevelRoles = []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}

// MaxMetadataSize bounds every metadata read (go-tuf's largest default
// limit is 5 MB for targets).
const MaxMetadataSize = 32 << 20

// Size limits of go-tuf's default client configuration (and of package
// client's defaults). Metadata larger than these is refused by default
// clients, so the auditor reports it.
var clientLimits = map[string]int64{
	metadata.ROOT:      512000,
	metadata.TIMESTAMP: 16384,
	metadata.SNAPSHOT:  2000000,
	metadata.TARGETS:   5000000,
}

// ClientLimit is the largest metadata file for role that a default client
// accepts; a delegated role has the limit of targets.
func ClientLimit(role string) int64 {
	if l, ok := clientLimits[role]; ok {
		return l
	}
	return clientLimits[metadata.TARGETS]
}

// ConsistentName is where a target's bytes live under targets/: the
// target path with its file name prefixed by the hex SHA-256 of its bytes.
func ConsistentName(targetPath string, sha []byte) string {
	return path.Join(path.Dir(targetPath), hex.EncodeToString(sha)+"."+path.Base(targetPath))
}

var rootFileName = regexp.MustCompile(`^([1-9][0-9]{0,18})\.root\.json$`)

// RootVersions lists the versions of the N.root.json files in metaDir,
// sorted.
func RootVersions(fs afero.Fs, metaDir string) ([]int64, error) {
	entries, err := afero.ReadDir(fs, metaDir)
	if err != nil {
		return nil, err
	}
	var vs []int64
	for _, e := range entries {
		if m := rootFileName.FindStringSubmatch(e.Name()); m != nil {
			v, err := strconv.ParseInt(m[1], 10, 64)
			if err == nil {
				vs = append(vs, v)
			}
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	return vs, nil
}

// ReadBounded reads a JSON document (metadata, a bundle manifest) of at
// most limit bytes, nested at most jsonlimit.MaxDepth levels: the bytes
// may come from anyone who can write the repository or hand in a bundle.
func ReadBounded(fs afero.Fs, name string, limit int64) ([]byte, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Sized by the file (when it says, and fits) so that reading it
	// allocates it once: io.ReadAll's doubling leaves about as much again
	// of garbage, which a publication reading a hundred bins pays in heap.
	size := int64(bytes.MinRead)
	if fi, err := f.Stat(); err == nil && fi.Size() >= 0 && fi.Size() <= limit {
		size += fi.Size()
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+1))
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	if err := jsonlimit.CheckDepth(data, jsonlimit.MaxDepth); err != nil {
		return nil, err
	}
	return data, nil
}

// SameRoot reports whether two roots sign the same content (canonical
// JSON of their signed parts): whether a published N.root.json is the
// root a client or the writer already trusts as version N.
func SameRoot(a, b metadata.RootType) bool {
	x, err1 := cjson.EncodeCanonical(a)
	y, err2 := cjson.EncodeCanonical(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
