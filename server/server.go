package server

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/spf13/afero"
)

// Cache policies: content-addressed files never change under their name;
// timestamp.json changes on every publication and must always be fetched.
const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheNever     = "no-store"
	cacheRevalid   = "no-cache"
)

var (
	versionedMeta = regexp.MustCompile(`^[1-9][0-9]*\.[^/]+\.json$`)
	hashedTarget  = regexp.MustCompile(`^[0-9a-f]{64}\.[^/]+$`)
	// keyEnvelope is a version's key envelope (targets.EnvelopeDir):
	// static like a target, but not a target.
	keyEnvelope = regexp.MustCompile(`^/` + repofiles.TargetsDir + `/models/[^/]+/[^/]+/keys/[0-9a-f]{64}\.age$`)
)

// Handler serves the repository in dir as a static TUF repository:
// GET and HEAD of /metadata/... and /targets/..., with HTTP range requests
// (for resumable downloads) and cache headers that let a CDN keep
// versioned metadata and hash-named targets forever while timestamp.json
// is never cached. Key envelopes (targets/models/<m>/<v>/keys/NAME.age,
// docs/encryption.md) are served like any file there, revalidated. Hidden and temporary files, directories and anything
// outside those two trees are 404.
func Handler(fs afero.Fs, dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := req.URL.Path
		clean := path.Clean(p)
		if clean != p || !(strings.HasPrefix(p, "/"+repofiles.MetadataDir+"/") || strings.HasPrefix(p, "/"+repofiles.TargetsDir+"/")) {
			http.NotFound(w, req)
			return
		}
		for _, part := range strings.Split(p[1:], "/") {
			if part == "" || strings.HasPrefix(part, ".") {
				http.NotFound(w, req)
				return
			}
		}
		f, err := fs.Open(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			http.NotFound(w, req)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			http.NotFound(w, req)
			return
		}
		base := path.Base(p)
		switch {
		case strings.HasPrefix(p, "/"+repofiles.MetadataDir+"/") && base == "timestamp.json":
			w.Header().Set("Cache-Control", cacheNever)
		case strings.HasPrefix(p, "/"+repofiles.MetadataDir+"/") && versionedMeta.MatchString(base):
			w.Header().Set("Cache-Control", cacheImmutable)
		case keyEnvelope.MatchString(p):
			// Named after a device key, not its content: a grant may
			// replace it, so caches revalidate (no hash ETag).
			w.Header().Set("Cache-Control", cacheRevalid)
		case strings.HasPrefix(p, "/"+repofiles.TargetsDir+"/") && hashedTarget.MatchString(base):
			w.Header().Set("Cache-Control", cacheImmutable)
			w.Header().Set("ETag", `"`+base[:64]+`"`)
		default:
			w.Header().Set("Cache-Control", cacheRevalid)
		}
		if strings.HasSuffix(base, ".json") {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "application/octet-stream")
		}
		http.ServeContent(w, req, base, fi.ModTime(), f)
	})
}

// TLSConfig loads the certificate chain (PEM, the server's certificate
// first) and the private key that `mrepo serve` presents over HTTPS.
func TLSConfig(certFile, keyFile string) (*tls.Config, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
