// Package seal encrypts payloads for their recipient: a streaming AEAD over
// the body with a fresh data key, and a signed manifest carrying that key,
// encrypted to the recipient's public key. It does crypto only, no I/O of
// its own.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

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
// Close must be called to write the last segment. Nothing reaches w before
// either smallMax bytes were written or Close is called.
//
// A plaintext of at most smallMax bytes is one segment: it is held in a
// pooled buffer and sealed at Close into exactly the ciphertext Tink would
// write (docs/format.md; TestTinkCiphertextFollowsTheDocument holds both to
// it), without the 1 MiB segment buffer Tink's writer allocates for every
// stream. A longer plaintext goes through Tink's writer.
func Encrypt(w io.Writer, key, aad []byte) (io.WriteCloser, error) {
	if len(key) != KeySize {
		return nil, ErrKeySize
	}
	buf := smallBuffers.Get().(*[]byte)
	*buf = (*buf)[:headerSize] // room for the header, then the plaintext
	return &encryptWriter{w: w, key: append([]byte(nil), key...), aad: aad, buf: buf}, nil
}

// smallMax is the longest plaintext sealed without Tink's writer: far
// within one segment, so that it is always exactly one.
const smallMax = 64 << 10

// smallBuffers lend the buffers small plaintexts are held in, with room
// for their ciphertext.
var smallBuffers = sync.Pool{New: func() any { b := make([]byte, 0, headerSize+smallMax+tagSize); return &b }}

// encryptWriter holds a small plaintext until Close, or hands everything to
// Tink's writer once the plaintext outgrows smallMax.
type encryptWriter struct {
	w      io.Writer
	key    []byte
	aad    []byte
	buf    *[]byte // header room, then the plaintext so far, while it is small
	stream io.WriteCloser
	closed bool
}

func (e *encryptWriter) Write(b []byte) (int, error) {
	switch {
	case e.closed:
		return 0, errors.New("seal: write on closed writer")
	case e.stream != nil:
		return e.stream.Write(b)
	case len(*e.buf)-headerSize+len(b) <= smallMax:
		*e.buf = append(*e.buf, b...)
		return len(b), nil
	}
	p, err := primitive(e.key)
	if err != nil {
		return 0, err
	}
	stream, err := p.NewEncryptingWriter(e.w, e.aad)
	if err != nil {
		return 0, err
	}
	held := (*e.buf)[headerSize:]
	_, err = stream.Write(held)
	e.release()
	if err != nil {
		return 0, err
	}
	e.stream = stream
	return stream.Write(b)
}

func (e *encryptWriter) Close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	if e.stream != nil {
		Wipe(e.key)
		return e.stream.Close()
	}
	defer e.release()
	out, err := sealSegment(e.key, e.aad, *e.buf)
	Wipe(e.key)
	if err != nil {
		return err
	}
	_, err = e.w.Write(out)
	return err
}

// release wipes the held plaintext and returns its buffer to the pool.
func (e *encryptWriter) release() {
	if e.buf == nil {
		return
	}
	b := (*e.buf)[:cap(*e.buf)]
	clear(b)
	*e.buf = b[:0]
	smallBuffers.Put(e.buf)
	e.buf = nil
}

// sealSegment encrypts a plaintext of at most smallMax bytes, held in buf
// behind headerSize bytes of room, as a whole stream of one segment, in
// place: the header (its length, a random salt, a random nonce prefix),
// then segment 0, last, sealed with the segment key HKDF-SHA256(key, salt,
// aad) under the nonce prefix || 0 || 0x01. buf needs tagSize bytes of
// spare capacity.
func sealSegment(key, aad, buf []byte) ([]byte, error) {
	hdr := buf[:headerSize]
	hdr[0] = headerSize
	if _, err := rand.Read(hdr[1:]); err != nil {
		return nil, err
	}
	salt, prefix := hdr[1:1+KeySize], hdr[1+KeySize:]
	segKey, err := hkdf.Key(sha256.New, key, salt, string(aad), KeySize)
	if err != nil {
		return nil, err
	}
	defer Wipe(segKey)
	block, err := aes.NewCipher(segKey)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	var nonce [subtle.AESGCMHKDFNonceSizeInBytes]byte
	copy(nonce[:], prefix)
	binary.BigEndian.PutUint32(nonce[len(prefix):], 0)
	nonce[len(nonce)-1] = 1
	return gcm.Seal(hdr, nonce[:], buf[headerSize:], nil), nil
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
