package tlog

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/transparency-dev/merkle/rfc6962"
)

// ReceiptType is the JWS "typ" of a receipt.
const ReceiptType = "gatehouse-receipt+jws"

// Receipt is the gateway's signed statement that an entry is in its
// record: the log (the checkpoint notes' origin), the entry's leaf index in
// the Merkle tree (its seq less one), its leaf hash and the entry's time.
// It travels as a compact JWS (ES256, the audit key, typ
// gatehouse-receipt+jws) whose payload is these claims, in this order.
type Receipt struct {
	Log   string `json:"log"`
	Index uint64 `json:"index"`
	// LeafHash is SHA-256(0x00 || the entry's canonical body), standard base64.
	LeafHash string    `json:"leaf_hash"`
	Time     time.Time `json:"time"`
}

// Seq is the sequence number of the entry the receipt is for.
func (r *Receipt) Seq() int64 { return int64(r.Index) + 1 }

// Leaf returns the receipt's leaf hash.
func (r *Receipt) Leaf() ([]byte, error) {
	h, err := base64.StdEncoding.Strict().DecodeString(r.LeafHash)
	if err != nil || len(h) != HashSize {
		return nil, fmt.Errorf("%w: the leaf hash is not a base64 SHA-256 hash", ErrReceipt)
	}
	return h, nil
}

// Payload is the receipt's JWS payload: its claims as JSON, the time in
// UTC RFC 3339 with nanoseconds.
func (r Receipt) Payload() ([]byte, error) {
	r.Time = r.Time.UTC()
	return json.Marshal(r)
}

// LeafHash is the tree's leaf hash of an entry's canonical body:
// SHA-256(0x00 || body) (RFC 9162).
func LeafHash(body []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(body) }

// ErrReceipt is returned for a receipt that is unreadable or whose
// signature does not verify against the gateway's audit keys.
var ErrReceipt = errors.New("bad receipt")

// MaxReceipt bounds a receipt read from anywhere.
const MaxReceipt = 4 << 10

// ParseReceipt verifies a compact JWS receipt against keys (the gateway's
// audit keys, from /.well-known/jwks.json, current and retired) and
// returns its claims. Only ES256 is accepted, and the key is chosen by kid.
func ParseReceipt(compact string, keys jwk.Set) (*Receipt, error) {
	compact = strings.TrimSpace(compact)
	if len(compact) > MaxReceipt {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrReceipt, MaxReceipt)
	}
	msg, err := jws.Parse([]byte(compact))
	if err != nil || len(msg.Signatures()) != 1 || strings.Count(compact, ".") != 2 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrReceipt)
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	if got, _ := hdr.Type(); got != ReceiptType {
		return nil, fmt.Errorf("%w: typ is %q, not %q", ErrReceipt, got, ReceiptType)
	}
	kid, _ := hdr.KeyID()
	key, ok := keys.LookupKeyID(kid)
	if !ok {
		return nil, fmt.Errorf("%w: no audit key with kid %q", ErrReceipt, kid)
	}
	payload, err := jws.Verify([]byte(compact), jws.WithKey(jwa.ES256(), key))
	if err != nil {
		return nil, fmt.Errorf("%w: the signature does not verify", ErrReceipt)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var r Receipt
	if err := dec.Decode(&r); err != nil || r.Log == "" || r.Time.IsZero() {
		return nil, fmt.Errorf("%w: unreadable claims", ErrReceipt)
	}
	if _, err := r.Leaf(); err != nil {
		return nil, err
	}
	return &r, nil
}

// ReadReceiptLine takes one line of a receipts file: the compact JWS as the
// API returns it in "receipt", bare or as a JSON string, or a JSON object
// with a "receipt" member (a whole answer of the API). Blank lines and
// lines starting with # give "".
func ReadReceiptLine(line string) (string, error) {
	line = strings.TrimSpace(line)
	switch {
	case line == "" || strings.HasPrefix(line, "#"):
		return "", nil
	case strings.HasPrefix(line, `"`):
		var s string
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			return "", fmt.Errorf("%w: not a JSON string", ErrReceipt)
		}
		return s, nil
	case strings.HasPrefix(line, "{"):
		var o struct {
			Receipt string `json:"receipt"`
		}
		if err := json.Unmarshal([]byte(line), &o); err != nil || o.Receipt == "" {
			return "", fmt.Errorf("%w: a JSON object with no \"receipt\"", ErrReceipt)
		}
		return o.Receipt, nil
	}
	return line, nil
}
