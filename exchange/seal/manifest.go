package seal

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Media types of the sealed manifest.
const (
	// ManifestType is the JWS "typ" of a signed manifest.
	ManifestType = "gatehouse-manifest+jws"
	// EnvelopeContentType is the JWE "cty": the envelope holds a signed manifest.
	EnvelopeContentType = "gatehouse-manifest+jws"
	// ManifestVersion is the manifest format version written: 2 encodes
	// binary values as base64url and fills ciphertext.sha256. Version 1
	// (standard base64, no ciphertext digest) is still read.
	ManifestVersion = 2
)

// Bytes is a binary value of a manifest: base64url without padding (RFC 4648
// §5), as in every JOSE object around it. Decoding also accepts the
// standard alphabet with padding, which version 1 manifests used.
type Bytes []byte

// MarshalJSON encodes b as a base64url string without padding.
func (b Bytes) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.RawURLEncoding.EncodeToString(b))
}

// UnmarshalJSON decodes a base64url string, with or without padding, or a
// standard base64 one.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := DecodeBase64(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// DecodeBase64 decodes base64url (RFC 4648 §5) with or without padding, and
// the standard alphabet of version 1 manifests.
func DecodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	v, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("seal: not base64url: %w", err)
	}
	return v, nil
}

// Manifest describes one sealed payload: what it is, where it is stored, and
// the key to open it. It is signed by the gateway and encrypted to the
// recipient, so only the recipient ever sees the data key.
type Manifest struct {
	Version     int       `json:"v"`
	Issuer      string    `json:"iss"`
	IssuedAt    time.Time `json:"iat"`
	Exchange    string    `json:"exchange"`
	Agreement   string    `json:"agreement"`
	Sender      string    `json:"sender"`
	Recipient   string    `json:"recipient"`
	Purpose     string    `json:"purpose"`
	ContentType string    `json:"content_type"`
	RequestRef  string    `json:"request_ref,omitempty"`
	// Minimised says how a structured payload was minimised before sealing.
	Minimised *Minimisation `json:"minimised,omitempty"`

	Plaintext  Digest     `json:"plaintext"`
	Ciphertext Digest     `json:"ciphertext"`
	Object     Object     `json:"object"`
	Encryption Encryption `json:"encryption"`
}

// Minimisation says what minimisation did to a structured payload before it
// was sealed: its format, what was applied (mode: strip or refuse, the
// flow's allowlist with fields outside it dropped or refused; none, no
// allowlist, every field kept; count-only, no field rules, the payload
// unchanged and only counted), how many records and distinct subjects it
// held, and which fields were stripped or replaced by keyed pseudonyms.
type Minimisation struct {
	Format        string   `json:"format"`
	Mode          string   `json:"mode"`
	Records       int64    `json:"records"`
	Subjects      int64    `json:"subjects,omitempty"`
	Stripped      []string `json:"stripped,omitempty"`
	Pseudonymised []string `json:"pseudonymised,omitempty"`
}

// Digest is a size and SHA-256 (lower-case hex). The ciphertext's digest is
// empty in version 1 manifests.
type Digest struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Object locates the ciphertext in object storage.
type Object struct {
	Bucket  string `json:"bucket"`
	Key     string `json:"key"`
	Version string `json:"version,omitempty"`
}

// Encryption says how the payload was encrypted and carries the data key.
type Encryption struct {
	// Format is the ciphertext format: Tink's streaming AEAD.
	Format      string `json:"format"`
	Algorithm   string `json:"alg"`
	SegmentSize int    `json:"segment_size"`
	HKDFHash    string `json:"hkdf_hash"`
	// AAD is the associated data the ciphertext is bound to.
	AAD Bytes `json:"aad"`
	// Key is the 32-byte data key.
	Key Bytes `json:"key"`
}

