package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-gw/gatehouse/internal/subject"
)

// Subject keys are versioned: "hmac-sha256:v<N>:" and the lower-case hex
// HMAC-SHA256, under key version N, of the identifier in its canonical form
// (subject.Canonical: the type, a zero byte, the value). Entries written
// before versions existed carry "hmac-sha256:" and the HMAC of the older
// normalisation (LegacySubjectKey), under the key that is now version 2.
// Rotating the key adds a version; new records use the newest, and a
// subject-access search looks under every version, and the legacy form, so
// nothing recorded about a person is lost to a rotation.

// FirstKeyVersion is the version of a key file's unversioned key: the key
// the legacy subject keys were made with.
const FirstKeyVersion = 2

// SubjectKeyV returns the subject key of an identifier under key, which is
// key version version.
func SubjectKeyV(key []byte, version int, typ, value string) string {
	typ, value = subject.Canonical(typ, value)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(typ))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return SubjectKeyPrefix + "v" + strconv.Itoa(version) + ":" + hex.EncodeToString(m.Sum(nil))
}

// LegacySubjectKey is the unversioned subject key entries carried before
// keys were versioned: the HMAC of the lower-cased type, a zero byte and
// the value without white space, upper-cased (NormaliseSubjectValue).
func LegacySubjectKey(key []byte, typ, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.ToLower(strings.TrimSpace(typ))))
	m.Write([]byte{0})
	m.Write([]byte(NormaliseSubjectValue(value)))
	return SubjectKeyPrefix + hex.EncodeToString(m.Sum(nil))
}

// SubjectKeyring holds every version of the subject key: the newest makes
// new records, all of them find old ones.
type SubjectKeyring struct {
	versions []int // ascending
	keys     map[int][]byte
}

// NewSubjectKeyring is a keyring of one key, version FirstKeyVersion.
func NewSubjectKeyring(key []byte) (*SubjectKeyring, error) {
	r := &SubjectKeyring{keys: map[int][]byte{}}
	return r, r.add(FirstKeyVersion, key)
}

func (r *SubjectKeyring) add(version int, key []byte) error {
	if version < FirstKeyVersion {
		return fmt.Errorf("key version %d: versions start at %d", version, FirstKeyVersion)
	}
	if _, dup := r.keys[version]; dup {
		return fmt.Errorf("key version %d is given twice", version)
	}
	if err := CheckSubjectKey(key); err != nil {
		return fmt.Errorf("key version %d: %w", version, err)
	}
	r.keys[version] = key
	r.versions = append(r.versions, version)
	slices.Sort(r.versions)
	return nil
}

// ParseSubjectKeys reads a subject key file: one key per line, hex, either
// bare (version 2: the key of a file written before versions) or
// "v<N>:<hex>"; blank lines and lines starting with # are skipped. The
// highest version makes new keys.
func ParseSubjectKeys(b []byte) (*SubjectKeyring, error) {
	r := &SubjectKeyring{keys: map[int][]byte{}}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		version := FirstKeyVersion
		if v, k, ok := strings.Cut(line, ":"); ok {
			n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
			if err != nil || !strings.HasPrefix(v, "v") {
				return nil, fmt.Errorf("line %d: want v<N>:<hex> or <hex>", i+1)
			}
			version, line = n, k
		}
		key, err := hex.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: want hex-encoded random bytes", i+1)
		}
		if err := r.add(version, key); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
	}
	if len(r.versions) == 0 {
		return nil, errors.New("no subject key")
	}
	return r, nil
}

// ReadSubjectKeys reads a subject key file (ParseSubjectKeys).
func ReadSubjectKeys(path string) (*SubjectKeyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSubjectKeys(bytes.TrimSpace(b))
}

// Version is the version new keys are made with.
func (r *SubjectKeyring) Version() int { return r.versions[len(r.versions)-1] }

// Current is the newest key's bytes.
func (r *SubjectKeyring) Current() []byte { return r.keys[r.Version()] }

// Key is the subject key new records use for an identifier.
func (r *SubjectKeyring) Key(typ, value string) string {
	return SubjectKeyV(r.Current(), r.Version(), typ, value)
}

// Keys are every key the identifier may be recorded under: the current
// version's first, then older versions', then the legacy unversioned ones.
func (r *SubjectKeyring) Keys(typ, value string) []string {
	out := make([]string, 0, 2*len(r.versions))
	for i := len(r.versions) - 1; i >= 0; i-- {
		out = append(out, SubjectKeyV(r.keys[r.versions[i]], r.versions[i], typ, value))
	}
	for i := len(r.versions) - 1; i >= 0; i-- {
		out = append(out, LegacySubjectKey(r.keys[r.versions[i]], typ, value))
	}
	return slices.Compact(out)
}

// PayloadDigest is the keyed digest that stands for a payload's plaintext
// SHA-256 (lower-case hex) in the database and the record: "hmac-sha256:v<N>:"
// and the hex HMAC-SHA256 of the 32 digest bytes under a key derived from
// subject key version N (HMAC-SHA256(key, "gatehouse payload digest")). The
// plaintext digest itself, which would let anyone holding the record test
// a guess at a small payload, stays inside the encrypted manifest. A value
// that is already keyed is returned as it is.
func PayloadDigest(key []byte, version int, sha256Hex string) string {
	if strings.HasPrefix(sha256Hex, SubjectKeyPrefix) || sha256Hex == "" {
		return sha256Hex
	}
	dk := hmac.New(sha256.New, key)
	dk.Write([]byte("gatehouse payload digest"))
	m := hmac.New(sha256.New, dk.Sum(nil))
	if raw, err := hex.DecodeString(sha256Hex); err == nil && len(raw) == sha256.Size {
		m.Write(raw)
	} else {
		m.Write([]byte(sha256Hex))
	}
	return SubjectKeyPrefix + "v" + strconv.Itoa(version) + ":" + hex.EncodeToString(m.Sum(nil))
}

// PayloadDigest is the keyed digest of a payload under the newest key.
func (r *SubjectKeyring) PayloadDigest(sha256Hex string) string {
	return PayloadDigest(r.Current(), r.Version(), sha256Hex)
}
