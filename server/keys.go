package server

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"golang.org/x/mod/sumdb/note"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

// ReadHexKey reads a hex-encoded key of at least 32 bytes.
func ReadHexKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, errors.New("want hex-encoded random bytes")
	}
	if err := audit.CheckSubjectKey(key); err != nil {
		return nil, err
	}
	return key, nil
}

// AuditKeys reads the audit signing key and returns its signer and the set
// of public keys that verify audit signatures: the current key and the
// retired ones.
func AuditKeys(cfg *config.Config) (*seal.Signer, jwk.Set, error) {
	key, err := seal.ReadKey(cfg.Keys.AuditKeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("keys.audit_key_file: %w", err)
	}
	signer, err := seal.NewSigner(key)
	if err != nil {
		return nil, nil, fmt.Errorf("keys.audit_key_file: %w", err)
	}
	set, err := signer.PublicSet()
	if err != nil {
		return nil, nil, err
	}
	if err := addRetired(set, cfg.Keys.AuditRetiredKeysFile); err != nil {
		return nil, nil, fmt.Errorf("keys.audit_retired_keys_file: %w", err)
	}
	if err := seal.MarkSigns(set, seal.SignsAudit); err != nil {
		return nil, nil, err
	}
	return signer, set, nil
}

// CheckpointKeys reads the checkpoint note key, which must be named after
// audit.origin, and the retired checkpoint verifier keys.
func CheckpointKeys(cfg *config.Config) (*audit.CheckpointKey, *audit.NoteKeys, error) {
	key, err := audit.ReadCheckpointKey(cfg.Keys.CheckpointKeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("keys.checkpoint_key_file: %w", err)
	}
	if name := key.Signer.Name(); name != cfg.Audit.Origin {
		return nil, nil, fmt.Errorf("keys.checkpoint_key_file: the key is named %q but audit.origin is %q; set audit.origin: %s, or create a key for the origin with gatehouse keys init --origin %s in an empty folder", name, cfg.Audit.Origin, name, cfg.Audit.Origin)
	}
	keys := &audit.NoteKeys{Origin: cfg.Audit.Origin, Keys: []note.Verifier{key.Verifier}}
	if f := cfg.Keys.CheckpointRetiredKeysFile; f != "" {
		retired, err := audit.ReadCheckpointVerifiers(f)
		if err != nil {
			return nil, nil, fmt.Errorf("keys.checkpoint_retired_keys_file: %w", err)
		}
		keys.Keys = append(keys.Keys, retired...)
	}
	return key, keys, nil
}

// addRetired adds the public keys of a JWKS file of retired keys (if
// named) to set, so that what they signed before a rotation still verifies.
func addRetired(set jwk.Set, file string) error {
	if file == "" {
		return nil
	}
	retired, err := jwk.ReadFile(file)
	if err != nil {
		return err
	}
	for i := range retired.Len() {
		k, _ := retired.Key(i)
		if ok, _ := jwk.IsPrivateKey(k); ok {
			return errors.New("holds a private key; keep only the public halves of retired keys")
		}
		if kid, ok := k.KeyID(); !ok || kid == "" {
			return errors.New("a retired key has no kid")
		}
		if err := set.AddKey(k); err != nil {
			return err
		}
	}
	return nil
}

// probeKeys checks that each signing key still signs, and that what it
// signs verifies against the published key set.
func probeKeys(published jwk.Set, signers ...*seal.Signer) error {
	for _, sg := range signers {
		sig, err := sg.Sign([]byte(`{"probe":true}`), "gatehouse-probe+jws")
		if err != nil {
			return fmt.Errorf("key %s cannot sign: %w", sg.KeyID(), err)
		}
		if _, err := jws.Verify(sig, jws.WithKeySet(published, jws.WithRequireKid(true))); err != nil {
			return fmt.Errorf("key %s: its signature does not verify against the published keys: %w", sg.KeyID(), err)
		}
	}
	return nil
}
