// Package report is what an update reports: the Result of a run, how
// each file was obtained (FileFetch), the versions passed over (Skipped),
// and the bounded form of a Result that a model's state.json keeps.
// Package client exports these types under the same names.
package report

import "github.com/edgetuf/edgetuf/client/internal/codes"

// Code is a stable error code (client.Code).
type Code = codes.Code

// Result reports an update, a rollback or a failure.
type Result struct {
	Time    string `json:"time"`
	ModelID string `json:"model_id"`
	Outcome string `json:"outcome"`
	// Version is the active version afterwards ("" if none), Path its directory.
	Version     string `json:"version,omitempty"`
	Path        string `json:"path,omitempty"`
	FromVersion string `json:"from_version,omitempty"`
	ToVersion   string `json:"to_version,omitempty"`
	// BytesDownloaded counts bytes received from the network in this run,
	// patches included; BytesResumed those already in staging and kept
	// after re-hashing.
	BytesDownloaded int64 `json:"bytes_downloaded"`
	BytesResumed    int64 `json:"bytes_resumed,omitempty"`
	// Files says how each file of the version was obtained in this run:
	// downloaded whole, rebuilt with a patch from an installed version, or
	// downloaded whole after a patch failed. Empty when nothing had to be
	// fetched.
	Files []FileFetch `json:"files,omitempty"`
	// Skipped lists the versions newer than the active one that this
	// device did not take, and why (INCOMPATIBLE, POLICY_REJECTED,
	// COHORT_EXCLUDED, REVOKED, and for an encrypted version KEY_UNAVAILABLE or
	// DECRYPT_FAILED).
	Skipped []Skipped `json:"skipped,omitempty"`
	// SkippedTotal and FilesTotal are set only in a result stored on the
	// device (Status's LastResult) whose lists were cut: it keeps the
	// first 20 skipped versions and the first 100 files, and these say how
	// many there were.
	SkippedTotal int `json:"skipped_total,omitempty"`
	FilesTotal   int `json:"files_total,omitempty"`
	// Code and Message (the reason, without the code) describe a failure.
	Code    Code   `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// NotBefore (RFC 3339, UTC) is when the next attempt is due after a
	// failure that schedules a backoff, or a run refused by one (BACKOFF).
	NotBefore string `json:"not_before,omitempty"`
}

// Skipped is a published version an update passed over.
type Skipped struct {
	Version string `json:"version"`
	Code    Code   `json:"code"`
	Reason  string `json:"reason"`
}

// How a file of the version being installed was obtained (FileFetch.Method).
const (
	// MethodFull: the file was downloaded whole (or found complete in
	// staging).
	MethodFull = "full"
	// MethodDelta: the file was rebuilt from the same file of an installed
	// version (FileFetch.Base) with a signed patch.
	MethodDelta = "delta"
	// MethodDeltaFallback: a patch was tried and abandoned
	// (FileFetch.Code says why); the file was then downloaded whole.
	MethodDeltaFallback = "delta-fallback"
	// MethodLocal: a file installed on the device (of any version of any
	// model: FileFetch.SourceModel and SourceVersion) has the file's
	// signed SHA-256 and length; it was copied and checked, nothing
	// downloaded.
	MethodLocal = "local"
	// MethodLocalFallback: such a file was copied but did not verify (it
	// was damaged; FileFetch.Code says why); the file was then fetched.
	MethodLocalFallback = "local-fallback"
)

// FileFetch reports how one file of the version an update installs was
// obtained in this run.
type FileFetch struct {
	File   string `json:"file"`
	Method string `json:"method"`
	// Base is the installed version the patch applies to (delta and
	// delta-fallback).
	Base string `json:"base,omitempty"`
	// SourceModel and SourceVersion name the installed version whose file
	// was copied (local and local-fallback).
	SourceModel   string `json:"source_model,omitempty"`
	SourceVersion string `json:"source_version,omitempty"`
	// Code and Message say why the patch or local copy was abandoned
	// (delta-fallback, local-fallback).
	Code    Code   `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// Bytes counts the bytes received from the network for this file in
	// this run, its patch included.
	Bytes int64 `json:"bytes"`
	// PatchBytes counts the bytes of the patch among them.
	PatchBytes int64 `json:"patch_bytes,omitempty"`
	// Length is the file's signed length: what a full download transfers.
	Length int64 `json:"length"`
}

// MaxStoredSkipped and MaxStoredFiles bound the lists of a stored result;
// Result.SkippedTotal and FilesTotal keep the counts. MaxStoredText bounds
// each message and reason of a stored result.
const (
	MaxStoredSkipped = 20
	MaxStoredFiles   = 100
	MaxStoredText    = 1024
)

// Stored is r as state.json keeps it: at most MaxStoredSkipped
// skipped versions and MaxStoredFiles files (with their totals), and no
// text longer than MaxStoredText.
func Stored(r *Result) *Result {
	if r == nil {
		return nil
	}
	c := *r
	c.Message = clip(c.Message)
	if len(c.Skipped) > MaxStoredSkipped {
		c.SkippedTotal = len(c.Skipped)
	}
	c.Skipped = nil
	for _, sk := range r.Skipped[:min(len(r.Skipped), MaxStoredSkipped)] {
		sk.Reason = clip(sk.Reason)
		c.Skipped = append(c.Skipped, sk)
	}
	if len(c.Files) > MaxStoredFiles {
		c.FilesTotal = len(c.Files)
	}
	c.Files = nil
	for _, f := range r.Files[:min(len(r.Files), MaxStoredFiles)] {
		f.Message = clip(f.Message)
		c.Files = append(c.Files, f)
	}
	return &c
}

func clip(s string) string {
	if len(s) <= MaxStoredText {
		return s
	}
	// Cut on a rune boundary.
	n := MaxStoredText - len("...")
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}

// Event is one line of the event log. It carries the model, versions,
// error code and the coarse device class only: no device ID, no payload
// data, no inputs or outputs, so the log can be shipped as telemetry.
type Event struct {
	Time        string `json:"time"`
	Event       string `json:"event"`
	ModelID     string `json:"model_id"`
	FromVersion string `json:"from_version,omitempty"`
	ToVersion   string `json:"to_version,omitempty"`
	Code        Code   `json:"code,omitempty"`
	DeviceClass string `json:"device_class"`
	// Bytes is the number of bytes transferred (downloaded, repaired and
	// delta_applied events).
	Bytes int64 `json:"bytes,omitempty"`
	// Reason says why (deferred, revoked, cohort_excluded events): the
	// signed reason of a revocation, or which condition deferred an update.
	Reason string `json:"reason,omitempty"`
	// NotBefore is the next attempt time (backoff and deferred events).
	NotBefore string `json:"not_before,omitempty"`
}
