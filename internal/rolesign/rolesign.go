// Package rolesign decides who signs a repository's top-level roles: it
// gathers a role's signers from a keyring against the role's threshold,
// signs metadata with them, plans which online roles a new root version
// makes the writer re-sign (and with which old keys too), and checks that
// a root is signed by the root keys of the version before it. It is the
// repository writer's (package repo's) signing policy, split out so that
// the writer's package holds the write path only; the init ceremony's key
// generation lives beside it (ceremony.go).
package rolesign

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/pubkey"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// OnlineRoles are the roles whose keys live with the repository tooling;
// root keys are meant to go offline right after the ceremony.
var OnlineRoles = []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}

// Signer is a signer with the TUF key ID it signs as.
type Signer struct {
	ID     string
	Signer signature.Signer
}

// Set holds the signers gathered for each role about to be signed.
type Set map[string][]Signer

// For collects signers from kr for a role's keys and fails, naming the
// missing key IDs, if they cannot meet the threshold
// (staged.ErrThreshold).
func For(kr keys.Keyring, roleName string, role *metadata.Role) ([]Signer, error) {
	var got []Signer
	var missing []string
	for _, id := range role.KeyIDs {
		s, err := kr.Signer(id)
		if errors.Is(err, keys.ErrKeyNotFound) {
			missing = append(missing, keys.ShortID(id))
			continue
		}
		if err != nil {
			return nil, err
		}
		got = append(got, Signer{ID: id, Signer: s})
	}
	if len(got) < role.Threshold {
		return nil, fmt.Errorf("%w: %s needs %d of its keys, %d available (missing: %s)",
			staged.ErrThreshold, roleName, role.Threshold, len(got), strings.Join(missing, ", "))
	}
	return got, nil
}

// Sign replaces md's signatures with fresh ones by every given signer.
func Sign[T metadata.Roles](md *metadata.Metadata[T], ss []Signer) error {
	md.ClearSignatures()
	for _, s := range ss {
		if _, err := md.Sign(s.Signer); err != nil {
			return err
		}
	}
	return nil
}

// RoleOf returns the root's entry for a top-level role.
func RoleOf(root *metadata.Metadata[metadata.RootType], name string) (*metadata.Role, error) {
	role := root.Signed.Roles[name]
	if role == nil {
		return nil, repofiles.StoredError("root", fmt.Errorf("no %s role", name))
	}
	return role, nil
}

// Gather loads signers for the given top-level roles of root before any
// work is done, so a missing key or wrong passphrase fails fast and
// changes nothing.
func Gather(root *metadata.Metadata[metadata.RootType], kr keys.Keyring, roles ...string) (Set, error) {
	out := Set{}
	for _, name := range roles {
		role, err := RoleOf(root, name)
		if err != nil {
			return nil, err
		}
		ss, err := For(kr, name, role)
		if err != nil {
			return nil, err
		}
		out[name] = ss
	}
	return out, nil
}

// CheckRootLink checks that root, the newest root of the repository in
// dir, is signed by a threshold of the root keys of the version before
// it, as clients require: a root version written by hand that breaks the
// chain is never built upon.
func CheckRootLink(fs afero.Fs, dir string, root *metadata.Metadata[metadata.RootType]) error {
	v := root.Signed.Version
	if v <= 1 {
		return nil
	}
	name := fmt.Sprintf("%d.root.json", v-1)
	data, err := repofiles.ReadBounded(fs, filepath.Join(dir, repofiles.MetadataDir, name), repofiles.MaxMetadataSize)
	if err != nil {
		return repofiles.StoredError(name, err)
	}
	prev, err := metadata.Root().FromBytes(data)
	if err != nil {
		return repofiles.StoredError(name, err)
	}
	if err := pubkey.CheckAll(prev.Signed.Keys); err != nil {
		return repofiles.StoredError(name, err)
	}
	if err := prev.VerifyDelegate(metadata.ROOT, root); err != nil {
		return repofiles.StoredError(fmt.Sprintf("%d.root.json", v), fmt.Errorf("not signed by a threshold of root v%d's root keys: %v", v-1, err))
	}
	return nil
}

// Delegated returns kr's signers for delegated role n (a hash bin signs
// with the bins' keys, named PREFIX-* in errors), after checking that
// n's stored metadata, if any, is signed by a threshold of the keys its
// delegator gives it: a change never re-signs a role's tampered state.
func Delegated(tree *delegation.Tree, n *delegation.Role, kr keys.Keyring) ([]Signer, error) {
	if n.Meta != nil {
		if err := tree.CheckSigned(n); err != nil {
			return nil, err
		}
	}
	name := n.Name
	if n.Bins != nil {
		name = n.Bins.NamePrefix + "-*"
	}
	return For(kr, name, n.Keys())
}
