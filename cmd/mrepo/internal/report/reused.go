package report

import (
	"fmt"
	"path"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/targetstore"
)

// reusedLine is how add-target reports a payload file whose bytes were
// already published for the model.
func reusedLine(r targetstore.Reused) string {
	s := fmt.Sprintf("reused %s: same bytes as %s %s, ", r.File, r.FromVersion, path.Base(r.FromPath))
	if r.LinkedBytes > 0 {
		return s + fmt.Sprintf("linked (%s not stored again)", cliutil.HumanBytes(r.LinkedBytes))
	}
	return s + "stored as a copy (" + r.Note + ")"
}
