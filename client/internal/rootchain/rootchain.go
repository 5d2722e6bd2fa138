// Package rootchain is the device's trust in root metadata when the
// pinned root stays in the device image (mclient init --root FILE
// --root-readonly): the pinned root is read from FILE on every session,
// and every root the state directory caches must chain from it.
//
// The state directory keeps, in root-chain/, each root after the pinned
// one that the device has verified (<version>.root.json, as the
// repository names them). Every session (online or offline) reads the
// pinned root, then walks root-chain/ from the version after it: each
// root must be signed by the threshold of the previous one and by its
// own, with the next version number (TUF 5.3.4 to 5.3.6, go-tuf's
// trustedmetadata.UpdateRoot). The root.json that go-tuf keeps in a
// metadata directory must be a root of that chain, byte for byte (the
// newest for metadata/), else the session fails ROOT_CHAIN_BROKEN; a
// pinned root that cannot be read or is not signed by its own threshold
// fails PINNED_ROOT_UNUSABLE. Nothing in the state directory is ever
// trusted instead of the pinned root. An online session then extends the
// chain from the repository (Extend) before go-tuf's refresh, which is
// given the newest root and never walks roots itself.
//
// Package tufsession uses it; it never imports package client.
package rootchain

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

// MaxChain bounds how many roots after the pinned one the state directory
// may cache: each costs one signature check per session. An image update
// that ships a newer pinned root shortens the chain.
const MaxChain = 1024

// Source says where the chain starts and where it is cached.
type Source struct {
	// Pinned is the path of the pinned root in the device image (recorded
	// in client.json at init).
	Pinned string
	// Want, if set, is the path the application requires (client
	// Options.PinnedRoot): a state directory that names another path, or
	// none, fails ROOT_CHAIN_BROKEN.
	Want string
	// FS is the state directory; Dir the chain cache in it.
	FS  *safefs.FS
	Dir string
}

// Chain is the verified chain: roots[i] is root version first+i, roots[0]
// the pinned root.
type Chain struct {
	src     Source
	limit   int64
	first   int64
	roots   [][]byte
	trusted *trustedmetadata.TrustedMetadata // at the newest root
}

// FileName is the name of root version v in the chain cache.
func FileName(v int64) string { return strconv.FormatInt(v, 10) + ".root.json" }

// Broken is the error of a chain that does not start at the pinned root.
func Broken(err error, format string, args ...any) error {
	return codes.Errorf(codes.RootChainBroken, err, format, args...)
}

// Load reads the pinned root and the cached roots after it, each at most
// limit bytes. On ROOT_CHAIN_BROKEN it also returns the chain verified up
// to the first cached root that does not follow (for Repair).
func Load(src Source, limit int64) (*Chain, error) {
	if src.Want != "" && filepath.Clean(src.Want) != filepath.Clean(src.Pinned) {
		if src.Pinned == "" {
			return nil, Broken(nil, "the application pins its root at %s, but this state directory keeps a copy of another root (re-initialise it with mclient init --root %s --root-readonly)", src.Want, src.Want)
		}
		return nil, Broken(nil, "the application pins its root at %s, but this state directory was initialised with %s", src.Want, src.Pinned)
	}
	pinned, err := ReadPinned(src.Pinned, limit)
	if err != nil {
		return nil, err
	}
	trusted, err := trustedmetadata.New(pinned)
	if err != nil {
		return nil, codes.Errorf(codes.PinnedRootUnusable, err, "pinned root %s is not root metadata signed by its own threshold", src.Pinned)
	}
	c := &Chain{src: src, limit: limit, first: trusted.Root.Signed.Version, roots: [][]byte{pinned}, trusted: trusted}
	for len(c.roots) <= MaxChain {
		v := c.Newest() + 1
		path := filepath.Join(src.Dir, FileName(v))
		data, err := src.FS.ReadFile(path, limit)
		if errors.Is(err, os.ErrNotExist) && !safefs.IsUnsafe(err) {
			return c, nil
		}
		if err == nil {
			err = jsonlimit.Check(data, limit)
		}
		if err == nil {
			_, err = c.trusted.UpdateRoot(data)
		}
		if err != nil {
			return c, Broken(err, "%s does not follow root version %d of the chain from the pinned root %s", path, v-1, src.Pinned)
		}
		c.roots = append(c.roots, data)
	}
	return c, Broken(nil, "%s holds more than %d roots after the pinned root", src.Dir, MaxChain)
}

