package audit

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// LinkReader is a Log that can read just what verification needs: each
// record's seq, body and hash, without its time and type.
type LinkReader interface {
	AuditLinks(ctx context.Context, after int64, limit int) ([]Record, error)
}

// Report is what Check found.
type Report struct {
	// Entries is how many database records were read.
	Entries  int64  `json:"entries"`
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
	// Checkpoints is how many signed checkpoints the database holds.
	Checkpoints int `json:"checkpoints"`
	// Segments is how many segments the archive holds, and Versions how
	// many stored versions of them (more than one means a segment was
	// written again; every version is checked).
	Segments int `json:"segments"`
	Versions int `json:"segment_versions"`
	// Unarchived counts entries after the last archived segment, not yet
	// covered by a checkpoint in the archive.
	Unarchived int64 `json:"unarchived_entries"`
	// Problems lists what is wrong, first bad seq first; empty when the
	// chain, the checkpoints and the archive all agree.
	Problems []*VerifyError `json:"problems"`
	// Truncated is set when there were more problems than are listed.
	Truncated bool `json:"truncated,omitempty"`
}

// OK reports whether nothing is wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// First is the first bad record, or nil.
func (r *Report) First() *VerifyError {
	if len(r.Problems) == 0 {
		return nil
	}
	return r.Problems[0]
}

// pendingGrace is how long an archived segment may wait for its checkpoint
// to be recorded in the database before that counts as missing.
const pendingGrace = 2 * time.Minute

// maxProblems bounds the report: after the first few, the rest is noise.
const maxProblems = 100

// pageSize is how many records Check reads at a time.
const pageSize = 10000

