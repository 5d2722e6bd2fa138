// Package repoloc runs mrepo's commands on where --repo points: a local
// directory, used in place under its writer lock, or an object-storage
// URL (s3://, gs://, azblob://, file://), reached through package
// repostore: each change in sessions retried on conflict with other
// publishers, each read in a session never committed (docs/design.md
// section 6, "Publishing to object storage").
package repoloc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/repostore"
	"github.com/edgetuf/edgetuf/storage"
	"github.com/spf13/afero"
)

// Loc is a --repo value and how to reach it.
type Loc struct {
	// Repo is the --repo value; Scratch the --scratch directory ("": the
	// system's temporary directory).
	Repo, Scratch string
	// OpenDir opens Repo when it is a directory (with the command's lock
	// settings).
	OpenDir func() (*repo.Repository, error)
	// OnRetry is told of each retry after a conflict.
	OnRetry func(attempt, attempts int)
}

// IsURL reports whether Repo is an object-storage URL.
func (l Loc) IsURL() bool { return storage.IsURL(l.Repo) }

// Write runs fn, a command's change to the repository, and returns how
// many attempts it took. On a URL, kr (when not nil) re-signs
// timestamp.json if another publisher replaced it after this one's
// snapshot.
func (l Loc) Write(ctx context.Context, kr keys.Keyring, fn func(r *repo.Repository) error) (int, error) {
	if !l.IsURL() {
		r, err := l.OpenDir()
		if err != nil {
			return 0, err
		}
		return 1, fn(r)
	}
	return l.Publish(ctx, kr, func(fs afero.Fs, dir string) error {
		r, err := repo.Open(fs, dir)
		if err != nil {
			return err
		}
		return fn(r)
	})
}

// Publish runs op on the repository at the URL Repo in repostore.Run
// sessions, as Write does, and returns the attempts it took.
func (l Loc) Publish(ctx context.Context, kr keys.Keyring, op func(fs afero.Fs, dir string) error) (int, error) {
	b, err := storage.Open(ctx, l.Repo)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	o := repostore.RunOptions{Scratch: l.Scratch}
	if l.OnRetry != nil {
		o.OnRetry = func(attempt, attempts int, _ error) { l.OnRetry(attempt, attempts) }
	}
	if kr != nil {
		o.Timestamp = func(fs afero.Fs, dir string) error {
			r, err := repo.Open(fs, dir)
			if err == nil {
				_, err = r.Timestamp(kr)
			}
			return err
		}
	}
	res, err := repostore.Run(ctx, b, o, op)
	err = explainCommitted(err)
	if res == nil {
		return 0, err
	}
	return res.Attempts, err
}

// explainCommitted adds to a PARTIALLY_PUBLISHED failure what it leaves
// and what to run: it is never run again by itself (repostore.Run), since
// that would publish the change a second time.
func explainCommitted(err error) error {
	var ce *repostore.CommittedError
	if !errors.As(err, &ce) {
		return err
	}
	if strings.HasSuffix(ce.Object, ".root.json") {
		return fmt.Errorf("%w (another rotation won that root version); until a root with these keys is published, "+
			"devices may refuse what this rotation re-signed: run mrepo rotate again now, on the root that won "+
			"(a root staged for threshold signing: stage it again with mrepo rotate --stage, have it signed, then mrepo publish-staged)", err)
	}
	return fmt.Errorf("%w; %s keeps the other publisher's content, without this command's change to it: "+
		"check it, and run the command again only if that change is still needed", err, ce.Object)
}

// Read runs fn, a read-only command, on the repository: a directory on
// the OS filesystem, a URL in a session never committed (live: nothing
// cached, for mrepo serve).
func (l Loc) Read(ctx context.Context, live bool, fn func(fs afero.Fs, dir string) error) error {
	if !l.IsURL() {
		return fn(afero.NewOsFs(), l.Repo)
	}
	b, err := storage.Open(ctx, l.Repo)
	if err != nil {
		return err
	}
	defer b.Close()
	begin := repostore.Begin
	if live {
		begin = repostore.BeginLive
	}
	s, err := begin(ctx, b, l.Scratch)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Describe(fn(s.Fs(), s.Dir()))
}

// ObjectURL is the URL of the object name (slash-separated, relative to
// the repository) in the repository at the URL Repo: its path extended,
// its query (region, endpoint) kept.
func (l Loc) ObjectURL(name string) string {
	u, err := url.Parse(l.Repo)
	if err != nil {
		return l.Repo + "/" + name
	}
	if u.Path == "" && u.Host != "" {
		u.Path = "/"
	}
	u.Path = path.Join(u.Path, name)
	return u.String()
}

// Result is a command's JSON result v; on a URL it gains "attempts", the
// sessions the change took.
func (l Loc) Result(v any, attempts int) (any, error) {
	if !l.IsURL() {
		return v, nil
	}
	data, err := json.Marshal(v)
	if err != nil || len(data) < 2 || data[0] != '{' {
		return v, err
	}
	sep := ","
	if string(data) == "{}" {
		sep = ""
	}
	return json.RawMessage(append(data[:len(data)-1], fmt.Sprintf(`%s"attempts":%d}`, sep, attempts)...)), nil
}