// ReadPinned reads the pinned root: a regular file outside the state
// directory (links in its path are the image's and are followed), at most
// limit bytes, signed by its own threshold. Any failure is
// PINNED_ROOT_UNUSABLE: nothing replaces it.
func ReadPinned(path string, limit int64) ([]byte, error) {
	unusable := func(err error) error {
		return codes.Errorf(codes.PinnedRootUnusable, err, "reading the pinned root %s", path)
	}
	if !filepath.IsAbs(path) {
		return nil, unusable(errors.New("not an absolute path"))
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, unusable(err)
	}
	data, err := safefs.New(filepath.Dir(real)).ReadFile(real, limit)
	if err == nil {
		err = jsonlimit.Check(data, limit)
	}
	if err != nil {
		return nil, unusable(err)
	}
	return data, nil
}

// Newest is the version of the newest root of the chain.
func (c *Chain) Newest() int64 { return c.first + int64(len(c.roots)) - 1 }

// NewestRoot is the newest root's bytes.
func (c *Chain) NewestRoot() []byte { return c.roots[len(c.roots)-1] }

// Match returns the root to trust for a metadata directory whose root.json
// is cached (nil: none). With newest (metadata/, which an online session
// refreshes), cached must be the newest root of the chain, else a root of
// the chain; a cached root older than the pinned one (the image was updated
// with a newer pinned root) is replaced by the pinned root. Anything else
// is ROOT_CHAIN_BROKEN.
func (c *Chain) Match(cached []byte, newest bool) ([]byte, error) {
	if cached == nil {
		return nil, Broken(nil, "no root.json in the metadata directory")
	}
	var head struct {
		Signed struct {
			Version int64 `json:"version"`
		} `json:"signed"`
	}
	if err := jsonlimit.Unmarshal(cached, &head, c.limit); err != nil {
		return nil, Broken(err, "the cached root.json does not parse")
	}
	v := head.Signed.Version
	switch {
	case v < c.first && v >= 1:
		return c.roots[0], nil
	case v < c.first || v > c.Newest():
		return nil, Broken(nil, "the cached root.json has version %d; the chain from the pinned root %s holds versions %d to %d", v, c.src.Pinned, c.first, c.Newest())
	case string(c.roots[v-c.first]) != string(cached):
		return nil, Broken(nil, "the cached root.json is not root version %d of the chain from the pinned root %s", v, c.src.Pinned)
	case newest && v != c.Newest():
		return nil, Broken(nil, "the cached root.json has version %d, older than root version %d of the chain from the pinned root %s", v, c.Newest(), c.src.Pinned)
	}
	return cached, nil
}

// Extend fetches the roots after the newest from the repository (fetch
// returns metadata.ErrDownloadHTTP 404 when there is none), at most max,
// verifies each against the chain and stores it, durably, in the chain
// cache. Errors of fetch and of verification are returned as they are
// (the caller maps go-tuf's errors); storing fails STATE_INVALID.
func (c *Chain) Extend(fetch func(version int64) ([]byte, error), max int) error {
	for i := 0; i < max && len(c.roots) <= MaxChain; i++ {
		v := c.Newest() + 1
		data, err := fetch(v)
		var httpErr *metadata.ErrDownloadHTTP
		if errors.As(err, &httpErr) && httpErr.StatusCode == http.StatusNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		// The depth check Load makes of every cached root: a root it would
		// refuse next time must not be recorded now.
		if err := jsonlimit.Check(data, c.limit); err != nil {
			return codes.Errorf(codes.MetadataInvalid, err, "root version %d", v)
		}
		if _, err := c.trusted.UpdateRoot(data); err != nil {
			return err
		}
		if err := c.src.FS.MkdirAll(c.src.Dir, 0o700); err != nil {
			return codes.Errorf(codes.StateInvalid, err, "creating %s", c.src.Dir)
		}
		if err := atomicfs.WriteFile(c.src.FS.Afero(), filepath.Join(c.src.Dir, FileName(v)), data, 0o600); err != nil {
			return codes.Errorf(codes.StateInvalid, err, "recording root version %d", v)
		}
		c.roots = append(c.roots, data)
	}
	return nil
}

// Repair drops what does not chain from the pinned root after an online
// session found the chain broken: the cached roots from the first one that
// does not follow, and every file of metaDir, whose root.json is then the
// newest root of the chain that remains. The next refresh re-bootstraps
// from there, as from a new device. Best effort.
func (c *Chain) Repair(metaDir string) {
	if entries, err := c.src.FS.ReadDir(c.src.Dir); err == nil {
		for _, e := range entries {
			var v int64
			if n, err := fmt.Sscanf(e.Name(), "%d.root.json", &v); n != 1 || err != nil || FileName(v) != e.Name() || v > c.Newest() {
				c.src.FS.RemoveAll(filepath.Join(c.src.Dir, e.Name()))
			}
		}
	}
	if entries, err := c.src.FS.ReadDir(metaDir); err == nil {
		for _, e := range entries {
			c.src.FS.RemoveAll(filepath.Join(metaDir, e.Name()))
		}
	}
	atomicfs.WriteFile(c.src.FS.Afero(), filepath.Join(metaDir, "root.json"), c.NewestRoot(), 0o600)
}
