package audit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"
)

// Log is the record as the database keeps it: the chain, its tree and its
// signed checkpoints.
type Log interface {
	NodeReader
	// AuditHead returns the head: the last entry's sequence number and hash
	// as the writers see it.
	AuditHead(ctx context.Context) (int64, string, error)
	// AuditMaxSeq returns the highest seq in the chain, whatever the head says.
	AuditMaxSeq(ctx context.Context) (int64, error)
	// AuditRecords returns up to limit records with seq > after, in order.
	AuditRecords(ctx context.Context, after int64, limit int) ([]Record, error)
	// AuditTreeRows returns up to limit tree rows with seq > after, in order.
	AuditTreeRows(ctx context.Context, after int64, limit int) ([]TreeRow, error)
	// AuditCheckpoints returns up to limit checkpoints with seq > after, in order.
	AuditCheckpoints(ctx context.Context, after int64, limit int) ([]StoredCheckpoint, error)
	// LastAuditCheckpoint returns the latest checkpoint, if any.
	LastAuditCheckpoint(ctx context.Context) (StoredCheckpoint, bool, error)
	// AuditSegments returns the archived segments recorded, in order.
	AuditSegments(ctx context.Context) ([]ArchivedSegment, error)
}

// CheckpointLog is the Log as the checkpointer writes it: claim a
// checkpoint, then archive its segment, then record that.
type CheckpointLog interface {
	Log
	// ClaimArchiver takes the lease on signing and archiving checkpoints
	// for holder until the given time, or renews it; false if another
	// holder's lease has not run out by now.
	ClaimArchiver(ctx context.Context, holder string, now, until time.Time) (bool, error)
	// ReleaseArchiver gives the lease up, if holder holds it.
	ReleaseArchiver(ctx context.Context, holder string) error
	// AddAuditCheckpoint claims a checkpoint: it records cp if the latest
	// checkpoint is still the one at prevSeq (0: none; otherwise
	// ErrCheckpointExists) and holder still holds the lease (otherwise
	// ErrArchiverBusy).
	AddAuditCheckpoint(ctx context.Context, holder string, prevSeq int64, cp StoredCheckpoint) error
	// LastAuditSegment returns the recorded segment with the highest seqs.
	LastAuditSegment(ctx context.Context) (ArchivedSegment, bool, error)
	// RecordAuditSegment records the archived segment of a checkpoint.
	RecordAuditSegment(ctx context.Context, seg ArchivedSegment) error
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
	// SegmentKeyVersions lists every version of one segment.
	SegmentKeyVersions(ctx context.Context, key string) ([]ArchivedSegment, error)
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

// readSegment reads and checks one archived segment on its own: its lines
// are consecutive entries from seg.First to seg.Last, each linked to the one
// before (the first to prevHash, if known), and its checkpoint verifies and
// names the last. It returns the records' hashes by seq and the checkpoint.
func readSegment(r io.Reader, seg ArchivedSegment, prevHash string, verify func([]byte) (*Checkpoint, error), notes *NoteKeys) ([]string, *Checkpoint, *VerifyError) {
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
	switch n := sr.Note(); {
	case len(n) == 0 && cp.Root != "":
		return fail(seg.Last, KindMissing, "the segment's checkpoint signs a tree root but its note is missing")
	case len(n) > 0 && notes != nil:
		th, err := OpenTreeHead(n, notes.Origin, notes.Keys...)
		if err != nil {
			return fail(seg.Last, KindBadSignature, "segment checkpoint note: "+err.Error())
		}
		if th.Size != uint64(seq) || base64.StdEncoding.EncodeToString(th.Root) != cp.Root {
			return fail(seg.Last, KindEdited, "the segment's checkpoint note signs another tree head than its checkpoint")
		}
	}
	return hashes, cp, nil
}
