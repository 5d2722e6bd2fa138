package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/internal/cliutil"
)

// Verify prints mrepo verify's report: every problem, one per line, or
// what was verified when there is none.
func Verify(w io.Writer, rep *audit.Report) {
	for _, p := range rep.Problems {
		fmt.Fprintln(w, p.String())
	}
	if rep.OK() {
		var parts []string
		for _, r := range rep.Roles {
			parts = append(parts, fmt.Sprintf("%s v%d", r.Role, r.Version))
		}
		since := ""
		if rep.Since > 0 {
			since = fmt.Sprintf(", changed since snapshot %d; %d unchanged roles not read", rep.Since, rep.RolesSkipped)
		}
		fmt.Fprintf(w, "OK: %s; %d targets verified (%s)%s\n", strings.Join(parts, ", "), rep.Targets, cliutil.HumanBytes(rep.TargetBytes), since)
	}
	for _, m := range rep.Controls {
		for _, ct := range m.Versions {
			fmt.Fprintf(w, "%s %s: %s\n", m.ModelID, ct.Version, strings.Join(Controls(ct.Rollout, ct.Revoked, ct.Policy), "; "))
		}
	}
}
