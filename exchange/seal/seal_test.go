package seal_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

func encrypt(t testing.TB, key, aad, plaintext []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := seal.Encrypt(&buf, key, aad)
	require.NoError(t, err)
	_, err = w.Write(plaintext)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func decrypt(key, aad, ciphertext []byte) ([]byte, error) {
	r, err := seal.Decrypt(bytes.NewReader(ciphertext), key, aad)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestStreamRoundTrip(t *testing.T) {
	key := seal.NewDataKey()
	aad := seal.AAD("ex-1", "police-crime@1", "police.northshire")
	for _, n := range []int{0, 1, 1000, seal.SmallMax, seal.SmallMax + 1, seal.SegmentSize - 56, seal.SegmentSize - 55, seal.SegmentSize, 3*seal.SegmentSize + 17} {
		plaintext := make([]byte, n)
		_, _ = rand.Read(plaintext)
		ct := encrypt(t, key, aad, plaintext)
		want, err := seal.CiphertextSize(int64(n))
		require.NoError(t, err)
		require.Equal(t, want, int64(len(ct)), "ciphertext size for %d bytes", n)
		if n >= 16 {
			require.False(t, bytes.Contains(ct, plaintext), "ciphertext contains the plaintext")
		}
		got, err := decrypt(key, aad, ct)
		require.NoError(t, err)
		require.True(t, bytes.Equal(plaintext, got), "round trip of %d bytes", n)
	}
}

func TestStreamRejects(t *testing.T) {
	key := seal.NewDataKey()
	aad := seal.AAD("ex-1", "police-crime@1", "police.northshire")
	plaintext := bytes.Repeat([]byte("council tax record\n"), 100000) // ~1.9 MiB, two segments
	ct := encrypt(t, key, aad, plaintext)

	cases := map[string]func() ([]byte, error){
		"tampered ciphertext": func() ([]byte, error) {
			bad := bytes.Clone(ct)
			bad[len(bad)/2] ^= 1
			return decrypt(key, aad, bad)
		},
		"truncated ciphertext": func() ([]byte, error) {
			return decrypt(key, aad, ct[:seal.SegmentSize])
		},
		"wrong key": func() ([]byte, error) {
			return decrypt(seal.NewDataKey(), aad, ct)
		},
		"wrong aad: other recipient": func() ([]byte, error) {
			return decrypt(key, seal.AAD("ex-1", "police-crime@1", "dwp"), ct)
		},
		"wrong aad: other agreement version": func() ([]byte, error) {
			return decrypt(key, seal.AAD("ex-1", "police-crime@2", "police.northshire"), ct)
		},
		"wrong aad: other exchange": func() ([]byte, error) {
			return decrypt(key, seal.AAD("ex-2", "police-crime@1", "police.northshire"), ct)
		},
		"short key": func() ([]byte, error) {
			return decrypt(key[:16], aad, ct)
		},
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := fn()
			require.Error(t, err)
			require.Empty(t, got)
		})
	}
}

func TestCiphertextSize(t *testing.T) {
	for n, want := range map[int64]int64{
		0:                              40 + 16,
		1:                              40 + 1 + 16,
		seal.SegmentSize - 16 - 40:     seal.SegmentSize,
		seal.SegmentSize - 16 - 40 + 1: seal.SegmentSize + 1 + 16,
		1 << 30:                        40 + 1<<30 + 16*1025,
	} {
		got, err := seal.CiphertextSize(n)
		require.NoError(t, err)
		require.Equal(t, want, got, "plaintext %d", n)
	}
	_, err := seal.CiphertextSize(-1)
	require.Error(t, err)
}

func testManifest(key []byte) *seal.Manifest {
	aad := seal.AAD("ex-1", "police-crime@1", "police.northshire")
	sum := sha256.Sum256([]byte("hello"))
	return &seal.Manifest{
		Version: seal.ManifestVersion, Issuer: "gatehouse", IssuedAt: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC),
		Exchange: "ex-1", Agreement: "police-crime@1", Sender: "council.revenues", Recipient: "police.northshire",
		Purpose: "crime-prevention-detection", ContentType: "text/plain",
		Plaintext:  seal.Digest{Size: 5, SHA256: string(sum[:])},
		Object:     seal.Object{Bucket: "b", Key: "k", Version: "v"},
		Encryption: seal.NewEncryption(key, aad),
	}
}

