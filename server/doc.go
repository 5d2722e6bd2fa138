// Package server serves a published TUF repository over HTTP(S) as static
// files: what `mrepo serve` runs, and what the client's tests fetch from.
//
// It serves GET and HEAD of the two published trees, metadata/ and
// targets/, with range requests (resumable downloads) and cache headers a
// CDN can follow: versioned metadata and hash-named targets never change
// under their name and are immutable; timestamp.json changes on every
// publication and is never cached.
//
// It refuses (404) everything else, because a repository directory also
// holds what must never leave it: mrepo.json, the writer's lock, temporary
// files of an unfinished publication (hidden, ".tmp-..."), and often key
// files beside or below it. A request path must already be clean (no dot
// segments, doubled or trailing slashes, no hidden component) and inside
// metadata/ or targets/; only regular files are served, never a directory
// listing. Clients verify every byte against signed metadata, so the
// server is not trusted for integrity, only kept from disclosing files.
// Symbolic links inside the trees are followed, as the filesystem resolves
// them: the operator owns that directory.
//
// TLSConfig loads the certificate and key for HTTPS (TLS 1.2 or newer);
// TLS protects the privacy of what a device fetches, not its integrity.
// Listen, Serve and AccessLog are what a command needs around a handler
// (mrepo serve and mrepo keyserver): a plain or TLS socket, a graceful
// shutdown, a line per request.
//
// Used by cmd/mrepo (serve, keyserver), internal/testrepo and the
// client's tests. It must never import keys, repo or any package that
// writes a repository: it holds no secrets and changes nothing
// (internal/archtest enforces it).
package server
