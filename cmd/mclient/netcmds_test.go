package main

import "github.com/edgetuf/edgetuf/internal/scripttest"

// mkcert makes a CA and a server certificate for the HTTPS scripts.
func init() { scriptCmds["mkcert"] = scripttest.CmdMkcert }