func TestEnvelope(t *testing.T) {
	signingKey, err := seal.GenerateKey(seal.UseSignature)
	require.NoError(t, err)
	signer, err := seal.NewSigner(signingKey)
	require.NoError(t, err)
	gatewayKeys, err := signer.PublicSet()
	require.NoError(t, err)
	police, err := seal.GenerateKey(seal.UseEncryption)
	require.NoError(t, err)
	dwp, err := seal.GenerateKey(seal.UseEncryption)
	require.NoError(t, err)

	m := testManifest(seal.NewDataKey())
	env, err := signer.SealManifest(m, police)
	require.NoError(t, err)
	require.False(t, bytes.Contains(env, m.Encryption.Key), "envelope leaks the data key")

	got, err := seal.OpenEnvelope(env, police, gatewayKeys)
	require.NoError(t, err)
	require.Equal(t, m.Encryption.Key, got.Encryption.Key)
	require.Equal(t, m.Exchange, got.Exchange)
	require.True(t, m.IssuedAt.Equal(got.IssuedAt))

	t.Run("other recipient cannot open", func(t *testing.T) {
		_, err := seal.OpenEnvelope(env, dwp, gatewayKeys)
		require.ErrorIs(t, err, seal.ErrEnvelope)
	})
	t.Run("signature from another key", func(t *testing.T) {
		otherKey, err := seal.GenerateKey(seal.UseSignature)
		require.NoError(t, err)
		other, err := seal.NewSigner(otherKey)
		require.NoError(t, err)
		forged, err := other.SealManifest(m, police)
		require.NoError(t, err)
		_, err = seal.OpenEnvelope(forged, police, gatewayKeys)
		require.ErrorIs(t, err, seal.ErrEnvelope)
	})
	t.Run("tampered envelope", func(t *testing.T) {
		bad := bytes.Clone(env)
		bad[len(bad)-5] ^= 0x01
		_, err := seal.OpenEnvelope(bad, police, gatewayKeys)
		require.ErrorIs(t, err, seal.ErrEnvelope)
	})
	t.Run("public key cannot sign", func(t *testing.T) {
		pub, err := signingKey.PublicKey()
		require.NoError(t, err)
		_, err = seal.NewSigner(pub)
		require.Error(t, err)
	})
	t.Run("key parsing", func(t *testing.T) {
		b, err := seal.PublicJSON(police)
		require.NoError(t, err)
		k, err := seal.ParseKey(b)
		require.NoError(t, err)
		isPriv, err := jwk.IsPrivateKey(k)
		require.NoError(t, err)
		require.False(t, isPriv)
		_, err = seal.ParseKey([]byte(`{"kty":"oct","k":"AAAA","kid":"x"}`))
		require.Error(t, err)
	})
}

// Manifests encode binary values as base64url without padding; those of
// version 1 (standard base64, padded) still decode.
func TestManifestBase64(t *testing.T) {
	key := bytes.Repeat([]byte{0xfb, 0xff}, 16) // '+' and '/' in standard base64
	m := testManifest(key)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	require.Contains(t, string(b), `"key":"`+base64.RawURLEncoding.EncodeToString(key)+`"`)

	var old map[string]any
	require.NoError(t, json.Unmarshal(b, &old))
	enc := old["encryption"].(map[string]any)
	enc["key"] = base64.StdEncoding.EncodeToString(key)
	enc["aad"] = base64.StdEncoding.EncodeToString(m.Encryption.AAD)
	old["v"] = 1
	b, err = json.Marshal(old)
	require.NoError(t, err)
	var got seal.Manifest
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, key, []byte(got.Encryption.Key))
	require.Equal(t, []byte(m.Encryption.AAD), []byte(got.Encryption.AAD))

	for _, bad := range []string{`"not base64!"`, `"QR"`, `12`} {
		var v seal.Bytes
		require.Error(t, json.Unmarshal([]byte(bad), &v), bad)
	}
}

// A JWKS that marks its keys yields only the manifest keys for manifests:
// an audit key cannot pass a manifest off as the gateway's.
func TestManifestKeys(t *testing.T) {
	manifestKey, err := seal.GenerateKey(seal.UseSignature)
	require.NoError(t, err)
	auditKey, err := seal.GenerateKey(seal.UseSignature)
	require.NoError(t, err)
	manifestSigner, err := seal.NewSigner(manifestKey)
	require.NoError(t, err)
	auditSigner, err := seal.NewSigner(auditKey)
	require.NoError(t, err)
	set, err := manifestSigner.PublicSet()
	require.NoError(t, err)
	require.NoError(t, seal.MarkSigns(set, seal.SignsManifests))
	auditSet, err := auditSigner.PublicSet()
	require.NoError(t, err)
	require.NoError(t, seal.MarkSigns(auditSet, seal.SignsAudit))
	k, _ := auditSet.Key(0)
	require.NoError(t, set.AddKey(k))

	b, err := json.Marshal(set)
	require.NoError(t, err)
	require.Contains(t, string(b), `"signs":"manifests"`)
	require.Contains(t, string(b), `"signs":"audit"`)

	police, err := seal.GenerateKey(seal.UseEncryption)
	require.NoError(t, err)
	m := testManifest(seal.NewDataKey())
	env, err := manifestSigner.SealManifest(m, police)
	require.NoError(t, err)
	_, err = seal.OpenEnvelope(env, police, set)
	require.NoError(t, err)
	forged, err := auditSigner.SealManifest(m, police)
	require.NoError(t, err)
	_, err = seal.OpenEnvelope(forged, police, set)
	require.ErrorIs(t, err, seal.ErrEnvelope, "a manifest signed by the audit key")

	// An unmarked JWKS (an older gateway's) verifies with any of its keys.
	unmarked, err := auditSigner.PublicSet()
	require.NoError(t, err)
	_, err = seal.OpenEnvelope(forged, police, unmarked)
	require.NoError(t, err)
}
