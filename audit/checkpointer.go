package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Checkpointer signs checkpoints of the record and archives each run of
// entries between two checkpoints as a segment: every Every entries, or
// after Interval if any entry is not yet covered. It never signs a chain or
// a tree that does not verify from the previous checkpoint.
//
// The order makes the Object Lock archive safe to retry into: one node at a
// time holds the archiver's lease; it claims a checkpoint in the database
// (the checkpoint's row) first, archives the segment second, and records
// the segment last. A segment is written only for a claimed checkpoint,
// and before it is written the archive is asked whether an earlier attempt
// (one whose answer was lost) already stored it: the archive ends up with
// exactly one object per recorded segment, however often the store fails.
type Checkpointer struct {
	Log     CheckpointLog
	Archive Archive
	// Signer signs the JWS checkpoint (the audit key); Notes signs the
	// checkpoint note (the checkpoint key, named Origin).
	Signer Signer
	Notes  note.Signer
	// Issuer names the chain in every JWS checkpoint; Origin names the
	// log in every checkpoint note.
	Issuer string
	Origin string
	// Every is the most entries one segment holds.
	Every int64
	// Interval is the longest an entry waits for a checkpoint.
	Interval time.Duration
	// Retention is how long segments stay locked in the archive.
	Retention time.Duration
	// Holder names this process in the archiver's lease (a random name if
	// empty); Lease is how long a lease lasts (30 s if zero).
	Holder string
	Lease  time.Duration
	// RequestTimeout bounds one archive request: a segment is written only
	// while the lease has at least twice this left (5 s if zero).
	RequestTimeout time.Duration
	Logger         *slog.Logger
	Now            func() time.Time
	// Signed, if set, is called with the number of entries each new
	// checkpoint covers.
	Signed func(entries int64)
	// Failed, if set, is called after each failed round with the number
	// of rounds in a row that failed (0 once one succeeds).
	Failed func(consecutive int)
	// Unarchived, if set, is called after each round with the age of the
	// oldest entry not yet in an archived, signed checkpoint (0 if none).
	Unarchived func(age time.Duration)

	// mu makes one round at a time: the lease is per process, so two
	// rounds of one process must not overlap.
	mu         sync.Mutex
	holderOnce sync.Once
	holder     string
	warned     time.Time
}

// ErrArchiverBusy is returned by a forced checkpoint when another process
// kept the archiver's lease for longer than a lease lasts.
var ErrArchiverBusy = errors.New("audit: another process holds the lease on signing checkpoints")

// maxBackoff is the ceiling on the wait between failed rounds.
const maxBackoff = 5 * time.Minute

// Run checkpoints until ctx ends, looking at the record every poll. After a
// failed round it waits twice as long as before (up to Interval, and
// never more than five minutes) before the next, so a failing archive is
// not hammered; the first round that succeeds resets the wait.
func (c *Checkpointer) Run(ctx context.Context, poll time.Duration) {
	ceiling := min(max(c.Interval, poll), maxBackoff)
	delay, failures := poll, 0
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, err := c.Once(ctx, false)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			failures++
			delay = min(poll<<min(failures, 20), ceiling)
			c.Logger.Error("audit checkpoint failed", "error", err, "failures", failures, "retry_in", delay.String())
		case failures > 0:
			c.Logger.Info("audit checkpoints work again", "after_failures", failures)
			failures, delay = 0, poll
		}
		if c.Failed != nil {
			c.Failed(failures)
		}
		c.watchStaleness(ctx)
		t.Reset(delay)
	}
}

// StaleAfter is how old the oldest entry not yet in an archived checkpoint
// may be before checkpoints count as stale: twice Interval and a minute.
func (c *Checkpointer) StaleAfter() time.Duration { return 2*c.Interval + time.Minute }

// watchStaleness reports the age of the oldest unarchived entry, and logs a
// warning (at most every five minutes) while it is stale.
func (c *Checkpointer) watchStaleness(ctx context.Context) {
	age, err := c.UnarchivedAge(ctx)
	if err != nil {
		return
	}
	if c.Unarchived != nil {
		c.Unarchived(age)
	}
	now := c.now()
	if age > c.StaleAfter() && now.Sub(c.warned) >= 5*time.Minute {
		c.warned = now
		c.Logger.Warn("audit checkpoints are stale: entries are waiting to be signed and archived", "oldest_unarchived_age", age.Round(time.Second).String())
	}
}

