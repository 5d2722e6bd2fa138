package main

import (
	"crypto/ecdh"
	"crypto/x509"
	"encoding/pem"

	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/rogpeppe/go-internal/testscript"
)

// pemrecipient FILE prints the age recipient ("age1tag1...") of the P-256
// public key in the PEM block of FILE, computed here from the key itself,
// so that a script can check the recipient mclient device-key show prints
// against the public key it prints.
func init() { scriptCmds["pemrecipient"] = cmdPEMRecipient }

func cmdPEMRecipient(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pemrecipient FILE")
	}
	data := []byte(ts.ReadFile(args[0]))
	var block *pem.Block
	for block == nil || block.Type != "PUBLIC KEY" {
		if block, data = pem.Decode(data); block == nil {
			ts.Fatalf("%s: no PUBLIC KEY block", args[0])
		}
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	ts.Check(err)
	ek, ok := pub.(interface {
		ECDH() (*ecdh.PublicKey, error)
	})
	if !ok {
		ts.Fatalf("%s: not an EC public key", args[0])
	}
	k, err := ek.ECDH()
	ts.Check(err)
	r, err := modelcrypt.Recipient(k)
	ts.Check(err)
	ts.Stdout().Write([]byte(r + "\n"))
}
