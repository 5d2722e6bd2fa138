// Package tufcli is a plain TUF client over a metadata directory, with the
// device's TUF session (client/internal/tufsession) and streaming
// downloader (client/internal/transport). It backs client.TUFClient and
// so `mclient tuf`, which follows the TUF conformance suite's client CLI.
package tufcli

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/installed"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/spf13/afero"
)

// Client is a TUF client over MetadataDir.
type Client struct {
	MetadataDir string
	MetadataURL string
	// Now is the reference time for expiry (zero: the clock).
	Now  time.Time
	opts Transfer
	dl   *transport.Downloader
}

// Transfer are the transfer settings of a Client (client.Options').
type Transfer struct {
	HTTP        *http.Client
	Retries     int
	Backoff     time.Duration
	Stall       time.Duration
	MetaTimeout time.Duration
	Limits      transport.Limits
	Progress    func(file string, done, total int64)
}

// New returns a client for metadataDir. A nil HTTP client is the
// default one; zero durations get the defaults of `mclient tuf`.
func New(metadataDir, metadataURL string, now time.Time, o Transfer) *Client {
	if o.HTTP == nil {
		o.HTTP = transport.NewHTTPClient(nil)
	}
	o.HTTP = transport.WithPolicy(o.HTTP, &transport.Policy{})
	if o.Stall == 0 {
		o.Stall = 30 * time.Second
	}
	if o.Backoff == 0 {
		o.Backoff = 200 * time.Millisecond
	}
	return &Client{MetadataDir: metadataDir, MetadataURL: metadataURL, Now: now, opts: o,
		dl: &transport.Downloader{HTTP: o.HTTP, Stall: o.Stall, Retries: o.Retries, Backoff: o.Backoff, Progress: o.Progress, After: transport.RealAfter}}
}

// Init stores a trusted root as metadataDir/root.json, with no network
// access and no checks (the conformance protocol's "init").
func Init(metadataDir, rootFile string) error {
	data, err := os.ReadFile(rootFile)
	if err != nil {
		return codes.Errorf(codes.StateInvalid, err, "trusted root")
	}
	if err := os.MkdirAll(metadataDir, 0o700); err != nil {
		return codes.Errorf(codes.StateInvalid, err, "metadata directory")
	}
	return atomicfs.WriteFile(afero.NewOsFs(), filepath.Join(metadataDir, "root.json"), data, 0o600)
}

// session refreshes; ctx bounds its metadata downloads as it bounds an
// update's.
func (t *Client) session(ctx context.Context, targetBaseURL string) (*tufsession.Session, error) {
	s, err := tufsession.New(t.MetadataDir, t.MetadataURL, targetBaseURL, "", tufsession.Options{Ctx: ctx, HTTPClient: t.opts.HTTP, Now: t.Now,
		Retries: t.opts.Retries, Backoff: t.opts.Backoff, Stall: t.opts.Stall, MetaTimeout: t.opts.MetaTimeout, Limits: t.opts.Limits})
	if err != nil {
		return nil, err
	}
	return s, s.Refresh()
}

// Refresh updates the top-level metadata, stored as <role>.json.
func (t *Client) Refresh() error {
	_, err := t.session(context.Background(), t.MetadataURL)
	return err
}

// Download refreshes, then downloads each target path in order into
// targetDir (named by the path, escaped to one file name), stopping at the
// first failure. A target already present with the signed length and hash
// is not downloaded again.
func (t *Client) Download(ctx context.Context, targetBaseURL, targetDir string, paths []string) error {
	s, err := t.session(ctx, targetBaseURL)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(targetDir, 0o700); err != nil {
		return codes.Errorf(codes.StateInvalid, err, "target directory")
	}
	buf := make([]byte, 1<<20)
	for _, p := range paths {
		tf, err := s.Lookup(p) // any target, with any supported hashes (not only model files)
		if err != nil {
			return err
		}
		name := url.PathEscape(p)
		if name == "" || name == "." || name == ".." {
			return codes.Errorf(codes.TargetNotFound, nil, "target path %q cannot be stored as a file", p)
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
			return codes.Errorf(codes.StateInvalid, err, "storing %s", p)
		}
	}
	return nil
}
