package client

import (
	"encoding/json"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/report"

	"github.com/edgetuf/edgetuf/targets"
)

// Event names, one per state transition.
const (
	EventChecked    = "checked"
	EventUpToDate   = "up_to_date"
	EventDownloaded = "downloaded"
	EventVerified   = "verified"
	EventActivated  = "activated"
	EventConfirmed  = "confirmed"
	EventRolledBack = "rolled_back"
	EventRepaired   = "repaired"
	EventFailed     = "failed"
	// EventDeltaApplied: a payload file was rebuilt from an installed
	// version (from_version) with a signed patch; bytes is the patch's
	// bytes received.
	EventDeltaApplied = "delta_applied"
	// EventDeltaFailed: a patch was abandoned (code says why) and the file
	// is downloaded whole instead.
	EventDeltaFailed = "delta_failed"
	// EventLocalCopy: a file was copied from a file installed on the
	// device with its signed SHA-256 and length, of version from_version
	// (reason names its model), instead of downloaded; EventLocalCopyFailed:
	// that copy did not verify (code says why) and the file is fetched.
	EventLocalCopy       = "local_copy"
	EventLocalCopyFailed = "local_copy_failed"
	// EventStateReset: a model's state.json could not be read (damaged,
	// cut short, too large, or not a regular file). It was set aside as
	// state.json.damaged and replaced: its last result was dropped, and
	// its bad-version marks kept if they could be read, else every version
	// published at the next update counts as bad (code STATE_INVALID).
	EventStateReset = "state_reset"
	// EventCohortExcluded: a version's signed rollout does not admit this
	// device (code COHORT_EXCLUDED); the reason never names the device ID
	// or its cohort bucket.
	EventCohortExcluded = "cohort_excluded"
	// EventDeferred: the update was deferred (a DEFERRED_* code, or
	// BACKOFF), nothing was downloaded.
	EventDeferred = "deferred"
	// EventBackoff: a failed run scheduled the next attempt (not_before);
	// code is the failure's.
	EventBackoff = "backoff"
	// EventRevoked: a revoked version was skipped, or its staged or
	// installed copy discarded (code REVOKED).
	EventRevoked = "revoked"
	// EventRevokedRollback: the active version is revoked; the device
	// stepped down from from_version to to_version, below its former
	// anti-rollback floor (code REVOKED).
	EventRevokedRollback = "revoked_rollback"
	// EventKeyUnavailable and EventDecryptFailed: an encrypted version
	// was skipped (code KEY_UNAVAILABLE or DECRYPT_FAILED): no key for
	// this device, or a key or payload that does not decrypt.
	EventKeyUnavailable = "key_unavailable"
	EventDecryptFailed  = "decrypt_failed"
)

// Event is one line of the event log (client/internal/report): the model,
// versions, error code and coarse device class only, so the log can be
// shipped as telemetry.
type Event = report.Event

// event appends one event, durably. Logging never fails an update; a
// log that is a link or a special file is neither followed nor opened
// (checkState refuses the run before that), and the rotated copy is only
// ever renamed over, which replaces a link without following it.
func (c *Client) event(e Event) {
	e.Time = c.now().UTC().Format(targets.TimeFormat)
	e.DeviceClass = c.cfg.DeviceClass
	line, err := json.Marshal(e)
	if err != nil {
		return
	}
	devstate.AppendEvent(c.dir, line)
	c.tele.Observe(e)
	attrs := []any{"model_id", e.ModelID}
	for _, kv := range [][2]string{{"from", e.FromVersion}, {"to", e.ToVersion}, {"code", string(e.Code)}, {"reason", e.Reason}} {
		if kv[1] != "" {
			attrs = append(attrs, kv[0], kv[1])
		}
	}
	if e.Bytes > 0 {
		attrs = append(attrs, "bytes", e.Bytes)
	}
	c.opts.Logger.Debug(e.Event, attrs...) // the event, as a log record too
}