// UnarchivedAge is the age of the oldest entry that no archived, signed
// checkpoint covers yet (0 if every entry is covered).
func (c *Checkpointer) UnarchivedAge(ctx context.Context) (time.Duration, error) {
	seg, _, err := c.Log.LastAuditSegment(ctx)
	if err != nil {
		return 0, err
	}
	recs, err := c.Log.AuditRecords(ctx, seg.Last, 1)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	return max(0, c.now().Sub(recs[0].Time)), nil
}

// Stale reports an error when checkpoints are stale (StaleAfter), for
// readiness checks.
func (c *Checkpointer) Stale(ctx context.Context) error {
	age, err := c.UnarchivedAge(ctx)
	if err != nil {
		return err
	}
	if age > c.StaleAfter() {
		return fmt.Errorf("the oldest entry not yet in an archived checkpoint is %s old", age.Round(time.Second))
	}
	return nil
}

// Once makes every checkpoint that is due (with force, one covering every
// entry so far), archives every claimed checkpoint not yet archived, and
// returns how many checkpoints it signed. Without force it does nothing
// while another process holds the archiver's lease.
func (c *Checkpointer) Once(ctx context.Context, force bool) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	holder := c.holderName()
	if err := c.lease(ctx, holder, force); err != nil {
		if errors.Is(err, ErrArchiverBusy) && !force {
			return 0, nil
		}
		return 0, err
	}
	defer func() {
		_ = c.Log.ReleaseArchiver(context.WithoutCancel(ctx), holder)
	}()
	made := 0
	for {
		if err := c.archivePending(ctx, holder); err != nil {
			return made, err
		}
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
		sc, recs, err := c.sign(ctx, last, upTo, now)
		if err != nil {
			return made, err
		}
		if err := c.lease(ctx, holder, false); err != nil {
			return made, err
		}
		if err := c.Log.AddAuditCheckpoint(ctx, holder, last.Seq, sc); err != nil {
			if errors.Is(err, ErrCheckpointExists) {
				continue // another process made it; look again
			}
			return made, err
		}
		made++
		if c.Signed != nil {
			c.Signed(sc.Seq - last.Seq)
		}
		c.Logger.Info("audit checkpoint signed", "seq", sc.Seq, "entries", sc.Seq-last.Seq)
		if err := c.archive(ctx, holder, last.Seq, sc, recs); err != nil {
			return made, err
		}
	}
}

