package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/edgetuf/edgetuf/internal/scripttest"
	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() { scriptCmds["fakecollector"] = cmdFakeCollector }

// fakecollector VAR FILE
//
// Starts, for the rest of the script, a collector's read side on
// 127.0.0.1 whose GET /v1/report?model=M answers FILE as it is at the
// time of the request (a fleet report, JSON, cut to the version asked
// for as a collector does; 503 while FILE does not exist), and sets VAR to
// its base URL.
func cmdFakeCollector(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "fakecollector")
	if len(args) != 2 {
		ts.Fatalf("usage: fakecollector VAR FILE")
	}
	file := ts.MkAbs(args[1])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/report" || r.URL.Query().Get("model") == "" {
			http.NotFound(w, r)
			return
		}
		data, err := os.ReadFile(file)
		if err != nil {
			http.Error(w, `{"error":"store unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		var rep fleetreport.Report
		if err := json.Unmarshal(data, &rep); err != nil {
			http.Error(w, `{"error":"bad canned report"}`, http.StatusInternalServerError)
			return
		}
		if v := r.URL.Query().Get("version"); v != "" {
			var kept []fleetreport.VersionReport
			for _, vr := range rep.Versions {
				if vr.Version == v {
					kept = append(kept, vr)
				}
			}
			rep.Versions = kept
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rep)
	}))
	ts.Defer(srv.Close)
	ts.Setenv(args[0], srv.URL)
}
