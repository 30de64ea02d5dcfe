package exchange_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/exchange"
)

// memObjects is an object store in memory behind exchange.Objects, honest
// enough that the failure paths tested against it mean something: it keeps
// the bytes, takes exactly the size it is told (and fails on a short
// body), keeps every version, serves byte ranges, holds Object Lock
// retention, has a capacity, and can be told to fail.
type memObjects struct {
	mu       sync.Mutex
	bucket   string
	objects  map[string][]*memVersion // by key, oldest version first
	versions int
	used     int64

	// capacity is the most bytes it holds (0: no limit); beyond it Put
	// fails with exchange.ErrStorageFull and stores nothing.
	capacity int64
	// lock is the Object Lock mode for objects put with a retention date:
	// lockNone, lockGovernance (Remove bypasses it, as the gateway's S3
	// store does) or lockCompliance (nothing removes a locked object).
	lock lockMode
	now  func() time.Time

	// Faults: an error for the next calls of each operation, and for Put a
	// number of bytes to read before it fails (the store going away in the
	// middle of an upload).
	putErr, getErr, removeErr error
	putFailAfter              int64
}

type memVersion struct {
	id          string
	data        []byte
	retainUntil time.Time
	lock        lockMode // the mode it was locked in
	stored      time.Time
}

type lockMode int

const (
	lockNone lockMode = iota
	lockGovernance
	lockCompliance
)

var _ exchange.Objects = (*memObjects)(nil)

// errNoObject is what Get says of a key or version it does not have.
var errNoObject = errors.New("memobjects: no such object")

// errLocked is what Remove says of an object under compliance-mode retention.
var errLocked = errors.New("memobjects: object is locked by its retention")

func newMemObjects(now func() time.Time) *memObjects {
	return &memObjects{bucket: "payloads-test", objects: map[string][]*memVersion{}, lock: lockGovernance, now: now}
}

func (m *memObjects) Put(ctx context.Context, key string, r io.Reader, size int64, retainUntil time.Time) (exchange.ObjectInfo, error) {
	m.mu.Lock()
	putErr, failAfter, room := m.putErr, m.putFailAfter, int64(-1)
	if m.capacity > 0 {
		room = m.capacity - m.used
	}
	m.mu.Unlock()
	if putErr != nil && failAfter == 0 {
		return exchange.ObjectInfo{}, putErr
	}
	if room >= 0 && size > room {
		return exchange.ObjectInfo{}, fmt.Errorf("%w: %d bytes do not fit in %d", exchange.ErrStorageFull, size, room)
	}
	var buf bytes.Buffer
	if putErr != nil {
		// Read some, then go away.
		if _, err := io.CopyN(&buf, r, failAfter); err != nil {
			return exchange.ObjectInfo{}, err
		}
		return exchange.ObjectInfo{}, putErr
	}
	if size >= 0 {
		// Exactly size bytes, as a PUT with a Content-Length: a shorter body
		// fails, anything after size is not read.
		n, err := io.CopyN(&buf, r, size)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("memobjects: body ended after %d of %d bytes", n, size)
			}
			return exchange.ObjectInfo{}, err
		}
	} else {
		// To EOF, within the capacity.
		src := r
		if room >= 0 {
			src = io.LimitReader(r, room+1)
		}
		if _, err := io.Copy(&buf, src); err != nil {
			return exchange.ObjectInfo{}, err
		}
		if room >= 0 && int64(buf.Len()) > room {
			return exchange.ObjectInfo{}, fmt.Errorf("%w: more than %d bytes", exchange.ErrStorageFull, room)
		}
	}
	if err := ctx.Err(); err != nil {
		return exchange.ObjectInfo{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.capacity > 0 && m.used+int64(buf.Len()) > m.capacity {
		return exchange.ObjectInfo{}, fmt.Errorf("%w: the store filled up", exchange.ErrStorageFull)
	}
	m.versions++
	v := &memVersion{id: "v" + strconv.Itoa(m.versions), data: buf.Bytes(), stored: m.now()}
	if m.lock != lockNone {
		v.retainUntil, v.lock = retainUntil, m.lock
	}
	m.objects[key] = append(m.objects[key], v)
	m.used += int64(len(v.data))
	return exchange.ObjectInfo{Bucket: m.bucket, Key: key, Version: v.id, Size: int64(len(v.data))}, nil
}

// find returns the index of a version of key (the latest if version is
// empty), or -1. The caller holds mu.
func (m *memObjects) find(key, version string) int {
	vs := m.objects[key]
	if version == "" {
		return len(vs) - 1
	}
	return slices.IndexFunc(vs, func(v *memVersion) bool { return v.id == version })
}

func (m *memObjects) Get(ctx context.Context, key, version string, offset, length int64) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.getErr != nil {
		return nil, m.getErr
	}
	i := m.find(key, version)
	if i < 0 {
		return nil, fmt.Errorf("%w: %s %s", errNoObject, key, version)
	}
	data := m.objects[key][i].data
	size := int64(len(data))
	end := size
	if length >= 0 {
		end = offset + length
	}
	if offset < 0 || offset > size || end > size {
		return nil, fmt.Errorf("memobjects: range %d+%d outside %d bytes", offset, length, size)
	}
	return io.NopCloser(bytes.NewReader(bytes.Clone(data[offset:end]))), nil
}

