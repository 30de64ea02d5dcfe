package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Log is the chain as the database keeps it, with its signed checkpoints.
type Log interface {
	// AuditHead returns the last entry's sequence number and hash.
	AuditHead(ctx context.Context) (int64, string, error)
	// AuditRecords returns up to limit records with seq > after, in order.
	AuditRecords(ctx context.Context, after int64, limit int) ([]Record, error)
	// AuditCheckpoints returns up to limit checkpoints with seq > after, in order.
	AuditCheckpoints(ctx context.Context, after int64, limit int) ([]StoredCheckpoint, error)
	// LastAuditCheckpoint returns the latest checkpoint, if any.
	LastAuditCheckpoint(ctx context.Context) (StoredCheckpoint, bool, error)
	// AddAuditCheckpoint records a checkpoint and the segment archived with
	// it, if the latest checkpoint is still the one at prevSeq (0: none);
	// otherwise it returns ErrCheckpointExists: another node got there first.
	AddAuditCheckpoint(ctx context.Context, prevSeq int64, cp StoredCheckpoint, seg ArchivedSegment) error
	// AuditSegments returns the archived segments recorded, in order.
	AuditSegments(ctx context.Context) ([]ArchivedSegment, error)
}

// ErrCheckpointExists is returned when a checkpoint at that seq is recorded.
var ErrCheckpointExists = errors.New("audit: a checkpoint at that seq is already recorded")

// Archive is the object-storage bucket (with Object Lock) of sealed segments.
type Archive interface {
	// PutSegment stores a segment, locked until retainUntil, and returns
	// its object version.
	PutSegment(ctx context.Context, key string, body []byte, retainUntil time.Time) (version string, err error)
	// SegmentVersions lists every version of every object under
	// SegmentPrefix, in key order.
	SegmentVersions(ctx context.Context) ([]ArchivedSegment, error)
	// OpenSegment reads one version of a segment.
	OpenSegment(ctx context.Context, key, version string) (io.ReadCloser, error)
}

// ArchivedSegment is one stored version of a segment.
type ArchivedSegment struct {
	Key     string
	Version string
	First   int64
	Last    int64
	// SHA256 is the hex SHA-256 of the segment object.
	SHA256     string
	ArchivedAt time.Time
}

// Checkpointer signs checkpoints of the chain and archives each run of
// entries between two checkpoints as a segment: every Every entries, or
// after Interval if any entry is not yet covered. It never signs a chain
// that does not verify from the previous checkpoint.
type Checkpointer struct {
	Log     Log
	Archive Archive
	Signer  Signer
	// Issuer names the chain in every checkpoint.
	Issuer string
	// Every is the most entries one segment holds.
	Every int64
	// Interval is the longest an entry waits for a checkpoint.
	Interval time.Duration
	// Retention is how long segments stay locked in the archive.
	Retention time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
	// Signed, if set, is called with the number of entries each new
	// checkpoint covers.
	Signed func(entries int64)
}

// Run checkpoints until ctx ends, looking at the chain every poll.
func (c *Checkpointer) Run(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := c.Once(ctx, false); err != nil && ctx.Err() == nil {
				c.Logger.Error("audit checkpoint failed", "error", err)
			}
		}
	}
}

// Once makes every checkpoint that is due (with force, one covering every
// entry so far) and returns how many it made.
func (c *Checkpointer) Once(ctx context.Context, force bool) (int, error) {
	made := 0
	for {
		last, ok, err := c.Log.LastAuditCheckpoint(ctx)
		if err != nil {
			return made, err
		}
		if !ok {
			last = StoredCheckpoint{Hash: GenesisHash}
		}
		head, _, err := c.Log.AuditHead(ctx)
		if err != nil {
			return made, err
		}
		pending := head - last.Seq
		now := c.now()
		due := pending >= c.Every || (pending > 0 && (force || (ok && now.Sub(last.Time) >= c.Interval) || (!ok && c.Interval == 0)))
		if !ok && pending > 0 && !due {
			// The first checkpoint waits for Interval from the first entry.
			recs, err := c.Log.AuditRecords(ctx, 0, 1)
			if err != nil {
				return made, err
			}
			due = len(recs) == 1 && now.Sub(recs[0].Time) >= c.Interval
		}
		if !due {
			return made, nil
		}
		upTo := min(head, last.Seq+c.Every)
		if err := c.checkpoint(ctx, last, upTo, now); err != nil {
			if errors.Is(err, ErrCheckpointExists) {
				continue // another node made it; look again
			}
			return made, err
		}
		made++
	}
}

