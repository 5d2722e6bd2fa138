package scripttest

import (
	"os"
	"strconv"

	"github.com/edgetuf/edgetuf/internal/cliutil"
)

// ProgressThresholdEnv lowers, in a test binary that doubles as mrepo or
// mclient, the size from which long work logs its progress
// (cliutil.ProgressThreshold, 64 MiB), so that a script's small files
// show the records.
const ProgressThresholdEnv = "EDGETUF_TEST_PROGRESS_THRESHOLD"

// LowerProgressThreshold applies ProgressThresholdEnv if it is set. The
// test binaries call it at init; the shipped binaries never read it.
func LowerProgressThreshold() {
	if v := os.Getenv(ProgressThresholdEnv); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			cliutil.ProgressThreshold = n
		}
	}
}