// Check verifies the whole record: the database chain from genesis to head,
// every signed checkpoint (signature and the hash the chain reaches at its
// seq), and every version of every archived segment (its own chain and
// checkpoint, its place between its neighbours, and its agreement with the
// database). keys holds the gateway's current and retired audit public
// keys. progress, if set, is called with the seq reached. An error means
// the check could not run; damage is reported in the Report.
func Check(ctx context.Context, log Log, archive Archive, keys jwk.Set, progress func(seq int64)) (*Report, error) {
	rep := &Report{Problems: []*VerifyError{}}
	add := func(e *VerifyError) {
		if len(rep.Problems) >= maxProblems {
			rep.Truncated = true
			return
		}
		rep.Problems = append(rep.Problems, e)
	}
	verify := func(b []byte) (*Checkpoint, error) { return ParseCheckpoint(b, keys) }

	// The gateway may be running: the chain grows and checkpoints and
	// segments appear while this runs. So: checkpoints first (each was
	// signed over entries already written, and its segment archived before
	// it was recorded), then the head (the chain is checked up to there),
	// then the archive, then any checkpoints recorded meanwhile.
	signed := map[int64]string{}
	cps, err := readCheckpoints(ctx, log, 0, verify, signed, add)
	if err != nil {
		return nil, err
	}
	rep.Checkpoints = len(cps)
	headSeq, headHash, err := log.AuditHead(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the chain's head: %w", err)
	}
	versions, err := archive.SegmentVersions(ctx)
	if err != nil {
		return nil, fmt.Errorf("list archived segments: %w", err)
	}
	rep.Versions = len(versions)
	after := int64(0)
	if len(cps) > 0 {
		after = cps[len(cps)-1].Seq
	}
	if _, err := readCheckpoints(ctx, log, after, verify, signed, add); err != nil {
		return nil, err
	}
	// The database scan notes the hashes at which segments end.
	dbHashes := map[int64]string{}
	for _, s := range versions {
		if _, last, err := ParseSegmentKey(s.Key); err == nil {
			dbHashes[last] = ""
		}
	}

	// The database chain, from genesis to the head.
	read := log.AuditRecords
	if lr, ok := log.(LinkReader); ok {
		read = lr.AuditLinks
	}
	v := NewVerifier()
	mismatched := []int64{}
	// One goroutine reads the next page while this one verifies.
	pages := make(chan []Record, 1)
	readErr := make(chan error, 1)
	scanCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	go func() {
		defer close(pages)
		for after := int64(0); after < headSeq; {
			page, err := read(scanCtx, after, pageSize)
			if err != nil {
				readErr <- fmt.Errorf("read the chain: %w", err)
				return
			}
			select {
			case pages <- page:
			case <-scanCtx.Done():
				return
			}
			if len(page) < pageSize {
				return
			}
			after = page[len(page)-1].Seq
		}
	}()
	early := false // stopped at the head with pages still to come
scan:
	for page := range pages {
		for _, r := range page {
			if r.Seq > headSeq {
				early = true
				break scan
			}
			rep.Entries++
			if err := v.Next(r); err != nil {
				ve := err.(*VerifyError)
				ve.Where = "database"
				add(ve)
				// Carry on from this record, to report what else is wrong.
				v = NewVerifierAt(r.Seq, r.Hash)
			}
			if h, ok := signed[r.Seq]; ok && h != r.Hash {
				mismatched = append(mismatched, r.Seq)
			}
			if _, ok := dbHashes[r.Seq]; ok {
				dbHashes[r.Seq] = r.Hash
			}
		}
		if progress != nil && len(page) > 0 {
			progress(page[len(page)-1].Seq)
		}
	}
	stopReading()
	for range pages {
		// Let the reader finish.
	}
	if !early {
		select {
		case err := <-readErr:
			return nil, err
		default:
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep.HeadSeq, rep.HeadHash = v.Head()
	if progress != nil {
		progress(rep.HeadSeq)
	}
	switch {
	case rep.HeadSeq < headSeq:
		add(&VerifyError{Seq: rep.HeadSeq + 1, Kind: KindMissing, Where: "database",
			Reason: fmt.Sprintf("the chain's head says seq %d but the last entry is seq %d", headSeq, rep.HeadSeq)})
	case headSeq > 0 && headHash != rep.HeadHash:
		add(&VerifyError{Seq: headSeq, Kind: KindEdited, Where: "database", Reason: "the chain's head names another hash than its last entry's"})
	}
	for _, sc := range cps {
		if sc.Seq > rep.HeadSeq {
			add(&VerifyError{Seq: rep.HeadSeq + 1, Kind: KindMissing,
				Reason: fmt.Sprintf("the chain ends at seq %d but a checkpoint was signed at seq %d", rep.HeadSeq, sc.Seq), Where: "database"})
			break
		}
	}

	// Every version of every segment, in chain order.
	segs := checkArchive(ctx, archive, versions, signed, dbHashes, verify, add, rep)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// A checkpoint the chain no longer reaches: an entry before it was
	// changed and the chain recomputed. The archive pinpoints which.
	for _, seq := range mismatched {
		add(pinpoint(ctx, log, seq, cps, segs))
	}
	// Every checkpoint recorded before the archive was listed has its segment.
	for _, sc := range cps {
		if _, ok := segs[sc.Seq]; !ok && sc.Seq <= rep.HeadSeq {
			add(&VerifyError{Seq: sc.Seq, Kind: KindMissing, Reason: fmt.Sprintf("no sound archived segment ends at checkpoint %d", sc.Seq), Where: "archive"})
		}
	}
	lastArchived := int64(0)
	for seq := range segs {
		lastArchived = max(lastArchived, seq)
	}
	rep.Unarchived = max(0, rep.HeadSeq-lastArchived)

	slices.SortStableFunc(rep.Problems, func(a, b *VerifyError) int { return cmp.Compare(a.Seq, b.Seq) })
	return rep, nil
}

// readCheckpoints reads the checkpoints after the given seq, verifies each
// and notes the sound ones in signed.
func readCheckpoints(ctx context.Context, log Log, after int64, verify func([]byte) (*Checkpoint, error), signed map[int64]string, add func(*VerifyError)) ([]StoredCheckpoint, error) {
	var cps []StoredCheckpoint
	for {
		page, err := log.AuditCheckpoints(ctx, after, pageSize)
		if err != nil {
			return nil, fmt.Errorf("read checkpoints: %w", err)
		}
		cps = append(cps, page...)
		if len(page) < pageSize {
			break
		}
		after = page[len(page)-1].Seq
	}
	for _, sc := range cps {
		cp, err := verify([]byte(sc.JWS))
		switch {
		case err != nil:
			add(&VerifyError{Seq: sc.Seq, Kind: KindBadSignature, Reason: "checkpoint: " + err.Error(), Where: "database"})
		case cp.Seq != sc.Seq || cp.Hash != sc.Hash:
			add(&VerifyError{Seq: sc.Seq, Kind: KindEdited, Reason: fmt.Sprintf("the checkpoint row does not match its signed claims (seq %d)", cp.Seq), Where: "database"})
		default:
			signed[cp.Seq] = cp.Hash
		}
	}
	return cps, nil
}

// archivedRun is a verified segment: its range and its entries' hashes.
type archivedRun struct {
	first  int64
	hashes []string
}

// checkArchive checks each segment version and returns the verified
// segments by last seq.
func checkArchive(ctx context.Context, archive Archive, versions []ArchivedSegment, signed, dbHashes map[int64]string,
	verify func([]byte) (*Checkpoint, error), add func(*VerifyError), rep *Report) map[int64]archivedRun {
	out := map[int64]archivedRun{}
	next := int64(1)        // the first seq the next segment should hold
	prevHash := GenesisHash // the hash the next segment should link to
	prevKnown := true
	for i := 0; i < len(versions); {
		// All versions of one key.
		j := i + 1
		for j < len(versions) && versions[j].Key == versions[i].Key {
			j++
		}
		group := versions[i:j]
		i = j
		if ctx.Err() != nil {
			return out
		}
		first, last, err := ParseSegmentKey(group[0].Key)
		if err != nil {
			add(&VerifyError{Kind: KindUnreadable, Reason: err.Error(), Where: "archive " + group[0].Key})
			continue
		}
		switch {
		case first > next:
			add(&VerifyError{Seq: next, Kind: KindMissing, Reason: fmt.Sprintf("no archived segment holds seq %d to %d", next, first-1), Where: "archive"})
			prevKnown = false
		case first < next:
			add(&VerifyError{Seq: first, Kind: KindReordered, Reason: fmt.Sprintf("segment %s overlaps the one before it", group[0].Key), Where: "archive"})
			prevKnown = false
		}
		link := ""
		if prevKnown {
			link = prevHash
		} else if h, ok := signed[first-1]; ok {
			link = h
		}
		good := ""
		for _, seg := range group {
			seg.First, seg.Last = first, last
			if hash, ok := checkSegment(ctx, archive, seg, link, signed, dbHashes, verify, add, out); ok {
				good = hash
			}
		}
		rep.Segments++
		next, prevHash, prevKnown = last+1, good, good != ""
	}
	return out
}

// checkSegment checks one segment version and, if it is sound, records it
// in out and returns the hash it ends at.
func checkSegment(ctx context.Context, archive Archive, seg ArchivedSegment, link string, signed, dbHashes map[int64]string,
	verify func([]byte) (*Checkpoint, error), add func(*VerifyError), out map[int64]archivedRun) (string, bool) {
	rc, err := archive.OpenSegment(ctx, seg.Key, seg.Version)
	if err != nil {
		add(&VerifyError{Seq: seg.First, Kind: KindMissing, Reason: "cannot read the segment: " + err.Error(), Where: "archive " + seg.Key})
		return "", false
	}
	hashes, cp, ve := readSegment(rc, seg, link, verify)
	rc.Close()
	if ve != nil {
		add(ve)
		return "", false
	}
	if h, ok := signed[cp.Seq]; !ok {
		// A segment is archived just before its checkpoint is recorded: a
		// new one may simply not be recorded yet.
		if time.Since(cp.Time) > pendingGrace {
			add(&VerifyError{Seq: cp.Seq, Kind: KindMissing, Reason: fmt.Sprintf("the database has no checkpoint at seq %d, which the archive holds", cp.Seq), Where: "database"})
		}
	} else if h != cp.Hash {
		add(&VerifyError{Seq: cp.Seq, Kind: KindEdited, Reason: "the archived checkpoint and the database checkpoint disagree", Where: "archive " + seg.Key})
		return "", false
	}
	if h := dbHashes[cp.Seq]; h != "" && h != cp.Hash {
		// With a database checkpoint to compare, pinpoint reports this.
		if _, ok := signed[cp.Seq]; !ok {
			add(&VerifyError{Seq: cp.Seq, Kind: KindEdited, Reason: "the database chain differs from the archived segment", Where: "database"})
		}
	}
	if _, seen := out[seg.Last]; !seen {
		out[seg.Last] = archivedRun{first: seg.First, hashes: hashes}
	}
	return cp.Hash, true
}

// pinpoint finds the first entry before checkpoint seq whose database hash
// differs from the archived copy.
func pinpoint(ctx context.Context, log Log, seq int64, cps []StoredCheckpoint, segs map[int64]archivedRun) *VerifyError {
	from := int64(1)
	for _, sc := range cps {
		if sc.Seq < seq {
			from = sc.Seq + 1
		}
	}
	generic := &VerifyError{Seq: seq, Kind: KindEdited, Where: "database",
		Reason: fmt.Sprintf("the chain no longer leads to the hash signed at checkpoint %d: an entry from seq %d on was changed and the hashes after it recomputed", seq, from)}
	run, ok := segs[seq]
	if !ok || run.first != from {
		return generic
	}
	for after := from - 1; after < seq; {
		page, err := log.AuditRecords(ctx, after, int(min(seq-after, pageSize)))
		if err != nil || len(page) == 0 {
			return generic
		}
		for _, r := range page {
			if i := r.Seq - from; i >= 0 && i < int64(len(run.hashes)) && run.hashes[i] != r.Hash {
				return &VerifyError{Seq: r.Seq, Kind: KindEdited, Where: "database",
					Reason: fmt.Sprintf("differs from the archived copy, and the chain was recomputed to hide it (checkpoint %d no longer matches)", seq)}
			}
		}
		after = page[len(page)-1].Seq
	}
	return generic
}
