package codes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/edgetuf/edgetuf/internal/interrupt"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Code is a stable error code. Codes are part of the API: telemetry,
// scripts and dashboards match on them. docs/error-codes.md explains each.
type Code string

// Error codes.
const (
	// SignatureInvalid: the signatures of the role that signs model
	// targets (targets or a delegated role) do not meet its threshold.
	SignatureInvalid Code = "SIGNATURE_INVALID"
	// MetadataSignatureInvalid: root, timestamp or snapshot signatures do
	// not meet their threshold, or the root chain is broken.
	MetadataSignatureInvalid Code = "METADATA_SIGNATURE_INVALID"
	// MetadataExpired: the newest trusted metadata has expired (freeze attack
	// or a repository that is not re-signed).
	MetadataExpired Code = "METADATA_EXPIRED"
	// MetadataInvalid: metadata does not parse, or disagrees with what
	// references it (length, hash, version): mix-and-match.
	MetadataInvalid Code = "METADATA_INVALID"
	// RollbackRejected: metadata older than what the device already trusts
	// (a replayed timestamp, snapshot, targets or root). An older model
	// version is never a candidate, so it shows as up to date or as
	// POLICY_REJECTED (below the floor) instead.
	RollbackRejected Code = "ROLLBACK_REJECTED"
	// HashMismatch: a file's SHA-256 differs from the signed one.
	HashMismatch Code = "HASH_MISMATCH"
	// LengthExceeded: a server sent more bytes than the signed length.
	LengthExceeded Code = "LENGTH_EXCEEDED"
	// Incompatible: no published version is compatible with this device.
	Incompatible Code = "INCOMPATIBLE"
	// PolicyRejected: compatible versions exist but policy refuses them
	// (below the floor, marked bad).
	PolicyRejected Code = "POLICY_REJECTED"
	// InsufficientStorage: not enough free disk space.
	InsufficientStorage Code = "INSUFFICIENT_STORAGE"
	// HealthcheckFailed: the new version failed its health check; the
	// device switched back to the previous version.
	HealthcheckFailed Code = "HEALTHCHECK_FAILED"
	// RollbackTriggered: the device switched back to a previous version
	// (reported as an event; the update itself fails with HealthcheckFailed).
	RollbackTriggered Code = "ROLLBACK_TRIGGERED"
	// Network: the repository could not be reached or the transfer failed
	// after every retry.
	Network Code = "NETWORK"
	// TargetNotFound: the model, or one of its files, is not in the signed
	// metadata or not on the server.
	TargetNotFound Code = "TARGET_NOT_FOUND"
	// ManifestInvalid: the signed manifest does not parse or disagrees with
	// the signed metadata.
	ManifestInvalid Code = "MANIFEST_INVALID"
	// NoActiveModel: a command needs an active model and there is none.
	NoActiveModel Code = "NO_ACTIVE_MODEL"
	// StateInvalid: the state directory is missing, damaged or locked.
	StateInvalid Code = "STATE_INVALID"
	// DeltaFailed: a signed patch was refused or could not be applied (its
	// metadata does not match the file and base it is listed for, it is
	// malformed, or it hit a limit). Reported in delta_failed events and
	// Result.Files: the file is then downloaded whole.
	DeltaFailed Code = "DELTA_FAILED"
	// Cancelled: the run was stopped before it finished, by SIGINT or
	// SIGTERM (mclient) or by the caller's context (library). Nothing is
	// blamed: a version on trial stays on trial, partial downloads stay
	// staged, and the next run carries on.
	Cancelled Code = "CANCELLED"
	// Interrupted: the run was stopped by SIGINT or SIGTERM (mclient
	// exits 130 or 143): a context cancelled with an interrupt.Error as
	// its cause. Otherwise as CANCELLED, which is every other stop by
	// the caller.
	Interrupted Code = "INTERRUPTED"
	// AntiRollbackUnavailable: the hardware anti-rollback store (a TPM)
	// cannot be reached, or no longer holds the counters the state
	// directory says it has (cleared, reset, replaced): the device stops
	// (fail closed) until an operator re-provisions it.
	AntiRollbackUnavailable Code = "ANTI_ROLLBACK_UNAVAILABLE"
	// DecryptFailed: an encrypted version's payload or patch does not
	// decrypt: a wrong key, an envelope for another device or version, an
	// authentication tag that fails (a flipped byte, a truncated file,
	// chunks swapped), or a plaintext whose length or SHA-256 is not the
	// signed one (docs/encryption.md). The version is skipped like an
	// incompatible one; nothing decrypted leaves staging.
	DecryptFailed Code = "DECRYPT_FAILED"
	// KeyUnavailable: no content key for an encrypted version reaches
	// this device: no envelope is published for its key (not granted,
	// revoked), no fleet key or device key is configured, or the key
	// service refused. The version is skipped like an incompatible one.
	KeyUnavailable Code = "KEY_UNAVAILABLE"
	// DeviceKeyUnavailable: the device key (or fleet key) this device is
	// configured with cannot be opened or used (package devicekey: a TPM
	// or token fault, a damaged key file). The run stops (fail closed).
	DeviceKeyUnavailable Code = "DEVICE_KEY_UNAVAILABLE"
	// Busy: another process holds the state directory's lock (the
	// message names its PID); nothing was done, run again later.
	Busy Code = "BUSY"
	// RootChainBroken: with the root pinned in the device image
	// (init --root-readonly), a root cached in the state directory does
	// not chain from it; an update drops what does not chain, and the
	// next one re-bootstraps from the pinned root.
	RootChainBroken Code = "ROOT_CHAIN_BROKEN"
	// PinnedRootUnusable: the root pinned in the device image is missing,
	// unreadable, or not signed by its own threshold; nothing replaces it.
	PinnedRootUnusable Code = "PINNED_ROOT_UNUSABLE"

	// CohortExcluded: a version's signed rollout does not admit this
	// device (its cohort bucket, device class or the rollout's start
	// time). The version is skipped, not an error: a device that already
	// runs it keeps it.
	CohortExcluded Code = "COHORT_EXCLUDED"
	// Revoked: the version is revoked by signed metadata (the kill
	// switch). It is skipped and never downloaded; a staged or installed
	// copy that is not active is discarded; an active one is replaced by
	// the newest non-revoked version (event revoked_rollback). As the
	// error of a run: the active version is revoked and no other version
	// can replace it.
	Revoked Code = "REVOKED"

	// The deferrals: the update is not allowed now, nothing was
	// downloaded, and a later run tries again (mclient exits 75). Not
	// failures: the result's outcome is "deferred", and they never count
	// towards the backoff.

	// DeferredBattery: the signed policy needs more battery, or charging.
	DeferredBattery Code = "DEFERRED_BATTERY"
	// DeferredNetwork: no network, or one the signed policy does not allow.
	DeferredNetwork Code = "DEFERRED_NETWORK"
	// DeferredMetered: the signed policy needs an unmetered network for a
	// download this large.
	DeferredMetered Code = "DEFERRED_METERED"
	// DeferredStorage: the free space the device reports cannot hold the
	// download.
	DeferredStorage Code = "DEFERRED_STORAGE"
	// DeferredUserSettings: the device's user settings forbid it now
	// (automatic updates off, Wi-Fi only on another network).
	DeferredUserSettings Code = "DEFERRED_USER_SETTINGS"
	// DeferredQuietWindow: now is within the user's quiet window.
	DeferredQuietWindow Code = "DEFERRED_QUIET_WINDOW"
	// DeferredVerifyFailures: the version failed verification from the
	// network Options.MaxVerifyFailures times; it is not tried again
	// before a day has passed.
	DeferredVerifyFailures Code = "DEFERRED_VERIFY_FAILURES"
	// Backoff: earlier runs failed and the next attempt is not due yet
	// (Result.NotBefore); UpdateRequest.Force (mclient update --force)
	// runs anyway.
	Backoff Code = "BACKOFF"
)

