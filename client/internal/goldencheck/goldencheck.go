// Package goldencheck runs the application's health command on an
// installed model version: once, or, when the version's manifest declares
// golden test vectors (the manifest's "health" section,
// targets.Health), once per vector, and compares what the command wrote
// with what the vector expects. A model whose files verify but which
// computes garbage fails here with HEALTHCHECK_FAILED, and package client
// rolls it back and marks it bad.
//
// The protocol (docs/client.md, section 5): the command is run as
// installed.RunHealthCommand runs it, with the vector in its environment:
// MCLIENT_VECTOR_NAME, MCLIENT_VECTOR_INPUT (the input file in the
// version's directory), MCLIENT_VECTOR_FORMAT (bytes or float32le) and
// MCLIENT_VECTOR_OUTPUT, a file the command must create. The output is
// read only up to the size the vector expects (never unbounded), through
// safefs (a link or a FIFO in its place is refused), and removed with
// its private directory afterwards.
//
// The manifest is read from the installed version, which was verified
// against signed metadata (hashed while downloaded in this run, or
// re-hashed before a trial is judged): nothing about the vectors comes
// from anywhere else.
package goldencheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/installed"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/targets"
)

// Environment variables that hand a vector to the health command.
const (
	EnvName   = "MCLIENT_VECTOR_NAME"
	EnvInput  = "MCLIENT_VECTOR_INPUT"
	EnvOutput = "MCLIENT_VECTOR_OUTPUT"
	EnvFormat = "MCLIENT_VECTOR_FORMAT"
)

// Check is the health check of one installed version.
type Check struct {
	// FS is the state directory; Dir the version's directory in it. The
	// vectors' outputs are written to a private directory beside Dir,
	// named so that a killed run's leftover is removed by devstate.Recover.
	FS  *safefs.FS
	Dir string
	// Command is the health command line ("" for none), Timeout the limit
	// of each run of it, Env what its environment gets besides the vector.
	Command string
	Timeout time.Duration
	Env     []string
	// Log gets a debug line per run of the command (nil: none).
	Log *slog.Logger
	// Open, when set, reads the version's payload files for the check: a
	// version kept encrypted at rest (verifiedread.Model.Open, decrypting
	// and verifying). Each vector's input is then handed to the command
	// as a decrypted copy in the private output directory, made only once
	// the whole input decrypted and verified, and removed with it; the
	// expected output is read through Open.
	Open func(name string) (io.ReadCloser, error)
}

// Run runs the check. Without vectors it runs the command once, if there
// is one. With vectors and no command it fails closed: the publisher
// asked for the check and nothing on the device can run it.
func (c Check) Run(ctx context.Context) error {
	m, err := c.manifest()
	if err != nil {
		return err
	}
	if m.Health == nil {
		if c.Command == "" {
			return nil
		}
		c.debug("")
		return installed.RunHealthCommand(ctx, c.Command, c.Dir, c.Timeout, c.Env...)
	}
	n := len(m.Health.Vectors)
	if c.Command == "" {
		return codes.Errorf(codes.HealthcheckFailed, nil, "the manifest declares %d test vectors and no health check command is configured to run them", n)
	}
	tmp, err := c.FS.MkdirTemp(filepath.Dir(c.Dir), devstate.InstallPrefix+"vectors-")
	if err != nil {
		return codes.Errorf(codes.StateInvalid, err, "making a directory for the test vectors' outputs")
	}
	defer c.FS.RemoveAll(tmp)
	for i := range m.Health.Vectors {
		v := &m.Health.Vectors[i]
		if err := c.runVector(ctx, m, v, filepath.Join(tmp, fmt.Sprintf("output-%d", i))); err != nil {
			return codes.Errorf(codes.CodeOf(err), err, "test vector %q (%d of %d)", v.Name, i+1, n)
		}
	}
	return nil
}

