package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgetuf/edgetuf/internal/scripttest"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["collector"] = cmdCollector
}

// collector VAR FILE [status=N]
//
// Serves a stand-in fleet collector on 127.0.0.1 (the real one is mrepo
// telemetry serve): POST /v1/reports must carry a batch that
// telemetry.ParseBatch accepts (400 otherwise); each new report (a
// duplicate ID is kept once) is appended to FILE as one JSON line, and
// every request body to FILE.raw. With status=N it answers N and stores
// nothing. Sets VAR to HOST:PORT. The server stops at the end of the
// script.
func cmdCollector(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "collector")
	if len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: collector VAR FILE [status=N]")
	}
	status := 0
	if len(args) == 3 {
		v, ok := strings.CutPrefix(args[2], "status=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			ts.Fatalf("collector: status=N")
		}
		status = n
	}
	file := ts.MkAbs(args[1])
	st := store.NewMemory()
	var mu sync.Mutex
	appendTo := func(name string, data []byte) {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			f.Write(data)
			f.Close()
		}
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, telemetry.MaxBatchBytes+1))
		mu.Lock()
		defer mu.Unlock()
		appendTo(file+".raw", append(body, '\n'))
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		b, err := telemetry.ParseBatch(body)
		if r.URL.Path != telemetry.IngestPath || err != nil {
			http.Error(w, `{"error":"invalid"}`, http.StatusBadRequest)
			return
		}
		before := len(st.Reports())
		n, _ := st.Insert(r.Context(), time.Now(), b.Reports)
		for _, rep := range st.Reports()[before:] {
			line, _ := json.Marshal(rep)
			appendTo(file, append(line, '\n'))
		}
		json.NewEncoder(w).Encode(map[string]int{"accepted": n, "duplicates": len(b.Reports) - n})
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	go srv.Serve(ln)
	ts.Defer(func() { srv.Close() })
	ts.Setenv(args[0], ln.Addr().String())
}
