package compliance

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// SignatureType is the JWS "typ" of an export's detached signature.
const SignatureType = "gatehouse-export+jws"

// headerExport is the protected header that describes the signed export.
const headerExport = "gatehouse_export"

// Signed describes a signed export; it travels in the signature's protected
// header, so it is as trustworthy as the signature.
type Signed struct {
	Kind        string    `json:"kind"`
	Format      string    `json:"format"`
	GeneratedAt time.Time `json:"generated_at"`
	GeneratedBy string    `json:"generated_by"`
	RequestedBy string    `json:"requested_by"`
	// RequestedByName is the display name of the person who asked for it.
	RequestedByName string            `json:"requested_by_name,omitempty"`
	Parameters      map[string]string `json:"parameters,omitempty"`
	Rows            int               `json:"rows"`
	// SHA256 is the hex SHA-256 of the export's bytes.
	SHA256 string `json:"sha256"`
	// KeyID is the audit key that signed it (set when verified).
	KeyID string `json:"kid,omitempty"`
}

// DetachedSigner makes detached ES256 signatures with the audit key.
type DetachedSigner interface {
	SignDetached(payload []byte, typ string, headers map[string]any) ([]byte, error)
}

// Sign returns the detached compact JWS ("header..signature") over body.
func Sign(s DetachedSigner, body []byte, meta Signed) (string, error) {
	sum := sha256.Sum256(body)
	meta.SHA256 = hex.EncodeToString(sum[:])
	meta.GeneratedAt = meta.GeneratedAt.UTC()
	meta.KeyID = ""
	sig, err := s.SignDetached(body, SignatureType, map[string]any{headerExport: meta})
	if err != nil {
		return "", fmt.Errorf("compliance: sign export: %w", err)
	}
	return string(sig), nil
}

// ErrSignature is returned when an export's signature does not verify.
var ErrSignature = errors.New("the export's signature does not verify")

// Verify checks the detached signature sig over the export read from body
// against keys (the gateway's JWKS) and returns what the signature says
// the export is.
func Verify(sig []byte, body io.Reader, keys jwk.Set) (*Signed, error) {
	msg, err := jws.Parse(sig)
	if err != nil || len(msg.Signatures()) != 1 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrSignature)
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	if typ, _ := hdr.Type(); typ != SignatureType {
		return nil, fmt.Errorf("%w: typ is %q, not %q", ErrSignature, typ, SignatureType)
	}
	kid, _ := hdr.KeyID()
	key, ok := keys.LookupKeyID(kid)
	if !ok {
		return nil, fmt.Errorf("%w: no key with kid %q in the gateway's key set", ErrSignature, kid)
	}
	h := sha256.New()
	if _, err := jws.Verify(sig, jws.WithKey(jwa.ES256(), key), jws.WithDetachedPayloadReader(io.TeeReader(body, h))); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	var raw any
	if err := hdr.Get(headerExport, &raw); err != nil {
		return nil, fmt.Errorf("%w: no %s header", ErrSignature, headerExport)
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var meta Signed
	if err := json.Unmarshal(b, &meta); err != nil {
		return nil, fmt.Errorf("%w: unreadable %s header: %v", ErrSignature, headerExport, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); meta.SHA256 != got {
		return nil, fmt.Errorf("%w: the header names another file (sha256 %s)", ErrSignature, meta.SHA256)
	}
	meta.KeyID = kid
	return &meta, nil
}
