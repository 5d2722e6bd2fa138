package anti_rollback

import (
	"strings"
	"testing"
)

// TestRecordBounded: a record nested past the JSON depth limit, or larger
// than a record can be, is an error (fail closed), read without holding
// more than a record's bytes.
func TestRecordBounded(t *testing.T) {
	t.Parallel()
	deep := `{"model_id":"m","floor":"1.0.0","x":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`
	if _, err := parseRecord("m", []byte(deep)); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Fatalf("deep record: %v", err)
	}
	if _, err := parseRecord("m", []byte(`{"model_id":"m","floor":"1.0.0","pad":"`+strings.Repeat("x", maxRecord)+`"}`)); err == nil {
		t.Fatal("an oversized record was accepted")
	}
}
