package exchange

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

func newPublicKey(t testing.TB) []byte {
	t.Helper()
	k, err := seal.GenerateKey(seal.UseEncryption)
	require.NoError(t, err)
	b, err := seal.PublicJSON(k)
	require.NoError(t, err)
	return b
}

func TestKeyCache(t *testing.T) {
	var c keyCache
	a, rotated := newPublicKey(t), newPublicKey(t)

	k1, err := c.parse(a)
	require.NoError(t, err)
	k2, err := c.parse(a)
	require.NoError(t, err)
	require.Same(t, k1, k2, "the same key text is parsed once")

	k3, err := c.parse(rotated)
	require.NoError(t, err)
	kid1, _ := k1.KeyID()
	kid3, _ := k3.KeyID()
	require.NotEqual(t, kid1, kid3, "a rotated key is the new key")

	_, err = c.parse([]byte(`{"kty":"oct","k":"AAAA"}`))
	require.ErrorIs(t, err, seal.ErrKeyNotEC)
	_, err = c.parse(nil)
	require.Error(t, err, "no key registered")
	require.Len(t, c.keys, 2, "what does not parse is not kept")

	for range maxCachedKeys {
		_, err := c.parse(newPublicKey(t))
		require.NoError(t, err)
	}
	require.LessOrEqual(t, len(c.keys), maxCachedKeys)
}

// BenchmarkRecipientKey: the recipient's key as every upload read it
// (seal.ParseKey of the registered JWK), and as the cache gives it, in the
// same run.
func BenchmarkRecipientKey(b *testing.B) {
	jwk := newPublicKey(b)
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := seal.ParseKey(jwk); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		var c keyCache
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.parse(jwk); err != nil {
				b.Fatal(err)
			}
		}
	})
}
