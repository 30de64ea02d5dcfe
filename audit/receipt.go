package audit

import (
	"encoding/base64"
	"fmt"

	"github.com/gatehouse-gw/gatehouse/tlog"
)

// Receipts signs the receipt of each entry: the gateway's signed promise
// to whoever the entry is about that the entry is in the record, at its
// index, with its leaf hash (tlog.Receipt). A receipt is issued only once
// the entry's transaction has committed: it states what is durable.
type Receipts struct {
	// Signer is the audit key (ES256); Origin names the log, as in the
	// checkpoint notes.
	Signer Signer
	Origin string
}

// ReceiptFor returns the receipt claims of a committed entry e (its Seq
// and Prev set by the append): its index, the leaf hash of its canonical
// body and its time.
func ReceiptFor(origin string, e *Entry) (tlog.Receipt, error) {
	if e.Seq < 1 {
		return tlog.Receipt{}, fmt.Errorf("audit: a receipt for an entry not in the record")
	}
	body, _, err := Encode(e)
	if err != nil {
		return tlog.Receipt{}, err
	}
	return tlog.Receipt{
		Log:      origin,
		Index:    uint64(e.Seq - 1),
		LeafHash: base64.StdEncoding.EncodeToString(LeafHash(body)),
		Time:     e.Time.UTC(),
	}, nil
}

// Issue signs the receipt of a committed entry as a compact JWS.
func (r *Receipts) Issue(e *Entry) (string, error) {
	claims, err := ReceiptFor(r.Origin, e)
	if err != nil {
		return "", err
	}
	payload, err := claims.Payload()
	if err != nil {
		return "", err
	}
	sig, err := r.Signer.Sign(payload, tlog.ReceiptType)
	if err != nil {
		return "", fmt.Errorf("audit: sign receipt: %w", err)
	}
	return string(sig), nil
}
