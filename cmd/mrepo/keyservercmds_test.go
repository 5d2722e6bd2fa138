package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/internal/scripttest"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["httppost"] = cmdHTTPPost
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