func (c *Checkpointer) checkpoint(ctx context.Context, last StoredCheckpoint, upTo int64, now time.Time) error {
	v := NewVerifierAt(last.Seq, last.Hash)
	recs := make([]Record, 0, upTo-last.Seq)
	for after := last.Seq; after < upTo; {
		page, err := c.Log.AuditRecords(ctx, after, int(min(upTo-after, 10000)))
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return &VerifyError{Seq: after + 1, Kind: KindMissing, Reason: "the chain ends before its head", Where: "database"}
		}
		for _, r := range page {
			if err := v.Next(r); err != nil {
				var ve *VerifyError
				if errors.As(err, &ve) {
					ve.Where = "database"
				}
				return fmt.Errorf("refusing to sign a damaged chain: %w", err)
			}
		}
		recs = append(recs, page...)
		after = page[len(page)-1].Seq
	}
	seq, hash := v.Head()
	cp, err := SignCheckpoint(c.Signer, Checkpoint{Log: c.Issuer, Seq: seq, Hash: hash, Time: now})
	if err != nil {
		return err
	}
	body, err := EncodeSegment(recs, cp)
	if err != nil {
		return err
	}
	seg := ArchivedSegment{Key: SegmentKey(last.Seq+1, seq), First: last.Seq + 1, Last: seq, ArchivedAt: cp.Time}
	sum := sha256.Sum256(body)
	seg.SHA256 = hex.EncodeToString(sum[:])
	if seg.Version, err = c.Archive.PutSegment(ctx, seg.Key, body, now.Add(c.Retention)); err != nil {
		return fmt.Errorf("archive segment %s: %w", seg.Key, err)
	}
	if err := c.Log.AddAuditCheckpoint(ctx, last.Seq, cp, seg); err != nil {
		return err
	}
	if c.Signed != nil {
		c.Signed(seq - last.Seq)
	}
	c.Logger.Info("audit checkpoint signed", "seq", seq, "entries", seq-last.Seq, "segment", seg.Key)
	return nil
}

func (c *Checkpointer) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// readSegment reads and checks one archived segment on its own: its lines
// are consecutive entries from seg.First to seg.Last, each linked to the one
// before (the first to prevHash, if known), and its checkpoint verifies and
// names the last. It returns the records' hashes by seq and the checkpoint.
func readSegment(r io.Reader, seg ArchivedSegment, prevHash string, verify func([]byte) (*Checkpoint, error)) ([]string, *Checkpoint, *VerifyError) {
	where := "archive " + seg.Key
	if seg.Version != "" {
		where += " version " + seg.Version
	}
	fail := func(seq int64, kind, reason string) ([]string, *Checkpoint, *VerifyError) {
		return nil, nil, &VerifyError{Seq: seq, Kind: kind, Reason: reason, Where: where}
	}
	sr := NewSegmentReader(r)
	var v *Verifier
	// The key names the range; it is not trusted to size anything large.
	hashes := make([]string, 0, min(seg.Last-seg.First+1, 10000))
	for {
		rec, err := sr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(seg.First+int64(len(hashes)), KindUnreadable, err.Error())
		}
		if v == nil {
			if rec.Seq != seg.First {
				return fail(seg.First, KindMissing, fmt.Sprintf("the segment starts at seq %d", rec.Seq))
			}
			if prevHash == "" {
				// Unknown predecessor: take the first entry's link on trust;
				// the gap is reported where the predecessor should be.
				_, prev, _ := links(rec.Body)
				prevHash = string(prev)
			}
			v = NewVerifierAt(rec.Seq-1, prevHash)
		}
		if err := v.next(rec, true); err != nil {
			ve := err.(*VerifyError)
			ve.Where = where
			if ve.Reason == errBrokenLink && len(hashes) > 0 {
				// A segment stores no hashes: an entry changed in place
				// shows as the next one no longer linking to it.
				ve.Seq, ve.Kind = rec.Seq-1, KindEdited
				ve.Reason = fmt.Sprintf("changed: it no longer hashes to what seq %d links to", rec.Seq)
			}
			return nil, nil, ve
		}
		hashes = append(hashes, rec.Hash)
	}
	if v == nil {
		return fail(seg.First, KindMissing, "the segment holds no entries")
	}
	seq, hash := v.Head()
	if seq != seg.Last {
		return fail(seq+1, KindMissing, fmt.Sprintf("the segment ends at seq %d, not %d", seq, seg.Last))
	}
	cp, err := verify(sr.Checkpoint())
	if err != nil {
		return fail(seg.Last, KindBadSignature, "segment checkpoint: "+err.Error())
	}
	if cp.Seq != seq || cp.Hash != hash {
		return fail(seg.Last, KindEdited, fmt.Sprintf("the signed checkpoint names seq %d, hash %s…, but the segment ends at seq %d, hash %s…", cp.Seq, cp.Hash[:min(12, len(cp.Hash))], seq, hash[:12]))
	}
	return hashes, cp, nil
}
