package status

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Sampling is the repository's signed telemetry sampling configuration,
// target telemetry.SamplingTarget of top-level targets, as published.
type Sampling struct {
	Target string `json:"target"`
	Length int64  `json:"length"`
	SHA256 string `json:"sha256"`
	// Config is the parsed document; Error, when it cannot be used, says
	// why (mrepo verify reports SAMPLING_INVALID; devices keep every
	// report, as without a config).
	Config *telemetry.Sampling `json:"config,omitempty"`
	Error  string              `json:"error,omitempty"`
}

// ReadSampling reads the sampling configuration that top (top-level
// targets) lists, from the repository in dir: nil if it lists none. The
// file's read is bounded by telemetry.MaxSamplingBytes, and its length
// and SHA-256 must be the signed ones. It does not check top's
// signatures: mrepo verify does.
func ReadSampling(fs afero.Fs, dir string, top *metadata.Metadata[metadata.TargetsType]) *Sampling {
	tf := top.Signed.Targets[telemetry.SamplingTarget]
	if tf == nil {
		return nil
	}
	sum := tf.Hashes["sha256"]
	s := &Sampling{Target: telemetry.SamplingTarget, Length: tf.Length, SHA256: hex.EncodeToString(sum)}
	data, err := readSigned(fs, dir, tf.Length, sum)
	if err == nil {
		s.Config, err = telemetry.ParseSampling(data)
	}
	if err != nil {
		s.Error = err.Error()
	}
	return s
}

// readSigned reads the stored bytes of the sampling target, which must
// have the signed length and SHA-256.
func readSigned(fs afero.Fs, dir string, length int64, sum []byte) ([]byte, error) {
	if length < 0 || length > telemetry.MaxSamplingBytes || len(sum) != sha256.Size {
		return nil, fmt.Errorf("signed length %d (at most %d) or SHA-256 unusable", length, telemetry.MaxSamplingBytes)
	}
	p := filepath.Join(dir, repofiles.TargetsDir, filepath.FromSlash(repofiles.ConsistentName(telemetry.SamplingTarget, sum)))
	f, err := fs.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, length+1))
	if err != nil {
		return nil, err
	}
	if got := sha256.Sum256(data); int64(len(data)) != length || !bytes.Equal(got[:], sum) {
		return nil, fmt.Errorf("%s: length or SHA-256 differs from the signed ones", p)
	}
	return data, nil
}

// Describe is a sampling configuration in one line: "default 10%,
// failure 100%, crash 100%".
func (s *Sampling) Describe() string {
	if s.Config == nil {
		return "INVALID: " + s.Error
	}
	parts := []string{"default " + targets.FormatPercent(s.Config.Default) + "%"}
	for _, k := range slices.Sorted(maps.Keys(s.Config.Rates)) {
		parts = append(parts, k+" "+targets.FormatPercent(s.Config.Rates[k])+"%")
	}
	return strings.Join(parts, ", ")
}
