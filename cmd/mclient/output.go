// Printing helpers that several mclient commands share (update, status).

package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/cliutil"
)

// transferred says how many bytes an update received, and how: "3.9 MiB
// downloaded by delta from 1.0.0 instead of 64.0 MiB" when patches were
// used, "64.0 MiB downloaded" otherwise.
func transferred(res *client.Result) string {
	s := cliutil.HumanBytes(res.BytesDownloaded) + " downloaded"
	var bases []string
	var full int64
	for _, f := range res.Files {
		full += f.Length
		if f.Method == client.MethodDelta && !slices.Contains(bases, f.Base) {
			bases = append(bases, f.Base)
		}
	}
	if len(bases) > 0 {
		s += fmt.Sprintf(" by delta from %s instead of %s", strings.Join(bases, ", "), cliutil.HumanBytes(full))
	}
	return s
}

func orNone(v string) string {
	if v == "" {
		return "(none)"
	}
	return v
}
