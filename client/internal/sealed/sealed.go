// Package sealed is the device side of encrypted versions
// (docs/encryption.md): it obtains and opens a version's key envelope
// (through client/internal/keyaccess and modelcrypt.OpenEnvelope), and
// decrypts a staged ciphertext (payload file or patch) into staging,
// bounded by and checked against the signed plaintext length and SHA-256,
// so that only fully verified plaintext ever leaves staging. Package
// client decides when; this package never touches a version directory.
package sealed

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/installed"
	"github.com/edgetuf/edgetuf/client/internal/keyaccess"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/internal/directio"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// Keys obtains the content keys of encrypted versions for this device.
type Keys struct {
	Fetcher *keyaccess.Fetcher
	// For returns the device's key for a delivery: the fleet key for
	// "fleet", the device key otherwise. nil with no error: this device
	// has none (KEY_UNAVAILABLE); an error: the key is configured but
	// cannot be used (a hardware fault: the run stops).
	For func(delivery string) (modelcrypt.DeviceKey, error)
	Now func() time.Time
}

// Open returns the content key of modelID@version (whose signed
// encryption field is enc) and the envelope it came in. Errors are
// *codes.Error: KEY_UNAVAILABLE (no key for this delivery, no envelope,
// the key service refused), DECRYPT_FAILED (an envelope this key cannot
// open, for another version, expired, or holding a key other than the
// signed one), DEVICE_KEY_UNAVAILABLE (the key failed), NETWORK or a stop.
func (k *Keys) Open(ctx context.Context, enc *targets.Encryption, modelID, version string) (*modelcrypt.ContentKey, []byte, error) {
	key, err := k.For(enc.Delivery)
	if err != nil {
		return nil, nil, codes.Errorf(codes.DeviceKeyUnavailable, err, "the %s key", enc.Delivery)
	}
	if key == nil {
		what := "device key (mclient device-key create)"
		if enc.Delivery == targets.DeliveryFleet {
			what = "fleet key (mclient init --fleet-key)"
		}
		return nil, nil, codes.Errorf(codes.KeyUnavailable, nil, "%s %s is encrypted for delivery %q and this device has no %s", modelID, version, enc.Delivery, what)
	}
	env, err := k.Fetcher.Envelope(ctx, enc.Delivery, modelID, version, key)
	if err != nil {
		return nil, nil, err
	}
	ck, err := modelcrypt.OpenEnvelope(env, key, modelID, version, enc.Recipient, k.Now())
	if err != nil {
		var me *modelcrypt.Error
		if errors.As(err, &me) {
			return nil, nil, codes.Errorf(codes.Code(me.Code), me.Err, "key envelope of %s %s", modelID, version)
		}
		return nil, nil, codes.Errorf(codes.DeviceKeyUnavailable, err, "opening the key envelope of %s %s", modelID, version)
	}
	return ck, env, nil
}

// writtenStep is how often decryption passes a crash point: every MiB
// written, as downloads do.
const writtenStep = 1 << 20

// File decrypts the staged ciphertext src into dst (created or truncated,
// 0600, in staging), writing at most plain.Length bytes, and checks the
// plaintext against plain; dst is fsynced. On any failure dst is removed:
// nothing unverified stays. Errors: DECRYPT_FAILED, a stop when ctx ends,
// or the filesystem's.
func File(ctx context.Context, src, dst string, key *modelcrypt.ContentKey, plain *targets.Plaintext) error {
	in, err := safefs.OpenFile(src, os.O_RDONLY, 0)
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staged ciphertext")
	}
	defer in.Close()
	out, err := safefs.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staging %s", filepath.Base(dst))
	}
	err = decryptTo(ctx, out, dst, in, key, plain)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = codes.Errorf(codes.ClassifyFS(cerr), cerr, "writing %s", filepath.Base(dst))
	}
	if err != nil {
		os.Remove(dst)
		return err
	}
	crashpoint.Hit("client.decrypt.done")
	return nil
}

func decryptTo(ctx context.Context, out *os.File, dst string, in io.Reader, key *modelcrypt.ContentKey, plain *targets.Plaintext) error {
	var w io.Writer = out
	dw := directio.Open(dst, out, 0)
	if dw != nil {
		defer dw.Close()
		w = dw
	}
	bw := bufio.NewWriterSize(&crashWriter{w: w}, 1<<20)
	if err := Check(ctx, in, bw, key, plain); err != nil {
		return err
	}
	err := bw.Flush()
	if err == nil && dw != nil {
		err = dw.Flush()
	}
	if err == nil {
		err = out.Sync()
	}
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "writing %s", filepath.Base(dst))
	}
	return nil
}