// IsDeferral reports whether code is a deferral (DEFERRED_* or BACKOFF):
// the update did not run now, downloaded nothing, and will be tried again.
func IsDeferral(code Code) bool {
	switch code {
	case DeferredBattery, DeferredNetwork, DeferredMetered, DeferredStorage, DeferredUserSettings,
		DeferredQuietWindow, DeferredVerifyFailures, Backoff:
		return true
	}
	return false
}

// Error is every error the device library returns.
type Error struct {
	Code Code
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	return string(e.Code) + ": " + e.Reason()
}

// Reason is the message without the code: what went wrong and why, with
// the causes it wraps. A wrapped *Error contributes its reason only, so a
// code is never repeated.
func (e *Error) Reason() string {
	if e.Err == nil {
		return e.Msg
	}
	cause := e.Err.Error()
	var inner *Error
	if errors.As(e.Err, &inner) && inner == e.Err {
		cause = inner.Reason()
	}
	if e.Msg == "" || strings.HasPrefix(cause, e.Msg) {
		return cause
	}
	return e.Msg + ": " + cause
}

// ReasonOf is err's message without its code.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e == err {
		return e.Reason()
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorCode is the code, for callers that know no Code type (the CLI's
// JSON errors).
func (e *Error) ErrorCode() string { return string(e.Code) }

// IsStop reports whether code is a stop by the caller, not a failure:
// CANCELLED or INTERRUPTED.
func IsStop(code Code) bool { return code == Cancelled || code == Interrupted }

// StopCode is the code of work stopped because ctx ended by the caller's
// doing: INTERRUPTED if a signal ended it, CANCELLED otherwise.
func StopCode(ctx context.Context) Code {
	if _, ok := interrupt.Cause(ctx); ok {
		return Interrupted
	}
	return Cancelled
}

// Errorf is an *Error with code, the formatted message and the cause err.
func Errorf(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Err: err}
}

// CodeOf returns the code of an error from the device library, or "" for nil.
// Errors from elsewhere are classified as well as they can be.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Classify(err)
}

// Own is the code err carries (an *Error inside it), else def.
func Own(err error, def Code) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return def
}

