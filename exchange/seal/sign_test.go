package seal_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

// TestSignCompact: Sign writes a compact JWS that jwx verifies against the
// signer's published key and that crypto/ecdsa verifies by hand from RFC
// 7515 and 7518: the same protected header as jwx writes (alg, kid, typ),
// the payload, and R || S over the signing input. A changed byte anywhere
// fails.
func TestSignCompact(t *testing.T) {
	key, err := seal.GenerateKey(seal.UseSignature)
	require.NoError(t, err)
	s, err := seal.NewSigner(key)
	require.NoError(t, err)
	set, err := s.PublicSet()
	require.NoError(t, err)
	require.True(t, s.Direct(), "a P-256 key is signed with directly")
	payload := []byte(`{"v":2,"exchange":"ex-1"}`)

	sig, err := s.Sign(payload, seal.ManifestType)
	require.NoError(t, err)
	got, err := jws.Verify(sig, jws.WithKeySet(set, jws.WithRequireKid(true)))
	require.NoError(t, err)
	require.Equal(t, payload, got)

	parts := strings.Split(string(sig), ".")
	require.Len(t, parts, 3)
	hdrJSON := func(compact []byte) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(strings.Split(string(compact), ".")[0])
		require.NoError(t, err)
		var h map[string]any
		require.NoError(t, json.Unmarshal(b, &h))
		return h
	}
	old, err := s.SignJWX(payload, seal.ManifestType)
	require.NoError(t, err)
	require.Equal(t, hdrJSON(old), hdrJSON(sig), "the protected header jwx writes")
	require.Equal(t, map[string]any{"alg": "ES256", "kid": s.KeyID(), "typ": seal.ManifestType}, hdrJSON(sig))

	// By hand: ES256 is ECDSA P-256 over SHA-256 of header.payload, R || S
	// of 32 bytes each.
	var pub ecdsa.PublicKey
	pk, err := key.PublicKey()
	require.NoError(t, err)
	require.NoError(t, jwk.Export(pk, &pub))
	rs, err := base64.RawURLEncoding.DecodeString(parts[2])
	require.NoError(t, err)
	require.Len(t, rs, 64)
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, sv := new(big.Int).SetBytes(rs[:32]), new(big.Int).SetBytes(rs[32:])
	require.True(t, ecdsa.Verify(&pub, digest[:], r, sv))

	for i := range sig {
		// The last character of a segment may carry bits that decode to
		// nothing; every other one changes what is signed or the signature.
		if sig[i] == '.' || i == len(sig)-1 || sig[i+1] == '.' {
			continue
		}
		bad := bytes.Clone(sig)
		bad[i] ^= 0x01
		_, err := jws.Verify(bad, jws.WithKeySet(set, jws.WithRequireKid(true)))
		require.Error(t, err, "byte %d changed", i)
	}
}

// BenchmarkSign: an ES256 signature of a receipt-sized payload, as Sign
// makes it and, in the same run, as jwx made it for every receipt and
// manifest (exporting the key again for each).
func BenchmarkSign(b *testing.B) {
	key, err := seal.GenerateKey(seal.UseSignature)
	require.NoError(b, err)
	s, err := seal.NewSigner(key)
	require.NoError(b, err)
	payload := bytes.Repeat([]byte("r"), 300)
	for name, sign := range map[string]func([]byte, string) ([]byte, error){"seal": s.Sign, "jwx": s.SignJWX} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sign(payload, "gatehouse-receipt+jws"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