func (m *memObjects) Remove(ctx context.Context, key, version string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.removeErr != nil {
		return m.removeErr
	}
	i := m.find(key, version)
	if i < 0 {
		return fmt.Errorf("%w: %s %s", exchange.ErrNotFound, key, version)
	}
	v := m.objects[key][i]
	if m.lock == lockCompliance && m.now().Before(v.retainUntil) {
		return fmt.Errorf("%w until %s", errLocked, v.retainUntil.Format(time.RFC3339))
	}
	m.objects[key] = slices.Delete(m.objects[key], i, i+1)
	if len(m.objects[key]) == 0 {
		delete(m.objects, key)
	}
	m.used -= int64(len(v.data))
	return nil
}

// Keys lists every key held, sorted.
func (m *memObjects) Keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.objects))
}

// Object returns a copy of a stored version, and whether it is there.
func (m *memObjects) Object(key, version string) ([]byte, time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.find(key, version)
	if i < 0 {
		return nil, time.Time{}, false
	}
	v := m.objects[key][i]
	return bytes.Clone(v.data), v.retainUntil, true
}

// fail sets the faults: an error for Put (after failAfter bytes if > 0),
// Get and Remove; nil clears one.
func (m *memObjects) fail(put error, failAfter int64, get, remove error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putErr, m.putFailAfter, m.getErr, m.removeErr = put, failAfter, get, remove
}

func (m *memObjects) setCapacity(n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.capacity = n
}

func (m *memObjects) setLock(l lockMode) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lock = l
}

