package client

import (
	"context"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/installed"
	"github.com/edgetuf/edgetuf/client/internal/keyaccess"
	"github.com/edgetuf/edgetuf/client/internal/sealed"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Encrypted versions (docs/encryption.md, docs/client.md): the content
// key is obtained before anything but the manifest's signed metadata is
// used (client/internal/sealed); a version whose key this device cannot
// get or open is skipped like an incompatible one.

// contentKey obtains cand's content key once per run.
func (u *run) contentKey(cand *candidate) error {
	if cand.key != nil {
		return nil
	}
	k := &sealed.Keys{Now: u.c.now, Ring: u.c.keys, Fetcher: &keyaccess.Fetcher{HTTP: u.c.opts.HTTPClient,
		TargetsURL: u.c.cfg.RepoURL + "/targets", KeyServer: u.c.opts.KeyServer}}
	var err error
	cand.key, cand.envelope, err = k.Open(u.ctx, cand.custom.Encrypted, u.req.ModelID, cand.version.String())
	return err
}

// keySkip reports whether err skips the version (KEY_UNAVAILABLE,
// DECRYPT_FAILED), logging its event; other errors stop the run.
func (u *run) keySkip(v string, err error) (*Error, bool) {
	code := CodeOf(err)
	if code != KeyUnavailable && code != DecryptFailed {
		return nil, false
	}
	ev := map[Code]string{KeyUnavailable: EventKeyUnavailable, DecryptFailed: EventDecryptFailed}[code]
	u.c.event(Event{Event: ev, ModelID: u.req.ModelID, FromVersion: u.res.FromVersion, ToVersion: v, Code: code})
	return codes.Errorf(code, nil, "%s", ReasonOf(err)), true
}

// fetchDecrypted obtains the encrypted payload file name of cand, to be
// installed as plaintext, into dest: the ciphertext is downloaded into
// staging like any target (wire part: resumable, hashed while written,
// bounded by its signed length), then decrypted into dest and checked
// against the signed plaintext; the ciphertext is removed after. A dest
// complete from an earlier run is used once it re-hashes.
func (u *run) fetchDecrypted(ctx context.Context, s interface {
	URLOf(*metadata.TargetFiles) string
}, cand *candidate,
	name string, wire, tf *metadata.TargetFiles, plain *targets.Plaintext, dest string, ff *FileFetch) error {
	if fi, err := u.p.FS.Lstat(dest); err == nil && fi.Size() == tf.Length && verifyStaged(dest, tf) == nil {
		return nil
	}
	if err := u.contentKey(cand); err != nil {
		return err
	}
	part := filepath.Join(u.p.StagingFor(cand.version.String()), wireDir, name+devstate.PartSuffix)
	if err := u.p.FS.MkdirAll(filepath.Dir(part), 0o700); err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staging")
	}
	// Decrypted as the downloader writes it (sealed.Follow), so that
	// decryption overlaps the transfer; the result stands only once the
	// download verified.
	feed, followed := sealed.NewFeed(), make(chan error, 1)
	go func() { followed <- sealed.Follow(ctx, part, dest, cand.key, plain, feed) }()
	dl := *u.c.dl
	dl.Observe, dl.Scratch = feed.Observe, true
	err := u.fetchWith(ctx, &dl, s.URLOf(wire), wire, part, name, ff)
	feed.Done()
	ferr := <-followed
	if err != nil {
		u.p.FS.Remove(dest)
		return err
	}
	if ferr != nil && !codes.IsStop(CodeOf(ferr)) {
		// Followed while the part was rewritten (a resume that found it
		// damaged, a server that ignored Range), or damaged: decrypt the
		// verified ciphertext once more.
		ferr = sealed.File(ctx, part, dest, cand.key, plain)
	}
	if ferr != nil {
		return ferr
	}
	u.p.FS.Remove(part)
	return nil
}

// wireDir holds, in a version's staging directory, the ciphertext of the
// files installed as plaintext (no payload file name starts with a dot).
const wireDir = ".ciphertext"

// verifyStaged re-hashes a staged file against tf.
func verifyStaged(path string, tf *metadata.TargetFiles) error {
	return installed.VerifyFile(path, tf, make([]byte, 1<<20))
}

// checkEncryptedAtRest, for an encrypted version installed encrypted,
// decrypts each staged payload file once to nowhere (a full
// authentication and plaintext check, whatever its source) and stores
// the version's envelope for OpenActive.
func (u *run) checkEncryptedAtRest(ctx context.Context, cand *candidate, plain map[string]*targets.Plaintext, stage string) error {
	if cand.custom.Encrypted == nil || !u.c.opts.EncryptedAtRest {
		return nil
	}
	if err := u.contentKey(cand); err != nil {
		return err
	}
	for _, name := range cand.custom.Files {
		if err := sealed.CheckFile(ctx, filepath.Join(stage, name+devstate.PartSuffix), cand.key, plain[name]); err != nil {
			return err
		}
	}
	return sealed.StoreEnvelope(u.p.FS, u.p.Envelope(cand.version.String()), cand.envelope)
}

// decryptFailed records a version whose payload did not decrypt
// (DECRYPT_FAILED: its ciphertext is what the signed metadata says, so
// the publisher encrypted it wrong) as skipped and as a failed
// verification, so that it is not fetched again and again, and drops
// its staging: the files of it already decrypted there are plaintext
// that no install will use; other errors pass.
func (u *run) decryptFailed(v string, err error) error {
	if CodeOf(err) == DecryptFailed {
		u.p.FS.RemoveAll(u.p.StagingFor(v))
		reason, _ := u.keySkip(v, err)
		u.res.Skipped = append(u.res.Skipped, Skipped{Version: v, Code: DecryptFailed, Reason: reason.Reason()})
		u.verifyFailed(v)
	}
	return err
}

// renewAhead is how long before its expiry the kept envelope of a version
// kept encrypted at rest is renewed.
const renewAhead = 12 * time.Hour

// renewEnvelope keeps the active version cand, installed encrypted at
// rest, readable: when its kept envelope does not open renewAhead from
// now (gone, damaged, or a key-service key that expires by then), it
// obtains a fresh one and keeps it. An envelope without expiry (fleet,
// device) is never fetched again while it opens.
func (u *run) renewEnvelope(cand *candidate) error {
	if cand.custom.Encrypted == nil || !u.c.opts.EncryptedAtRest {
		return nil
	}
	v := cand.version.String()
	env, err := devstate.ReadEnvelope(u.p.FS, u.c.dir, u.req.ModelID, v, modelcrypt.MaxEnvelopeSize)
	if err == nil {
		_, err = u.c.keys.Open(env, cand.custom.Encrypted, u.req.ModelID, v, u.c.now().Add(renewAhead))
	}
	if err == nil {
		return nil
	}
	if code := CodeOf(err); code != KeyUnavailable && code != DecryptFailed && code != StateInvalid {
		return err // the device key failed: nothing to renew with
	}
	if err := u.contentKey(cand); err != nil {
		return err
	}
	return sealed.StoreEnvelope(u.p.FS, u.p.Envelope(v), cand.envelope)
}
