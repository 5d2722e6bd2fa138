// Package listing lists the published versions of a model for the
// device, newest first (versions.NewerFirst), from signed metadata only.
//
// In a repository whose top-level targets delegates through succinct hash
// bins and lists the model's version index (targets.VersionIndex), the
// index names the versions and each one is resolved on demand, newest
// first, by the TUF lookup of its own manifest (one bin): a device that
// stops at the first version it can use downloads the bin of the index,
// the index, and the bins of the manifests it looked at, whatever the
// number of models in the repository. Everything used about a version
// comes from its own lookup: a wrong index can hide a version, or name
// one that does not exist (skipped, TARGET_NOT_FOUND), never make the
// device accept anything. Without an index, every role that may sign a
// manifest of the model is loaded and every manifest it lists resolved
// (tufsession.LoadRolesFor), as before bins had indexes.
//
// A device with a hardware rollback epoch store resolves every listed
// version either way: whether the epoch admits a version depends on the
// epochs of all of them (epochgate.Filter).
//
// It never imports package client, nor anything repository-side.
package listing

import (
	"iter"
	"sort"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/epochgate"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"github.com/edgetuf/edgetuf/client/internal/versions"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Entry is one published version of a model, from its signed manifest
// target.
type Entry struct {
	Version  targets.Version
	Manifest *metadata.TargetFiles
	Custom   *targets.Custom
}

// MaxSkips is how many versions named by an index without a manifest a
// List reports (Skipped): an index of up to 1 MiB can name some 80,000
// versions, and one error kept for each held 40 MB of a device's memory.
// Those past the bound are looked up and passed over all the same.
const MaxSkips = 100

// Skip is a version the index names whose manifest the lookup does not
// find (a TARGET_NOT_FOUND error saying why).
type Skip struct {
	Version string
	Err     *codes.Error
}

// List is a model's published versions, newest first, as the caller's
// T (made of each Entry by make). Resolving a version can fail (a bin
// that does not download or verify): the list then ends there and Err
// reports why; a caller checks Err after walking it.
type List[T any] struct {
	s       *tufsession.Session
	modelID string
	make    func(Entry) T
	items   []*T              // resolved, newest first
	names   []string          // with an index: versions not yet resolved, newest first
	byName  map[string]*T     // resolved versions (nil: no usable manifest)
	named   map[string]bool   // the versions the index names
	looked  map[string]*Entry // versions looked up, each once (nil: none usable)
	indexed bool
	err     error
	skipped []Skip
}

// Open lists modelID's versions in session s. With an index, the
// versions in also (the active one) are listed too, whether the index
// names them or not: the device always sees its active version's own
// manifest (a revocation, a rollout change). gate filters by hardware
// epoch (nil: none).
func Open[T any](s *tufsession.Session, modelID string, gate *epochgate.Gate, also []string, make func(Entry) T) (*List[T], error) {
	l := &List[T]{s: s, modelID: modelID, make: make, byName: map[string]*T{}, looked: map[string]*Entry{}}
	vi, err := s.VersionIndex(modelID)
	if err != nil {
		return nil, err
	}
	var entries []Entry
	if vi == nil {
		entries, err = allManifests(s, modelID)
	} else {
		l.indexed, l.names, l.named = true, indexNames(vi.Versions, also), map[string]bool{}
		for _, v := range vi.Versions {
			l.named[v] = true
		}
		if !gate.KeepsEpochs() {
			return l, nil
		}
		entries, err = l.resolveAll()
	}
	if err != nil {
		return nil, err
	}
	entries = versions.DropCaseCollisions(entries, func(e Entry) targets.Version { return e.Version })
	entries, err = epochgate.Filter(gate, modelID, entries, func(e Entry) epochgate.Listed {
		return epochgate.Listed{Version: e.Version, Epoch: e.Custom.Epoch, Revoked: e.Custom.Revoked != nil}
	})
	if err != nil {
		return nil, err
	}
	// Every version is resolved and filtered by the epoch now: Find must
	// not look up one the filter dropped (l.indexed false: Find answers
	// from what is listed).
	l.names, l.indexed = nil, false
	for _, e := range entries {
		l.add(e)
	}
	return l, nil
}

// indexNames are the versions to resolve, newest first: those the index
// names and those in also, without versions a case-insensitive
// filesystem could not hold side by side (versions.DropCaseCollisions).
func indexNames(indexed, also []string) []string {
	seen := map[string]bool{}
	var vs []targets.Version
	for _, s := range append(append([]string{}, indexed...), also...) {
		if v, err := targets.ParseVersion(s); err == nil && !seen[v.String()] {
			seen[v.String()] = true
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return versions.NewerFirst(vs[i], vs[j]) })
	vs = versions.DropCaseCollisions(vs, func(v targets.Version) targets.Version { return v })
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}

// add appends a resolved version (the T Find made of it, if it did).
func (l *List[T]) add(e Entry) {
	t := l.byName[e.Version.String()]
	if t == nil {
		made := l.make(e)
		t = &made
		l.byName[e.Version.String()] = t
	}
	l.items = append(l.items, t)
}

// resolveAll resolves every version the index names, newest first.
func (l *List[T]) resolveAll() ([]Entry, error) {
	var out []Entry
	for _, v := range l.names {
		e, err := l.lookup(v)
		if err != nil {
			return nil, err
		}
		if e != nil {
			out = append(out, *e)
		}
	}
	return out, nil
}

// more resolves the next version the index names; false when there is
// none left or resolving failed (Err).
func (l *List[T]) more() bool {
	for l.err == nil && len(l.names) > 0 {
		v := l.names[0]
		l.names = l.names[1:]
		e, err := l.lookup(v)
		if err != nil {
			l.err = err
			return false
		}
		if e != nil {
			l.add(*e)
			return true
		}
	}
	return false
}

// lookup resolves version v by the TUF lookup of its manifest target: nil
// if it has none the device may act on (not found, recorded as skipped
// if the index names it).
func (l *List[T]) lookup(v string) (*Entry, error) {
	if e, ok := l.looked[v]; ok {
		return e, nil
	}
	e, err := entry(l.s, targets.ManifestPath(l.modelID, v), v)
	if ce, ok := err.(*codes.Error); ok && ce.Code == codes.TargetNotFound {
		if l.named[v] && len(l.skipped) < MaxSkips {
			l.skipped = append(l.skipped, Skip{Version: v, Err: ce})
		}
		e, err = nil, nil
	}
	if err == nil {
		l.looked[v] = e
	}
	return e, err
}

// entry resolves the manifest target mp of version v through the
// delegation tree: nil if it is nothing the device may act on (not a
// manifest, too large), a TARGET_NOT_FOUND error if no role trusted for
// the path lists it.
func entry(s *tufsession.Session, mp, v string) (*Entry, error) {
	tf, err := s.TargetInfo(mp)
	if err != nil {
		return nil, err
	}
	custom, err := targets.ParseCustom(mp, tf.Custom)
	if err != nil || custom.Kind != targets.KindManifest || tf.Length > targets.MaxManifestSize {
		return nil, nil
	}
	ver, err := targets.ParseVersion(v)
	if err != nil {
		return nil, nil
	}
	return &Entry{Version: ver, Manifest: tf, Custom: custom}, nil
}

// At is the i-th version, newest first (nil past the end or if resolving
// failed: Err).
func (l *List[T]) At(i int) *T {
	for i >= len(l.items) && l.more() {
	}
	if i < len(l.items) {
		return l.items[i]
	}
	return nil
}

// All walks the versions newest first, resolving each on demand; the walk
// ends early if resolving fails (Err).
func (l *List[T]) All() iter.Seq2[int, *T] {
	return func(yield func(int, *T) bool) {
		for i := 0; ; i++ {
			t := l.At(i)
			if t == nil || !yield(i, t) {
				return
			}
		}
	}
}

// Find is version v (nil if it has no usable manifest): with an index
// and no hardware epoch, found by the lookup of its own manifest whether
// the index names it or not (an installed version's revocation is always
// seen); otherwise among the listed versions (those the epoch admits).
func (l *List[T]) Find(v string) *T {
	if t, ok := l.byName[v]; ok || !l.indexed || l.err != nil {
		return t
	}
	e, err := l.lookup(v)
	if err != nil {
		l.err = err
		return nil
	}
	var t *T
	if e != nil {
		made := l.make(*e)
		t = &made
	}
	l.byName[v] = t
	return t
}

// Err is why resolving a version failed, if it did.
func (l *List[T]) Err() error { return l.err }

// Skipped are the versions the index names that were looked up and not
// found, so far (at most MaxSkips of them).
func (l *List[T]) Skipped() []Skip { return l.skipped }

// allManifests resolves every manifest of the model that a role loaded
// by LoadRolesFor lists, through the delegation tree with the TUF lookup
// (pre-order, depth first, in delegation order, stopping after a
// terminating delegation), and uses only the entry that lookup returns:
// a version listed by a role that is not trusted for its path, or
// shadowed by an earlier role, is never used. Newest first.
func allManifests(s *tufsession.Session, modelID string) ([]Entry, error) {
	if err := s.LoadRolesFor(modelID); err != nil {
		return nil, err
	}
	var out []Entry
	for p := range s.AllLoadedTargets() {
		pp, err := targets.ParseTargetPath(p)
		if err != nil || pp.ModelID != modelID || pp.File != targets.ManifestName {
			continue
		}
		e, err := entry(s, p, pp.Version)
		if codes.CodeOf(err) == codes.TargetNotFound {
			continue // listed by a role that is not trusted for it
		}
		if err != nil {
			return nil, err
		}
		if e != nil {
			out = append(out, *e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return versions.NewerFirst(out[i].Version, out[j].Version) })
	return out, nil
}
