package testenv

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy forwards TCP connections to a real server (PostgreSQL, say) and can
// cut them: existing connections are closed and new ones refused, as when
// the server goes down or the network between fails, until Restore.
type Proxy struct {
	Addr   string
	target string
	ln     net.Listener
	mu     sync.Mutex
	cut    bool
	// muteAfter ≥ 0: requests still reach the server, but its answers on
	// a connection are dropped once the client has sent more than this
	// many bytes on it.
	muteAfter int64
	conns     map[net.Conn]struct{}
}

// StartProxy forwards a new loopback port to target until the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}, muteAfter: -1}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.Cut() })
	return p
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.Unlock()
		go p.forward(c)
	}
}

func (p *Proxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	var sent atomic.Int64
	go func() {
		_, _ = io.Copy(up, countingReader{c, &sent})
		done <- struct{}{}
	}()
	go func() {
		// The server's answers, unless muted.
		buf := make([]byte, 32<<10)
		for {
			n, err := up.Read(buf)
			p.mu.Lock()
			muted := p.muteAfter >= 0 && sent.Load() > p.muteAfter
			p.mu.Unlock()
			if n > 0 && !muted {
				if _, werr := c.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// Cut closes every forwarded connection and refuses new ones.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore forwards new connections again, and answers.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut, p.muteAfter = false, -1
	p.mu.Unlock()
}

// MuteAfter lets requests through to the server but drops its answers on
// every connection over which the client has sent more than n bytes: the
// server does what it was asked, and the client never hears of it, as
// when the network fails just after a write reached the server. Small
// requests on fresh connections are still answered.
func (p *Proxy) MuteAfter(n int64) {
	p.mu.Lock()
	p.muteAfter = n
	p.mu.Unlock()
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}
