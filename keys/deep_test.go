package keys

import (
	"strings"
	"testing"
)

// TestKeyFilesJSONBounded: key and public key files nested past the JSON
// depth limit are refused before they are decoded.
func TestKeyFilesJSONBounded(t *testing.T) {
	t.Parallel()
	deep := `{"format":"` + fileFormat + `","x":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`
	if _, err := ParseFile([]byte(deep)); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Fatalf("deep key file: %v", err)
	}
	if _, err := ParsePublic([]byte(deep)); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Fatalf("deep public key file: %v", err)
	}
}