// NewEncryption describes the payload encryption with key and aad.
func NewEncryption(key, aad []byte) Encryption {
	return Encryption{
		Format:      "tink-streaming-aead",
		Algorithm:   Algorithm,
		SegmentSize: SegmentSize,
		HKDFHash:    HKDFHash,
		AAD:         aad,
		Key:         key,
	}
}

// Check reports whether e is an encryption this package can open.
func (e *Encryption) Check() error {
	if e.Format != "tink-streaming-aead" || e.Algorithm != Algorithm || e.SegmentSize != SegmentSize || e.HKDFHash != HKDFHash {
		return fmt.Errorf("seal: unsupported payload encryption %s/%s", e.Format, e.Algorithm)
	}
	if len(e.Key) != KeySize {
		return ErrKeySize
	}
	return nil
}

// Signer makes the gateway's ES256 signatures: manifests with the signing
// key, checkpoints and exports with the audit key.
type Signer struct {
	key jwk.Key
	kid string
	// priv is key as crypto/ecdsa holds it, exported once: Sign signs with
	// it directly rather than through jwx, which exports the key again, and
	// so misses crypto/ecdsa's cache of the checked key, for every
	// signature. Nil for a key that is not P-256 (jwx signs then).
	priv *ecdsa.PrivateKey
}

// NewSigner returns a signer for a private P-256 JWK.
func NewSigner(key jwk.Key) (*Signer, error) {
	if ok, err := jwk.IsPrivateKey(key); err != nil || !ok {
		return nil, errors.New("seal: signing key must be a private key")
	}
	kid, ok := key.KeyID()
	if !ok || kid == "" {
		return nil, errors.New("seal: signing key needs a kid")
	}
	s := &Signer{key: key, kid: kid}
	var priv ecdsa.PrivateKey
	if err := jwk.Export(key, &priv); err == nil && priv.Curve == elliptic.P256() && validPrivate(&priv) {
		s.priv = &priv
	}
	return s, nil
}

// KeyID returns the signing key's kid.
func (s *Signer) KeyID() string { return s.kid }

// PublicSet returns the JWKS that verifies this signer's signatures.
func (s *Signer) PublicSet() (jwk.Set, error) {
	pub, err := s.key.PublicKey()
	if err != nil {
		return nil, err
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, err
	}
	return set, nil
}

// Sign returns the compact JWS (ES256, RFC 7515 §7.1) of payload with the
// given typ: the protected header {"alg":"ES256","kid":…,"typ":…}, the
// payload, and the signature R || S (RFC 7518 §3.4), each base64url.
func (s *Signer) Sign(payload []byte, typ string) ([]byte, error) {
	if s.priv == nil {
		return s.signJWX(payload, typ)
	}
	hdr, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{"ES256", s.kid, typ})
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding
	n, m := enc.EncodedLen(len(hdr)), enc.EncodedLen(len(payload))
	out := make([]byte, n+1+m, n+1+m+1+enc.EncodedLen(64))
	enc.Encode(out, hdr)
	out[n] = '.'
	enc.Encode(out[n+1:], payload)
	digest := sha256.Sum256(out)
	r, sig, err := ecdsa.Sign(rand.Reader, s.priv, digest[:])
	if err != nil {
		return nil, fmt.Errorf("seal: sign: %w", err)
	}
	var rs [64]byte
	r.FillBytes(rs[:32])
	sig.FillBytes(rs[32:])
	out = append(out, '.')
	return enc.AppendEncode(out, rs[:]), nil
}

// signJWX is Sign through jwx.
func (s *Signer) signJWX(payload []byte, typ string) ([]byte, error) {
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, s.kid); err != nil {
		return nil, err
	}
	if err := hdr.Set(jws.TypeKey, typ); err != nil {
		return nil, err
	}
	return jws.Sign(payload, jws.WithKey(jwa.ES256(), s.key, jws.WithProtectedHeaders(hdr)))
}