// Wrap gives err a code, keeping one it already has.
func Wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return Errorf(Classify(err), err, format, args...)
}

// Classify maps go-tuf's, the network's and the filesystem's errors to
// codes by their types, never by their text; an *Error inside (from a
// fetcher, through go-tuf) keeps its own code. go-tuf's errors are mapped
// as for metadata of an unknown role: the TUF session maps the errors it
// gets from go-tuf with TUFCode, naming the role it was processing.
func Classify(err error) Code { return TUFCode(err, "") }

// TUFCode maps err to a code by its type. role is the TUF role whose
// metadata was being loaded or verified when err occurred
// (metadata.TARGETS for a delegated role; "" if unknown): go-tuf reports
// some faults with one type whatever the role, and only the caller knows
// which role it was processing (see tufsession.Session.refreshRole).
//
// Where go-tuf's types do not tell two faults apart and the role does not
// either, the comments say so; the code chosen then refuses the update
// like the other would, and is never TARGET_NOT_FOUND (a lookup skips such
// a candidate and the metadata is kept as consistent, see select.go and
// update.go) nor NETWORK (retried).
func TUFCode(err error, role string) Code {
	var own *Error
	if errors.As(err, &own) {
		return own.Code
	}
	if _, ok := interrupt.Of(err); ok {
		return Interrupted // a transfer cut short by a signal, whatever wraps it
	}
	var (
		unsigned *metadata.ErrUnsignedMetadata
		expired  *metadata.ErrExpiredMetadata
		badVer   *metadata.ErrBadVersionNumber
		lenHash  *metadata.ErrLengthOrHashMismatch
		repo     *metadata.ErrRepository
		dlLen    *metadata.ErrDownloadLengthMismatch
		dlHTTP   *metadata.ErrDownloadHTTP
		dl       *metadata.ErrDownload
		value    *metadata.ErrValue
		typ      *metadata.ErrType
		runtime  *metadata.ErrRuntime
		syn      *json.SyntaxError
		jtype    *json.UnmarshalTypeError
		urlErr   *url.Error
		netErr   net.Error
	)
	// errors.As matches each concrete type only (go-tuf's Is methods, which
	// make ErrUnsignedMetadata "is" an ErrRepository, play no part), so the
	// order below does not matter among go-tuf's types.
	switch {
	case errors.As(err, &unsigned):
		// Fewer valid signatures than the threshold: one type for every
		// role. Root, timestamp and snapshot sign the repository as a
		// whole; targets and delegated roles sign model targets. With no
		// role known, the repository's code.
		if role == metadata.TARGETS {
			return SignatureInvalid
		}
		return MetadataSignatureInvalid
	case errors.As(err, &expired):
		return MetadataExpired
	case errors.As(err, &badVer):
		// One type (and its subtype ErrEqualVersionNumber, which go-tuf's
		// Refresh handles itself) for metadata older than the trusted copy
		// (a replay) and for metadata whose version disagrees with what
		// references it (root N+2 served as N+1; a snapshot or targets
		// version other than the one timestamp or snapshot names: mix and
		// match). No type tells them apart: both are ROLLBACK_REJECTED.
		return RollbackRejected
	case errors.As(err, &lenHash):
		return MetadataInvalid // disagrees with the length or hashes that reference it
	case errors.As(err, &repo):
		// A bare ErrRepository (its subtypes are matched above). go-tuf
		// raises it for a new snapshot that lacks a role the trusted
		// snapshot lists, for a role the snapshot does not list, and for
		// metadata of another _type (unreachable: FromBytes checks _type
		// first, with ErrValue). No type tells them apart; only the first
		// happens while a snapshot is verified, and it is a rollback (the
		// role's metadata would lose its version protection).
		if role == metadata.SNAPSHOT {
			return RollbackRejected
		}
		return MetadataInvalid
	case errors.As(err, &dlLen):
		return LengthExceeded
	case errors.As(err, &dlHTTP):
		if dlHTTP.StatusCode == http.StatusNotFound {
			return TargetNotFound
		}
		return Network
	case errors.As(err, &dl):
		return Network
	case errors.As(err, &value), errors.As(err, &typ), errors.As(err, &runtime), errors.As(err, &syn), errors.As(err, &jtype):
		return MetadataInvalid
	case errors.Is(err, syscall.ENOSPC):
		return InsufficientStorage
	case errors.As(err, &urlErr), errors.As(err, &netErr), errors.Is(err, context.DeadlineExceeded):
		return Network
	case errors.Is(err, os.ErrNotExist):
		return StateInvalid
	}
	// Anything else fails closed. go-tuf also returns untyped errors
	// ("role targets not found in snapshot", "trusted timestamp not set"):
	// metadata the client cannot use.
	return MetadataInvalid
}

// ClassifyFS gives filesystem errors their code: a full disk is
// INSUFFICIENT_STORAGE, anything else a damaged state directory.
func ClassifyFS(err error) Code {
	if c := Classify(err); c == InsufficientStorage {
		return c
	}
	return StateInvalid
}
