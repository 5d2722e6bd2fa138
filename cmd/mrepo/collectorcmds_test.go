package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/internal/scripttest"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/rogpeppe/go-internal/testscript"
)

// Commands for the telemetry collector scripts: make a batch as a device
// would, and upload a file as a device (or an attacker) would.
func init() {
	scriptCmds["telemetrybatch"] = cmdTelemetryBatch
	scriptCmds["httpupload"] = cmdHTTPUpload
}

// telemetrybatch FILE SEQ N writes a batch of N valid reports of model
// detector, version 1.0.0, in the current hour (the collector refuses
// hours outside its window), with IDs made from SEQ.
func cmdTelemetryBatch(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "telemetrybatch")
	if len(args) != 3 {
		ts.Fatalf("usage: telemetrybatch FILE SEQ N")
	}
	seq, err1 := strconv.Atoi(args[1])
	n, err2 := strconv.Atoi(args[2])
	if err1 != nil || err2 != nil || n < 1 {
		ts.Fatalf("telemetrybatch: SEQ and N are numbers, N from 1")
	}
	b := telemetry.Batch{Schema: telemetry.Schema}
	for i := range n {
		b.Reports = append(b.Reports, telemetry.Report{
			ID: fmt.Sprintf("%016x%016x", seq, i), Kind: telemetry.KindActivated, ModelID: "detector", Version: "1.0.0",
			Hour: time.Now().UTC().Truncate(time.Hour).Format(time.RFC3339), CohortPercent: -1, Rate: telemetry.FullRate,
		})
	}
	data, err := json.Marshal(b)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), data, 0o644))
}

// httpupload [-type CONTENT-TYPE] URL FILE posts FILE (application/json by
// default) to a loopback URL and prints "status N" and the body.
func cmdHTTPUpload(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "httpupload")
	ctype := "application/json"
	if len(args) > 1 && args[0] == "-type" {
		ctype, args = args[1], args[2:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: httpupload [-type CONTENT-TYPE] URL FILE")
	}
	if !strings.HasPrefix(args[0], "http://127.0.0.1:") {
		ts.Fatalf("httpupload only posts to http://127.0.0.1")
	}
	client := &http.Client{Timeout: 2 * time.Minute} // only a hung server reaches it
	resp, err := client.Post(args[0], ctype, bytes.NewReader([]byte(ts.ReadFile(args[1]))))
	ts.Check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "status %d\n%s", resp.StatusCode, body)
}