// manifest reads the installed version's manifest.
func (c Check) manifest() (*targets.Manifest, error) {
	data, err := c.FS.ReadFile(filepath.Join(c.Dir, targets.ManifestName), targets.MaxManifestSize)
	if err != nil {
		return nil, codes.Errorf(codes.HashMismatch, err, "installed manifest")
	}
	m, err := targets.ParsePublishedManifest(data)
	if err != nil {
		return nil, codes.Errorf(codes.ManifestInvalid, err, "installed manifest")
	}
	return m, nil
}

func (c Check) debug(vector string) {
	if c.Log == nil {
		return
	}
	if vector == "" {
		c.Log.Debug("health check", "command", c.Command)
		return
	}
	c.Log.Debug("health check", "command", c.Command, "vector", vector)
}

// runVector runs the command with v and judges the output it wrote to out.
func (c Check) runVector(ctx context.Context, m *targets.Manifest, v *targets.Vector, out string) error {
	input := filepath.Join(c.Dir, v.Input)
	if c.Open != nil {
		input = out + ".input"
		if err := c.decryptInput(v.Input, input); err != nil {
			return err
		}
	}
	env := append(append([]string(nil), c.Env...),
		EnvName+"="+v.Name, EnvInput+"="+input, EnvOutput+"="+out, EnvFormat+"="+v.Format)
	c.debug(v.Name)
	if err := installed.RunHealthCommand(ctx, c.Command, c.Dir, c.Timeout, env...); err != nil {
		return err
	}
	var expectSize int64
	if v.Expect != "" {
		expectSize = *m.File(v.Expect).Size // validated: listed, with a size
	}
	size := v.OutputSize(expectSize)
	got, err := c.FS.Open(out)
	if errors.Is(err, fs.ErrNotExist) && !safefs.IsUnsafe(err) {
		return failed("the health command wrote no output (%s)", EnvOutput)
	}
	if err != nil {
		return failed("output: %v", err)
	}
	defer got.Close()
	fi, err := got.Stat()
	if err != nil {
		return failed("output: %v", err)
	}
	if !fi.Mode().IsRegular() {
		return failed("output is not a regular file")
	}
	if fi.Size() != size {
		return failed("output is %d bytes, expected %d", fi.Size(), size)
	}
	cmp := comparer{v: v, size: size}
	if v.Expect == "" {
		return cmp.run(got)
	}
	want, err := c.openFile(v.Expect)
	if err != nil {
		return codes.Errorf(codes.CodeOf(err), err, "expected output %s", v.Expect)
	}
	defer want.Close()
	cmp.want = want
	if err := cmp.run(got); err != nil || c.Open == nil {
		return err
	}
	// A verified reader reports its hash check on the read after its
	// last byte (io.EOF: intact).
	if _, err := want.Read(make([]byte, 1)); err != io.EOF {
		return codes.Errorf(codes.CodeOf(err), err, "expected output %s", v.Expect)
	}
	return nil
}

// openFile opens a payload file of the version: through Open if set.
func (c Check) openFile(name string) (io.ReadCloser, error) {
	if c.Open != nil {
		return c.Open(name)
	}
	f, err := c.FS.Open(filepath.Join(c.Dir, name))
	if err != nil {
		return nil, codes.Errorf(codes.HashMismatch, err, "%s", name)
	}
	return f, nil
}

// decryptInput copies the payload file name, read through Open (so
// decrypted and verified in full), to path in the private output
// directory.
func (c Check) decryptInput(name, path string) error {
	r, err := c.Open(name)
	if err != nil {
		return codes.Errorf(codes.CodeOf(err), err, "input %s", name)
	}
	defer r.Close()
	w, err := c.FS.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return codes.Errorf(codes.StateInvalid, err, "copying the input %s", name)
	}
	_, err = io.Copy(w, r)
	if cerr := w.Close(); err == nil && cerr != nil {
		err = codes.Errorf(codes.StateInvalid, cerr, "copying the input %s", name)
	}
	if err != nil {
		c.FS.Remove(path)
		return codes.Errorf(codes.CodeOf(err), err, "input %s", name)
	}
	return nil
}

func failed(format string, args ...any) error {
	return codes.Errorf(codes.HealthcheckFailed, nil, format, args...)
}
