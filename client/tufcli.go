package client

import (
	"time"

	"github.com/edgetuf/edgetuf/client/internal/tufcli"
)

// TUFClient is a plain TUF client over a metadata directory, with the
// same TUF session, fetchers and streaming downloader as Update. It backs
// `mclient tuf`, which follows the TUF conformance suite's client CLI.
// Its Refresh updates the top-level metadata; Download(ctx,
// targetBaseURL, targetDir, paths) downloads targets, skipping those
// present with the signed length and hash.
type TUFClient = tufcli.Client

// NewTUFClient returns a client for metadataDir; opts as for Open.
func NewTUFClient(metadataDir, metadataURL string, now time.Time, opts Options) *TUFClient {
	mt := opts.MetadataTimeout
	if mt == 0 {
		mt = DefaultMetadataTimeout
	}
	return tufcli.New(metadataDir, metadataURL, now, tufcli.Transfer{HTTP: opts.HTTPClient, Retries: opts.Retries, Backoff: opts.RetryBackoff,
		Stall: opts.StallTimeout, MetaTimeout: mt, Limits: limitsOf(opts), Progress: opts.Progress})
}

// TUFInit stores a trusted root as metadataDir/root.json, with no network
// access and no checks (the conformance protocol's "init").
func TUFInit(metadataDir, rootFile string) error { return tufcli.Init(metadataDir, rootFile) }
