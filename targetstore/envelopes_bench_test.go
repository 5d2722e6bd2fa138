package targetstore

import (
	"testing"

	"filippo.io/age/tag"
	"github.com/spf13/afero"
)

// BenchmarkPutEnvelopes writes 10,000 envelopes on the OS filesystem
// (sealing, one syncfs, renames): the bulk path of mrepo grant. Per
// envelope: ns/op / 10,000.
func BenchmarkPutEnvelopes(b *testing.B) {
	const n = 10000
	rs := make([]*tag.Recipient, n)
	for i := range rs {
		rs[i] = deviceRecipient(b)
	}
	key := newKey(b)
	s := Store{Fs: afero.NewOsFs(), Dir: b.TempDir()}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.PutEnvelopes("det", "1.0.0", rs, key); err != nil {
			b.Fatal(err)
		}
	}
}
