package fleetreport

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// randomCounts are counts of a few versions over every kind, some
// sampled (weights 1 to FullRate), as a store returns them.
func randomCounts(rng *rand.Rand) []store.Count {
	var out []store.Count
	for _, v := range []string{"1.0.0", "1.1.0"} {
		for _, k := range telemetry.Kinds {
			for _, code := range []string{"", "E_HEALTH"} {
				n := rng.Int64N(1000)
				w := []float64{1, 10, 3.3333333333333335, 10000}[rng.IntN(4)]
				c := store.Count{Version: v, Kind: k, Code: code, Reports: n, Weighted: float64(n) * w}
				if k == telemetry.KindDownloaded {
					c.Bytes, c.FullBytes = c.Weighted*1000, c.Weighted*5000
				}
				out = append(out, c)
			}
		}
	}
	return out
}

// TestBuildPassesCheck: every report Build makes passes CheckVersion, so
// the check refuses only what a collector could not have computed.
func TestBuildPassesCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		r := Build("detector", time.Time{}, randomCounts(rng))
		data, _ := json.Marshal(r)
		if _, err := ParseReport(data, store.Query{ModelID: "detector"}); err != nil {
			t.Fatalf("a built report refused: %v", err)
		}
	}
}

// TestParseReportRefusesLies: a collector that answers numbers Build
// cannot make (non-finite, negative, enormous, or a rate that does not
// follow from its counts, which could hide a failing canary from the
// watch) is refused with ErrResponse.
func TestParseReportRefusesLies(t *testing.T) {
	good := Build("detector", time.Time{}, []store.Count{
		unsampled("1.1.0", telemetry.KindOffered, "", 500), unsampled("1.1.0", telemetry.KindActivated, "", 400),
		unsampled("1.1.0", telemetry.KindRolledBack, "E_HEALTH", 120), unsampled("1.1.0", telemetry.KindFailed, "E_HASH", 3),
	})
	edit := func(f func(v *VersionReport)) string {
		var r Report
		data, _ := json.Marshal(good)
		json.Unmarshal(data, &r)
		f(&r.Versions[0])
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	goodJSON := edit(func(*VersionReport) {})
	for name, body := range map[string]string{
		"rollback rate hidden":  edit(func(v *VersionReport) { v.RollbackRate.Value, v.RollbackRate.Low, v.RollbackRate.High = 0, 0, 0.01 }),
		"numerator hidden":      edit(func(v *VersionReport) { v.RollbackRate.Numerator, v.RollbackRate.Value = 1, 1.0/400 }),
		"stage hidden":          edit(func(v *VersionReport) { v.Stages[5].Reports, v.Stages[5].Estimate = 0, 0 }),
		"negative reports":      edit(func(v *VersionReport) { v.Stages[3].Reports = -400 }),
		"negative rate":         edit(func(v *VersionReport) { v.RollbackRate.Low = -1 }),
		"value above interval":  edit(func(v *VersionReport) { v.RollbackRate.High = 0.2 }),
		"rate above one":        edit(func(v *VersionReport) { v.RollbackRate.High = 1.5 }),
		"huge count":            edit(func(v *VersionReport) { v.Stages[0].Reports, v.Stages[0].Estimate = 1<<60, 1<<60 }),
		"estimate below count":  edit(func(v *VersionReport) { v.Stages[0].Estimate = 1 }),
		"reports not the sum":   edit(func(v *VersionReport) { v.Reports = 1 }),
		"failures not the sum":  edit(func(v *VersionReport) { v.Failures = v.Failures[:1] }),
		"failure of other kind": edit(func(v *VersionReport) { v.Failures[0].Kind = "healthy" }),
		"failure code":          edit(func(v *VersionReport) { v.Failures[0].Code = "<script>" }),
		"stages missing":        edit(func(v *VersionReport) { v.Stages = v.Stages[:3] }),
		"stages reordered":      edit(func(v *VersionReport) { v.Stages[0], v.Stages[1] = v.Stages[1], v.Stages[0] }),
		"bytes saved":           edit(func(v *VersionReport) { v.BytesSaved = 1e12 }),
		"negative bytes":        edit(func(v *VersionReport) { v.BytesReceived, v.BytesSaved = -5, 5 }),
		"infinite":              strings.Replace(goodJSON, `"bytes_received":0`, `"bytes_received":1e999`, 1),
		"NaN":                   strings.Replace(goodJSON, `"bytes_received":0`, `"bytes_received":NaN`, 1),
	} {
		if body == goodJSON {
			t.Fatalf("%s: the edit changed nothing", name)
		}
		_, err := ParseReport([]byte(body), store.Query{ModelID: "detector"})
		if !errors.Is(err, ErrResponse) {
			t.Errorf("%s: error %v, want ErrResponse", name, err)
		}
	}
	if _, err := ParseReport([]byte(goodJSON), store.Query{ModelID: "detector"}); err != nil {
		t.Fatal(err)
	}
}
