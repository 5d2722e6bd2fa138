package codes

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestErrorTextNamesEachCodeOnce: wrapping an *Error in another keeps one
// code in the text, and Reason never carries a code.
func TestErrorTextNamesEachCodeOnce(t *testing.T) {
	t.Parallel()
	inner := Errorf(HealthcheckFailed, errors.New("exit status 1"), "health check %q", "probe")
	outer := Errorf(HealthcheckFailed, inner, "det 1.1.0 failed its health check; back on 1.0.0")
	if got, want := outer.Error(), `HEALTHCHECK_FAILED: det 1.1.0 failed its health check; back on 1.0.0: health check "probe": exit status 1`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if r := ReasonOf(outer); strings.Contains(r, "HEALTHCHECK_FAILED") {
		t.Fatalf("reason %q carries a code", r)
	}
	// A cause that already starts with the message is not repeated.
	e := Errorf(StateInvalid, fmt.Errorf("anti-rollback store /x: bad"), "anti-rollback store")
	if got := e.Error(); got != "STATE_INVALID: anti-rollback store /x: bad" {
		t.Fatalf("got %s", got)
	}
	if got := ReasonOf(errors.New("plain")); got != "plain" {
		t.Fatalf("got %s", got)
	}
	if ReasonOf(nil) != "" {
		t.Fatal("reason of nil")
	}
}

// TestTUFCodeByRole: the role being processed decides between the codes
// that one go-tuf type serves, and an error of no known type fails closed
// whatever its text says ("not found" once meant TARGET_NOT_FOUND, which
// lets a lookup skip a model). TestGoTUFErrorMapping checks the same codes
// against go-tuf's real updater.
func TestTUFCodeByRole(t *testing.T) {
	t.Parallel()
	unsigned := &metadata.ErrUnsignedMetadata{Msg: "Verifying targets failed"}
	bare := &metadata.ErrRepository{Msg: "new snapshot is missing info for targets.json"}
	for _, c := range []struct {
		err  error
		role string
		want Code
	}{
		{unsigned, metadata.ROOT, MetadataSignatureInvalid},
		{unsigned, metadata.TIMESTAMP, MetadataSignatureInvalid},
		{unsigned, metadata.SNAPSHOT, MetadataSignatureInvalid},
		{unsigned, metadata.TARGETS, SignatureInvalid},
		{unsigned, "", MetadataSignatureInvalid},
		{bare, metadata.SNAPSHOT, RollbackRejected},
		{bare, metadata.TARGETS, MetadataInvalid},
		{bare, "", MetadataInvalid},
		{fmt.Errorf("wrapped: %w", &metadata.ErrBadVersionNumber{}), metadata.TARGETS, RollbackRejected},
		{errors.New("role targets not found in snapshot"), metadata.TARGETS, MetadataInvalid},
		{errors.New("target x not found"), "", MetadataInvalid},
		{Errorf(Network, unsigned, "own code"), metadata.TARGETS, Network},
	} {
		if got := TUFCode(c.err, c.role); got != c.want {
			t.Errorf("TUFCode(%v, %q) = %s, want %s", c.err, c.role, got, c.want)
		}
	}
}
