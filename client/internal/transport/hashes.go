package transport

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"hash"
	"io"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// hashAlgorithm is a target hash algorithm the client can verify.
type hashAlgorithm struct {
	name    string // as TUF metadata names it
	display string // as messages name it
	size    int
	new     func() hash.Hash
}

// hashAlgorithms are the target hash algorithms the client verifies (the
// standard library's), in the order it prefers one to name the file of a
// target under consistent snapshots (see TargetFileHash). TUF requires no
// particular algorithm: a repository may list any set, and python-tuf's
// repository tools default to SHA-256 alone or list SHA-512 as well.
var hashAlgorithms = []hashAlgorithm{
	{"sha256", "SHA-256", sha256.Size, sha256.New},
	{"sha512", "SHA-512", sha512.Size, sha512.New},
	{"sha384", "SHA-384", sha512.Size384, sha512.New384},
}

// CheckTargetHashes refuses a target the client could not verify: it
// must list at least one supported algorithm, each supported one with a
// digest of that algorithm's size. Algorithms the client does not know
// are ignored when a supported one is listed too (it alone authenticates
// the bytes; python-tuf refuses such targets outright, which the TUF
// conformance suite also accepts), and never used alone: a target listed
// only with "md5" or "blake3" is refused, never trusted unchecked.
func CheckTargetHashes(tf *metadata.TargetFiles) error {
	n := 0
	for _, a := range hashAlgorithms {
		d, ok := tf.Hashes[a.name]
		if !ok {
			continue
		}
		if len(d) != a.size {
			return fmt.Errorf("its %s digest is %d bytes, not %d", a.display, len(d), a.size)
		}
		n++
	}
	if n == 0 {
		names := make([]string, 0, len(tf.Hashes))
		for name := range tf.Hashes {
			names = append(names, name)
		}
		return fmt.Errorf("it lists no hash algorithm the client supports (%q; supported: sha256, sha384, sha512)", names)
	}
	return nil
}

// TargetFileHash is the digest that names a target's file under
// consistent snapshots (HASH.FILENAME). The specification lets a client
// use any of the target's hashes, since a repository publishes one copy
// per hash it lists; go-tuf takes the first of a Go map (a random one on
// each run, so a mirror that lacks one copy fails at random) and
// python-tuf the first in the metadata's key order (which a Go map does
// not keep). The choice here is fixed: the first supported algorithm in
// hashAlgorithms' order that the target lists (SHA-256 when listed, as
// mrepo and most repositories publish it). CheckTargetHashes has
// guaranteed that there is one.
func TargetFileHash(tf *metadata.TargetFiles) []byte {
	for _, a := range hashAlgorithms {
		if d, ok := tf.Hashes[a.name]; ok {
			return d
		}
	}
	return nil
}

// TargetHash hashes a stream with every supported algorithm the target
// lists, in one pass: each Write feeds all of them.
type TargetHash struct {
	tf    *metadata.TargetFiles
	algs  []hashAlgorithm
	state []hash.Hash
}

var _ io.Writer = (*TargetHash)(nil)

func NewTargetHash(tf *metadata.TargetFiles) *TargetHash {
	t := &TargetHash{tf: tf}
	for _, a := range hashAlgorithms {
		if _, ok := tf.Hashes[a.name]; ok {
			t.algs = append(t.algs, a)
			t.state = append(t.state, a.new())
		}
	}
	return t
}

func (t *TargetHash) Write(p []byte) (int, error) {
	for _, h := range t.state {
		h.Write(p)
	}
	return len(p), nil
}

// Sum is the first algorithm's digest (internal/hashcopy asks for one);
// check compares them all.
func (t *TargetHash) Sum(b []byte) []byte {
	if len(t.state) == 0 {
		return b
	}
	return t.state[0].Sum(b)
}

// Mismatch reports the first listed digest (by its display name) that the
// bytes written do not match, or bad false if they match them all. A
// target with no supported algorithm never matches (fail closed, even if
// CheckTargetHashes was skipped): alg is then "".
func (t *TargetHash) Mismatch() (alg string, got, want []byte, bad bool) {
	if len(t.state) == 0 {
		return "", nil, nil, true
	}
	for i, h := range t.state {
		a := t.algs[i]
		got, want := h.Sum(nil), []byte(t.tf.Hashes[a.name])
		if !bytes.Equal(got, want) {
			return a.display, got, want, true
		}
	}
	return "", nil, nil, false
}

// Check is Mismatch as a HASH_MISMATCH error about the file name.
func (t *TargetHash) Check(name string) error {
	alg, got, want, bad := t.Mismatch()
	switch {
	case !bad:
		return nil
	case alg == "":
		return codes.Errorf(codes.HashMismatch, nil, "%s: no supported hash algorithm to check it with", name)
	}
	return codes.Errorf(codes.HashMismatch, nil, "%s: %s %x, signed %x", name, alg, got, want)
}
