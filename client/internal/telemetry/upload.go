package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/telemetry"
)

// detectOSVersion is /etc/os-release's VERSION_ID ("12", "22.04"), or ""
// when there is none or it is not a short version string.
func detectOSVersion() string {
	data, err := jsonlimit.ReadFile("/etc/os-release", 64<<10)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VERSION_ID="); ok {
			if v = strings.Trim(v, `"'`); devstate.CheckReportField(v) == nil {
				return v
			}
		}
	}
	return ""
}

// Upload sends one batch of the outbox's oldest reports to the collector
// (at most telemetry.MaxReportsPerBatch reports and MaxBatchBytes bytes),
// within the timeout. Dropped reports are first turned into a
// KindDropped report, written to the outbox with its ID before it is
// sent. The collector's answer decides what happens to the batch: 200
// removes it; 400, 413 or 415 (it will never be accepted) removes it and
// counts it as dropped; anything else (429, 5xx, a network failure, a
// timeout) keeps it for the next upload, which sends the same IDs again.
func (r *Recorder) Upload(ctx context.Context) error {
	if r == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	// The timeout bounds the waits for the outbox lock too: a batch whose
	// removal misses it is sent again, and dropped as a duplicate.
	deadline, _ := ctx.Deadline()
	var batch telemetry.Batch
	damaged, err := r.box.changeBy(deadline, func(s *State) bool {
		changed := false
		if d := s.Dropped; d != nil {
			rep := r.base(telemetry.KindDropped, d.ModelID, d.Version)
			rep.Count = d.Count
			s.Dropped = nil
			r.box.add(s, rep)
			changed = true
		}
		batch = telemetry.Batch{Schema: telemetry.Schema, Reports: takeBatch(s.Reports)}
		return changed
	})
	if damaged != nil {
		r.log.Warn("telemetry outbox replaced", "error", damaged)
	}
	if err != nil {
		return err
	}
	if len(batch.Reports) == 0 {
		return nil
	}
	body, err := json.Marshal(&batch)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.ingest, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.opts.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%d reports kept for the next upload: %w", len(batch.Reports), err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return r.remove(deadline, batch.Reports, false)
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		if err := r.remove(deadline, batch.Reports, true); err != nil {
			return err
		}
		return fmt.Errorf("the collector refused %d reports (%s): dropped", len(batch.Reports), resp.Status)
	}
	return fmt.Errorf("%d reports kept for the next upload: the collector answered %s", len(batch.Reports), resp.Status)
}

// takeBatch is the longest prefix of reports that fits one batch.
func takeBatch(reports []telemetry.Report) []telemetry.Report {
	size := int64(len(`{"schema":1,"reports":[]}`))
	n := 0
	for n < len(reports) && n < telemetry.MaxReportsPerBatch {
		size += reportSize(&reports[n])
		if size > telemetry.MaxBatchBytes {
			break
		}
		n++
	}
	return append([]telemetry.Report(nil), reports[:n]...)
}

// remove takes the sent reports out of the outbox, counting them as
// dropped if the collector refused them.
func (r *Recorder) remove(deadline time.Time, sent []telemetry.Report, dropped bool) error {
	ids := make(map[string]bool, len(sent))
	for _, rep := range sent {
		ids[rep.ID] = true
	}
	_, err := r.box.changeBy(deadline, func(s *State) bool {
		kept := s.Reports[:0]
		for _, rep := range s.Reports {
			if !ids[rep.ID] {
				kept = append(kept, rep)
			} else if dropped {
				s.countDropped(&rep)
			}
		}
		s.Reports = kept
		return true
	})
	return err
}
