package telemetrycmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// The fleet report sources of mrepo rollout watch, for a branch without
// mrepo rollout report's: OpenDB (--db) and collectorSource (--collector).
// Where that command's opendb.go and fleetreport.HTTPSource exist, this
// file goes and watchSource uses them.

// OpenDB opens the fleet report source of mrepo rollout watch --db URL: a
// telemetry store read in process (telemetrydb.Open and
// fleetreport.FromStore). It is set where those packages are linked; nil,
// --db is refused and --collector must be used.
var OpenDB func(ctx context.Context, dbURL string) (fleetreport.Source, io.Closer, error)

// maxReportBody bounds a collector's /v1/report answer.
const maxReportBody = 8 << 20

// collectorSource reads fleet reports from a collector's /v1/report.
type collectorSource struct {
	base   string
	client *http.Client
}

func newCollectorSource(base string) (*collectorSource, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--collector %q: want an http:// or https:// URL", base)
	}
	return &collectorSource{base: strings.TrimSuffix(base, "/"), client: &http.Client{Timeout: time.Minute}}, nil
}

// Report asks the collector for q's report.
func (s *collectorSource) Report(ctx context.Context, q store.Query) (*fleetreport.Report, error) {
	v := url.Values{"model": {q.ModelID}}
	if q.Version != "" {
		v.Set("version", q.Version)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/v1/report?"+v.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReportBody+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("collector: %s", resp.Status)
	}
	if len(body) > maxReportBody {
		return nil, fmt.Errorf("collector: report larger than %d bytes", maxReportBody)
	}
	var rep fleetreport.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		return nil, fmt.Errorf("collector: report: %v", err)
	}
	return &rep, nil
}
