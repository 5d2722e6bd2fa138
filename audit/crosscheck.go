package audit

import (
	"os"

	"github.com/edgetuf/edgetuf/internal/fsfetch"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// crossCheckWithClient runs go-tuf's updater over the repository from the
// trusted root: a second, independent implementation of the client
// workflow. It must accept what Verify accepted and resolve every target
// to the same length and hash.
func (v *verifier) crossCheckWithClient(trustedRoot []byte, roles []verifiedRole) {
	const prefix = "mrepo-verify://repository/"
	cfg, err := config.New(prefix+"metadata", trustedRoot)
	if err != nil {
		v.problem(ClientRejected, "", "", "go-tuf config: %v", err)
		return
	}
	// go-tuf reads cached metadata from LocalMetadataDir even with the cache
	// disabled; an empty directory makes sure nothing local is trusted.
	tmp, err := os.MkdirTemp("", "mrepo-verify-")
	if err != nil {
		v.problem(ClientRejected, "", "", "%v", err)
		return
	}
	defer os.RemoveAll(tmp)
	cfg.LocalMetadataDir = tmp
	cfg.LocalTargetsDir = tmp
	cfg.DisableLocalCache = true
	cfg.Fetcher = &fsfetch.Fetcher{FS: v.fs, Dir: v.dir, Prefix: prefix}
	up, err := updater.New(cfg)
	if err != nil {
		v.problem(ClientRejected, "", "", "go-tuf client: %v", err)
		return
	}
	up.UnsafeSetRefTime(v.now)
	if err := up.Refresh(); err != nil {
		v.problem(ClientRejected, "", "", "go-tuf client refresh failed: %v", err)
		return
	}
	for _, r := range roles {
		for p, tf := range r.md.Signed.Targets {
			if _, ok := r.fresh[p]; r.outside(p) || r.fresh != nil && !ok {
				continue // already reported, or not checked in an incremental verify
			}
			got, err := up.GetTargetInfo(p)
			if err != nil {
				v.problem(ClientRejected, "", p, "go-tuf client cannot resolve it: %v", err)
				continue
			}
			if got.Length != tf.Length || !got.Hashes.Equal(tf.Hashes) {
				v.problem(ClientRejected, "", p, "go-tuf client resolves it to another length or hash (shadowed by an earlier delegation?)")
			}
		}
	}
}
