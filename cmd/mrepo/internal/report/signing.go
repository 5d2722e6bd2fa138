// The results of the commands that create or sign roles: init, rotate,
// publish-staged, merge-signatures, targets --role, and the version
// controls (rollout, revoke, policy).

package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/edgetuf/edgetuf/internal/pubkey"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Initialized prints what mrepo init created: the keys (in keysDir, of
// keyType) and the root to pin.
func Initialized(w io.Writer, res *repo.InitResult, keysDir, keyType string) {
	fmt.Fprintf(w, "Created repository %s (root threshold %d of %d, %s keys)\n", res.Repository, res.RootThreshold, len(res.RootKeyIDs), keyType)
	fmt.Fprintf(w, "Keys in %s:\n", keysDir)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, k := range res.Keys {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", k.Name, k.Role, k.KeyID)
	}
	tw.Flush()
	fmt.Fprintf(w, "Root key IDs: %s\n", strings.Join(res.RootKeyIDs, " "))
	fmt.Fprintf(w, "Pin this root in device images: %s\n", res.RootFile)
	fmt.Fprintf(w, "SHA-256 of 1.root.json: %s\n", res.RootSHA256)
	fmt.Fprintf(w, "Next: move the root-*.key files to offline storage, one per holder.\n")
}

// Rotated prints what mrepo rotate changed in role's keys, and whether
// the new root was published or staged.
func Rotated(w io.Writer, role string, res *repo.RotateResult) {
	if len(res.Changes) == 0 {
		fmt.Fprintf(w, "Root v%d: no key changes (root re-signed with a fresh expiry)\n", res.RootVersion)
	} else {
		fmt.Fprintf(w, "Root v%d: %s\n", res.RootVersion, strings.Join(res.Changes, "; "))
	}
	fmt.Fprintf(w, "%s keys in root v%d: %s (threshold %d)\n", role, res.RootVersion, strings.Join(pubkey.ShortIDs(res.KeyIDs), ", "), res.Threshold)
	if !res.Published {
		Staged(w, res.Staged)
		return
	}
	Signatures(w, res.Signatures)
	fmt.Fprintf(w, "Published root v%d\n", res.RootVersion)
	if len(res.Resigned) > 0 {
		fmt.Fprintf(w, "Re-signed with the new keys: %s\n", Versions(res.Resigned, res.Versions))
	}
}

// PublishedStaged prints what mrepo publish-staged published and re-signed.
func PublishedStaged(w io.Writer, res *repo.PublishStagedResult) {
	if res.Resumed {
		fmt.Fprintf(w, "Root v%d was already published; completed its publication\n", res.Version)
	} else {
		Signatures(w, res.Signatures)
		fmt.Fprintf(w, "Published %s v%d\n", res.Role, res.Version)
	}
	if len(res.Resigned) > 0 {
		label := "Re-signed"
		if res.Role == metadata.ROOT {
			label = "Re-signed with the new keys"
		}
		fmt.Fprintf(w, "%s: %s\n", label, Versions(res.Resigned, res.Versions))
	}
}

// Merged prints the signatures mrepo merge-signatures added.
func Merged(w io.Writer, res *staged.MergeResult) {
	if len(res.Added) == 0 {
		fmt.Fprintf(w, "No new signatures for %s v%d in %s\n", res.Role, res.Version, res.File)
	} else {
		fmt.Fprintf(w, "Merged into %s: signatures by %s\n", res.File, strings.Join(pubkey.ShortIDs(res.Added), ", "))
	}
	Signatures(w, res.Signatures)
}

// ResignedRoles prints what mrepo targets --role re-signed: one
// delegated role, or every hash bin.
func ResignedRoles(w io.Writer, res *repo.ResignResult) {
	names := make([]string, 0, len(res.Roles))
	for n := range res.Roles {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 1 {
		fmt.Fprintf(w, "Signed %s v%d, snapshot v%d, timestamp v%d\n", names[0], res.Roles[names[0]], res.Versions.Snapshot, res.Versions.Timestamp)
	} else {
		fmt.Fprintf(w, "Signed %d hash bins, snapshot v%d, timestamp v%d\n", len(names), res.Versions.Snapshot, res.Versions.Timestamp)
	}
}

// ControlsChanged prints a version's controls after a change, and what
// was signed.
func ControlsChanged(w io.Writer, res *repo.ControlResult) {
	fmt.Fprintf(w, "%s %s: %s\n", res.ModelID, res.Version, strings.Join(Controls(res.Rollout, res.Revoked, res.Policy), "; "))
	fmt.Fprintf(w, "Signed %s v%d, snapshot v%d, timestamp v%d\n", res.Role, res.RoleVersion, res.Versions.Snapshot, res.Versions.Timestamp)
}
