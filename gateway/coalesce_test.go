package gateway

import (
	"bytes"
	"crypto/tls"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// recordingConn is a connection that keeps what is written to it, one
// entry per write.
type recordingConn struct {
	net.Conn
	writes [][]byte
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func TestCoalescingConn(t *testing.T) {
	rec := &recordingConn{}
	c := &coalescingConn{Conn: rec}
	record := func(b byte) []byte { return bytes.Repeat([]byte{b}, 16<<10+22) }

	// Outside a download every write goes straight through.
	_, err := c.Write([]byte("head"))
	require.NoError(t, err)
	require.Len(t, rec.writes, 1)

	// While gathering, records go out in large writes, in order, and
	// what is left goes out on release.
	c.gather()
	var want []byte
	for i := range 40 {
		r := record(byte(i))
		n, err := c.Write(r)
		require.NoError(t, err)
		require.Equal(t, len(r), n)
		want = append(want, r...)
	}
	require.NoError(t, c.release())
	got := bytes.Join(rec.writes[1:], nil)
	require.Equal(t, want, got, "every byte, in order")
	require.Len(t, rec.writes, 4, "40 records of 16 KiB in 256 KiB writes")
	for _, w := range rec.writes[1:] {
		require.LessOrEqual(t, len(w), coalesceSize)
	}

	// A write larger than the buffer goes through after what was gathered.
	c.gather()
	_, err = c.Write([]byte("small"))
	require.NoError(t, err)
	big := bytes.Repeat([]byte("x"), coalesceSize+1)
	_, err = c.Write(big)
	require.NoError(t, err)
	require.NoError(t, c.release())
	require.Equal(t, [][]byte{[]byte("small"), big}, rec.writes[4:])

	// Released, it writes straight through again; releasing twice is harmless.
	require.NoError(t, c.release())
	_, err = c.Write([]byte("tail"))
	require.NoError(t, err)
	require.Equal(t, []byte("tail"), rec.writes[len(rec.writes)-1])
}

func TestCoalescingFoundUnderFramingAndTLS(t *testing.T) {
	cc := &coalescingConn{Conn: &recordingConn{}}
	fc := &framingConn{Conn: tls.Server(cc, &tls.Config{})}
	require.Same(t, cc, coalescing(fc))
	require.Nil(t, coalescing(&framingConn{Conn: tls.Server(&recordingConn{}, &tls.Config{})}))
}
