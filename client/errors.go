package client

import "github.com/edgetuf/edgetuf/client/internal/codes"

// The error vocabulary of the device library. It is defined in
// client/internal/codes, so that the library's internal packages return
// the same typed errors; these are its public names, which telemetry,
// scripts and dashboards match on. docs/error-codes.md explains each code.

// Code is a stable error code (see above and docs/error-codes.md).
type Code = codes.Code

// Error is every error this package returns: a Code, a message, a cause.
type Error = codes.Error

// Error codes (see client/internal/codes for what each means).
const (
	SignatureInvalid         = codes.SignatureInvalid
	MetadataSignatureInvalid = codes.MetadataSignatureInvalid
	MetadataExpired          = codes.MetadataExpired
	MetadataInvalid          = codes.MetadataInvalid
	RollbackRejected         = codes.RollbackRejected
	HashMismatch             = codes.HashMismatch
	LengthExceeded           = codes.LengthExceeded
	Incompatible             = codes.Incompatible
	PolicyRejected           = codes.PolicyRejected
	InsufficientStorage      = codes.InsufficientStorage
	HealthcheckFailed        = codes.HealthcheckFailed
	RollbackTriggered        = codes.RollbackTriggered
	Network                  = codes.Network
	TargetNotFound           = codes.TargetNotFound
	ManifestInvalid          = codes.ManifestInvalid
	NoActiveModel            = codes.NoActiveModel
	StateInvalid             = codes.StateInvalid
	DeltaFailed              = codes.DeltaFailed
	Cancelled                = codes.Cancelled
	Interrupted              = codes.Interrupted
	Busy                     = codes.Busy
	RootChainBroken          = codes.RootChainBroken
	PinnedRootUnusable       = codes.PinnedRootUnusable
	AntiRollbackUnavailable  = codes.AntiRollbackUnavailable
	CohortExcluded           = codes.CohortExcluded
	Revoked                  = codes.Revoked
	DeferredBattery          = codes.DeferredBattery
	DeferredNetwork          = codes.DeferredNetwork
	DeferredMetered          = codes.DeferredMetered
	DeferredStorage          = codes.DeferredStorage
	DeferredUserSettings     = codes.DeferredUserSettings
	DeferredQuietWindow      = codes.DeferredQuietWindow
	DeferredVerifyFailures   = codes.DeferredVerifyFailures
	Backoff                  = codes.Backoff
	DecryptFailed            = codes.DecryptFailed
	KeyUnavailable           = codes.KeyUnavailable
	DeviceKeyUnavailable     = codes.DeviceKeyUnavailable
)

// IsDeferral reports whether code is a deferral (DEFERRED_* or BACKOFF):
// the update did not run now, downloaded nothing, and will be tried again.
func IsDeferral(code Code) bool { return codes.IsDeferral(code) }

// ReasonOf is err's message without its code.
func ReasonOf(err error) string { return codes.ReasonOf(err) }

// CodeOf returns the code of an error from this package, or "" for nil.
// Errors from elsewhere are classified as well as they can be.
func CodeOf(err error) Code { return codes.CodeOf(err) }
