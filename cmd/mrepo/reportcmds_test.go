package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/dashboard"
	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/store"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() { scriptCmds["reportserver"] = cmdReportServer }

// reportserver VAR FILE
//
// Serves a collector's read side (the dashboard and /v1/report) on
// 127.0.0.1 until the script ends, over an in-memory store of the reports
// FILE describes, and sets VAR to its base URL. Each line of FILE is
//
//	KIND VERSION HOUR RATE COUNT [CODE] [METHOD BYTES FULL_BYTES]
//
// for COUNT reports of model "detector" kept at RATE basis points (CODE
// "-" for none); # starts a comment.
func cmdReportServer(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: reportserver VAR FILE")
	}
	st := store.NewMemory()
	id := 0
	for i, line := range strings.Split(ts.ReadFile(args[1]), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 5 && len(f) != 6 && len(f) != 9 {
			ts.Fatalf("%s:%d: want KIND VERSION HOUR RATE COUNT [CODE] [METHOD BYTES FULL_BYTES]", args[1], i+1)
		}
		r := telemetry.Report{Kind: f[0], Version: f[1], Hour: f[2], ModelID: "detector", CohortPercent: -1}
		var err error
		r.Rate, err = strconv.Atoi(f[3])
		ts.Check(err)
		count, err := strconv.Atoi(f[4])
		ts.Check(err)
		if len(f) > 5 && f[5] != "-" {
			r.Code = f[5]
		}
		if len(f) == 9 {
			r.Method = f[6]
			r.Bytes, err = strconv.ParseInt(f[7], 10, 64)
			ts.Check(err)
			r.FullBytes, err = strconv.ParseInt(f[8], 10, 64)
			ts.Check(err)
		}
		batch := make([]telemetry.Report, count)
		for j := range batch {
			id++
			batch[j], batch[j].ID = r, fmt.Sprintf("%032x", id)
			if err := batch[j].Check(); err != nil {
				ts.Fatalf("%s:%d: %v", args[1], i+1, err)
			}
		}
		_, err = st.Insert(context.Background(), time.Now(), batch)
		ts.Check(err)
	}
	srv := httptest.NewServer(dashboard.New(fleetreport.FromStore(st), st, dashboard.Options{}))
	ts.Defer(srv.Close)
	ts.Setenv(args[0], srv.URL)
}
