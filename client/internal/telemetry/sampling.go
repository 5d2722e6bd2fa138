package telemetry

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Source is the refreshed TUF session the sampling configuration is read
// through (client/internal/tufsession.Session).
type Source interface {
	// TopTarget is a target the top-level targets role lists, or nil.
	TopTarget(path string) *metadata.TargetFiles
	// FetchTarget downloads a target, bounded by its signed length and
	// checked against it and its signed hashes.
	FetchTarget(tf *metadata.TargetFiles, max int64) ([]byte, error)
}

// LoadSampling reads the signed sampling configuration
// (telemetry.SamplingTarget, listed by the top-level targets role) through
// src, just refreshed, and keeps it in the outbox: absent, every report
// is kept (FullRate); unchanged (the same signed SHA-256 as the kept
// copy), nothing is downloaded; present but invalid, every report is kept
// and the problem logged. A download that fails keeps the previous
// configuration until the next run. Never an error: telemetry never fails
// an update.
func (r *Recorder) LoadSampling(src Source) {
	if r == nil {
		return
	}
	tf := src.TopTarget(telemetry.SamplingTarget)
	want := ""
	if tf != nil {
		want = hex.EncodeToString(tf.Hashes["sha256"])
	}
	cur := r.box.samplingSHA256() // cheap: this runs before activation
	if tf != nil && want != "" && want == cur {
		return // the kept copy is the signed one
	}
	if tf == nil && cur == "" {
		return
	}
	var sampling *telemetry.Sampling
	var doc []byte
	if tf != nil {
		data, err := src.FetchTarget(tf, telemetry.MaxSamplingBytes)
		if err != nil {
			r.log.Warn("telemetry sampling not updated", "error", err)
			return
		}
		if sampling, err = telemetry.ParseSampling(data); err != nil {
			r.log.Warn("telemetry sampling invalid: every report is kept", "error", err)
		} else {
			doc = data
		}
		sum := sha256.Sum256(data)
		want = hex.EncodeToString(sum[:])
	}
	r.box.change(func(s *State) bool {
		s.Sampling, s.SamplingDoc, s.SamplingSHA256 = sampling, doc, want
		return true
	})
}
