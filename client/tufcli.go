package client

import (
	"context"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/installed"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"github.com/spf13/afero"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
)

// TUFClient is a plain TUF client over a metadata directory, with the
// same TUF session, fetchers and streaming downloader as Update. It backs
// `mclient tuf`, which follows the TUF conformance suite's client CLI.
type TUFClient struct {
	MetadataDir string
	MetadataURL string
	// Now is the reference time for expiry (zero: the clock).
	Now  time.Time
	opts Options
	dl   *transport.Downloader
}

// NewTUFClient returns a client for metadataDir; opts as for Open.
func NewTUFClient(metadataDir, metadataURL string, now time.Time, opts Options) *TUFClient {
	if opts.HTTPClient == nil {
		opts.HTTPClient = transport.NewHTTPClient(nil)
	}
	opts.HTTPClient = transport.WithPolicy(opts.HTTPClient, &transport.Policy{})
	if opts.StallTimeout == 0 {
		opts.StallTimeout = 30 * time.Second
	}
	if opts.RetryBackoff == 0 {
		opts.RetryBackoff = 200 * time.Millisecond
	}
	if opts.MetadataTimeout == 0 {
		opts.MetadataTimeout = DefaultMetadataTimeout
	}
	return &TUFClient{MetadataDir: metadataDir, MetadataURL: metadataURL, Now: now, opts: opts,
		dl: &transport.Downloader{HTTP: opts.HTTPClient, Stall: opts.StallTimeout, Retries: opts.Retries, Backoff: opts.RetryBackoff, Progress: opts.Progress, After: transport.RealAfter}}
}

// TUFInit stores a trusted root as metadataDir/root.json, with no network
// access and no checks (the conformance protocol's "init").
func TUFInit(metadataDir, rootFile string) error {
	data, err := os.ReadFile(rootFile)
	if err != nil {
		return codes.Errorf(StateInvalid, err, "trusted root")
	}
	if err := os.MkdirAll(metadataDir, 0o700); err != nil {
		return codes.Errorf(StateInvalid, err, "metadata directory")
	}
	return atomicfs.WriteFile(afero.NewOsFs(), filepath.Join(metadataDir, "root.json"), data, 0o600)
}

// session refreshes; ctx bounds its metadata downloads as it bounds an
// update's.
func (t *TUFClient) session(ctx context.Context, targetBaseURL string) (*tufsession.Session, error) {
	s, err := tufsession.New(t.MetadataDir, t.MetadataURL, targetBaseURL, "", tufsession.Options{Ctx: ctx, HTTPClient: t.opts.HTTPClient, Now: t.Now,
		Retries: t.opts.Retries, Backoff: t.opts.RetryBackoff, Stall: t.opts.StallTimeout, MetaTimeout: t.opts.MetadataTimeout, Limits: limitsOf(t.opts)})
	if err != nil {
		return nil, err
	}
	return s, s.Refresh()
}

// Refresh updates the top-level metadata, stored as <role>.json.
func (t *TUFClient) Refresh() error {
	_, err := t.session(context.Background(), t.MetadataURL)
	return err
}

// Download refreshes, then downloads each target path in order into
// targetDir (named by the path, escaped to one file name), stopping at the
// first failure. A target already present with the signed length and hash
// is not downloaded again.
func (t *TUFClient) Download(ctx context.Context, targetBaseURL, targetDir string, paths []string) error {
	s, err := t.session(ctx, targetBaseURL)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(targetDir, 0o700); err != nil {
		return codes.Errorf(StateInvalid, err, "target directory")
	}
	buf := make([]byte, 1<<20)
	for _, p := range paths {
		tf, err := s.Lookup(p) // any target, with any supported hashes (not only model files)
		if err != nil {
			return err
		}
		name := url.PathEscape(p)
		if name == "" || name == "." || name == ".." {
			return codes.Errorf(TargetNotFound, nil, "target path %q cannot be stored as a file", p)
		}
		dest := filepath.Join(targetDir, name)
		if installed.VerifyFile(dest, tf, buf) == nil {
			continue
		}
		part := dest + devstate.PartSuffix
		if _, err := t.dl.Fetch(ctx, s.URLOf(tf), tf, part, p); err != nil {
			return err
		}
		if err := os.Rename(part, dest); err != nil {
			return codes.Errorf(StateInvalid, err, "storing %s", p)
		}
	}
	return nil
}
