package seal_test

import (
	"io"
	"testing"

	"github.com/tink-crypto/tink-go/v2/streamingaead/subtle"

	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

// BenchmarkEncryptSmall seals a 1 KiB payload (target P2's) with
// seal.Encrypt, and, in the same run, with Tink's writer as seal.Encrypt
// used to for every size: the difference is Tink's 1 MiB segment buffer,
// allocated and zeroed for every stream.
func BenchmarkEncryptSmall(b *testing.B) {
	key := seal.NewDataKey()
	aad := seal.AAD("0193f0c2-7d2e-7000-8000-000000000001", "hmrc-tax@1", "hmrc")
	plaintext := make([]byte, 1024)
	run := func(b *testing.B, open func(w io.Writer) (io.WriteCloser, error)) {
		b.ReportAllocs()
		b.SetBytes(int64(len(plaintext)))
		for b.Loop() {
			w, err := open(io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := w.Write(plaintext); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("seal", func(b *testing.B) {
		run(b, func(w io.Writer) (io.WriteCloser, error) { return seal.Encrypt(w, key, aad) })
	})
	b.Run("tink", func(b *testing.B) {
		p, err := subtle.NewAESGCMHKDF(key, seal.HKDFHash, seal.KeySize, seal.SegmentSize, 0)
		if err != nil {
			b.Fatal(err)
		}
		run(b, func(w io.Writer) (io.WriteCloser, error) { return p.NewEncryptingWriter(w, aad) })
	})
}
