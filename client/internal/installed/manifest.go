package installed

import (
	"encoding/hex"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"reflect"
)

// CheckManifest verifies the downloaded (and already hash-checked)
// manifest against the signed metadata: it must describe exactly the
// version and files that the signed custom metadata and targets describe.
// fs is the plaintext form of the version's files (PlainForm): the
// manifest of an encrypted version gives each file's plaintext size and
// SHA-256, and its encrypted field is the signed custom one.
func CheckManifest(sfs *safefs.FS, path string, custom *targets.Custom, fs map[string]*metadata.TargetFiles) error {
	data, err := sfs.ReadFile(path, targets.MaxManifestSize)
	if err != nil {
		return codes.Errorf(codes.StateInvalid, err, "reading the manifest")
	}
	m, err := targets.ParsePublishedManifest(data)
	if err != nil {
		return codes.Errorf(codes.ManifestInvalid, err, "manifest of %s %s", custom.ModelID, custom.Version)
	}
	bad := func(format string, args ...any) error {
		return codes.Errorf(codes.ManifestInvalid, nil, "manifest of %s %s: %s", custom.ModelID, custom.Version, fmt.Sprintf(format, args...))
	}
	if m.ModelID != custom.ModelID || m.Version != custom.Version {
		return bad("names %s %s", m.ModelID, m.Version)
	}
	if fmt.Sprint(m.SortedFileNames()) != fmt.Sprint(custom.Files) {
		return bad("lists other files than the signed metadata")
	}
	if !reflect.DeepEqual(m.Compat, custom.Compat) {
		return bad("compatibility fields differ from the signed metadata")
	}
	if !reflect.DeepEqual(m.Encrypted, custom.Encrypted) {
		return bad("its encrypted field differs from the signed metadata")
	}
	for _, f := range m.Files {
		tf := fs[f.Path]
		if tf == nil || *f.Size != tf.Length || f.SHA256 != hex.EncodeToString(tf.Hashes["sha256"]) {
			return bad("%s: size or hash differs from the signed target", f.Path)
		}
	}
	return nil
}
