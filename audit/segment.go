package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A segment is a sealed run of the chain, archived to object storage under
// Object Lock: NDJSON with one canonical entry body per line, in order, and
// a last line {"checkpoint":"<compact JWS>","note":"<checkpoint note>"}
// signing the hash of the last entry and the tree's root there (segments
// archived before the record was a tree have no note). A segment can be checked on its own (its lines hash and link, and
// the signed checkpoint names the last one) and against its neighbours (the
// first entry links to the previous segment's last hash).

// SegmentPrefix is where segments live in the audit bucket.
const SegmentPrefix = "segments/"

// SegmentKey is the object key of the segment holding entries first..last.
// Keys sort in chain order.
func SegmentKey(first, last int64) string {
	return fmt.Sprintf("%s%020d-%020d.ndjson", SegmentPrefix, first, last)
}

// ParseSegmentKey returns the range a segment key names.
func ParseSegmentKey(key string) (first, last int64, err error) {
	name, ok := strings.CutPrefix(key, SegmentPrefix)
	if ok {
		name, ok = strings.CutSuffix(name, ".ndjson")
	}
	a, b, ok2 := strings.Cut(name, "-")
	if !ok || !ok2 {
		return 0, 0, fmt.Errorf("audit: %q is not a segment key", key)
	}
	if first, err = strconv.ParseInt(a, 10, 64); err == nil {
		last, err = strconv.ParseInt(b, 10, 64)
	}
	if err != nil || first < 1 || last < first {
		return 0, 0, fmt.Errorf("audit: %q is not a segment key", key)
	}
	return first, last, nil
}

type checkpointLine struct {
	Checkpoint string `json:"checkpoint"`
	Note       string `json:"note,omitempty"`
}

// EncodeSegment writes records (consecutive, from one checkpoint to the
// next) and the checkpoint signing the last of them.
func EncodeSegment(recs []Record, cp StoredCheckpoint) ([]byte, error) {
	if len(recs) == 0 || recs[len(recs)-1].Seq != cp.Seq || recs[len(recs)-1].Hash != cp.Hash {
		return nil, errors.New("audit: a segment must end at its checkpoint")
	}
	var b bytes.Buffer
	for _, r := range recs {
		b.Write(r.Body)
		b.WriteByte('\n')
	}
	line, err := json.Marshal(checkpointLine{Checkpoint: cp.JWS, Note: cp.Note})
	if err != nil {
		return nil, err
	}
	b.Write(line)
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// maxLine bounds one NDJSON line: an entry naming 10,000 subjects is under 1 MiB.
const maxLine = 16 << 20

// SegmentReader reads a segment's records one by one, then its checkpoint.
type SegmentReader struct {
	sc         *bufio.Scanner
	checkpoint []byte
	note       []byte
	err        error
	line       int
}

// NewSegmentReader reads the segment in r.
func NewSegmentReader(r io.Reader) *SegmentReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	return &SegmentReader{sc: sc}
}

// Next returns the next record (its seq read from the body, its hash
// computed from it), or io.EOF after the last; Checkpoint is then set.
func (s *SegmentReader) Next() (Record, error) {
	if s.err != nil {
		return Record{}, s.err
	}
	if !s.sc.Scan() {
		s.err = s.sc.Err()
		if s.err == nil {
			s.err = errors.New("the segment ends without a checkpoint")
		}
		return Record{}, s.err
	}
	s.line++
	line := s.sc.Bytes()
	if bytes.HasPrefix(line, []byte(`{"checkpoint":`)) {
		var cl checkpointLine
		if err := json.Unmarshal(line, &cl); err != nil || cl.Checkpoint == "" {
			s.err = fmt.Errorf("line %d: unreadable checkpoint", s.line)
			return Record{}, s.err
		}
		if s.sc.Scan() {
			s.err = fmt.Errorf("line %d: data after the checkpoint", s.line+1)
			return Record{}, s.err
		}
		s.checkpoint, s.note = []byte(cl.Checkpoint), []byte(cl.Note)
		s.err = io.EOF
		return Record{}, io.EOF
	}
	body := bytes.Clone(line)
	seq, _, err := links(body)
	if err != nil {
		s.err = fmt.Errorf("line %d: %v", s.line, err)
		return Record{}, s.err
	}
	sum := sha256.Sum256(body)
	return Record{Seq: seq, Body: body, Hash: hex.EncodeToString(sum[:])}, nil
}

// Checkpoint is the segment's signed checkpoint, once Next returned io.EOF.
func (s *SegmentReader) Checkpoint() []byte { return s.checkpoint }

// Note is the segment's checkpoint note (empty in segments archived before
// the record was a tree), once Next returned io.EOF.
func (s *SegmentReader) Note() []byte { return s.note }
