package audit

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
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
	// Hidden counts entries past the chain's head (a head moved back).
	Hidden int64 `json:"hidden_entries,omitempty"`
	// TreeSize and TreeRoot are the Merkle tree of the entries read, as
	// recomputed from them (the root in standard base64).
	TreeSize uint64 `json:"tree_size"`
	TreeRoot string `json:"tree_root"`
	// Pending counts checkpoints claimed in the database whose segment is
	// being archived (one at most, while the gateway works).
	Pending int `json:"pending_segments,omitempty"`
	// Unrecorded lists the archived segment versions that no row of the
	// database records ("key version v"): each is also a problem.
	Unrecorded []string `json:"unrecorded_segments,omitempty"`
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

// pageSize is how many records Check reads at a time. A check holds up to
// five pages at once (readAhead), about a kilobyte a record, and the
// gateway checks its record in the background while it serves transfers:
// the smaller the pages, the less memory beside those transfers, and
// verification is as fast from 1,000-record pages as from 10,000-record
// ones (P5).
const pageSize = 1000

// CheckOptions shape a check.
type CheckOptions struct {
	// Keys holds the gateway's current and retired audit public keys.
	Keys jwk.Set
	// Issuer, if set, is the name every checkpoint must give as its log.
	Issuer string
	// Notes, if set, verifies checkpoint notes: the log's origin and its
	// checkpoint keys. Without it the notes' signatures are not checked
	// (the JWS, which signs the same root, still is).
	Notes *NoteKeys
	// Progress, if set, is called with the seq reached.
	Progress func(seq int64)
}

