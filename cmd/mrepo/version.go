package main

import (
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/keys"
)

// features are the optional capabilities `mrepo --version` reports:
// PKCS#11 keys need a cgo build (release builds have CGO_ENABLED=0).
var features = []cliutil.Feature{{Name: "pkcs11", Enabled: keys.PKCS11Supported}}
