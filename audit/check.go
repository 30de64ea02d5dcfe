package audit

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"

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

// maxProblems bounds the report: after the first few, the rest is noise.
const maxProblems = 100

// pageSize is how many records Check reads at a time.
const pageSize = 10000

// CheckOptions shape a check.
type CheckOptions struct {
	// Keys holds the gateway's current and retired audit public keys.
	Keys jwk.Set
	// Issuer, if set, is the name every checkpoint must give as its log.
	Issuer string
	// Progress, if set, is called with the seq reached.
	Progress func(seq int64)
}

// Check verifies the whole record: the database chain from genesis to head,
// every signed checkpoint (signature, and the hash the chain reaches at its
// seq), the segments the database says it archived, and every version of
// every segment in the archive (its own chain and checkpoint, and its
// agreement with the database chain). An error means the check could not
// run; damage is reported in the Report.
//
// The gateway may be running: the chain grows and checkpoints and segments
// appear meanwhile. So the checkpoints are read first (each was signed over
// entries already written, and its segment archived before it was
// recorded), then the head (the chain is checked up to there), then the
// recorded segments and the archive listing.
func Check(ctx context.Context, log Log, archive Archive, opts CheckOptions) (*Report, error) {
	rep := &Report{Problems: []*VerifyError{}}
	add := func(e *VerifyError) {
		if len(rep.Problems) >= maxProblems {
			rep.Truncated = true
			return
		}
		rep.Problems = append(rep.Problems, e)
	}
	verify := func(b []byte) (*Checkpoint, error) {
		cp, err := ParseCheckpoint(b, opts.Keys)
		if err == nil && opts.Issuer != "" && cp.Log != opts.Issuer {
			return nil, fmt.Errorf("%w: signed for log %q, not %q", ErrBadSignature, cp.Log, opts.Issuer)
		}
		return cp, err
	}

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
	recorded, err := log.AuditSegments(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the archived segments' index: %w", err)
	}
	versions, err := archive.SegmentVersions(ctx)
	if err != nil {
		return nil, fmt.Errorf("list archived segments: %w", err)
	}
	rep.Versions = len(versions)

	// The database scan notes the hashes at which archived segments end.
	dbHashes := map[int64]string{}
	for i := range versions {
		if first, last, err := ParseSegmentKey(versions[i].Key); err == nil {
			versions[i].First, versions[i].Last = first, last
			dbHashes[last] = ""
		}
	}

	mismatched, err := scanChain(ctx, log, headSeq, signed, dbHashes, add, rep, opts.Progress)
	if err != nil {
		return nil, err
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

	runs, evidence := checkArchive(ctx, archive, versions, dbHashes, verify, add, rep)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// A signed hash the chain no longer reaches (a checkpoint's, or an
	// archived segment's): an entry before it was changed and the chain
	// recomputed. The archived copy pinpoints which.
	for seq, run := range evidence {
		if db := dbHashes[seq]; db != "" && db != signedHash(seq, signed, run) && !slices.Contains(mismatched, seq) {
			mismatched = append(mismatched, seq)
		}
	}
	slices.Sort(mismatched)
	for _, seq := range mismatched {
		add(pinpoint(ctx, log, seq, cps, evidence))
	}
	// Every checkpoint recorded before the archive was listed has a sound
	// segment ending at it, and every segment recorded is there, unchanged.
	for _, sc := range cps {
		if _, ok := runs[sc.Seq]; !ok && sc.Seq <= rep.HeadSeq {
			add(&VerifyError{Seq: sc.Seq, Kind: KindMissing, Reason: fmt.Sprintf("no sound archived segment ends at checkpoint %d", sc.Seq), Where: "archive"})
		}
	}
	for _, r := range recorded {
		run, ok := runs[r.Last]
		switch {
		case !ok:
			// Reported above if its checkpoint is recorded; otherwise here.
			if _, cp := signed[r.Last]; !cp {
				add(&VerifyError{Seq: r.First, Kind: KindMissing, Reason: fmt.Sprintf("segment %s, recorded in the database, is not in the archive", r.Key), Where: "archive"})
			}
		case r.SHA256 != "" && !slices.Contains(run.sums, r.SHA256):
			add(&VerifyError{Seq: r.First, Kind: KindEdited, Reason: fmt.Sprintf("no version of segment %s has the content recorded in the database (sha256 %s…)", r.Key, r.SHA256[:min(12, len(r.SHA256))]), Where: "archive " + r.Key})
		}
	}

	// Coverage: sound segments hold every entry from 1 up to the last one
	// archived, with no gap.
	ends := slices.Sorted(maps.Keys(runs))
	next := int64(1)
	for _, last := range ends {
		run := runs[last]
		if run.first > next {
			add(&VerifyError{Seq: next, Kind: KindMissing, Reason: fmt.Sprintf("no sound archived segment holds seq %d to %d", next, run.first-1), Where: "archive"})
		}
		next = max(next, last+1)
	}
	rep.Unarchived = max(0, rep.HeadSeq-(next-1))

	slices.SortStableFunc(rep.Problems, func(a, b *VerifyError) int { return cmp.Compare(a.Seq, b.Seq) })
	return rep, nil
}

// scanChain verifies the database chain from genesis to headSeq, noting the
// hashes asked for in dbHashes and returning the checkpoints it no longer
// reaches. One goroutine reads the next page while this one verifies.
func scanChain(ctx context.Context, log Log, headSeq int64, signed, dbHashes map[int64]string, add func(*VerifyError), rep *Report, progress func(int64)) ([]int64, error) {
	read := log.AuditRecords
	if lr, ok := log.(LinkReader); ok {
		read = lr.AuditLinks
	}
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
	v := NewVerifier()
	var mismatched []int64
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
	return mismatched, nil
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

// archivedRun is a sound segment: its range, its entries' hashes and the
// SHA-256 of each sound version of it.
type archivedRun struct {
	first  int64
	hashes []string
	sums   []string
}

// checkArchive checks every version of every segment on its own (its lines
// chain, its checkpoint verifies and names its last entry) and against the
// database chain (the hash at its last seq), and returns the sound
// segments by last seq. A sound segment whose checkpoint the database does
// not hold is not damage: a node that lost the race to record its
// checkpoint leaves one behind, locked, and it agrees with the chain.
func checkArchive(ctx context.Context, archive Archive, versions []ArchivedSegment, dbHashes map[int64]string,
	verify func([]byte) (*Checkpoint, error), add func(*VerifyError), rep *Report) (runs, evidence map[int64]archivedRun) {
	runs, evidence = map[int64]archivedRun{}, map[int64]archivedRun{}
	keys := map[string]bool{}
	truncated := false
	for _, seg := range versions {
		if ctx.Err() != nil {
			return runs, evidence
		}
		if seg.Last == 0 {
			add(&VerifyError{Kind: KindUnreadable, Reason: fmt.Sprintf("%q is not a segment key", seg.Key), Where: "archive"})
			continue
		}
		if !keys[seg.Key] {
			keys[seg.Key] = true
			rep.Segments++
		}
		rc, err := archive.OpenSegment(ctx, seg.Key, seg.Version)
		if err != nil {
			add(&VerifyError{Seq: seg.First, Kind: KindMissing, Reason: "cannot read the segment: " + err.Error(), Where: "archive " + seg.Key})
			continue
		}
		sum := sha256.New()
		hashes, cp, ve := readSegment(io.TeeReader(rc, sum), seg, "", verify)
		rc.Close()
		if ve != nil {
			add(ve)
			continue
		}
		switch db, ok := dbHashes[cp.Seq]; {
		case cp.Seq > rep.HeadSeq:
			if !truncated {
				truncated = true
				add(&VerifyError{Seq: rep.HeadSeq + 1, Kind: KindMissing, Where: "database",
					Reason: fmt.Sprintf("the archive holds entries up to seq %d but the chain ends at seq %d", cp.Seq, rep.HeadSeq)})
			}
			continue
		case !ok || db == "":
			continue // the scan did not reach it: reported as damage there
		case db != cp.Hash:
			// The database chain was changed: pinpoint names the entry.
			if _, seen := evidence[cp.Seq]; !seen {
				evidence[cp.Seq] = archivedRun{first: seg.First, hashes: hashes}
			}
			continue
		}
		run := runs[cp.Seq]
		if run.hashes == nil || seg.First < run.first {
			run.first, run.hashes = seg.First, hashes
		}
		run.sums = append(run.sums, hex.EncodeToString(sum.Sum(nil)))
		runs[cp.Seq] = run
		if _, seen := evidence[cp.Seq]; !seen {
			evidence[cp.Seq] = run
		}
	}
	return runs, evidence
}

// signedHash is the hash signed at seq: the database checkpoint's, else the
// archived segment's (the hash of its last entry).
func signedHash(seq int64, signed map[int64]string, run archivedRun) string {
	if h, ok := signed[seq]; ok {
		return h
	}
	return run.hashes[len(run.hashes)-1]
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
	run, ok := segs[seq]
	if ok {
		from = run.first
	}
	generic := &VerifyError{Seq: seq, Kind: KindEdited, Where: "database",
		Reason: fmt.Sprintf("the chain no longer leads to the hash signed at seq %d: an entry from seq %d on was changed and the hashes after it recomputed", seq, from)}
	if !ok {
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
					Reason: fmt.Sprintf("differs from the archived copy, and the chain was recomputed to hide it (the hash signed at seq %d no longer matches)", seq)}
			}
		}
		after = page[len(page)-1].Seq
	}
	return generic
}
