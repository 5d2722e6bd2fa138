package client

import (
	"context"
	"errors"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// activate switches to the installed candidate on trial, runs the health
// check, and either confirms the version (raising the anti-rollback floor
// and cleaning up old versions) or switches back and marks it bad.
func (u *run) activate(ctx context.Context, s *tufsession.Session, cand *candidate) error {
	v := cand.version.String()
	next := devstate.Pointer{ModelID: u.req.ModelID, Version: v, Trial: true}
	if u.ptr != nil {
		next.Previous = u.ptr.Version
	}
	if err := devstate.WritePointer(u.p, next, u.c.now()); err != nil {
		return codes.Errorf(StateInvalid, err, "activating %s", v)
	}
	u.c.event(Event{Event: EventActivated, ModelID: u.req.ModelID, FromVersion: u.res.FromVersion, ToVersion: v})
	if err := u.healthCheck(ctx, v, nil); err != nil {
		if CodeOf(err) == Cancelled {
			// Stopped, not failed: the version stays active on trial,
			// and the next update checks it again (resolveTrial).
			u.ptr = &next
			return err
		}
		return u.rollBack(v, err)
	}
	return u.confirm(next)
}

// confirm ends a trial: the version is healthy.
func (u *run) confirm(ptr devstate.Pointer) error {
	v, _ := targets.ParseVersion(ptr.Version)
	ptr.Trial = false
	if err := devstate.WritePointer(u.p, ptr, u.c.now()); err != nil {
		return codes.Errorf(StateInvalid, err, "confirming %s", ptr.Version)
	}
	if err := u.c.store.Raise(u.req.ModelID, v); err != nil {
		return codes.Errorf(StateInvalid, err, "raising the anti-rollback floor")
	}
	u.ptr = &ptr
	u.c.event(Event{Event: EventConfirmed, ModelID: u.req.ModelID, FromVersion: u.res.FromVersion, ToVersion: ptr.Version})
	u.c.gc(u.p, &ptr, u.req.Keep, ptr.Version, u.ms.isBad)
	return nil
}

// rollBack returns to the version that was active before bad, marks bad
// so it is never retried, and reports cause as HEALTHCHECK_FAILED.
func (u *run) rollBack(bad string, cause error) error {
	u.ms.markBad(bad)
	if err := u.c.saveModelState(u.p, u.req.ModelID, u.ptr, u.ms); err != nil {
		return codes.Errorf(StateInvalid, err, "marking %s bad", bad)
	}
	prev := ""
	if u.ptr != nil && u.ptr.Version != bad {
		prev = u.ptr.Version
		if err := devstate.WritePointer(u.p, *u.ptr, u.c.now()); err != nil {
			return codes.Errorf(StateInvalid, err, "switching back to %s", prev)
		}
	} else if u.ptr != nil && u.ptr.Previous != "" {
		prev = u.ptr.Previous
		if err := devstate.WritePointer(u.p, devstate.Pointer{ModelID: u.req.ModelID, Version: prev}, u.c.now()); err != nil {
			return codes.Errorf(StateInvalid, err, "switching back to %s", prev)
		}
	} else if err := u.p.FS.Remove(u.p.Pointer()); err != nil && !os.IsNotExist(err) {
		return codes.Errorf(StateInvalid, err, "deactivating %s", bad)
	}
	u.res.Outcome = OutcomeRolledBack
	restored, _ := devstate.ReadPointer(u.p, u.req.ModelID)
	u.c.gc(u.p, restored, u.req.Keep, "", u.ms.isBad)
	u.c.event(Event{Event: EventRolledBack, ModelID: u.req.ModelID, FromVersion: bad, ToVersion: prev, Code: RollbackTriggered})
	return codes.Errorf(HealthcheckFailed, cause, "%s %s failed its health check; back on %s", u.req.ModelID, bad, orNone(prev))
}

func orNone(v string) string {
	if v == "" {
		return "no version"
	}
	return v
}

// resolveTrial judges a version a killed process left on trial: it is
// confirmed if it passes the health check now, otherwise rolled back.
func (u *run) resolveTrial(ctx context.Context) error {
	trial := *u.ptr
	var prev *devstate.Pointer
	if trial.Previous != "" {
		prev = &devstate.Pointer{ModelID: trial.ModelID, Version: trial.Previous}
	}
	s, err := u.c.session(true)
	var fs map[string]*metadata.TargetFiles
	if err == nil {
		err = s.Refresh()
	}
	if err == nil {
		fs, err = u.c.signedFiles(s, u.req.ModelID, trial.Version)
	}
	if err == nil {
		err = u.healthCheck(ctx, trial.Version, fs)
	}
	if CodeOf(err) == Cancelled {
		return err // stopped again: still on trial, never blamed
	}
	if err != nil {
		u.ptr = prev
		rerr := u.rollBack(trial.Version, err)
		if CodeOf(rerr) != HealthcheckFailed {
			return rerr
		}
		// Go on from the previous version: a newer good version may be
		// published. Unless one is installed, the run reports rerr.
		u.trialErr = rerr
		u.res.Outcome = ""
		u.res.FromVersion = orEmpty(prev)
		return nil
	}
	return u.confirm(trial)
}

func orEmpty(p *devstate.Pointer) string {
	if p == nil {
		return ""
	}
	return p.Version
}

// healthCheck runs the built-in checks and the configured command. With
// fs nil, the files were verified against signed metadata while they were
// downloaded in this run, and only their presence and sizes are checked;
// otherwise every file is re-hashed against fs.
func (u *run) healthCheck(ctx context.Context, v string, fs map[string]*metadata.TargetFiles) error {
	crashpoint.Hit("client.healthcheck")
	dir := u.p.Version(v)
	if fs != nil {
		if err := verifyDir(ctx, u.p.FS, dir, fs); err != nil {
			return err
		}
	} else if err := checkSizes(u.p.FS, dir); err != nil {
		return err
	}
	if u.req.HealthCheck == "" {
		return nil
	}
	return runHealthCommand(ctx, u.req.HealthCheck, dir, u.req.HealthTimeout,
		"MCLIENT_MODEL_ID="+u.req.ModelID, "MCLIENT_MODEL_VERSION="+v, "MCLIENT_MODEL_DIR="+dir)
}

// checkSizesSigned checks, without reading them, that the signed files
// and nothing else are in dir, each a regular file with its signed length.
func checkSizesSigned(sfs *safefs.FS, dir string, fs map[string]*metadata.TargetFiles) error {
	entries, err := sfs.ReadDir(dir)
	if err != nil {
		return codes.Errorf(HashMismatch, err, "installed version")
	}
	for _, e := range entries {
		if fs[e.Name()] == nil {
			return codes.Errorf(HashMismatch, nil, "%s: unexpected file %s", dir, e.Name())
		}
	}
	for name, tf := range fs {
		fi, err := sfs.Lstat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != tf.Length {
			return codes.Errorf(HashMismatch, err, "%s is missing, not a regular file, or has the wrong size", name)
		}
	}
	return nil
}

// checkSizes checks that every file the installed manifest lists is there,
// a regular file with its size.
func checkSizes(sfs *safefs.FS, dir string) error {
	data, err := sfs.ReadFile(filepath.Join(dir, targets.ManifestName), targets.MaxManifestSize)
	if err != nil {
		return codes.Errorf(HashMismatch, err, "installed manifest")
	}
	m, err := targets.ParsePublishedManifest(data)
	if err != nil {
		return codes.Errorf(ManifestInvalid, err, "installed manifest")
	}
	for _, f := range m.Files {
		fi, err := sfs.Lstat(filepath.Join(dir, f.Path))
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != *f.Size {
			return codes.Errorf(HashMismatch, err, "%s is missing, not a regular file, or has the wrong size", f.Path)
		}
	}
	return nil
}

// runHealthCommand runs `/bin/sh -c 'CMD "$@"' health-check DIR`: the
// command line CMD with dir appended as its last argument (quoted, so any
// path works), and env added to the environment. It runs in its own
// process group so that a timeout kills everything it started.
//
// Only the check's own time limit is the version's fault: when ctx ends
// first (a signal, or the library caller's cancellation or deadline) the
// check is killed and the error is CANCELLED, so that the version stays on
// trial and is checked again by the next run.
func runHealthCommand(parent context.Context, command, dir string, timeout time.Duration, env ...string) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command+` "$@"`, "health-check", dir)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil && parent.Err() != nil {
		return codes.Errorf(Cancelled, parent.Err(), "health check of %s interrupted", dir)
	}
	if ctx.Err() == context.DeadlineExceeded {
		return codes.Errorf(HealthcheckFailed, nil, "health check timed out after %s", timeout)
	}
	if err != nil {
		// The command's last words are the useful part: after the status.
		msg := fmt.Sprintf("health check %q: %v", command, err)
		if tail := strings.TrimSpace(out.String()); tail != "" {
			msg += ": " + strings.Join(strings.Fields(tail), " ")
		}
		return codes.Errorf(HealthcheckFailed, nil, "%s", msg)
	}
	return nil
}