// Check verifies the whole record: the database chain from genesis to its
// last entry (never trusting the head: entries past it are reported as
// hidden), the Merkle tree recomputed from the entries against the stored
// tree, every signed checkpoint (its signatures, and the hash and root the
// record reaches at its seq), the segments the database says it archived,
// and every version of every segment in the archive (its own chain and
// checkpoint, its agreement with the database chain, and that the database
// records it). An error means the check could not run; damage is reported
// in the Report.
//
// The gateway may be running: the chain grows and checkpoints and segments
// appear meanwhile. So the checkpoints are read first (each was signed over
// entries already written), then the head and the last entry together,
// then the chain up to that entry; the recorded segments before the archive
// listing (each was archived before it was recorded), and the checkpoints
// and segments again after it (a segment is archived only after its
// checkpoint was claimed).
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

	sig := signedState{hashes: map[int64]string{}, roots: map[int64][]byte{}}
	cps, err := readCheckpoints(ctx, log, 0, verify, opts.Notes, sig, add)
	if err != nil {
		return nil, err
	}
	rep.Checkpoints = len(cps)
	headSeq, headHash, maxSeq, err := extent(ctx, log)
	if err != nil {
		return nil, err
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
	// What the database knows now, after the listing: every segment listed
	// was archived for a checkpoint claimed before it.
	recordedNow, err := log.AuditSegments(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the archived segments' index: %w", err)
	}
	lastCP := int64(0)
	if len(cps) > 0 {
		lastCP = cps[len(cps)-1].Seq
	}
	cpsNow, err := readCheckpoints(ctx, log, lastCP, verify, opts.Notes, signedState{hashes: map[int64]string{}, roots: map[int64][]byte{}}, func(*VerifyError) {})
	if err != nil {
		return nil, err
	}
	_, _, maxNow, err := extent(ctx, log)
	if err != nil {
		return nil, err
	}

	// The database scan notes the hashes at which archived segments end.
	dbHashes := map[int64]string{}
	for i := range versions {
		if first, last, err := ParseSegmentKey(versions[i].Key); err == nil {
			versions[i].First, versions[i].Last = first, last
			dbHashes[last] = ""
		}
	}
	dbHashes[headSeq] = ""

	mismatched, err := scanChain(ctx, log, maxSeq, sig, dbHashes, add, rep, opts.Progress)
	if err != nil {
		return nil, err
	}
	switch {
	case rep.HeadSeq > headSeq:
		rep.Hidden = rep.HeadSeq - headSeq
		add(&VerifyError{Seq: headSeq + 1, Kind: KindHidden, Where: "database",
			Reason: fmt.Sprintf("entries seq %d to %d lie past the chain's head (seq %d): the head was moved back to hide them", headSeq+1, rep.HeadSeq, headSeq)})
	case rep.HeadSeq < headSeq:
		add(&VerifyError{Seq: rep.HeadSeq + 1, Kind: KindMissing, Where: "database",
			Reason: fmt.Sprintf("the chain's head says seq %d but the last entry is seq %d", headSeq, rep.HeadSeq)})
	}
	if h := dbHashes[headSeq]; headSeq > 0 && h != "" && h != headHash {
		add(&VerifyError{Seq: headSeq, Kind: KindEdited, Where: "database", Reason: "the chain's head names another hash than its entry's"})
	}
	for _, sc := range cps {
		if sc.Seq > rep.HeadSeq {
			add(&VerifyError{Seq: rep.HeadSeq + 1, Kind: KindMissing,
				Reason: fmt.Sprintf("the chain ends at seq %d but a checkpoint was signed at seq %d", rep.HeadSeq, sc.Seq), Where: "database"})
			break
		}
	}

	runs, evidence := checkArchive(ctx, archive, versions, dbHashes, maxNow, verify, opts.Notes, add, rep)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// A signed hash the chain no longer reaches (a checkpoint's, or an
	// archived segment's): an entry before it was changed and the chain
	// recomputed. The archived copy pinpoints which.
	for seq, run := range evidence {
		if db := dbHashes[seq]; db != "" && db != signedHash(seq, sig.hashes, run) && !slices.Contains(mismatched, seq) {
			mismatched = append(mismatched, seq)
		}
	}
	slices.Sort(mismatched)
	for _, seq := range mismatched {
		add(pinpoint(ctx, log, seq, cps, evidence))
	}
	// Every checkpoint recorded before the archive was listed has a sound
	// segment ending at it, unless it is the one still being archived; and
	// every segment recorded is there, unchanged.
	archivedTo := int64(0)
	for _, r := range recorded {
		archivedTo = max(archivedTo, r.Last)
	}
	for _, sc := range cps {
		if _, ok := runs[sc.Seq]; !ok && sc.Seq <= rep.HeadSeq {
			if sc.Seq > archivedTo && sc.Seq == cps[len(cps)-1].Seq {
				rep.Pending++
				continue
			}
			add(&VerifyError{Seq: sc.Seq, Kind: KindMissing, Reason: fmt.Sprintf("no sound archived segment ends at checkpoint %d", sc.Seq), Where: "archive"})
		}
	}
	for _, r := range recorded {
		run, ok := runs[r.Last]
		switch {
		case !ok:
			// Reported above if its checkpoint is recorded; otherwise here.
			if _, cp := sig.hashes[r.Last]; !cp {
				add(&VerifyError{Seq: r.First, Kind: KindMissing, Reason: fmt.Sprintf("segment %s, recorded in the database, is not in the archive", r.Key), Where: "archive"})
			}
		case r.SHA256 != "" && !slices.Contains(run.sums, r.SHA256):
			add(&VerifyError{Seq: r.First, Kind: KindEdited, Reason: fmt.Sprintf("no version of segment %s has the content recorded in the database (sha256 %s…)", r.Key, r.SHA256[:min(12, len(r.SHA256))]), Where: "archive " + r.Key})
		}
	}
	unrecorded(versions, recordedNow, append(cps, cpsNow...), add, rep)

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

	// By seq; at one seq, what the chain and the archive show before what
	// the stored tree shows (it follows from them).
	treeLast := func(e *VerifyError) int {
		if e.Where == whereTree {
			return 1
		}
		return 0
	}
	slices.SortStableFunc(rep.Problems, func(a, b *VerifyError) int {
		return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(treeLast(a), treeLast(b)))
	})
	return rep, nil
}

// whereTree names the stored tree in problems.
const whereTree = "database tree"

