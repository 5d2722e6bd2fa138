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
	return s + copiedLocally(res)
}

// copiedLocally says what an update copied from files already installed
// on the device instead of downloading: "; 256.0 MiB copied from the
// installed detector 1.0.0", or "".
func copiedLocally(res *client.Result) string {
	var n int64
	var from []string
	for _, f := range res.Files {
		if src := f.SourceModel + " " + f.SourceVersion; f.Method == client.MethodLocal {
			n += f.Length
			if !slices.Contains(from, src) {
				from = append(from, src)
			}
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; %s copied from the installed %s", cliutil.HumanBytes(n), strings.Join(from, ", "))
}

func orNone(v string) string {
	if v == "" {
		return "(none)"
	}
	return v
}