// tailBuffer keeps the last 2 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 2048 {
		t.b = t.b[len(t.b)-2048:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// signedFiles resolves a version's targets from signed metadata.
func (c *Client) signedFiles(s *tufsession.Session, modelID, v string) (map[string]*metadata.TargetFiles, error) {
	mp := targets.ManifestPath(modelID, v)
	tf, err := s.TargetInfo(mp)
	if err != nil {
		return nil, err
	}
	custom, err := targets.ParseCustom(mp, tf.Custom)
	if err != nil || custom.Kind != targets.KindManifest {
		return nil, codes.Errorf(ManifestInvalid, err, "%s", mp)
	}
	ver, _ := targets.ParseVersion(v)
	return files(s, &candidate{version: ver, manifest: tf, custom: custom})
}

// verifyDir re-hashes an installed version against signed metadata: every
// signed file present, a regular file with its length and SHA-256, and
// nothing else. It stops with CANCELLED when ctx ends.
func verifyDir(ctx context.Context, sfs *safefs.FS, dir string, fs map[string]*metadata.TargetFiles) error {
	entries, err := sfs.ReadDir(dir)
	if err != nil {
		return codes.Errorf(HashMismatch, err, "installed version")
	}
	for _, e := range entries {
		if fs[e.Name()] == nil {
			return codes.Errorf(HashMismatch, nil, "%s: unexpected file %s", dir, e.Name())
		}
	}
	names := make([]string, 0, len(fs))
	for n := range fs {
		names = append(names, n)
	}
	sort.Strings(names)
	buf := make([]byte, 1<<20)
	for _, name := range names {
		if err := verifyFileIn(ctx, sfs, filepath.Join(dir, name), fs[name], buf); err != nil {
			return err
		}
	}
	return nil
}

// verifyFile checks one file against its signed length and SHA-256; path
// is not followed if it is a link, and must be a regular file.
func verifyFile(path string, tf *metadata.TargetFiles, buf []byte) error {
	return verifyFileIn(context.Background(), safefs.New(filepath.Dir(path)), path, tf, buf)
}

func verifyFileIn(ctx context.Context, sfs *safefs.FS, path string, tf *metadata.TargetFiles, buf []byte) error {
	name := filepath.Base(path)
	// A FIFO or device file is refused before it is opened (opening a
	// FIFO blocks), a link is not followed.
	f, err := sfs.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) && !safefs.IsUnsafe(err) {
		return codes.Errorf(HashMismatch, err, "%s is missing", name)
	}
	if err != nil {
		return codes.Errorf(HashMismatch, err, "%s is not a regular file", name)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return codes.Errorf(HashMismatch, err, "%s is not a regular file", name)
	}
	h := transport.NewTargetHash(tf) // every supported algorithm the target lists, in one read
	n, err := io.CopyBuffer(h, ctxReader{ctx, io.LimitReader(f, tf.Length+1)}, buf)
	if err != nil {
		if ctx.Err() != nil {
			return codes.Errorf(Cancelled, ctx.Err(), "verifying %s", name)
		}
		return codes.Errorf(HashMismatch, err, "reading %s", name)
	}
	if n != tf.Length {
		return codes.Errorf(HashMismatch, nil, "%s is %d bytes, signed %d", name, n, tf.Length)
	}
	if alg, _, _, bad := h.Mismatch(); bad {
		if alg == "" {
			return codes.Errorf(HashMismatch, nil, "%s has no signed hash the client supports", name)
		}
		return codes.Errorf(HashMismatch, nil, "%s does not match its signed %s", name, alg)
	}
	return nil
}

