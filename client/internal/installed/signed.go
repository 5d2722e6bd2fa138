package installed

import (
	"fmt"
	"os"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// CheckPatch resolves, through lookup (the session's signed targets), the
// patch ref names for file of the version custom describes, and checks,
// from signed metadata and the installed base's size only, that it may be
// used: a delta target of the same model, version and file, for the base
// ref names, smaller than the file; and the installed base file has the
// length the base version's signed target gives it.
func CheckPatch(lookup func(path string) (*metadata.TargetFiles, error), custom *targets.Custom, file string, tf *metadata.TargetFiles, ref targets.DeltaRef, basePath string) (patch, baseT *metadata.TargetFiles, err error) {
	m, v := custom.ModelID, custom.Version
	refuse := func(format string, args ...any) error {
		return codes.Errorf(codes.DeltaFailed, nil, "patch of %s %s %s from %s: %s", m, v, file, ref.Base, fmt.Sprintf(format, args...))
	}
	if want := targets.DeltaPath(m, v, ref.Base, file); ref.Target != want {
		return nil, nil, refuse("listed as %s, want %s", ref.Target, want)
	}
	patch, err = lookup(ref.Target)
	if err != nil {
		return nil, nil, err
	}
	pc, err := targets.ParseCustom(ref.Target, patch.Custom)
	if err != nil {
		return nil, nil, codes.Errorf(codes.DeltaFailed, err, "patch of %s %s %s from %s", m, v, file, ref.Base)
	}
	if pc.Kind != targets.KindDelta || pc.ModelID != m || pc.Version != v || pc.File != file || pc.BaseVersion != ref.Base {
		return nil, nil, refuse("its signed metadata describes a %s of %s %s %s from %q", pc.Kind, pc.ModelID, pc.Version, pc.File, pc.BaseVersion)
	}
	if patch.Length >= tf.Length {
		return nil, nil, refuse("%d bytes, not smaller than the %d-byte file", patch.Length, tf.Length)
	}
	bp := targets.TargetPath(m, ref.Base, file)
	baseT, err = lookup(bp)
	if err != nil {
		return nil, nil, err
	}
	if bc, err := targets.ParseCustom(bp, baseT.Custom); err != nil || bc.Kind != targets.KindPayload {
		return nil, nil, codes.Errorf(codes.DeltaFailed, err, "base %s is not a payload target", bp)
	}
	fi, err := os.Stat(basePath)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != baseT.Length {
		return nil, nil, codes.Errorf(codes.HashMismatch, err, "installed %s %s %s is missing or has the wrong size", m, ref.Base, file)
	}
	return patch, baseT, nil
}

// SignedFiles resolves, through lookup (the session's signed targets),
// every target of a version: its manifest target and each payload file
// its signed custom metadata lists, which must be a payload target.
func SignedFiles(lookup func(path string) (*metadata.TargetFiles, error), manifest *metadata.TargetFiles, custom *targets.Custom) (map[string]*metadata.TargetFiles, error) {
	out := map[string]*metadata.TargetFiles{targets.ManifestName: manifest}
	for _, name := range custom.Files {
		p := targets.TargetPath(custom.ModelID, custom.Version, name)
		tf, err := lookup(p)
		if err != nil {
			return nil, err
		}
		pc, err := targets.ParseCustom(p, tf.Custom)
		if err != nil || pc.Kind != targets.KindPayload {
			return nil, codes.Errorf(codes.ManifestInvalid, err, "%s is not a payload target of %s %s", p, custom.ModelID, custom.Version)
		}
		out[name] = tf
	}
	return out, nil
}
