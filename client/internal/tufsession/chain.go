package tufsession

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/rootchain"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// openChain loads the chain from the pinned root (package rootchain) and
// picks the root the session starts from: for metaDir's cached root.json
// (read: cached, readErr), the root of the chain it must be. An online
// session that finds the chain broken repairs it before failing, so that
// the next one re-bootstraps from the pinned root.
func openChain(src rootchain.Source, metaDir string, cached []byte, readErr error, o Options) (*rootchain.Chain, []byte, error) {
	chain, err := rootchain.Load(src, o.Limits.Root)
	if err == nil {
		if readErr != nil && !errors.Is(readErr, os.ErrNotExist) {
			err = rootchain.Broken(readErr, "reading %s", filepath.Join(metaDir, "root.json"))
		} else if int64(len(cached)) > o.Limits.Root {
			err = rootchain.Broken(jsonlimit.ErrTooLarge, "%s", filepath.Join(metaDir, "root.json"))
		} else {
			cached, err = chain.Match(cached, !o.Offline)
		}
	}
	if err != nil {
		if chain != nil && !o.Offline && codes.CodeOf(err) == codes.RootChainBroken {
			chain.Repair(metaDir)
		}
		return nil, nil, err
	}
	return chain, cached, nil
}

// extendChain walks the roots the repository published after the newest
// of the chain, as go-tuf's refresh would (TUF 5.3), records them, and
// makes the newest one metaDir's root.json, durably: what go-tuf's
// refresh then starts from.
func extendChain(chain *rootchain.Chain, meta *transport.MetaFetcher, max int, metaDir string) ([]byte, error) {
	err := chain.Extend(func(v int64) ([]byte, error) {
		return meta.DownloadFile(fmt.Sprintf("%s%d.%s.json", meta.Prefix, v, metadata.ROOT), 0, 0)
	}, max)
	if err != nil {
		if meta.Ctx.Err() != nil {
			return nil, transport.Stopped(meta.Ctx, "TUF refresh")
		}
		if _, ok := err.(*codes.Error); ok {
			return nil, err
		}
		return nil, codes.Errorf(codes.TUFCode(err, metadata.ROOT), err, "TUF refresh")
	}
	root := chain.NewestRoot()
	if err := persist(metaDir, filepath.Join(metaDir, "root.json"), root); err != nil {
		return nil, codes.Errorf(codes.StateInvalid, err, "saving the trusted root")
	}
	return root, nil
}

// chainedFetcher is go-tuf's fetcher in a session with a chain: the
// roots were walked by extendChain, so a newer root is "not found" for
// go-tuf, which then never trusts a root the chain cache does not hold.
// (One published between the two is taken by the next session.)
type chainedFetcher struct{ *transport.MetaFetcher }

func (f chainedFetcher) DownloadFile(u string, maxLength int64, timeout time.Duration) ([]byte, error) {
	name := strings.TrimPrefix(u, f.Prefix)
	if v, ok := strings.CutSuffix(name, "."+metadata.ROOT+".json"); ok && v != "" && strings.Trim(v, "0123456789") == "" {
		return nil, &metadata.ErrDownloadHTTP{StatusCode: http.StatusNotFound, URL: u}
	}
	return f.MetaFetcher.DownloadFile(u, maxLength, timeout)
}
