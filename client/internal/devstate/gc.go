package devstate

import (
	"errors"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/targets"
	"os"
	"path/filepath"
	"sort"
)

// Recover cleans what a killed process may have left: temporary files and
// half-built install directories. Partial downloads stay for resuming.
// Each leftover is removed itself, never followed (a link is removed).
func Recover(stateDir string, p ModelPaths) error {
	// The anti-rollback store's, go-tuf's (tuf_tmp*) and the kept key
	// envelopes' temporary files too.
	for _, d := range []string{p.Dir, stateDir, filepath.Join(stateDir, AntiRollbackDir), filepath.Join(stateDir, MetadataDir), p.Keys} {
		if d == "" {
			continue
		}
		entries, err := p.FS.ReadDir(d)
		if errors.Is(err, os.ErrNotExist) && !safefs.IsUnsafe(err) {
			continue
		}
		if err != nil {
			return codes.Errorf(codes.StateInvalid, err, "cleaning up %s", d)
		}
		for _, e := range entries {
			if IsRecoverTemp(e.Name()) {
				if err := p.FS.RemoveAll(filepath.Join(d, e.Name())); err != nil {
					return codes.Errorf(codes.StateInvalid, err, "cleaning up")
				}
			}
		}
	}
	return nil
}

// GC keeps at most keep installed versions: the active one, the previous
// one, then the newest others that are not marked bad. It also drops
// staging for other versions. Nothing is followed: an entry of the model
// directory that is a link is not a version (it is left alone), and
// removals act on the entries themselves.
func GC(p ModelPaths, ptr *Pointer, keep int, current string, bad func(string) bool) {
	entries, err := p.FS.ReadDir(p.Dir)
	if err != nil {
		return
	}
	var installed []targets.Version
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if v, err := targets.ParseVersion(e.Name()); err == nil {
			installed = append(installed, v)
		}
	}
	sort.Slice(installed, func(i, j int) bool { return installed[i].Compare(installed[j]) > 0 })
	kept := map[string]bool{}
	if ptr != nil {
		kept[ptr.Version] = true
		if ptr.Previous != "" && len(kept) < keep {
			kept[ptr.Previous] = true
		}
	}
	for _, v := range installed {
		if len(kept) >= keep {
			break
		}
		if !bad(v.String()) {
			kept[v.String()] = true
		}
	}
	for _, v := range installed {
		if kept[v.String()] {
			continue
		}
		// Rename first: a version directory is complete or absent, and a
		// removal cut short leaves only a hidden name that recover deletes.
		hidden := filepath.Join(p.Dir, InstallPrefix+"gc-"+v.String())
		if p.FS.Rename(p.Version(v.String()), hidden) == nil {
			crashpoint.Hit("client.gc.hidden")
			SyncDir(p.Dir)
			p.FS.RemoveAll(hidden)
			dropEnvelope(p, v.String())
		}
	}
	if staged, err := p.FS.ReadDir(p.Staging); err == nil {
		for _, e := range staged {
			if e.Name() != current {
				p.FS.RemoveAll(filepath.Join(p.Staging, e.Name()))
			}
		}
	}
}

// RecoverVersion picks the version to run when a model's active pointer
// is lost (client's loadPointer): the floor (the newest version confirmed
// here) if it is installed and no mark that can still be read names it,
// else the newest installed version not bad; nil when none is installed.
func RecoverVersion(p ModelPaths, floor targets.Version, haveFloor bool, markedBad, isBad func(string) bool) (*targets.Version, error) {
	entries, err := p.FS.ReadDir(p.Dir)
	if err != nil {
		return nil, codes.Errorf(codes.StateInvalid, err, "listing %s", p.Dir)
	}
	var best *targets.Version
	for _, e := range entries {
		v, verr := targets.ParseVersion(e.Name())
		if verr != nil || !e.IsDir() {
			continue
		}
		// The floor was confirmed here: it is restored unless a mark
		// that can still be read names it, even when a damaged
		// state.json lost the others (then every other version counts as
		// bad). It is health-checked again before it is confirmed.
		if haveFloor && v.Compare(floor) == 0 && !markedBad(v.String()) {
			return &v, nil
		}
		if isBad(v.String()) {
			continue
		}
		if best == nil || v.Compare(*best) > 0 {
			best = &v
		}
	}
	return best, nil
}

// DiscardVersion removes the staged and the installed copy of version v
// (a revoked one) and reports whether there was any.
func DiscardVersion(p ModelPaths, v string) (bool, error) {
	discarded := false
	if _, err := p.FS.Lstat(p.StagingFor(v)); err == nil {
		if err := p.FS.RemoveAll(p.StagingFor(v)); err != nil {
			return false, codes.Errorf(codes.StateInvalid, err, "discarding the staged revoked %s", v)
		}
		discarded = true
	}
	if fi, err := p.FS.Lstat(p.Version(v)); err == nil && fi.IsDir() {
		hidden := filepath.Join(p.Dir, InstallPrefix+"gc-"+v)
		p.FS.RemoveAll(hidden)
		if err := p.FS.Rename(p.Version(v), hidden); err != nil {
			return false, codes.Errorf(codes.StateInvalid, err, "discarding the revoked %s", v)
		}
		SyncDir(p.Dir)
		p.FS.RemoveAll(hidden)
		discarded = true
	}
	dropEnvelope(p, v)
	return discarded, nil
}

// dropEnvelope removes the kept key envelope of v, if v was installed
// encrypted at rest: it goes with the version.
func dropEnvelope(p ModelPaths, v string) {
	if p.Keys != "" {
		p.FS.Remove(p.Envelope(v))
	}
}

// LocalVersions are the versions of the model with an installed or a
// staged copy on the device, ordered by less (newest first with
// versions.NewerFirst), each once.
func LocalVersions(p ModelPaths, less func(a, b targets.Version) bool) []string {
	seen := map[string]bool{}
	var vs []targets.Version
	for _, dir := range []string{p.Dir, p.Staging} {
		entries, _ := p.FS.ReadDir(dir)
		for _, e := range entries {
			if v, err := targets.ParseVersion(e.Name()); err == nil && e.IsDir() && !seen[v.String()] && v.String() == e.Name() {
				seen[v.String()] = true
				vs = append(vs, v)
			}
		}
	}
	sort.Slice(vs, func(i, j int) bool { return less(vs[i], vs[j]) })
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}
