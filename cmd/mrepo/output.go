// Printing helpers that several mrepo commands share.

package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/urfave/cli/v2"
)

func warn(c *cli.Context, ws []string) {
	for _, w := range ws {
		fmt.Fprintf(c.App.ErrWriter, "mrepo: warning: %s\n", w)
	}
}

func printStatus(w io.Writer, s *staged.SignatureStatus) {
	if s != nil && len(s.Groups) > 0 {
		fmt.Fprintln(w, capitalize(s.String()))
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func versionsLine(roles []string, v *repo.Versions) string {
	var parts []string
	for _, r := range roles {
		switch r {
		case metadata.TARGETS:
			parts = append(parts, fmt.Sprintf("targets v%d", v.Targets))
		case metadata.SNAPSHOT:
			parts = append(parts, fmt.Sprintf("snapshot v%d", v.Snapshot))
		case metadata.TIMESTAMP:
			parts = append(parts, fmt.Sprintf("timestamp v%d", v.Timestamp))
		}
	}
	return strings.Join(parts, ", ")
}

func printStaged(c *cli.Context, s *repo.StageResult) {
	w := c.App.Writer
	fmt.Fprintf(w, "Staged %s v%d in %s (not published):\n", s.Role, s.Version, s.File)
	for _, l := range s.Summary[1:] {
		fmt.Fprintln(w, l)
	}
	printStatus(w, s.Signatures)
	fmt.Fprintf(w, "Next: each key holder signs it (mrepo sign --role %s --key KEYFILE, with --repo DIR or --staged COPY);\nthen mrepo publish-staged --repo DIR --role %s --keys DIR.\n", s.Role, s.Role)
}

func shortIDs(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = keys.ShortID(id)
	}
	return strings.Join(out, ",")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
