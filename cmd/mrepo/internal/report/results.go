package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/deltafiles"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/internal/pubkey"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/edgetuf/edgetuf/targetstore"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Added prints what add-target published: each target, each delta patch,
// and the summary line.
func Added(w io.Writer, res *repo.AddResult) {
	var total int64
	for _, t := range res.Targets {
		total += t.Length
		fmt.Fprintf(w, "  %s  %12d  %s\n", t.SHA256[:16], t.Length, t.Path)
	}
	for _, d := range res.Deltas {
		fmt.Fprintln(w, deltaLine(d))
	}
	for _, r := range res.Reused {
		fmt.Fprintln(w, reusedLine(r))
	}
	if e := res.Encrypted; e != nil {
		line := fmt.Sprintf("Encrypted for content key %s, delivery %s", e.Recipient, e.Delivery)
		if res.Envelopes > 0 {
			line += fmt.Sprintf(" (%d key envelope published)", res.Envelopes)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w, publishedSummary(res, total))
}

// publishedSummary is add-target's last line.
func publishedSummary(res *repo.AddResult, total int64) string {
	head := fmt.Sprintf("Published %s %s", res.ModelID, res.Version)
	if res.Role != "" {
		head += " in role " + res.Role
	}
	var vs []string
	switch {
	case res.Role != "":
		vs = append(vs, fmt.Sprintf("%s v%d", res.Role, res.RoleVersions[res.Role]))
	case len(res.RoleVersions) > 0:
		names := make([]string, 0, len(res.RoleVersions))
		for n := range res.RoleVersions {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			vs = append(vs, fmt.Sprintf("%s v%d", n, res.RoleVersions[n]))
		}
	default:
		vs = append(vs, fmt.Sprintf("targets v%d", res.Versions.Targets))
	}
	vs = append(vs, fmt.Sprintf("snapshot v%d", res.Versions.Snapshot), fmt.Sprintf("timestamp v%d", res.Versions.Timestamp))
	return fmt.Sprintf("%s: %d targets, %s (%s)", head, len(res.Targets), cliutil.HumanBytes(total), strings.Join(vs, ", "))
}

// deltaLine is how add-target reports one patch.
func deltaLine(d targetstore.DeltaResult) string {
	if d.Length == 0 && !d.Published {
		return fmt.Sprintf("delta %s from %s: skipped: %s", d.File, d.Base, d.Reason)
	}
	s := fmt.Sprintf("delta %s from %s: %s (%.1f%% of %s)", d.File, d.Base, cliutil.HumanBytes(d.Length), d.Percent, cliutil.HumanBytes(d.FileLength))
	if d.Published {
		return s + ", published"
	}
	return s + ", skipped: " + d.Reason
}

// Delegation prints what mrepo delegate changed.
func Delegation(w io.Writer, res *repo.DelegateResult) {
	switch {
	case res.Bins > 0:
		verb := "Updated the keys of"
		if res.Created {
			verb = "Delegated every target path to"
		}
		fmt.Fprintf(w, "%s %d hash bins %s-* (threshold %d, keys %s)\n", verb, res.Bins, res.NamePrefix, res.Threshold, ShortIDs(res.KeyIDs))
		if n := len(res.RoleVersions); n > 0 {
			fmt.Fprintf(w, "Signed %d bins\n", n)
		}
	case res.Removed:
		fmt.Fprintf(w, "Removed the delegation to role %s\n", res.Role)
	default:
		verb := "Updated role"
		if res.Created {
			verb = "Delegated to new role"
		}
		fmt.Fprintf(w, "%s %s: %s\n", verb, res.Role, strings.Join(res.Paths, ", "))
		fmt.Fprintf(w, "  threshold %d, keys %s, terminating %s\n", res.Threshold, ShortIDs(res.KeyIDs), yesNo(res.Terminating))
		if v, ok := res.RoleVersions[res.Role]; ok {
			fmt.Fprintf(w, "Signed %s v%d (empty)\n", res.Role, v)
		}
		if res.Pending {
			fmt.Fprintf(w, "Role %s has no metadata yet: its first add-target --role %s signs it\n", res.Role, res.Role)
		}
	}
	fmt.Fprintf(w, "Signed targets v%d, snapshot v%d, timestamp v%d\n", res.Versions.Targets, res.Versions.Snapshot, res.Versions.Timestamp)
}

// Signatures prints a staged file's signature status, if it has groups.
func Signatures(w io.Writer, s *staged.SignatureStatus) {
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

// Versions lists the new versions of roles (targets, snapshot, timestamp)
// in v: "targets v3, snapshot v4".
func Versions(roles []string, v *repo.Versions) string {
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

// Staged prints what stage (or a rotation that needs more signatures)
// wrote, and what the key holders do next.
func Staged(w io.Writer, s *repo.StageResult) {
	fmt.Fprintf(w, "Staged %s v%d in %s (not published):\n", s.Role, s.Version, s.File)
	for _, l := range s.Summary[1:] {
		fmt.Fprintln(w, l)
	}
	Signatures(w, s.Signatures)
	fmt.Fprintf(w, "Next: each key holder signs it (mrepo sign --role %s --key KEYFILE, with --repo DIR or --staged COPY);\nthen mrepo publish-staged --repo DIR --role %s --keys DIR.\n", s.Role, s.Role)
}

// ShortIDs joins the short forms of key IDs with commas.
func ShortIDs(ids []string) string { return strings.Join(pubkey.ShortIDs(ids), ",") }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// DeltaCreated is mrepo delta create's line.
func DeltaCreated(w io.Writer, res *deltafiles.CreateResult) {
	fmt.Fprintf(w, "Wrote %s: %s, %.1f%% of NEW (%s; OLD %s) in %s\n", res.Patch, cliutil.HumanBytes(res.PatchLength),
		res.Percent, cliutil.HumanBytes(res.NewLength), cliutil.HumanBytes(res.OldLength), seconds(res.Seconds))
}

// DeltaApplied is mrepo delta apply's line.
func DeltaApplied(w io.Writer, res *deltafiles.ApplyResult) {
	fmt.Fprintf(w, "Wrote %s: %s, SHA-256 %s (as the patch promises; patch %s, %.1f%% of it) in %s\n", res.Out, cliutil.HumanBytes(res.OutLength),
		res.OutSHA256, cliutil.HumanBytes(res.PatchLength), res.Percent, seconds(res.Seconds))
}

func seconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}
