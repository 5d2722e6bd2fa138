package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/contentkeys"
	"github.com/edgetuf/edgetuf/internal/scripttest"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["encryptfor"] = cmdEncryptFor
	scriptCmds["httppost"] = cmdHTTPPost
}

// encryptfor REPO KEYS MODEL@VERSION DELIVERY
//
// Makes MODEL@VERSION (published plain) look like a version published
// with add-target --encrypt --delivery DELIVERY: creates its content key
// in KEYS ($MREPO_CONTENT_PASSPHRASE) and sets the manifest target's
// signed encrypted field, re-signing with KEYS ($MREPO_PASSPHRASE). The
// payload stays plaintext: the key service's scripts need only the
// metadata and the key.
func cmdEncryptFor(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "encryptfor")
	if len(args) != 4 {
		ts.Fatalf("usage: encryptfor REPO KEYS MODEL@VERSION DELIVERY")
	}
	model, version, ok := strings.Cut(args[2], "@")
	if !ok {
		ts.Fatalf("encryptfor: %q: want MODEL@VERSION", args[2])
	}
	store, err := contentkeys.Open(ts.MkAbs(args[1]), ts.Getenv(contentPassphraseEnv))
	ts.Check(err)
	ck, err := store.Create(model, version)
	ts.Check(err)
	signers, err := testrepo.DirSigners(ts.MkAbs(args[1]), ts.Getenv(passphraseEnv))
	ts.Check(err)
	e := targets.Encryption{Scheme: targets.EncryptionScheme, Recipient: ck.Recipient(), Delivery: args[3]}
	ts.Check(testrepo.ForgeEncryptedDir(ts.MkAbs(args[0]), model, version, e, signers))
}

// httppost URL JSON
//
// POSTs JSON (loopback only) and prints "status N" and, for a JSON
// answer, its "code" field as "code X" (else the body's length).
func cmdHTTPPost(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "httppost")
	if len(args) != 2 {
		ts.Fatalf("usage: httppost URL JSON")
	}
	if !strings.HasPrefix(args[0], "http://127.0.0.1:") {
		ts.Fatalf("httppost only posts to http://127.0.0.1")
	}
	client := &http.Client{Timeout: 2 * time.Minute} // only a hung server reaches it
	resp, err := client.Post(args[0], "application/json", bytes.NewReader([]byte(args[1])))
	ts.Check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "status %d\n", resp.StatusCode)
	var r struct{ Code string }
	if resp.Header.Get("Content-Type") == "application/json" && json.Unmarshal(body, &r) == nil && r.Code != "" {
		fmt.Fprintf(ts.Stdout(), "code %s\n", r.Code)
	} else {
		fmt.Fprintf(ts.Stdout(), "body %d bytes\n", len(body))
	}
}
