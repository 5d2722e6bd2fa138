package goldencheck

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/targets"
)

// verifiedReader stands for a decrypting verified reader: it returns
// data, then, on the read after the last byte, io.EOF or fail for ever.
type verifiedReader struct {
	r    *bytes.Reader
	fail error
}

func (v *verifiedReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	if err == io.EOF && v.fail != nil {
		return n, v.fail
	}
	return n, err
}
func (v *verifiedReader) Close() error { return nil }

// sealedOpen reads the plaintexts of a version whose installed files are
// ciphertexts; a name in bad fails its check at the end.
func sealedOpen(plain map[string][]byte, bad ...string) func(string) (io.ReadCloser, error) {
	return func(name string) (io.ReadCloser, error) {
		vr := &verifiedReader{r: bytes.NewReader(plain[name])}
		for _, b := range bad {
			if b == name {
				vr.fail = codes.Errorf(codes.DecryptFailed, nil, "%s: plaintext SHA-256 differs", name)
			}
		}
		return vr, nil
	}
}

// TestVectorsOfAVersionKeptEncrypted: for a version kept encrypted at
// rest the command gets each input as a decrypted copy in the private
// output directory (removed afterwards), and the expected output is read
// decrypted; the files on disk (ciphertexts) are never handed over.
func TestVectorsOfAVersionKeptEncrypted(t *testing.T) {
	t.Parallel()
	raw := targets.Vector{Name: "raw", Input: "model.bin", Format: targets.FormatBytes, Expect: "model.bin"}
	cipher := map[string][]byte{"model.bin": []byte("CIPHERT"), "in.bin": bytes.Repeat([]byte{0xee}, 8), "out.bin": bytes.Repeat([]byte{0xee}, 12)}
	f := newFixture(t, cipher, probe, raw)
	f.reply("probe", f32(0.25, 0.5001, 0.25))
	f.reply("raw", []byte("weights"))
	// The command checks that its input is the plaintext.
	f.write(filepath.Join(f.replies, "raw.sh"), []byte(`printf weights | cmp -s "$MCLIENT_VECTOR_INPUT" - && printf weights > "$MCLIENT_VECTOR_OUTPUT"`))
	c := f.check("sh " + filepath.Join(f.state, "check.sh"))
	c.Open = sealedOpen(probeFiles)
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, run := range f.runs() {
		if strings.Contains(run, "input="+f.dir) || !strings.Contains(run, "input="+filepath.Dir(f.dir)+"/.install-vectors-") {
			t.Errorf("run %q: the input must be a decrypted copy in the output directory", run)
		}
	}
	f.leftovers()
	// Without Open the same check compares the ciphertexts and fails.
	wantFail(t, f.run(context.Background()), codes.HealthcheckFailed, `test vector "probe"`)
}

// TestVectorsOfAVersionKeptEncryptedRefused: an input or expected output
// that does not decrypt and verify fails the check with its code; a bad
// input never reaches the command, and nothing is left behind.
func TestVectorsOfAVersionKeptEncryptedRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, probeFiles, probe)
	f.reply("probe", f32(0.25, 0.5, 0.25))
	c := f.check("sh " + filepath.Join(f.state, "check.sh"))
	c.Open = sealedOpen(probeFiles, "in.bin")
	wantFail(t, c.Run(context.Background()), codes.DecryptFailed, `test vector "probe" (1 of 1): input in.bin: in.bin: plaintext SHA-256 differs`)
	if _, err := os.Stat(f.log); err == nil {
		t.Error("the command ran on an input that did not verify")
	}
	f.leftovers()
	c.Open = sealedOpen(probeFiles, "out.bin")
	wantFail(t, c.Run(context.Background()), codes.DecryptFailed, `expected output out.bin`)
	f.leftovers()
}