// lease takes or renews the archiver's lease; with wait, it waits (up to
// two leases' time) for another holder's to run out.
func (c *Checkpointer) lease(ctx context.Context, holder string, wait bool) error {
	give := c.now().Add(2 * c.leaseFor())
	for {
		now := c.now()
		ok, err := c.Log.ClaimArchiver(ctx, holder, now, now.Add(c.leaseFor()))
		if err != nil {
			return fmt.Errorf("audit: archiver lease: %w", err)
		}
		if ok {
			return nil
		}
		if !wait || now.After(give) {
			return ErrArchiverBusy
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sign reads and verifies the entries after last up to upTo, extends the
// tree over them (checking the stored tree rows as it goes) and signs the
// checkpoint at upTo. It returns the checkpoint and the records.
func (c *Checkpointer) sign(ctx context.Context, last StoredCheckpoint, upTo int64, now time.Time) (StoredCheckpoint, []Record, error) {
	tree, err := c.frontierAt(ctx, last)
	if err != nil {
		return StoredCheckpoint{}, nil, fmt.Errorf("refusing to sign: %w", err)
	}
	recs, err := readVerified(ctx, c.Log, last.Seq, last.Hash, upTo)
	if err != nil {
		return StoredCheckpoint{}, nil, fmt.Errorf("refusing to sign a damaged chain: %w", err)
	}
	if err := extendChecked(ctx, c.Log, tree, recs); err != nil {
		return StoredCheckpoint{}, nil, fmt.Errorf("refusing to sign a damaged tree: %w", err)
	}
	sc, err := SignTreeCheckpoint(c.Signer, c.Notes, c.Issuer, c.Origin, upTo, recs[len(recs)-1].Hash, tree.Root(), now)
	return sc, recs, err
}

// frontierAt is the tree as the checkpoint last left it, read from the
// stored tree and checked against the root last signed. A checkpoint made
// before the record was a tree signed no root: the tree up to it is then
// recomputed from the entries (once: the next checkpoint signs a root).
func (c *Checkpointer) frontierAt(ctx context.Context, last StoredCheckpoint) (*Frontier, error) {
	if last.Seq == 0 {
		return NewFrontier(0, nil)
	}
	stored, err := ReadFrontier(ctx, c.Log, uint64(last.Seq))
	if err != nil {
		return nil, err
	}
	if len(last.Root) > 0 {
		if !bytes.Equal(stored.Root(), last.Root) {
			return nil, &VerifyError{Seq: last.Seq, Kind: KindEdited, Where: "database",
				Reason: "the stored tree no longer has the root signed at this checkpoint"}
		}
		return stored, nil
	}
	tree, _ := NewFrontier(0, nil)
	for after, hash := int64(0), GenesisHash; after < last.Seq; {
		recs, err := readVerified(ctx, c.Log, after, hash, min(last.Seq, after+pageSize))
		if err != nil {
			return nil, err
		}
		if err := extendChecked(ctx, c.Log, tree, recs); err != nil {
			return nil, err
		}
		after, hash = recs[len(recs)-1].Seq, recs[len(recs)-1].Hash
	}
	if tree.Size() > 0 && recsHash(ctx, c.Log, last.Seq) != last.Hash {
		return nil, &VerifyError{Seq: last.Seq, Kind: KindEdited, Where: "database", Reason: "the chain no longer leads to the hash signed at this checkpoint"}
	}
	if !bytes.Equal(tree.Root(), stored.Root()) {
		return nil, &VerifyError{Seq: last.Seq, Kind: KindEdited, Where: "database", Reason: "the stored tree differs from the tree of the entries"}
	}
	return tree, nil
}

// recsHash is the stored hash of entry seq, or "".
func recsHash(ctx context.Context, log Log, seq int64) string {
	recs, err := log.AuditRecords(ctx, seq-1, 1)
	if err != nil || len(recs) != 1 || recs[0].Seq != seq {
		return ""
	}
	return recs[0].Hash
}

// readVerified reads the records after seq after up to upTo, checking
// that they chain on from afterHash.
func readVerified(ctx context.Context, log Log, after int64, afterHash string, upTo int64) ([]Record, error) {
	v := NewVerifierAt(after, afterHash)
	recs := make([]Record, 0, min(upTo-after, pageSize))
	for next := after; next < upTo; {
		page, err := log.AuditRecords(ctx, next, int(min(upTo-next, pageSize)))
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return nil, &VerifyError{Seq: next + 1, Kind: KindMissing, Reason: "the chain ends before its head", Where: "database"}
		}
		for _, r := range page {
			if err := v.Next(r); err != nil {
				var ve *VerifyError
				if errors.As(err, &ve) {
					ve.Where = "database"
				}
				return nil, err
			}
		}
		recs = append(recs, page...)
		next = page[len(page)-1].Seq
	}
	return recs, nil
}

// extendChecked appends recs to tree, checking each entry's stored tree row.
func extendChecked(ctx context.Context, log Log, tree *Frontier, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	rows, err := log.AuditTreeRows(ctx, recs[0].Seq-1, len(recs))
	if err != nil {
		return err
	}
	for i, r := range recs {
		want := tree.Append(LeafHash(r.Body))
		if i >= len(rows) || rows[i].Seq != r.Seq {
			return &VerifyError{Seq: r.Seq, Kind: KindMissing, Where: whereTree, Reason: "the entry's tree row is missing"}
		}
		if !bytes.Equal(rows[i].Nodes, want) {
			return &VerifyError{Seq: r.Seq, Kind: KindEdited, Where: whereTree, Reason: "the entry's tree row differs from the hashes of the entries"}
		}
	}
	return nil
}

// archivePending archives, in order, every claimed checkpoint whose
// segment is not recorded yet: what a process that claimed a checkpoint
// and then failed (or died) left to do.
func (c *Checkpointer) archivePending(ctx context.Context, holder string) error {
	seg, _, err := c.Log.LastAuditSegment(ctx)
	if err != nil {
		return err
	}
	pending, err := c.Log.AuditCheckpoints(ctx, seg.Last, 100)
	if err != nil {
		return err
	}
	if len(pending) == 0 {
		return nil
	}
	prev, prevHash := seg.Last, GenesisHash
	if seg.Last > 0 {
		if prevHash = recsHash(ctx, c.Log, seg.Last); prevHash == "" {
			return fmt.Errorf("audit: cannot read entry %d, the last archived", seg.Last)
		}
	}
	for _, sc := range pending {
		recs, err := readVerified(ctx, c.Log, prev, prevHash, sc.Seq)
		if err != nil {
			return fmt.Errorf("refusing to archive a damaged chain: %w", err)
		}
		if last := recs[len(recs)-1]; last.Hash != sc.Hash {
			return &VerifyError{Seq: sc.Seq, Kind: KindEdited, Where: "database", Reason: "the chain no longer leads to the hash of the checkpoint to archive"}
		}
		if err := c.archive(ctx, holder, prev, sc, recs); err != nil {
			return err
		}
		prev, prevHash = sc.Seq, sc.Hash
	}
	return nil
}

// archive writes the segment of checkpoint sc (entries after prev) unless
// the archive already holds it, and records it.
func (c *Checkpointer) archive(ctx context.Context, holder string, prev int64, sc StoredCheckpoint, recs []Record) error {
	body, err := EncodeSegment(recs, sc)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	seg := ArchivedSegment{Key: SegmentKey(prev+1, sc.Seq), First: prev + 1, Last: sc.Seq, SHA256: hex.EncodeToString(sum[:])}
	found, err := c.findSegment(ctx, seg)
	if err != nil {
		return fmt.Errorf("archive segment %s: look for an earlier copy: %w", seg.Key, err)
	}
	now := c.now()
	if found != nil {
		seg.Version, seg.ArchivedAt = found.Version, found.ArchivedAt
		c.Logger.Info("audit segment already archived by an earlier attempt", "segment", seg.Key, "version", seg.Version)
	} else {
		// Write only under a lease that outlasts the request: no other
		// process can be writing the same segment meanwhile.
		if err := c.lease(ctx, holder, false); err != nil {
			return err
		}
		putCtx, cancel := context.WithTimeout(ctx, c.requestTimeout())
		seg.Version, err = c.Archive.PutSegment(putCtx, seg.Key, body, now.Add(c.Retention))
		cancel()
		if err != nil {
			return fmt.Errorf("archive segment %s: %w", seg.Key, err)
		}
		seg.ArchivedAt = now
	}
	if seg.ArchivedAt.IsZero() {
		seg.ArchivedAt = now
	}
	if err := c.Log.RecordAuditSegment(ctx, seg); err != nil {
		return fmt.Errorf("record archived segment %s: %w", seg.Key, err)
	}
	c.Logger.Info("audit segment archived", "segment", seg.Key, "version", seg.Version)
	return nil
}

// findSegment returns the stored version of seg's key whose content is
// exactly seg's (by SHA-256), if there is one.
func (c *Checkpointer) findSegment(ctx context.Context, seg ArchivedSegment) (*ArchivedSegment, error) {
	versions, err := c.Archive.SegmentKeyVersions(ctx, seg.Key)
	if err != nil {
		return nil, err
	}
	for i := range versions {
		rc, err := c.Archive.OpenSegment(ctx, seg.Key, versions[i].Version)
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		_, err = io.Copy(h, io.LimitReader(rc, maxSegment))
		rc.Close()
		if err != nil {
			return nil, err
		}
		if hex.EncodeToString(h.Sum(nil)) == seg.SHA256 {
			return &versions[i], nil
		}
	}
	return nil, nil
}

// maxSegment bounds reading one segment back.
const maxSegment = 1 << 30

func (c *Checkpointer) holderName() string {
	c.holderOnce.Do(func() {
		if c.holder = c.Holder; c.holder == "" {
			host, _ := os.Hostname()
			b := make([]byte, 6)
			_, _ = rand.Read(b)
			c.holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
		}
	})
	return c.holder
}

func (c *Checkpointer) leaseFor() time.Duration {
	if c.Lease > 0 {
		return c.Lease
	}
	return 30 * time.Second
}

func (c *Checkpointer) requestTimeout() time.Duration {
	if c.RequestTimeout > 0 {
		return c.RequestTimeout
	}
	return 5 * time.Second
}

func (c *Checkpointer) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
