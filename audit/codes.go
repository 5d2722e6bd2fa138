package audit

// Code is a stable problem code of Verify: CI scripts match on it, and it
// is the "code" of each problem in `mrepo verify --json`. docs/error-codes.md
// (section 2) is the reference.
//
// These are the repository's codes, not the device's: package client has
// its own Code type with its own constants. Six names exist in both sets
// (HASH_MISMATCH, METADATA_INVALID, METADATA_EXPIRED,
// METADATA_SIGNATURE_INVALID, MANIFEST_INVALID, ROOT_CHAIN_BROKEN); the two Go types keep a
// repository problem from being compared with a device error by mistake,
// and each constant below says what a device reports for the same fault
// where that differs.
type Code string

// The problem codes, in the order Verify checks (root chain, timestamp,
// snapshot, targets roles, target files, model structure, the go-tuf
// cross-check).
const (
	// TrustedRootInvalid: the trusted root given to Verify does not parse,
	// has an unusable key, or is not signed by a threshold of its own root
	// keys.
	TrustedRootInvalid Code = "TRUSTED_ROOT_INVALID"
	// RootChainBroken: the repository's copy of the trusted root differs
	// from it, or a newer N.root.json does not parse, has the wrong
	// version, an unusable key, or is not signed by a threshold of the
	// previous root's keys and of its own, or a root version is missing
	// below a higher one. A device reports METADATA_SIGNATURE_INVALID or
	// ROLLBACK_REJECTED.
	RootChainBroken Code = "ROOT_CHAIN_BROKEN"
	// MetadataMissing: a metadata file a client fetches does not exist, or
	// the snapshot has no entry for a targets role (a delegated role that
	// was never signed).
	MetadataMissing Code = "METADATA_MISSING"
	// MetadataInvalid: a metadata file cannot be read, exceeds
	// repofiles.MaxMetadataSize or does not parse; an entry or role a
	// client needs is absent; a target has no SHA-256 hash or other hashes
	// besides it. Narrower than the device's METADATA_INVALID, which also
	// covers what Verify reports as MetadataHashMismatch.
	MetadataInvalid Code = "METADATA_INVALID"
	// MetadataTooLarge: a metadata file exceeds go-tuf's default client
	// size limit for its role (repofiles.ClientLimit). A device reports
	// LENGTH_EXCEEDED.
	MetadataTooLarge Code = "METADATA_TOO_LARGE"
	// MetadataSignatureInvalid: a role's valid signatures are fewer than
	// its threshold; the message names each key at fault. Unlike the
	// device's code of the same name, it covers every role: for targets
	// and delegated roles a device reports SIGNATURE_INVALID, and for a
	// broken root chain Verify reports RootChainBroken instead.
	MetadataSignatureInvalid Code = "METADATA_SIGNATURE_INVALID"
	// MetadataHashMismatch: the snapshot or a targets file does not match
	// the length or hash its parent records (mix-and-match). A device
	// reports METADATA_INVALID.
	MetadataHashMismatch Code = "METADATA_HASH_MISMATCH"
	// VersionMismatch: the snapshot's or a targets role's version differs
	// from the one its parent records. A device reports ROLLBACK_REJECTED.
	VersionMismatch Code = "VERSION_MISMATCH"
	// SinceInvalid: the snapshot version an incremental verify starts
	// from (Options.Since) cannot serve: missing, unparsable, newer than
	// the current one, or not signed by the current snapshot keys.
	SinceInvalid Code = "SINCE_INVALID"
	// RoleRolledBack: a targets role has a lower version in the current
	// snapshot than in the one an incremental verify starts from, or is
	// no longer listed. A device that saw the older snapshot reports
	// ROLLBACK_REJECTED.
	RoleRolledBack Code = "ROLE_ROLLED_BACK"
	// MetadataExpired: a role's metadata has expired at Options.Now. Same
	// meaning as the device's code.
	MetadataExpired Code = "METADATA_EXPIRED"
	// ExpiresSoon: a role expires within Options.ValidFor of Options.Now.
	ExpiresSoon Code = "EXPIRES_SOON"
	// DelegationViolation: a delegated role lists a target path it is not
	// delegated (outside its patterns, or in another hash bin): clients
	// never resolve it there.
	DelegationViolation Code = "DELEGATION_VIOLATION"
	// TargetMissing: a target file is absent at its consistent-snapshot
	// name under targets/, or cannot be read. A device reports
	// TARGET_NOT_FOUND.
	TargetMissing Code = "TARGET_MISSING"
	// LengthMismatch: a target file's length differs from its signed
	// length. A device reports LENGTH_EXCEEDED or NETWORK.
	LengthMismatch Code = "LENGTH_MISMATCH"
	// HashMismatch: a target file's SHA-256 differs from its signed hash,
	// in the repository. The device's code of the same name is about the
	// device's copy: a download, or an installed file (which there also
	// covers a missing, resized or unexpected file).
	HashMismatch Code = "HASH_MISMATCH"
	// CustomInvalid: a target under models/ has missing or invalid custom
	// metadata.
	CustomInvalid Code = "CUSTOM_INVALID"
	// ControlInvalid: a target's signed rollout control (rollout,
	// revoked, policy) is malformed (basis points out of range, a missing
	// or invalid salt, a bad time, device class or network, no reason),
	// present but not listed in critical (or listed but absent), or
	// carried by a payload or delta target. Devices refuse the version;
	// a device reports MANIFEST_INVALID for it.
	ControlInvalid Code = "CONTROL_INVALID"
	// ManifestInvalid: a manifest target's bytes verify but it is not a
	// valid published manifest. Narrower than the device's
	// MANIFEST_INVALID, which also covers what Verify reports as
	// ManifestMismatch.
	ManifestInvalid Code = "MANIFEST_INVALID"
	// ManifestMismatch: a version's manifest, its signed custom metadata
	// and its payload targets disagree, or payload targets have no
	// manifest. A device reports MANIFEST_INVALID.
	ManifestMismatch Code = "MANIFEST_MISMATCH"
	// ClientRejected: go-tuf's client, run over the repository as a second
	// opinion once Verify's own metadata checks pass, refuses it or
	// resolves a target to another length or hash.
	ClientRejected Code = "CLIENT_REJECTED"
	// VersionAmbiguous: two published versions of a model have equal
	// semver precedence (they differ only in build metadata) or differ
	// only in case: devices cannot order them.
	VersionAmbiguous Code = "VERSION_AMBIGUOUS"
	// DeltaUnlisted: a delta target (targets.KindDelta) is not listed in
	// its version's signed manifest deltas; devices never use it.
	DeltaUnlisted Code = "DELTA_UNLISTED"
	// DeltaMissing: a manifest's signed deltas list a patch that is not a
	// signed delta target.
	DeltaMissing Code = "DELTA_MISSING"
	// DeltaBadBase: a patch's base version or base file is not published,
	// or its header names another base than the signed one.
	DeltaBadBase Code = "DELTA_BAD_BASE"
	// DeltaInvalid: a patch's header does not parse, or names another
	// output than its version's signed payload, or it rebuilds a file that
	// is not a payload of its version.
	DeltaInvalid Code = "DELTA_INVALID"
	// EpochInvalid: a model's rollback epochs (targets.Custom.Epoch)
	// decrease in version order, or one is above targets.MaxEpoch. A
	// device with a hardware anti-rollback store refuses the versions
	// whose epoch is below its counter; with an epoch above the bound
	// the target's custom metadata does not parse and devices report
	// MANIFEST_INVALID.
	EpochInvalid Code = "EPOCH_INVALID"
	// EncryptionInvalid: an encrypted version's signed fields disagree:
	// its recipient is not a content key recipient, a payload or patch
	// lacks its plaintext length and SHA-256 (or one of a version that is
	// not encrypted has them), the manifest's encrypted field differs
	// from the signed custom metadata's, or a plaintext version has a
	// patch from an encrypted base (which reveals the base). Devices refuse the version
	// (MANIFEST_INVALID or DECRYPT_FAILED).
	EncryptionInvalid Code = "ENCRYPTION_INVALID"
	// EnvelopeInvalid: a file under a version's key envelope directory
	// (targets/models/<m>/<v>/keys/) is not a regular file named
	// <64 lowercase hex>.age of at most 4096 bytes holding an age file, or
	// envelopes lie beside a version that is not published encrypted for
	// delivery by envelopes. A device reports KEY_UNAVAILABLE or
	// DECRYPT_FAILED.
	EnvelopeInvalid Code = "ENVELOPE_INVALID"
	// VersionIndexInvalid: a model's version index target
	// (models/<model_id>/versions.json, targets.VersionIndex) is larger
	// than targets.MaxVersionIndexSize or does not parse. Devices that
	// list the model's versions from it fail (METADATA_INVALID) until it
	// is republished.
	VersionIndexInvalid Code = "VERSION_INDEX_INVALID"
	// VersionIndexMismatch: a model's version index names a version that
	// is not published, or does not name one that is: devices listing
	// versions from it do not see the missing one (a named version that
	// does not exist is looked up and not found); or, once any model has
	// an index, a model with versions in delegated roles has none (mrepo
	// add-target would take it for a model without versions there).
	VersionIndexMismatch Code = "VERSION_INDEX_MISMATCH"
	// SamplingInvalid: the telemetry sampling configuration
	// (telemetry.SamplingTarget) is larger than
	// telemetry.MaxSamplingBytes or does not parse (telemetry.ParseSampling:
	// unknown field, format, kind or group, a rate outside 1-10000 basis
	// points), or a role other than top-level targets lists it. Devices
	// ignore an invalid one and keep every report (telemetry.FullRate).
	SamplingInvalid Code = "SAMPLING_INVALID"
)