// SignDetached returns a compact JWS (ES256) over payload with the payload
// detached (RFC 7515 Appendix F: "header..signature"), with the given typ
// and any further protected headers.
func (s *Signer) SignDetached(payload []byte, typ string, headers map[string]any) ([]byte, error) {
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, s.kid); err != nil {
		return nil, err
	}
	if err := hdr.Set(jws.TypeKey, typ); err != nil {
		return nil, err
	}
	for k, v := range headers {
		if err := hdr.Set(k, v); err != nil {
			return nil, err
		}
	}
	return jws.Sign(nil, jws.WithKey(jwa.ES256(), s.key, jws.WithProtectedHeaders(hdr)), jws.WithDetachedPayload(payload))
}

// SealManifest signs m and encrypts the signed manifest to the recipient's
// public key (JWE ECDH-ES+A256KW with A256GCM, compact serialization).
func (s *Signer) SealManifest(m *Manifest, recipient jwk.Key) ([]byte, error) {
	payload, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	signed, err := s.Sign(payload, ManifestType)
	if err != nil {
		return nil, fmt.Errorf("seal: sign manifest: %w", err)
	}
	pub, err := recipient.PublicKey()
	if err != nil {
		return nil, err
	}
	hdr := jwe.NewHeaders()
	if err := hdr.Set(jwe.ContentTypeKey, EnvelopeContentType); err != nil {
		return nil, err
	}
	if kid, ok := pub.KeyID(); ok {
		if err := hdr.Set(jwe.KeyIDKey, kid); err != nil {
			return nil, err
		}
	}
	env, err := jwe.Encrypt(signed,
		jwe.WithKey(jwa.ECDH_ES_A256KW(), pub),
		jwe.WithContentEncryption(jwa.A256GCM()),
		jwe.WithProtectedHeaders(hdr),
		jwe.WithCompact())
	if err != nil {
		return nil, fmt.Errorf("seal: encrypt manifest: %w", err)
	}
	return env, nil
}

// ErrEnvelope is returned when an envelope cannot be opened or verified.
var ErrEnvelope = errors.New("seal: envelope cannot be opened")

// OpenEnvelope decrypts env with the recipient's private key, verifies the
// gateway's signature against the manifest keys of gatewayKeys
// (ManifestKeys) and returns the manifest.
func OpenEnvelope(env []byte, recipient jwk.Key, gatewayKeys jwk.Set) (*Manifest, error) {
	signed, err := jwe.Decrypt(env, jwe.WithKey(jwa.ECDH_ES_A256KW(), recipient))
	if err != nil {
		return nil, fmt.Errorf("%w: decrypt: %v", ErrEnvelope, err)
	}
	keys, err := ManifestKeys(gatewayKeys)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEnvelope, err)
	}
	payload, err := jws.Verify(signed, jws.WithKeySet(keys, jws.WithRequireKid(true)))
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrEnvelope, err)
	}
	// The gateway signs other things (audit checkpoints, exports) with keys
	// in the same JWKS: only a manifest may pass as one.
	if msg, err := jws.Parse(signed); err != nil || len(msg.Signatures()) != 1 {
		return nil, fmt.Errorf("%w: signature: not a single compact JWS", ErrEnvelope)
	} else if typ, _ := msg.Signatures()[0].ProtectedHeaders().Type(); typ != ManifestType {
		return nil, fmt.Errorf("%w: signed object has typ %q, not %q", ErrEnvelope, typ, ManifestType)
	}
	var m Manifest
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrEnvelope, err)
	}
	if m.Version != 1 && m.Version != ManifestVersion {
		return nil, fmt.Errorf("%w: manifest version %d", ErrEnvelope, m.Version)
	}
	if err := m.Encryption.Check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEnvelope, err)
	}
	return &m, nil
}

// validPrivate reports whether priv holds a private scalar crypto/ecdsa
// accepts.
func validPrivate(priv *ecdsa.PrivateKey) bool {
	_, err := priv.Bytes()
	return err == nil
}
