package tpmstore

import (
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/anti_rollback"
)

// FuzzParseSpec: the store spec comes from client.json in the state
// directory (untrusted). An accepted spec is the file store or tpm: with
// an absolute path that is exactly what follows the prefix; OpenSpec
// opens the store it names, without touching the TPM.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"", "file", "tpm:/dev/tpmrm0", "tpm:", "tpm:dev/tpmrm0", "TPM:/dev/tpmrm0", "file:/x", "tpm:/a\x00b", "tpm:/tmp/swtpm/tpm.sock"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		p, err := ParseSpec(spec)
		if err != nil {
			return
		}
		st, err := OpenSpec(spec, t.TempDir())
		if err != nil {
			t.Fatalf("ParseSpec accepted %q, OpenSpec refused it: %v", spec, err)
		}
		switch {
		case spec == "" || spec == SpecFile:
			if _, ok := st.(*anti_rollback.FileStore); !ok || p != "" {
				t.Fatalf("%q: %T %q", spec, st, p)
			}
		default:
			ts, ok := st.(*Store)
			if !ok || !strings.HasPrefix(p, "/") || SpecTPMPrefix+p != spec || ts.Path != p {
				t.Fatalf("%q: %T %q", spec, st, p)
			}
		}
	})
}
