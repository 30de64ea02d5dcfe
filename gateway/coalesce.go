package gateway

import (
	"crypto/tls"
	"net"
	"sync"
)

// CoalesceWrites wraps a listener (the one under TLS: it sees the records)
// so that a payload download can gather the TLS records it writes into
// large writes to the socket. Go's TLS writes each record (16 KiB at most)
// with a system call of its own; a download of 1 GiB is 65,536 of them,
// and on a fast link their cost, on both ends, is much of the transfer's.
// Outside a download every write goes straight through.
func CoalesceWrites(ln net.Listener) net.Listener { return &coalescingListener{ln} }

type coalescingListener struct{ net.Listener }

func (l *coalescingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &coalescingConn{Conn: c}, nil
}

// coalesceSize is how much a coalescing connection gathers before it
// writes: sixteen full TLS records, less a little.
const coalesceSize = 256 << 10

var coalesceBuffers = sync.Pool{New: func() any { b := make([]byte, 0, coalesceSize); return &b }}

// coalescingConn gathers writes while a download holds it (gather), and
// writes them out when its buffer is full and when the download lets go
// (release). The mutex keeps a write from another goroutine (the TLS
// close alert, say) in order with what is gathered.
type coalescingConn struct {
	net.Conn
	mu  sync.Mutex
	buf *[]byte // non-nil while gathering
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return c.Conn.Write(p)
	}
	b := *c.buf
	if len(b)+len(p) > cap(b) {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		b = *c.buf
	}
	if len(p) > cap(b) {
		return c.Conn.Write(p)
	}
	*c.buf = append(b, p...)
	return len(p), nil
}

// flushLocked writes what is gathered.
func (c *coalescingConn) flushLocked() error {
	b := *c.buf
	if len(b) == 0 {
		return nil
	}
	*c.buf = b[:0]
	_, err := c.Conn.Write(b)
	return err
}

// gather starts gathering writes.
func (c *coalescingConn) gather() {
	c.mu.Lock()
	if c.buf == nil {
		c.buf = coalesceBuffers.Get().(*[]byte)
	}
	c.mu.Unlock()
}

// release writes what is gathered and stops gathering.
func (c *coalescingConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return nil
	}
	err := c.flushLocked()
	*c.buf = (*c.buf)[:0]
	coalesceBuffers.Put(c.buf)
	c.buf = nil
	return err
}

// coalescing finds the coalescing connection under a connection fasthttp
// serves (StrictFraming's, over TLS), or nil.
func coalescing(c net.Conn) *coalescingConn {
	if f, ok := c.(*framingConn); ok {
		c = f.Conn
	}
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	cc, _ := c.(*coalescingConn)
	return cc
}