// Extent is a Log that reads its head and its last entry in one statement,
// so that a chain growing meanwhile is not mistaken for entries past a head
// moved back.
type Extent interface {
	AuditExtent(ctx context.Context) (headSeq int64, headHash string, maxSeq int64, err error)
}

func extent(ctx context.Context, log Log) (int64, string, int64, error) {
	if e, ok := log.(Extent); ok {
		h, hash, m, err := e.AuditExtent(ctx)
		if err != nil {
			return 0, "", 0, fmt.Errorf("read the chain's head: %w", err)
		}
		return h, hash, m, nil
	}
	h, hash, err := log.AuditHead(ctx)
	if err != nil {
		return 0, "", 0, fmt.Errorf("read the chain's head: %w", err)
	}
	m, err := log.AuditMaxSeq(ctx)
	if err != nil {
		return 0, "", 0, fmt.Errorf("read the chain's last entry: %w", err)
	}
	return h, hash, max(m, 0), nil
}

// unrecorded reports every archived segment version the database does not
// record: not the version a segment row names (for a row that names none,
// the first sound one), and not the segment of the checkpoint still being
// archived. The gateway claims a checkpoint before it archives its segment
// and records the segment after, and looks for an earlier copy before it
// writes: any other object under the segment prefix was put there by
// something else, or by a version of the gateway before that order.
func unrecorded(versions []ArchivedSegment, recorded []ArchivedSegment, cps []StoredCheckpoint, add func(*VerifyError), rep *Report) {
	byKey := map[string]ArchivedSegment{}
	archivedTo := int64(0)
	for _, r := range recorded {
		byKey[r.Key] = r
		archivedTo = max(archivedTo, r.Last)
	}
	claimed := map[int64]bool{}
	for _, sc := range cps {
		claimed[sc.Seq] = true
	}
	takenByKey := map[string]bool{}
	for _, v := range versions {
		r, ok := byKey[v.Key]
		switch {
		case ok && r.Version != "" && r.Version == v.Version:
			continue
		case ok && r.Version == "" && !takenByKey[v.Key]:
			takenByKey[v.Key] = true // recorded without a version: the bucket keeps one
			continue
		case !ok && v.Last > archivedTo && claimed[v.Last] && v.First == archivedTo+1 && !takenByKey[v.Key]:
			// The claimed checkpoint whose segment is being archived.
			takenByKey[v.Key] = true
			continue
		}
		name := v.Key
		if v.Version != "" {
			name += " version " + v.Version
		}
		rep.Unrecorded = append(rep.Unrecorded, name)
		reason := "the archive holds this segment but no checkpoint or segment row of the database records it"
		if ok {
			reason = "another version of a recorded segment: the database records version " + r.Version
		}
		add(&VerifyError{Seq: v.First, Kind: KindUnrecorded, Reason: reason, Where: "archive " + name})
	}
}

// signedState is what the sound checkpoints signed: chain hashes and tree
// roots by seq.
type signedState struct {
	hashes map[int64]string
	roots  map[int64][]byte
}

// chainPage is the entries and tree rows of one range of seqs.
type chainPage struct {
	recs []Record
	tree []TreeRow
	err  error
}

// readers is how many pages are read at once while one is verified:
// reading (decoding rows) costs more than verifying them.
const readers = 2

