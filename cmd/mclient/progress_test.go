package main

import (
	"os"
	"strconv"

	"github.com/edgetuf/edgetuf/internal/cliutil"
)

// Scripts lower the size from which long work logs its progress
// (cliutil.ProgressThreshold, 64 MiB) with EDGETUF_TEST_PROGRESS_THRESHOLD,
// so that small files show the records. Only this test binary reads it.
func init() {
	if v := os.Getenv("EDGETUF_TEST_PROGRESS_THRESHOLD"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			cliutil.ProgressThreshold = n
		}
	}
}