// The in-memory store keeps the promises of exchange.Objects that the
// service's tests rely on.
func TestMemObjects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	m := newMemObjects(func() time.Time { return now })
	data := []byte("0123456789")

	t.Run("ok/exact-size", func(t *testing.T) {
		info, err := m.Put(ctx, "a", bytes.NewReader(data), 10, time.Time{})
		require.NoError(t, err)
		require.Equal(t, exchange.ObjectInfo{Bucket: "payloads-test", Key: "a", Version: info.Version, Size: 10}, info)
		got, _, ok := m.Object("a", info.Version)
		require.True(t, ok)
		require.Equal(t, data, got)
	})
	t.Run("ok/takes-only-size-bytes", func(t *testing.T) {
		r := bytes.NewReader(append(bytes.Clone(data), "extra"...))
		info, err := m.Put(ctx, "b", r, 10, time.Time{})
		require.NoError(t, err)
		require.Equal(t, int64(10), info.Size)
		require.Equal(t, 5, r.Len(), "what follows is not read")
	})
	t.Run("err/short-body", func(t *testing.T) {
		_, err := m.Put(ctx, "c", bytes.NewReader(data[:9]), 10, time.Time{})
		require.Error(t, err)
		require.NotContains(t, m.Keys(), "c")
	})
	t.Run("ok/to-eof", func(t *testing.T) {
		info, err := m.Put(ctx, "d", bytes.NewReader(data), -1, time.Time{})
		require.NoError(t, err)
		require.Equal(t, int64(10), info.Size)
	})
	t.Run("ok/versions", func(t *testing.T) {
		v1, err := m.Put(ctx, "v", strings.NewReader("one"), 3, time.Time{})
		require.NoError(t, err)
		v2, err := m.Put(ctx, "v", strings.NewReader("two"), 3, time.Time{})
		require.NoError(t, err)
		require.NotEqual(t, v1.Version, v2.Version)
		for _, c := range []struct{ version, want string }{{v1.Version, "one"}, {v2.Version, "two"}, {"", "two"}} {
			rc, err := m.Get(ctx, "v", c.version, 0, -1)
			require.NoError(t, err)
			got, _ := io.ReadAll(rc)
			require.Equal(t, c.want, string(got))
		}
		require.NoError(t, m.Remove(ctx, "v", v2.Version))
		rc, err := m.Get(ctx, "v", "", 0, -1)
		require.NoError(t, err)
		got, _ := io.ReadAll(rc)
		require.Equal(t, "one", string(got), "the older version remains")
		require.ErrorIs(t, m.Remove(ctx, "v", v2.Version), exchange.ErrNotFound)
	})
	t.Run("ok/ranges", func(t *testing.T) {
		for _, c := range []struct {
			offset, length int64
			want           string
		}{{0, -1, "0123456789"}, {3, 4, "3456"}, {7, -1, "789"}, {10, 0, ""}} {
			rc, err := m.Get(ctx, "a", "", c.offset, c.length)
			require.NoError(t, err)
			got, _ := io.ReadAll(rc)
			require.Equal(t, c.want, string(got))
		}
		_, err := m.Get(ctx, "a", "", 5, 6)
		require.Error(t, err, "past the end")
		_, err = m.Get(ctx, "missing", "", 0, -1)
		require.ErrorIs(t, err, errNoObject)
	})
	t.Run("err/capacity", func(t *testing.T) {
		s := newMemObjects(func() time.Time { return now })
		s.setCapacity(15)
		_, err := s.Put(ctx, "x", bytes.NewReader(data), 10, time.Time{})
		require.NoError(t, err)
		_, err = s.Put(ctx, "y", bytes.NewReader(data), 10, time.Time{})
		require.ErrorIs(t, err, exchange.ErrStorageFull)
		_, err = s.Put(ctx, "y", bytes.NewReader(data), -1, time.Time{})
		require.ErrorIs(t, err, exchange.ErrStorageFull)
		require.Equal(t, []string{"x"}, s.Keys())
	})
	t.Run("err/lock", func(t *testing.T) {
		s := newMemObjects(func() time.Time { return now })
		s.setLock(lockCompliance)
		info, err := s.Put(ctx, "locked", bytes.NewReader(data), 10, now.Add(time.Hour))
		require.NoError(t, err)
		require.ErrorIs(t, s.Remove(ctx, "locked", info.Version), errLocked)
		s.now = func() time.Time { return now.Add(time.Hour) }
		require.NoError(t, s.Remove(ctx, "locked", info.Version), "free once the retention ends")
		s.setLock(lockGovernance)
		info, err = s.Put(ctx, "governed", bytes.NewReader(data), 10, now.Add(2*time.Hour))
		require.NoError(t, err)
		require.NoError(t, s.Remove(ctx, "governed", info.Version), "the gateway bypasses governance")
	})
	t.Run("err/faults", func(t *testing.T) {
		s := newMemObjects(func() time.Time { return now })
		down := errors.New("down")
		s.fail(down, 0, down, down)
		_, err := s.Put(ctx, "f", bytes.NewReader(data), 10, time.Time{})
		require.ErrorIs(t, err, down)
		_, err = s.Get(ctx, "f", "", 0, -1)
		require.ErrorIs(t, err, down)
		require.ErrorIs(t, s.Remove(ctx, "f", ""), down)
		s.fail(down, 4, nil, nil)
		r := bytes.NewReader(data)
		_, err = s.Put(ctx, "f", r, 10, time.Time{})
		require.ErrorIs(t, err, down)
		require.Equal(t, 6, r.Len(), "went away after 4 bytes")
		require.Empty(t, s.Keys())
	})
}
