package scripttest

import (
	"os"

	"github.com/edgetuf/edgetuf/internal/testcert"
	"github.com/rogpeppe/go-internal/testscript"
)

// CmdMkcert is the script command
//
//	mkcert CAFILE CERTFILE KEYFILE HOST...
//
// It makes a throwaway CA and writes its certificate to CAFILE (PEM), and
// a server certificate for the HOSTs (IP addresses or names) signed by it
// to CERTFILE with its private key in KEYFILE (PEM, PKCS #8, mode 0600).
// Each call makes a new CA.
func CmdMkcert(ts *testscript.TestScript, neg bool, args []string) {
	NoNeg(ts, neg, "mkcert")
	if len(args) < 4 {
		ts.Fatalf("usage: mkcert CAFILE CERTFILE KEYFILE HOST...")
	}
	ca, err := testcert.NewCA("script CA")
	ts.Check(err)
	certPEM, keyPEM, err := ca.Server(args[3:]...)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), ca.PEM, 0o644))
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), certPEM, 0o644))
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), keyPEM, 0o600))
}
