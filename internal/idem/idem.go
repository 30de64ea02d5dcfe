// Package idem holds what Idempotency-Key handling shares: the key rule, the
// request fingerprint and the errors. A key is claimed in the same
// transaction as whatever the request creates, so a retry after a lost
// answer finds what was created instead of creating it twice.
package idem

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// ReplayedHeader marks an answer replayed for a repeated key.
const ReplayedHeader = "Idempotent-Replayed"

var (
	// ErrReused: the key was used before for a different request.
	ErrReused = errors.New("the Idempotency-Key was used for a different request")
	// ErrUnknown: no request was made with the key.
	ErrUnknown = errors.New("idempotency key not found")
)

// Valid reports whether a key is acceptable: 1 to 255 printable ASCII characters.
func Valid(key string) bool {
	if len(key) == 0 || len(key) > 255 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// Fingerprint is the SHA-256 of a request's JSON encoding: the same request
// gives the same fingerprint.
func Fingerprint(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Keys reads what claimed idempotency keys created.
type Keys interface {
	// KeyResource returns the fingerprint of the request that claimed key in
	// scope and the resource it created, or ErrUnknown.
	KeyResource(ctx context.Context, scope, key string) (fingerprint, resource string, err error)
}

// Replay looks up what key created in scope: "" if the key is empty or new,
// the resource if the same request (the same fingerprint) claimed it, and
// ErrReused if another request did. Any other error is the store's.
func Replay(ctx context.Context, keys Keys, scope, key, fingerprint string) (string, error) {
	if key == "" {
		return "", nil
	}
	fp, resource, err := keys.KeyResource(ctx, scope, key)
	switch {
	case errors.Is(err, ErrUnknown):
		return "", nil
	case err != nil:
		return "", err
	case fp != fingerprint:
		return "", ErrReused
	}
	return resource, nil
}
