package audit

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/lestrrat-go/jwx/v3/jwk"

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

// ReceiptLog is what checking receipts reads of the record.
type ReceiptLog interface {
	AuditRecords(ctx context.Context, after int64, limit int) ([]Record, error)
	AuditMaxSeq(ctx context.Context) (int64, error)
}

// Kinds of receipt finding.
const (
	ReceiptOK = "ok"
	// ReceiptMissing: no entry at the receipt's seq, though the record
	// goes past it (deleted).
	ReceiptMissing = "missing"
	// ReceiptDifferent: the entry at the receipt's seq is not the one the
	// receipt was issued for (another leaf hash), or the receipt is for
	// another log.
	ReceiptDifferent = "different"
	// ReceiptBeyondEnd: the record ends before the receipt's seq (its
	// tail was cut off).
	ReceiptBeyondEnd = "beyond-end"
	// ReceiptUnreadable: not a receipt, or its signature does not verify.
	ReceiptUnreadable = "unreadable"
)

// ReceiptFinding is what checking one receipt found.
type ReceiptFinding struct {
	// Line is the receipt's line in its file, counted from 1.
	Line   int    `json:"line"`
	Seq    int64  `json:"seq,omitempty"`
	Kind   string `json:"kind"`
	Reason string `json:"reason,omitempty"`
}

// ReceiptReport is the outcome of checking a file of receipts.
type ReceiptReport struct {
	Checked  int              `json:"checked"`
	Sound    int              `json:"sound"`
	Problems []ReceiptFinding `json:"problems"`
	// Truncated is set when there were more problems than listed.
	Truncated bool `json:"truncated,omitempty"`
}

// OK reports whether every receipt's entry is in the record as issued.
func (r *ReceiptReport) OK() bool { return len(r.Problems) == 0 && !r.Truncated }

// maxReceiptProblems bounds the problems a report lists.
const maxReceiptProblems = 10000

// CheckReceipts holds a file of receipts (one per line, as the API returns
// them: tlog.ReadReceiptLine) to the record: each must verify against the
// audit keys, be for this log (origin), and name an entry that is there
// with the receipt's leaf hash. It reports every one that is missing,
// different or beyond the record's end.
func CheckReceipts(ctx context.Context, log ReceiptLog, keys jwk.Set, origin string, r io.Reader) (*ReceiptReport, error) {
	last, err := log.AuditMaxSeq(ctx)
	if err != nil {
		return nil, err
	}
	rep := &ReceiptReport{Problems: []ReceiptFinding{}}
	add := func(f ReceiptFinding) {
		if len(rep.Problems) >= maxReceiptProblems {
			rep.Truncated = true
			return
		}
		rep.Problems = append(rep.Problems, f)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 8<<10), 64<<10)
	for line := 1; sc.Scan(); line++ {
		compact, err := tlog.ReadReceiptLine(sc.Text())
		if err == nil && compact == "" {
			continue
		}
		rep.Checked++
		if err != nil {
			add(ReceiptFinding{Line: line, Kind: ReceiptUnreadable, Reason: err.Error()})
			continue
		}
		rc, err := tlog.ParseReceipt(compact, keys)
		if err != nil {
			add(ReceiptFinding{Line: line, Kind: ReceiptUnreadable, Reason: err.Error()})
			continue
		}
		seq := rc.Seq()
		if rc.Log != origin {
			add(ReceiptFinding{Line: line, Seq: seq, Kind: ReceiptDifferent, Reason: fmt.Sprintf("the receipt is for log %q, not %q", rc.Log, origin)})
			continue
		}
		if seq > last {
			add(ReceiptFinding{Line: line, Seq: seq, Kind: ReceiptBeyondEnd, Reason: fmt.Sprintf("the record ends at seq %d", last)})
			continue
		}
		recs, err := log.AuditRecords(ctx, seq-1, 1)
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 || recs[0].Seq != seq {
			add(ReceiptFinding{Line: line, Seq: seq, Kind: ReceiptMissing, Reason: "the record has no entry with this seq"})
			continue
		}
		if base64.StdEncoding.EncodeToString(LeafHash(recs[0].Body)) != rc.LeafHash {
			add(ReceiptFinding{Line: line, Seq: seq, Kind: ReceiptDifferent, Reason: "the entry with this seq is not the one the receipt was issued for"})
			continue
		}
		rep.Sound++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading receipts: %w", err)
	}
	return rep, nil
}