// readAhead reads the chain and the tree up to seq upTo in pages of
// pageSize seqs, page k holding seqs k·pageSize+1 to (k+1)·pageSize, with
// readers goroutines each reading every readers-th page, and delivers
// them in order. The channel closes after the last page or the first
// error (in its page).
func readAhead(ctx context.Context, log Log, upTo int64) (<-chan chainPage, <-chan error) {
	read := log.AuditRecords
	if lr, ok := log.(LinkReader); ok {
		read = lr.AuditLinks
	}
	n := int((upTo + pageSize - 1) / pageSize)
	lanes := make([]chan chainPage, readers)
	for w := range lanes {
		lanes[w] = make(chan chainPage, 1)
		go func() {
			defer close(lanes[w])
			for k := w; k < n; k += readers {
				from, to := int64(k)*pageSize, min(int64(k+1)*pageSize, upTo)
				var pg chainPage
				if pg.recs, pg.err = read(ctx, from, int(to-from)); pg.err != nil {
					pg.err = fmt.Errorf("read the chain: %w", pg.err)
				} else if pg.tree, pg.err = log.AuditTreeRows(ctx, from, int(to-from)); pg.err != nil {
					pg.err = fmt.Errorf("read the tree: %w", pg.err)
				}
				// With a gap, a page reads on past its range: the next has those.
				pg.recs = slices.DeleteFunc(pg.recs, func(r Record) bool { return r.Seq > to })
				pg.tree = slices.DeleteFunc(pg.tree, func(r TreeRow) bool { return r.Seq > to })
				select {
				case lanes[w] <- pg:
				case <-ctx.Done():
					return
				}
				if pg.err != nil {
					return
				}
			}
		}()
	}
	out, errc := make(chan chainPage), make(chan error, 1)
	go func() {
		defer close(out)
		for k := range n {
			pg, ok := <-lanes[k%readers]
			if !ok {
				return
			}
			if pg.err != nil {
				errc <- pg.err
				return
			}
			select {
			case out <- pg:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, errc
}

// scanChain verifies the database chain from genesis to its last entry
// (upTo), recomputing the tree from the entries and comparing it with the
// stored tree and the signed roots, noting the hashes asked for in
// dbHashes and returning the checkpoints whose hash it no longer reaches.
// Other goroutines read the next pages while this one verifies.
func scanChain(ctx context.Context, log Log, upTo int64, sig signedState, dbHashes map[int64]string, add func(*VerifyError), rep *Report, progress func(int64)) ([]int64, error) {
	scanCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	pages, readErr := readAhead(scanCtx, log, upTo)
	v := NewVerifier()
	tc := newTreeCheck(log, sig.roots, add)
	var mismatched []int64
	for pg := range pages {
		tc.page(pg.tree)
		for _, r := range pg.recs {
			if r.Seq > upTo {
				break
			}
			rep.Entries++
			ok := true
			if err := v.Next(r); err != nil {
				ve := err.(*VerifyError)
				ve.Where = "database"
				add(ve)
				ok = false
				// Carry on from this record, to report what else is wrong.
				v = NewVerifierAt(r.Seq, r.Hash)
			}
			tc.next(ctx, r, ok)
			if h, ok := sig.hashes[r.Seq]; ok && h != r.Hash {
				mismatched = append(mismatched, r.Seq)
			}
			if _, ok := dbHashes[r.Seq]; ok {
				dbHashes[r.Seq] = r.Hash
			}
		}
		if progress != nil && len(pg.recs) > 0 {
			progress(pg.recs[len(pg.recs)-1].Seq)
		}
	}
	select {
	case err := <-readErr:
		return nil, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tc.finish()
	rep.HeadSeq, rep.HeadHash = v.Head()
	rep.TreeSize, rep.TreeRoot = tc.tree.Size(), base64.StdEncoding.EncodeToString(tc.tree.Root())
	if progress != nil {
		progress(rep.HeadSeq)
	}
	return mismatched, nil
}

// treeCheck recomputes the tree from the entries as they are read, and
// compares each entry's stored tree row and each signed root with it.
type treeCheck struct {
	log   NodeReader
	tree  *Frontier
	roots map[int64][]byte
	add   func(*VerifyError)
	rows  []TreeRow
	row   []byte // scratch for the row recomputed
	// missingFrom is the first seq of a run of missing tree rows (0: none).
	missingFrom, missingTo int64
}

func newTreeCheck(log NodeReader, roots map[int64][]byte, add func(*VerifyError)) *treeCheck {
	tree, _ := NewFrontier(0, nil)
	return &treeCheck{log: log, tree: tree, roots: roots, add: add}
}

func (t *treeCheck) page(rows []TreeRow) { t.rows = rows }

// next adds record r's leaf. sound says the chain check passed: a record
// that failed it is reported there, and its tree row is not reported again.
func (t *treeCheck) next(ctx context.Context, r Record, sound bool) {
	if uint64(r.Seq) != t.tree.Size()+1 {
		// A gap or a repeat in the chain (reported there): the tree goes
		// on from what is stored.
		t.resync(ctx, r.Seq-1)
	}
	t.row = t.tree.AppendTo(t.row[:0], LeafHash(r.Body))
	for len(t.rows) > 0 && t.rows[0].Seq < r.Seq {
		t.rows = t.rows[1:]
	}
	switch {
	case len(t.rows) == 0 || t.rows[0].Seq != r.Seq:
		if t.missingFrom == 0 {
			t.missingFrom = r.Seq
		}
		t.missingTo = r.Seq
	case !bytes.Equal(t.rows[0].Nodes, t.row):
		t.flushMissing()
		reason := "the entry's stored tree row differs from the tree of the entries: inclusion proofs would not verify"
		if !bytes.HasPrefix(t.rows[0].Nodes, t.row[:HashSize]) {
			reason = "the entry differs from the leaf the tree recorded when it was written: it was changed since"
		}
		if sound {
			t.add(&VerifyError{Seq: r.Seq, Kind: KindEdited, Where: whereTree, Reason: reason})
		}
		// Go on from the stored tree, so that one bad row is reported once.
		t.resync(ctx, r.Seq)
	default:
		t.flushMissing()
	}
	if root, ok := t.roots[r.Seq]; ok && !bytes.Equal(root, t.tree.Root()) && sound {
		t.add(&VerifyError{Seq: r.Seq, Kind: KindEdited, Where: "database",
			Reason: fmt.Sprintf("the tree of the entries no longer has the root signed at seq %d", r.Seq)})
	}
}

// resync restarts the recomputed tree from the stored one at size.
func (t *treeCheck) resync(ctx context.Context, size int64) {
	if f, err := ReadFrontier(ctx, t.log, uint64(max(size, 0))); err == nil {
		t.tree = f
	} else {
		// Nothing stored to go on from: keep the recomputed tree, padded
		// to the size with what the stored rows cannot give.
		for t.tree.Size() < uint64(max(size, 0)) {
			t.tree.Append(EmptyRoot())
		}
	}
}

func (t *treeCheck) flushMissing() {
	if t.missingFrom == 0 {
		return
	}
	t.add(&VerifyError{Seq: t.missingFrom, Kind: KindMissing, Where: whereTree,
		Reason: fmt.Sprintf("the tree rows of seq %d to %d are missing", t.missingFrom, t.missingTo)})
	t.missingFrom, t.missingTo = 0, 0
}

func (t *treeCheck) finish() { t.flushMissing() }

// readCheckpoints reads the checkpoints after the given seq, verifies each
// and notes the sound ones in sig.
func readCheckpoints(ctx context.Context, log Log, after int64, verify func([]byte) (*Checkpoint, error), notes *NoteKeys, sig signedState, add func(*VerifyError)) ([]StoredCheckpoint, error) {
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
		cp, ve := checkStored(sc, verify, notes)
		if ve != nil {
			ve.Where = "database"
			add(ve)
			continue
		}
		sig.hashes[cp.Seq] = cp.Hash
		if len(sc.Root) > 0 {
			sig.roots[cp.Seq] = sc.Root
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
func checkArchive(ctx context.Context, archive Archive, versions []ArchivedSegment, dbHashes map[int64]string, maxNow int64,
	verify func([]byte) (*Checkpoint, error), notes *NoteKeys, add func(*VerifyError), rep *Report) (runs, evidence map[int64]archivedRun) {
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
		hashes, cp, ve := readSegment(io.TeeReader(rc, sum), seg, "", verify, notes)
		rc.Close()
		if ve != nil {
			add(ve)
			continue
		}
		switch db, ok := dbHashes[cp.Seq]; {
		case cp.Seq > rep.HeadSeq && cp.Seq <= maxNow:
			continue // archived after the chain was read
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
