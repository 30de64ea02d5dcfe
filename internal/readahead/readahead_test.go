package readahead

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// source is a stream: it counts how far it was read and whether it
// was closed, and may fail after some bytes.
type source struct {
	r      io.Reader
	read   int
	closed bool
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.read += n
	return n, err
}

func (s *source) Close() error { s.closed = true; return nil }

func TestReadAhead(t *testing.T) {
	body := make([]byte, 3*Size*Buffers+12345)
	_, _ = rand.Read(body)
	for _, tc := range []struct {
		name string
		size int
	}{
		{"one-byte", 1},
		{"one-buffer", Size},
		{"every-buffer-and-some", Size*Buffers + 1},
		{"many-times-over", len(body)},
	} {
		t.Run("read/"+tc.name, func(t *testing.T) {
			src := &source{r: iotest.HalfReader(bytes.NewReader(body[:tc.size]))}
			r := New(src)
			got, err := io.ReadAll(struct{ io.Reader }{r}) // Read only, small reads
			require.NoError(t, err)
			require.Equal(t, body[:tc.size], got)
			require.NoError(t, r.Close())
			require.True(t, src.closed)
		})
		t.Run("write-to/"+tc.name, func(t *testing.T) {
			r := New(&source{r: bytes.NewReader(body[:tc.size])})
			var out bytes.Buffer
			n, err := r.WriteTo(&out)
			require.NoError(t, err)
			require.Equal(t, int64(tc.size), n)
			require.Equal(t, body[:tc.size], out.Bytes())
			require.NoError(t, r.Close())
		})
	}

	t.Run("read-then-write-to", func(t *testing.T) {
		r := New(&source{r: bytes.NewReader(body)})
		head := make([]byte, 1000)
		_, err := io.ReadFull(r, head)
		require.NoError(t, err)
		var out bytes.Buffer
		_, err = r.WriteTo(&out)
		require.NoError(t, err)
		require.Equal(t, body, append(head, out.Bytes()...))
		require.NoError(t, r.Close())
	})

	t.Run("source-error-after-data", func(t *testing.T) {
		broken := errors.New("connection reset")
		src := &source{r: io.MultiReader(bytes.NewReader(body[:Size+10]), iotest.ErrReader(broken))}
		r := New(src)
		var out bytes.Buffer
		_, err := r.WriteTo(&out)
		require.ErrorIs(t, err, broken)
		require.Equal(t, body[:Size+10], out.Bytes(), "everything read before the error is written")
		_, err = r.Read(make([]byte, 10))
		require.ErrorIs(t, err, broken, "the error stays")
		require.NoError(t, r.Close())
	})

	t.Run("bounded", func(t *testing.T) {
		src := &source{r: bytes.NewReader(body)}
		r := New(src)
		_, err := r.Read(make([]byte, 1))
		require.NoError(t, err)
		require.NoError(t, r.Close())
		require.LessOrEqual(t, src.read, (Buffers+1)*Size, "reads at most its buffers ahead")
		_, err = r.Read(make([]byte, 1))
		require.ErrorIs(t, err, ErrClosed)
		require.NoError(t, r.Close(), "a second close is harmless")
	})

	t.Run("closed-unread", func(t *testing.T) {
		src := &source{r: bytes.NewReader(body)}
		r := New(src)
		require.NoError(t, r.Close())
		require.True(t, src.closed)
	})
}

// BenchmarkReadAhead is the cost of the read-ahead itself, per byte.
func BenchmarkReadAhead(b *testing.B) {
	body := make([]byte, 64<<20)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r := New(io.NopCloser(bytes.NewReader(body)))
		if _, err := r.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
		_ = r.Close()
	}
}
