package seal_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

var update = flag.Bool("update", false, "rewrite the test vectors in testdata/vectors")

// Vector is one test vector of the payload format (docs/format.md): the
// inputs, every intermediate value a new implementation can check itself
// against, and the ciphertext, which is in File beside it.
type Vector struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Key         string         `json:"key"`
	AAD         string         `json:"aad"`
	Salt        string         `json:"salt"`
	NoncePrefix string         `json:"nonce_prefix"`
	SegmentKey  string         `json:"segment_key"`
	SegmentSize int            `json:"segment_size"`
	Plaintext   VectorText     `json:"plaintext"`
	Ciphertext  VectorFile     `json:"ciphertext"`
	Segments    []VectorSeg    `json:"segments"`
	Manifest    *seal.Manifest `json:"manifest"`
}

// VectorText describes the plaintext: Size bytes where byte i is i mod 251.
type VectorText struct {
	Size    int    `json:"size"`
	Pattern string `json:"pattern"`
	SHA256  string `json:"sha256"`
}

// VectorFile names the ciphertext file and gives its size and digest.
type VectorFile struct {
	File   string `json:"file"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
}

// VectorSeg is one ciphertext segment: where it starts, how long it is
// (tag included), the plaintext it holds and its nonce.
type VectorSeg struct {
	Offset        int    `json:"offset"`
	Size          int    `json:"size"`
	PlaintextSize int    `json:"plaintext_size"`
	Nonce         string `json:"nonce"`
	Last          bool   `json:"last"`
}

const (
	tagSize     = 16
	headerSize  = 1 + 32 + 7
	firstPlain  = seal.SegmentSize - headerSize - tagSize
	otherPlain  = seal.SegmentSize - tagSize
	vectorsDir  = "testdata/vectors"
	patternText = "byte i is i mod 251"
)

var vectorSizes = []struct {
	name, exchange, description string
	size                        int
}{
	{"empty", "0193f0c2-7d2e-7000-8000-000000000001", "no plaintext: one segment holding the tag alone", 0},
	{"one-byte", "0193f0c2-7d2e-7000-8000-000000000002", "one byte of plaintext", 1},
	{"one-segment", "0193f0c2-7d2e-7000-8000-000000000003", "a plaintext that exactly fills the first segment: the ciphertext is one segment of 1 MiB", firstPlain},
	{"several-segments", "0193f0c2-7d2e-7000-8000-000000000004", "three segments: a full first, a full second and a last of 1,000 bytes", firstPlain + otherPlain + 1000},
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func hexSum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// fixed returns n bytes counting up from start: the vectors' key, salt and
// nonce prefix, chosen so that each is recognisable in a hex dump.
func fixed(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// encryptVector encrypts plaintext as docs/format.md describes, written
// from the document and not from Tink: HKDF-SHA256 for the segment key,
// AES-256-GCM per segment with nonce = prefix || counter || last flag.
func encryptVector(t *testing.T, key, aad, salt, noncePrefix, plaintext []byte) ([]byte, []byte, []VectorSeg) {
	t.Helper()
	segKey, err := hkdf.Key(sha256.New, key, salt, string(aad), 32)
	require.NoError(t, err)
	block, err := aes.NewCipher(segKey)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)

	out := []byte{headerSize}
	out = append(out, salt...)
	out = append(out, noncePrefix...)
	var segs []VectorSeg
	rest := plaintext
	for i := uint32(0); ; i++ {
		limit := otherPlain
		if i == 0 {
			limit = firstPlain
		}
		n := min(limit, len(rest))
		last := n == len(rest)
		nonce := binary.BigEndian.AppendUint32(bytes.Clone(noncePrefix), i)
		if last {
			nonce = append(nonce, 1)
		} else {
			nonce = append(nonce, 0)
		}
		segs = append(segs, VectorSeg{Offset: len(out), Size: n + tagSize, PlaintextSize: n, Nonce: b64(nonce), Last: last})
		out = gcm.Seal(out, nonce, rest[:n], nil)
		rest = rest[n:]
		if last {
			return out, segKey, segs
		}
	}
}

func makeVector(t *testing.T, name, exchangeID, description string, size int) (*Vector, []byte, []byte) {
	key, salt, noncePrefix := fixed(0x00, 32), fixed(0x40, 32), fixed(0xa0, 7)
	aad := seal.AAD(exchangeID, "police-crime@1", "police.northshire")
	plaintext := pattern(size)
	ct, segKey, segs := encryptVector(t, key, aad, salt, noncePrefix, plaintext)
	m := &seal.Manifest{
		Version: seal.ManifestVersion, Issuer: "gatehouse.example", IssuedAt: time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC),
		Exchange: exchangeID, Agreement: "police-crime@1", Sender: "council.revenues", Recipient: "police.northshire",
		Purpose: "crime-prevention-detection", ContentType: "application/octet-stream",
		Plaintext:  seal.Digest{Size: int64(size), SHA256: hexSum(plaintext)},
		Ciphertext: seal.Digest{Size: int64(len(ct)), SHA256: hexSum(ct)},
		Object:     seal.Object{Bucket: "gatehouse-payloads", Key: "payloads/" + exchangeID + "/vector", Version: "1"},
		Encryption: seal.NewEncryption(key, aad),
	}
	v := &Vector{
		Name: name, Description: description,
		Key: b64(key), AAD: b64(aad), Salt: b64(salt), NoncePrefix: b64(noncePrefix), SegmentKey: b64(segKey),
		SegmentSize: seal.SegmentSize,
		Plaintext:   VectorText{Size: size, Pattern: patternText, SHA256: hexSum(plaintext)},
		Ciphertext:  VectorFile{File: name + ".bin", Size: len(ct), SHA256: hexSum(ct)},
		Segments:    segs,
		Manifest:    m,
	}
	return v, plaintext, ct
}

// TestVectors holds the test vectors of docs/format.md to an encoder
// written from the document, and checks that Tink, which the gateway seals
// with, decrypts each of them. go test ./exchange/seal -run TestVectors
// -update rewrites them.
func TestVectors(t *testing.T) {
	for _, vs := range vectorSizes {
		t.Run(vs.name, func(t *testing.T) {
			v, plaintext, ct := makeVector(t, vs.name, vs.exchange, vs.description, vs.size)
			doc, err := json.MarshalIndent(v, "", "  ")
			require.NoError(t, err)
			doc = append(doc, '\n')
			jsonFile, binFile := filepath.Join(vectorsDir, vs.name+".json"), filepath.Join(vectorsDir, v.Ciphertext.File)
			if *update {
				require.NoError(t, os.WriteFile(jsonFile, doc, 0o644))
				require.NoError(t, os.WriteFile(binFile, ct, 0o644))
			}
			wantDoc, err := os.ReadFile(jsonFile)
			require.NoError(t, err, "run go test ./exchange/seal -run TestVectors -update")
			require.Equal(t, string(wantDoc), string(doc), "%s differs from what the document's encoding gives", jsonFile)
			wantCT, err := os.ReadFile(binFile)
			require.NoError(t, err)
			require.True(t, bytes.Equal(wantCT, ct), "%s differs from what the document's encoding gives", binFile)

			size, err := seal.CiphertextSize(int64(vs.size))
			require.NoError(t, err)
			require.Equal(t, size, int64(len(wantCT)))

			// Tink decrypts the file with the manifest's key and AAD, read
			// back from the vector's JSON.
			var got Vector
			require.NoError(t, json.Unmarshal(wantDoc, &got))
			require.NoError(t, got.Manifest.Encryption.Check())
			r, err := seal.Decrypt(bytes.NewReader(wantCT), got.Manifest.Encryption.Key, got.Manifest.Encryption.AAD)
			require.NoError(t, err)
			plain, err := io.ReadAll(r)
			require.NoError(t, err)
			require.True(t, bytes.Equal(plaintext, plain), "Tink's plaintext of %s", binFile)
			require.Equal(t, v.Plaintext.SHA256, hexSum(plain))
		})
	}
}

// TestTinkCiphertextFollowsTheDocument: the ciphertexts seal.Encrypt writes
// (Tink's, and its own for a small plaintext) have the layout of
// docs/format.md: given the salt and nonce prefix drawn, the document's
// encoding reproduces them byte for byte. The sizes are the vectors' and
// those either side of the small plaintext's limit, written whole and in
// pieces that cross it.
func TestTinkCiphertextFollowsTheDocument(t *testing.T) {
	key := fixed(0x00, 32)
	aad := seal.AAD("ex-1", "police-crime@1", "police.northshire")
	sizes := []struct {
		name string
		size int
	}{{"small-limit", seal.SmallMax}, {"past-small-limit", seal.SmallMax + 1}}
	for _, vs := range vectorSizes {
		sizes = append(sizes, struct {
			name string
			size int
		}{vs.name, vs.size})
	}
	for _, vs := range sizes {
		plaintext := pattern(vs.size)
		for _, piece := range []int{0, 1000, seal.SmallMax - 1} {
			ct := encryptPieces(t, key, aad, plaintext, piece)
			require.Equal(t, byte(headerSize), ct[0])
			salt, noncePrefix := ct[1:33], ct[33:headerSize]
			mine, _, _ := encryptVector(t, key, aad, salt, noncePrefix, plaintext)
			require.True(t, bytes.Equal(ct, mine), "%s in pieces of %d: the ciphertext and the document's differ", vs.name, piece)
		}
		ct := encrypt(t, key, aad, plaintext)
		require.Equal(t, byte(headerSize), ct[0])
		salt, noncePrefix := ct[1:33], ct[33:headerSize]
		// Re-encrypting with Tink's salt and nonce prefix reproduces Tink's
		// ciphertext byte for byte.
		mine, _, _ := encryptVector(t, key, aad, salt, noncePrefix, plaintext)
		require.True(t, bytes.Equal(ct, mine), "%s: Tink's ciphertext and the document's differ", vs.name)
	}
}

// encryptPieces encrypts plaintext with seal.Encrypt in writes of piece
// bytes (0: one write).
func encryptPieces(t *testing.T, key, aad, plaintext []byte, piece int) []byte {
	t.Helper()
	if piece == 0 {
		piece = max(len(plaintext), 1)
	}
	var buf bytes.Buffer
	w, err := seal.Encrypt(&buf, key, aad)
	require.NoError(t, err)
	for rest := plaintext; len(rest) > 0; {
		n := min(piece, len(rest))
		m, err := w.Write(rest[:n])
		require.NoError(t, err)
		require.Equal(t, n, m)
		rest = rest[n:]
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}