// Check decrypts src to dst (io.Discard for a verification pass) and
// checks the plaintext against plain (modelcrypt.DecryptVerified). It
// stops when ctx ends.
func Check(ctx context.Context, src io.Reader, dst io.Writer, key *modelcrypt.ContentKey, plain *targets.Plaintext) error {
	err := modelcrypt.DecryptVerified(dst, bufio.NewReaderSize(installed.ContextReader(ctx, src), 1<<20), key, plain.Length, plain.SHA256)
	if err != nil && ctx.Err() != nil {
		return codes.Errorf(codes.StopCode(ctx), ctx.Err(), "decrypting")
	}
	var me *modelcrypt.Error
	if errors.As(err, &me) {
		return codes.Errorf(codes.Code(me.Code), me.Err, "decrypting")
	}
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "decrypting")
	}
	return nil
}

// CheckFile is Check of the staged file path to io.Discard.
func CheckFile(ctx context.Context, path string, key *modelcrypt.ContentKey, plain *targets.Plaintext) error {
	f, err := safefs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staged ciphertext")
	}
	defer f.Close()
	return Check(ctx, f, io.Discard, key, plain)
}

// crashWriter passes the crash point client.decrypt.written every
// writtenStep bytes.
type crashWriter struct {
	w    io.Writer
	left int
}

func (c *crashWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.left -= n
	if c.left <= 0 {
		crashpoint.Hit("client.decrypt.written")
		c.left = writtenStep
	}
	return n, err
}

// StoreEnvelope writes env at path (devstate.ModelPaths.Envelope)
// atomically (write, fsync, rename, fsync the directory), in a 0700
// directory, 0600.
func StoreEnvelope(sfs *safefs.FS, path string, env []byte) error {
	if err := sfs.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "key envelope directory")
	}
	if err := atomicfs.WriteFile(afero.NewOsFs(), path, env, 0o600); err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "storing the key envelope %s", filepath.Base(path))
	}
	return nil
}

// Follow is File for a ciphertext that is still being downloaded into
// src: it decrypts what lands as it lands, so that decryption overlaps
// the transfer. landed signals (non-blocking sends) that more bytes may
// be there; fetched is closed when the download is over, whatever its
// outcome. It reads src from its start, so a download that resumes a
// staged part is followed from the beginning of that part. Its result
// stands only if the download verified too: a download that rewrote the
// part under it makes it fail (the caller then decrypts the verified
// ciphertext again with File). On any failure dst is removed.
func Follow(ctx context.Context, src, dst string, key *modelcrypt.ContentKey, plain *targets.Plaintext, landed, fetched <-chan struct{}) error {
	if err := waitFor(ctx, src, landed, fetched); err != nil {
		return err
	}
	in, err := safefs.OpenFile(src, os.O_RDONLY, 0)
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staged ciphertext")
	}
	defer in.Close()
	out, err := safefs.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staging %s", filepath.Base(dst))
	}
	err = decryptTo(ctx, out, dst, &tailReader{ctx: ctx, f: in, landed: landed, fetched: fetched}, key, plain)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = codes.Errorf(codes.ClassifyFS(cerr), cerr, "writing %s", filepath.Base(dst))
	}
	if err != nil {
		os.Remove(dst)
		return err
	}
	crashpoint.Hit("client.decrypt.done")
	return nil
}

// waitFor waits until the download has created src (or is over).
func waitFor(ctx context.Context, src string, landed, fetched <-chan struct{}) error {
	for {
		if _, err := os.Lstat(src); err == nil {
			return nil
		}
		select {
		case <-landed:
		case <-fetched:
			return nil
		case <-ctx.Done():
			return codes.Errorf(codes.StopCode(ctx), ctx.Err(), "decrypting")
		}
	}
}

// tailReader reads a file that another goroutine appends to: at its end
// it waits for more (landed) until the writer is done (fetched), then
// reads what is left and ends.
type tailReader struct {
	ctx     context.Context
	f       *os.File
	landed  <-chan struct{}
	fetched <-chan struct{}
	over    bool
}

func (t *tailReader) Read(p []byte) (int, error) {
	for {
		n, err := t.f.Read(p)
		if n > 0 || err != nil && err != io.EOF {
			return n, err
		}
		if t.over {
			return 0, io.EOF
		}
		select {
		case <-t.landed:
		case <-t.fetched:
			t.over = true
		case <-t.ctx.Done():
			return 0, t.ctx.Err()
		}
	}
}
