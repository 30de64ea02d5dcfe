// Package readahead reads a stream in a goroutine of its own, a few buffers
// ahead of its consumer, so that a payload is read from one connection
// while what was read before is processed and written to the other.
package readahead

import (
	"errors"
	"io"
	"sync"
)

// Buffers buffers of Size bytes each (1 MiB per stream) are read ahead.
const (
	Buffers = 4
	Size    = 256 << 10
)

// bufs lends the buffers, so that a stream allocates none of its own.
var bufs = sync.Pool{New: func() any { b := make([]byte, Size); return &b }}

// ErrClosed is returned by a read after Close.
var ErrClosed = errors.New("readahead: read after close")

// Reader reads its source in a goroutine of its own, up to Buffers buffers
// ahead of its reader. Without it, a transfer alternates between waiting
// for one side and working for the other (TLS, hashing, encryption, system
// calls), each idle in turn. Memory stays bounded: the goroutine waits for
// a buffer to come back before it reads more. Read, WriteTo and Close are
// for one goroutine at a time.
type Reader struct {
	src  io.ReadCloser
	full chan chunk    // buffers read, in order
	free chan *[]byte  // buffers to read into
	done chan struct{} // closed by Close
	gone chan struct{} // closed when the goroutine has stopped

	cur     chunk
	off     int // read offset in cur.b
	holding bool
	err     error
	once    sync.Once
}

// chunk is one buffer read from src, and the error that ended the read.
type chunk struct {
	buf *[]byte
	b   []byte
	err error
}

// New starts reading src ahead. Close stops it, waits for a read in
// progress to end, and closes src.
func New(src io.ReadCloser) *Reader {
	r := &Reader{
		src:  src,
		full: make(chan chunk, Buffers),
		free: make(chan *[]byte, Buffers),
		done: make(chan struct{}),
		gone: make(chan struct{}),
	}
	for range Buffers {
		r.free <- bufs.Get().(*[]byte)
	}
	go r.fill()
	return r
}

// fill reads src into free buffers until it ends or Close is called.
func (r *Reader) fill() {
	defer close(r.gone)
	for {
		var bp *[]byte
		select {
		case bp = <-r.free:
		case <-r.done:
			return
		}
		n, err := io.ReadFull(r.src, *bp)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		select {
		case r.full <- chunk{buf: bp, b: (*bp)[:n], err: err}:
		case <-r.done:
			bufs.Put(bp)
			return
		}
		if err != nil {
			return
		}
	}
}

// next makes the next chunk current, handing the last one back to fill.
func (r *Reader) next() bool {
	if r.holding {
		r.free <- r.cur.buf
		r.holding = false
	}
	if r.err != nil {
		return false
	}
	r.cur, r.off, r.holding = <-r.full, 0, true
	r.err = r.cur.err
	return true
}

func (r *Reader) Read(p []byte) (int, error) {
	for r.off == len(r.cur.b) {
		if !r.next() {
			return 0, r.err
		}
	}
	n := copy(p, r.cur.b[r.off:])
	r.off += n
	return n, nil
}

// WriteTo writes the rest of the stream to w, each buffer as it was read:
// no copy, and writes as large as the buffers.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if r.off < len(r.cur.b) {
			n, err := w.Write(r.cur.b[r.off:])
			total += int64(n)
			r.off += n
			if err != nil {
				return total, err
			}
		}
		if !r.next() {
			if errors.Is(r.err, io.EOF) {
				return total, nil
			}
			return total, r.err
		}
	}
}

// Close stops the read-ahead and closes src; the buffers go back to the pool.
func (r *Reader) Close() error {
	var err error
	r.once.Do(func() {
		close(r.done)
		err = r.src.Close()
		<-r.gone
		if r.holding {
			bufs.Put(r.cur.buf)
			r.holding = false
		}
		r.cur, r.off = chunk{}, 0
		for {
			select {
			case c := <-r.full:
				bufs.Put(c.buf)
			case bp := <-r.free:
				bufs.Put(bp)
			default:
				r.err = ErrClosed
				return
			}
		}
	})
	return err
}
