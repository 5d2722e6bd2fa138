package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/edgetuf/edgetuf/status"
	"github.com/edgetuf/edgetuf/targets"
)

// Status prints mrepo status's report: the roles table, delegations,
// models (with each version's controls, described by controls), staged
// files and warnings.
func Status(w io.Writer, st *status.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ROLE\tVERSION\tEXPIRES\tIN\tSIGNATURES\tKEYS\n")
	for _, rs := range st.Roles {
		if rs.Pending { // a delegated role without metadata yet
			fmt.Fprintln(tw, pendingRow(rs))
			continue
		}
		ok := "ok"
		if !rs.ThresholdMet {
			ok = "NOT MET"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d/%d %s\t%s\n", rs.Role, rs.Version, rs.Expires.UTC().Format(targets.TimeFormat),
			duration.FormatRemaining(rs.Expires.Sub(st.Now)), rs.ValidSignatures, rs.Threshold, ok, ShortIDs(rs.KeyIDs))
	}
	tw.Flush()
	delegations(w, st)
	fmt.Fprintln(w)
	if len(st.Models) == 0 {
		fmt.Fprintln(w, "No models published.")
	}
	for _, m := range st.Models {
		fmt.Fprintf(w, "model %s: latest %s (versions: %s)\n", m.ModelID, m.Latest, strings.Join(m.Versions, ", "))
		if len(m.Roles) > 0 {
			fmt.Fprintf(w, "  signed by %s\n", strings.Join(m.Roles, ", "))
		}
		for _, d := range m.Deltas {
			fmt.Fprintf(w, "  deltas %s from %s: %d patches, %s\n", d.Version, d.Base, d.Patches, cliutil.HumanBytes(d.Bytes))
		}
		for _, ct := range m.Controls {
			fmt.Fprintf(w, "  %s: %s\n", ct.Version, strings.Join(Controls(ct.Rollout, ct.Revoked, ct.Policy), "; "))
		}
		if len(m.Epochs) > 0 {
			fmt.Fprintf(w, "  rollback epochs: %s\n", epochs(m))
		}
		for _, v := range m.Versions {
			if e, ok := m.Encrypted[v]; ok {
				fmt.Fprintf(w, "  %s: encrypted, delivery %s\n", v, e.Delivery)
			}
		}
	}
	if st.Sampling != nil {
		fmt.Fprintf(w, "telemetry sampling (%s): %s\n", st.Sampling.Target, st.Sampling.Describe())
	}
	for _, l := range stagedLines(st.Staged) {
		fmt.Fprintln(w, l)
	}
	for _, warn := range st.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
}

// pendingRow is the status table row of a delegated role without metadata.
func pendingRow(rs status.Role) string {
	return fmt.Sprintf("%s\t-\t-\t-\t0/%d NOT MET\t%s", rs.Role, rs.Threshold, ShortIDs(rs.KeyIDs))
}

// delegations prints status's delegations: each delegated role's
// paths, and hash bins in one line.
func delegations(w io.Writer, st *status.Report) {
	var rows []status.Role
	for _, rs := range st.Roles {
		if rs.DelegatedBy != "" {
			rows = append(rows, rs)
		}
	}
	if len(rows) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "DELEGATION\tBY\tTERMINATING\tPATHS\n")
		for _, rs := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", rs.Role, rs.DelegatedBy, yesNo(rs.Terminating), strings.Join(rs.Paths, ", "))
		}
		tw.Flush()
	}
	if st.Bins != nil {
		fmt.Fprintln(w)
		fmt.Fprintln(w, binsLine(st.Bins, st.Now))
	}
}

// binsLine is a one-line summary of hash bins for status output.
func binsLine(bs *status.Bins, now time.Time) string {
	last := fmt.Sprintf("%x", bs.Bins-1)
	first := strings.Repeat("0", len(last))
	var b strings.Builder
	fmt.Fprintf(&b, "%d hash bins %s-%s..%s-%s (delegated by %s, terminating; threshold %d, keys %s): %d with metadata, %d targets",
		bs.Bins, bs.NamePrefix, first, bs.NamePrefix, last, bs.DelegatedBy, bs.Threshold, ShortIDs(bs.KeyIDs), bs.Published, bs.Targets)
	if bs.Published > 0 {
		fmt.Fprintf(&b, ", versions %d-%d, earliest expiry %s (%s), signatures %d/%d bins ok",
			bs.MinVersion, bs.MaxVersion, bs.Expires.UTC().Format(targets.TimeFormat), duration.FormatRemaining(bs.Expires.Sub(now)), bs.ThresholdMet, bs.Published)
	}
	return b.String()
}

// stagedLines formats staged metadata for mrepo status.
func stagedLines(ss []staged.Info) []string {
	var out []string
	for _, s := range ss {
		line := fmt.Sprintf("staged %s", s.Role)
		if s.Version > 0 {
			line += fmt.Sprintf(" v%d (expires %s)", s.Version, s.Expires.UTC().Format(targets.TimeFormat))
		}
		switch {
		case s.Problem != "":
			line += ": " + s.Problem
		case s.Signatures != nil:
			line += ": " + s.Signatures.String()
		}
		out = append(out, line)
	}
	return out
}

// epochs lists each version's rollback epoch, oldest version first
// ("1.0.0 1, 1.1.0 2"; "?" where the custom metadata does not parse).
func epochs(m status.Model) string {
	out := make([]string, len(m.Versions))
	for i, v := range m.Versions {
		e, ok := m.Epochs[v]
		out[i] = v + " ?"
		if ok {
			out[i] = fmt.Sprintf("%s %d", v, e)
		}
	}
	return strings.Join(out, ", ")
}
