package seal

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Key uses, as JWK "use" values.
const (
	UseSignature  = "sig"
	UseEncryption = "enc"
)

// GenerateKey returns a new P-256 private JWK for use (sig or enc) with its
// kid set to the RFC 7638 thumbprint and alg set to ES256 or ECDH-ES+A256KW.
func GenerateKey(use string) (jwk.Key, error) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := jwk.Import(raw)
	if err != nil {
		return nil, err
	}
	if err := key.Set(jwk.KeyUsageKey, use); err != nil {
		return nil, err
	}
	alg := jwa.KeyAlgorithm(jwa.ES256())
	if use == UseEncryption {
		alg = jwa.ECDH_ES_A256KW()
	}
	if err := key.Set(jwk.AlgorithmKey, alg); err != nil {
		return nil, err
	}
	if err := jwk.AssignKeyID(key); err != nil {
		return nil, err
	}
	return key, nil
}

// WriteKey writes a private JWK to path, readable only by the owner.
func WriteKey(path string, key jwk.Key) error {
	b, err := json.MarshalIndent(key, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// ReadKey reads a JWK (private or public) from path.
func ReadKey(path string) (jwk.Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// ErrKeyNotEC is returned for a key that is not an EC P-256 key with a kid.
var ErrKeyNotEC = errors.New("key must be an EC P-256 JWK with a kid")

// ParseKey parses one JWK and checks that it is a P-256 key with a kid.
func ParseKey(b []byte) (jwk.Key, error) {
	key, err := jwk.ParseKey(b)
	if err != nil {
		return nil, err
	}
	if key.KeyType() != jwa.EC() {
		return nil, ErrKeyNotEC
	}
	if crv, ok := key.(jwk.ECDSAPublicKey); ok {
		if c, ok := crv.Crv(); !ok || c != jwa.P256() {
			return nil, ErrKeyNotEC
		}
	} else if crv, ok := key.(jwk.ECDSAPrivateKey); ok {
		if c, ok := crv.Crv(); !ok || c != jwa.P256() {
			return nil, ErrKeyNotEC
		}
	}
	if kid, ok := key.KeyID(); !ok || kid == "" {
		return nil, ErrKeyNotEC
	}
	return key, nil
}

// PublicJSON returns the public half of key as JSON.
func PublicJSON(key jwk.Key) ([]byte, error) {
	pub, err := key.PublicKey()
	if err != nil {
		return nil, err
	}
	return json.Marshal(pub)
}

// What a gateway signing key signs, as the "signs" member of its JWK in the
// published JWKS (RFC 7517 §4 allows further members; JOSE libraries ignore
// it). Manifests are signed by one key, checkpoints, exports and receipts by
// another, so a verifier can hold each to its own key.
const (
	SignsMember    = "signs"
	SignsManifests = "manifests"
	SignsAudit     = "audit"
)

// MarkSigns marks every key of set as signing what (SignsManifests or
// SignsAudit).
func MarkSigns(set jwk.Set, what string) error {
	for i := range set.Len() {
		k, _ := set.Key(i)
		if err := k.Set(SignsMember, what); err != nil {
			return err
		}
	}
	return nil
}

// Signs returns what key is marked as signing, or "" if it is not marked.
func Signs(key jwk.Key) string {
	var what string
	if err := key.Get(SignsMember, &what); err != nil {
		return ""
	}
	return what
}

// ManifestKeys returns the keys of set that may sign manifests: those marked
// SignsManifests, or every key when none is marked (the JWKS of a gateway
// from before the marking).
func ManifestKeys(set jwk.Set) (jwk.Set, error) {
	out, marked := jwk.NewSet(), false
	for i := range set.Len() {
		k, _ := set.Key(i)
		switch Signs(k) {
		case "":
		case SignsManifests:
			marked = true
			if err := out.AddKey(k); err != nil {
				return nil, err
			}
		default:
			marked = true
		}
	}
	if !marked {
		return set, nil
	}
	return out, nil
}
