package client

import (
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"github.com/edgetuf/edgetuf/internal/safefs"
)

// The state directory's layout, files and rules are in
// client/internal/devstate; these are the public names.

// Config is the device's configuration, fixed at Init (client.json).
type Config = devstate.Config

// InitOptions configure Init.
type InitOptions = devstate.InitOptions

// Init creates a state directory trusting rootJSON, the root pinned in the
// device image. It makes no network request. An existing state directory
// is refused.
func Init(stateDir string, rootJSON []byte, opts InitOptions) error {
	return devstate.Init(stateDir, rootJSON, opts, tufsession.CheckRoot)
}

// CheckRepoURL accepts http://HOST/..., https://HOST/... and
// file:///ABSOLUTE/PATH repository URLs, without query or fragment.
func CheckRepoURL(u string) error { return devstate.CheckRepoURL(u) }

// CheckRedirectHost validates an allow-list entry for redirects
// (InitOptions.AllowRedirectHosts, Options.AllowRedirectHosts).
func CheckRedirectHost(s string) error {
	_, err := transport.ParseHostEntry(s)
	return err
}

// paths are the paths of one model's state.
func (c *Client) paths(modelID string) devstate.ModelPaths { return devstate.Paths(c.dir, modelID) }

// sfs is the state directory, accessed without following links.
func (c *Client) sfs() *safefs.FS { return safefs.New(c.dir) }
