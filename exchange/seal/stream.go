// Package seal encrypts payloads for their recipient: a streaming AEAD over
// the body with a fresh data key, and a signed manifest carrying that key,
// encrypted to the recipient's public key. It does crypto only, no I/O of
// its own.
package seal

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/tink-crypto/tink-go/v2/streamingaead/subtle"
)

// Streaming AEAD parameters: Tink's AES256_GCM_HKDF_1MB key template.
const (
	// Algorithm names the payload encryption in manifests.
	Algorithm = "AES256_GCM_HKDF_1MB"
	// KeySize is the size of a data key and of the derived segment keys.
	KeySize = 32
	// SegmentSize is the ciphertext segment size.
	SegmentSize = 1 << 20
	// HKDFHash is the HKDF hash, as Tink names it.
	HKDFHash = "SHA256"

	headerSize = 1 + KeySize + subtle.AESGCMHKDFNoncePrefixSizeInBytes
	tagSize    = subtle.AESGCMHKDFTagSizeInBytes
	// plaintextSegment is how much plaintext one full segment holds.
	plaintextSegment = SegmentSize - tagSize
)

// ErrKeySize is returned for a data key that is not KeySize bytes.
var ErrKeySize = errors.New("seal: data key must be 32 bytes")

// NewDataKey returns a fresh random data key. Callers zero it with Wipe when done.
func NewDataKey() []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return k
}

// Wipe overwrites b with zeros.
func Wipe(b []byte) { clear(b) }

// AAD binds a payload ciphertext to its exchange, agreement version and
// recipient. The same string is carried in the manifest.
func AAD(exchangeID, agreementRef, recipient string) []byte {
	return []byte("gatehouse/payload/v1\x00" + exchangeID + "\x00" + agreementRef + "\x00" + recipient)
}

func primitive(key []byte) (*subtle.AESGCMHKDF, error) {
	if len(key) != KeySize {
		return nil, ErrKeySize
	}
	return subtle.NewAESGCMHKDF(key, HKDFHash, KeySize, SegmentSize, 0)
}

// Encrypt returns a writer that encrypts what is written to it into w.
// Close must be called to write the last segment.
func Encrypt(w io.Writer, key, aad []byte) (io.WriteCloser, error) {
	p, err := primitive(key)
	if err != nil {
		return nil, err
	}
	return p.NewEncryptingWriter(w, aad)
}

// Decrypt returns a reader of the plaintext of the ciphertext in r. Every
// segment is authenticated before its plaintext is returned; a truncated,
// reordered or altered ciphertext is an error, never short plaintext.
func Decrypt(r io.Reader, key, aad []byte) (io.Reader, error) {
	p, err := primitive(key)
	if err != nil {
		return nil, err
	}
	return p.NewDecryptingReader(r, aad)
}

// CiphertextSize returns the exact ciphertext size for a plaintext of n
// bytes: the header, the plaintext, and one tag per segment. The first
// segment also holds the header; an empty plaintext still has one segment.
func CiphertextSize(n int64) (int64, error) {
	if n < 0 {
		return 0, fmt.Errorf("seal: negative plaintext size %d", n)
	}
	segments := (n + headerSize + plaintextSegment - 1) / plaintextSegment
	return headerSize + n + segments*tagSize, nil
}
