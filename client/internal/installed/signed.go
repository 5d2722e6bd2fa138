package installed

import (
	"encoding/hex"
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
//
// The patch of an encrypted version is encrypted: its signed plaintext
// (returned as patchPlain) is what applies, and baseT is the base file's
// installed plaintext form when the base version is encrypted too.
func CheckPatch(lookup func(path string) (*metadata.TargetFiles, error), custom *targets.Custom, file string, tf *metadata.TargetFiles, ref targets.DeltaRef, basePath string) (patch, baseT *metadata.TargetFiles, patchPlain *targets.Plaintext, err error) {
	m, v := custom.ModelID, custom.Version
	refuse := func(format string, args ...any) error {
		return codes.Errorf(codes.DeltaFailed, nil, "patch of %s %s %s from %s: %s", m, v, file, ref.Base, fmt.Sprintf(format, args...))
	}
	if want := targets.DeltaPath(m, v, ref.Base, file); ref.Target != want {
		return nil, nil, nil, refuse("listed as %s, want %s", ref.Target, want)
	}
	patch, err = lookup(ref.Target)
	if err != nil {
		return nil, nil, nil, err
	}
	pc, err := targets.ParseCustom(ref.Target, patch.Custom)
	if err != nil {
		return nil, nil, nil, codes.Errorf(codes.DeltaFailed, err, "patch of %s %s %s from %s", m, v, file, ref.Base)
	}
	if pc.Kind != targets.KindDelta || pc.ModelID != m || pc.Version != v || pc.File != file || pc.BaseVersion != ref.Base {
		return nil, nil, nil, refuse("its signed metadata describes a %s of %s %s %s from %q", pc.Kind, pc.ModelID, pc.Version, pc.File, pc.BaseVersion)
	}
	if (pc.Plaintext != nil) != (custom.Encrypted != nil) {
		return nil, nil, nil, refuse("plaintext is signed for a patch of an encrypted version, and only there")
	}
	if patch.Length >= tf.Length {
		return nil, nil, nil, refuse("%d bytes, not smaller than the %d-byte file", patch.Length, tf.Length)
	}
	bp := targets.TargetPath(m, ref.Base, file)
	baseT, err = lookup(bp)
	if err != nil {
		return nil, nil, nil, err
	}
	bc, err := targets.ParseCustom(bp, baseT.Custom)
	if err != nil || bc.Kind != targets.KindPayload {
		return nil, nil, nil, codes.Errorf(codes.DeltaFailed, err, "base %s is not a payload target", bp)
	}
	if bc.Plaintext != nil {
		baseT = PlainTarget(baseT, bc.Plaintext)
	}
	fi, err := os.Stat(basePath)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != baseT.Length {
		return nil, nil, nil, codes.Errorf(codes.HashMismatch, err, "installed %s %s %s is missing or has the wrong size", m, ref.Base, file)
	}
	return patch, baseT, pc.Plaintext, nil
}

// SignedFiles resolves, through lookup (the session's signed targets),
// what each file of a version must be in its installed directory: the
// manifest target, and for each payload file its signed target, or, for
// an encrypted version installed as plaintext (encryptedAtRest false),
// its signed plaintext length and SHA-256 (PlainTarget). Every user of
// installed files (verification, local copies, rollback, verified
// reading) checks against this form; WireFiles gives what is downloaded.
func SignedFiles(lookup func(path string) (*metadata.TargetFiles, error), manifest *metadata.TargetFiles, custom *targets.Custom, encryptedAtRest bool) (map[string]*metadata.TargetFiles, error) {
	wire, plain, err := WireFiles(lookup, manifest, custom)
	if err != nil || encryptedAtRest {
		return wire, err
	}
	return PlainForm(wire, plain), nil
}

// WireFiles resolves, through lookup, every target of a version: its
// manifest target and each payload file its signed custom metadata lists,
// which must be a payload target; for an encrypted version (custom's
// Encrypted set) also each payload's signed plaintext, which every payload
// target of an encrypted version must have and none of another
// (MANIFEST_INVALID otherwise).
func WireFiles(lookup func(path string) (*metadata.TargetFiles, error), manifest *metadata.TargetFiles, custom *targets.Custom) (wire map[string]*metadata.TargetFiles, plain map[string]*targets.Plaintext, err error) {
	wire = map[string]*metadata.TargetFiles{targets.ManifestName: manifest}
	for _, name := range custom.Files {
		p := targets.TargetPath(custom.ModelID, custom.Version, name)
		tf, err := lookup(p)
		if err != nil {
			return nil, nil, err
		}
		pc, err := targets.ParseCustom(p, tf.Custom)
		if err != nil || pc.Kind != targets.KindPayload {
			return nil, nil, codes.Errorf(codes.ManifestInvalid, err, "%s is not a payload target of %s %s", p, custom.ModelID, custom.Version)
		}
		if (pc.Plaintext != nil) != (custom.Encrypted != nil) {
			return nil, nil, codes.Errorf(codes.ManifestInvalid, nil, "%s: plaintext is signed for a payload of an encrypted version, and only there", p)
		}
		wire[name] = tf
		if pc.Plaintext != nil {
			if plain == nil {
				plain = map[string]*targets.Plaintext{}
			}
			plain[name] = pc.Plaintext
		}
	}
	return wire, plain, nil
}

// PlainTarget is the installed form of an encrypted payload file (or
// patch) installed as plaintext: its signed plaintext length and SHA-256,
// with tf's custom metadata.
func PlainTarget(tf *metadata.TargetFiles, p *targets.Plaintext) *metadata.TargetFiles {
	sum, _ := hex.DecodeString(p.SHA256) // validated by targets.ParseCustom
	return &metadata.TargetFiles{Length: p.Length, Hashes: metadata.Hashes{"sha256": sum}, Path: tf.Path, Custom: tf.Custom}
}

// PlainForm is wire with each file that plain names in its plaintext form.
func PlainForm(wire map[string]*metadata.TargetFiles, plain map[string]*targets.Plaintext) map[string]*metadata.TargetFiles {
	if len(plain) == 0 {
		return wire
	}
	out := make(map[string]*metadata.TargetFiles, len(wire))
	for name, tf := range wire {
		out[name] = tf
		if p := plain[name]; p != nil {
			out[name] = PlainTarget(tf, p)
		}
	}
	return out
}