// ctxReader stops reading when ctx ends: re-hashing a large model must not
// outlast a stop request.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// gc keeps at most keep installed versions: the active one, the previous
// one, then the newest others that are not marked bad. It also drops
// staging for other versions. Nothing is followed: an entry of the model
// directory that is a link is not a version (it is left alone), and
// removals act on the entries themselves.
func (c *Client) gc(p devstate.ModelPaths, ptr *devstate.Pointer, keep int, current string, bad func(string) bool) {
	entries, err := p.FS.ReadDir(p.Dir)
	if err != nil {
		return
	}
	var installed []targets.Version
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if v, err := targets.ParseVersion(e.Name()); err == nil {
			installed = append(installed, v)
		}
	}
	sort.Slice(installed, func(i, j int) bool { return installed[i].Compare(installed[j]) > 0 })
	kept := map[string]bool{}
	if ptr != nil {
		kept[ptr.Version] = true
		if ptr.Previous != "" && len(kept) < keep {
			kept[ptr.Previous] = true
		}
	}
	for _, v := range installed {
		if len(kept) >= keep {
			break
		}
		if !bad(v.String()) {
			kept[v.String()] = true
		}
	}
	for _, v := range installed {
		if kept[v.String()] {
			continue
		}
		// Rename first: a version directory is complete or absent, and a
		// removal cut short leaves only a hidden name that recover deletes.
		hidden := filepath.Join(p.Dir, devstate.InstallPrefix+"gc-"+v.String())
		if p.FS.Rename(p.Version(v.String()), hidden) == nil {
			crashpoint.Hit("client.gc.hidden")
			devstate.SyncDir(p.Dir)
			p.FS.RemoveAll(hidden)
		}
	}
	if staged, err := p.FS.ReadDir(p.Staging); err == nil {
		for _, e := range staged {
			if e.Name() != current {
				p.FS.RemoveAll(filepath.Join(p.Staging, e.Name()))
			}
		}
	}
}
