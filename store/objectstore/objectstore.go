// Package objectstore keeps sealed payloads in S3-compatible object storage
// (MinIO in development and tests; any S3 store with versioning and Object
// Lock in production).
package objectstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/internal/health"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
	"github.com/gatehouse-gw/gatehouse/internal/readahead"
	"github.com/gatehouse-gw/gatehouse/internal/tracing"
)

// Config says where the object store is.
type Config struct {
	Endpoint  string
	Region    string
	Bucket    string
	AccessKey string
	SecretKey string
	// TLS uses https; CAFile, if set, is the CA that signed the store's certificate.
	TLS    bool
	CAFile string
	// PartSize is the multipart upload part size; one part is buffered at a time.
	PartSize uint64
	// LockMode is the Object Lock mode for retention: governance (default),
	// compliance, or none. It applies only if the bucket has Object Lock.
	LockMode string
	// Role names the bucket's job in the gatehouse_store_writable metric:
	// objects (the default) or audit-archive.
	Role string
	// IOTimeout is how long a connection to the store may make no progress
	// (no byte written or read) before the request fails: a store that
	// stops answering fails the request in seconds, however large the
	// transfer, and a slow one that still moves data does not. Default 3s.
	IOTimeout time.Duration
}

// DefaultIOTimeout is the default IOTimeout.
const DefaultIOTimeout = 3 * time.Second

// Store is an S3 bucket of sealed payloads.
type Store struct {
	c        *minio.Client
	bucket   string
	partSize uint64
	// lockMode is the Object Lock retention mode for payloads; empty when
	// the bucket has no Object Lock.
	lockMode minio.RetentionMode
	// writes is the outcome of the last write to the bucket.
	writes *health.Writes
}

var _ exchange.Objects = (*Store)(nil)

// uploadThreads is how many parts of one multipart upload are in flight.
const uploadThreads = 2

// DefaultPartSize is the smallest multipart part size; an upload holds
// uploadThreads parts, and the Go runtime keeps about as much again in
// headroom, so the part size is most of a large transfer's memory: 8 MiB
// parts took a gateway's peak RSS over a 4 GiB transfer 20 MiB lower than
// 16 MiB ones, with uploads as fast. An object that would need more than
// maxParts of them gets larger parts (partSizeFor).
const DefaultPartSize = 8 << 20

// maxParts is the most parts an S3 multipart upload may have.
const maxParts = 10000

// unknownSizePart is the part size for an upload of unknown size: large
// enough for an object of up to 156 GiB.
const unknownSizePart = 16 << 20

// partSizeFor is the part size for an object of size bytes (-1: unknown):
// the store's part size, or the smallest whole MiB that fits the object in
// maxParts parts if that is larger.
func (s *Store) partSizeFor(size int64) uint64 {
	part := s.partSize
	if size < 0 {
		return max(part, unknownSizePart)
	}
	const mib = 1 << 20
	need := (uint64(size) + maxParts - 1) / maxParts
	need = (need + mib - 1) / mib * mib
	return max(part, need)
}

// New connects to the object store (lazily: no request is made).
func New(cfg Config) (*Store, error) {
	tr, err := minio.DefaultTransport(cfg.TLS)
	if err != nil {
		return nil, err
	}
	// Payloads go to the store in large writes rather than 4 KiB ones, and
	// enough connections stay open for concurrent exchanges.
	tr.WriteBufferSize, tr.ReadBufferSize = 256<<10, 256<<10
	tr.MaxIdleConnsPerHost = 64
	idle := cfg.IOTimeout
	if idle == 0 {
		idle = DefaultIOTimeout
	}
	dialer := &net.Dialer{Timeout: idle, KeepAlive: 15 * time.Second}
	stall := &stallState{}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &progressConn{Conn: c, idle: idle, stall: stall}, nil
	}
	tr.TLSHandshakeTimeout = idle
	// An idle pooled connection is closed before its pending read's
	// deadline could pass: only a connection in use can stall.
	tr.IdleConnTimeout = idle / 2
	if cfg.TLS && cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate found", cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	opts := &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.TLS,
		Region:    cfg.Region,
		Transport: tr,
		// One attempt: a failed transfer fails the request at once (503),
		// and the caller, not the gateway, decides to try again.
		MaxRetries: 1,
	}
	c, err := minio.New(cfg.Endpoint, opts)
	if err != nil {
		return nil, err
	}
	part := cfg.PartSize
	if part == 0 {
		part = DefaultPartSize
	}
	role := cfg.Role
	if role == "" {
		role = "objects"
	}
	st := &Store{c: c, bucket: cfg.Bucket, partSize: part, writes: health.NewWrites(role)}
	switch cfg.LockMode {
	case "", "governance":
		st.lockMode = minio.Governance
	case "compliance":
		st.lockMode = minio.Compliance
	case "none":
		st.lockMode = ""
	default:
		return nil, fmt.Errorf("object lock mode %q is not governance, compliance or none", cfg.LockMode)
	}
	return st, nil
}

// DetectObjectLock asks whether the bucket has Object Lock; if not, payloads
// are stored without retention (and the sweeper still deletes them on time).
func (s *Store) DetectObjectLock(ctx context.Context) (bool, error) {
	enabled, _, _, _, err := s.c.GetObjectLockConfig(ctx, s.bucket)
	if err != nil {
		code := minio.ToErrorResponse(err).Code
		if code == "ObjectLockConfigurationNotFoundError" || code == "NoSuchObjectLockConfiguration" {
			s.lockMode = ""
			return false, nil
		}
		return false, err
	}
	if enabled != "Enabled" {
		s.lockMode = ""
		return false, nil
	}
	return true, nil
}

// Bucket returns the bucket name.
func (s *Store) Bucket() string { return s.bucket }

// EnsureBucket creates the bucket with versioning (and Object Lock, if
// asked) unless it exists. Development and tests use it; production buckets
// are provisioned by the operator.
func (s *Store) EnsureBucket(ctx context.Context, objectLock bool) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return err
	}
	if !ok {
		if err := s.c.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{ObjectLocking: objectLock}); err != nil {
			return err
		}
	}
	return s.c.EnableVersioning(ctx, s.bucket)
}

// Ping checks that the bucket is reachable.
func (s *Store) Ping(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("bucket %q does not exist", s.bucket)
	}
	return nil
}

// Put stores r under key: exactly size bytes, or to EOF if size < 0. Large
// objects go up in parts, one part buffered at a time; a failed multipart
// upload is aborted, so no partial object remains. If the bucket has Object
// Lock and retainUntil is set, the object is locked until then.
//
// The payload is already sealed (authenticated encryption), so the request
// is not signed over its content (UNSIGNED-PAYLOAD); a CRC32C trailer still
// guards the transfer.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, retainUntil time.Time) (_ exchange.ObjectInfo, err error) {
	ctx, span := tracing.Start(ctx, "objects.put", attribute.String("objects.bucket", s.bucket), attribute.Int64("objects.size", size))
	defer func() { endSpan(span, err) }()
	opts := minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		PartSize:    s.partSizeFor(size),
		// Two parts buffered at a time: one goes to the store while the
		// next is sealed into the other, so sealing and storing overlap.
		// Memory stays constant however large the payload (two 8 MiB
		// parts per upload up to 78 GiB, larger ones beyond).
		NumThreads:            uploadThreads,
		ConcurrentStreamParts: true,
		DisableContentSha256:  true,
	}
	if s.lockMode != "" && !retainUntil.IsZero() {
		opts.Mode = s.lockMode
		opts.RetainUntilDate = retainUntil.UTC()
	}
	body := &bodyReader{r: r}
	info, err := s.c.PutObject(ctx, s.bucket, key, body, size, opts)
	if err != nil {
		metrics.StoreErrors.WithLabelValues("objects", "put").Inc()
		if size < 0 || uint64(size) > s.partSize {
			// A failed multipart upload leaves no parts behind: minio-go
			// aborts it, but not on every store (the Versity gateway
			// keeps the upload of a short body), so it is removed here
			// too; one that cannot be reached now is left to AbortStale.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = s.c.RemoveIncompleteUpload(cctx, s.bucket, key)
			cancel()
		}
		if body.err == nil && ctx.Err() == nil {
			// The store refused or could not take it, not the client.
			s.writes.Record(storeError(err))
		}
		return exchange.ObjectInfo{}, storeError(err)
	}
	s.writes.Record(nil)
	if size >= 0 && info.Size != size {
		_ = s.Remove(context.WithoutCancel(ctx), key, info.VersionID)
		return exchange.ObjectInfo{}, fmt.Errorf("object store took %d bytes, want %d", info.Size, size)
	}
	return exchange.ObjectInfo{Bucket: s.bucket, Key: key, Version: info.VersionID, Size: info.Size}, nil
}

// bodyReader remembers the error reading the body gave, so that a failed
// upload is blamed on the client or the store correctly.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// progressConn fails a read or write that makes no progress for idle.
//
// Once one connection has stalled, the store is taken to be unresponsive
// for the next idle period: reads and writes then wait at most stalledRead.
// Without this, the clean-up minio-go does after a failed transfer
// (aborting the multipart upload) would wait out a second full idle period
// before the client heard of the failure. The parts of an upload that could
// not be aborted are aborted later by the sweeper (AbortStale).
type progressConn struct {
	net.Conn
	idle  time.Duration
	stall *stallState
}

// stallState remembers, for every connection to one store, until when the
// store is taken to be unresponsive.
type stallState struct{ until atomic.Int64 }

// stalledRead bounds a read or write to a store that has just stalled.
const stalledRead = 250 * time.Millisecond

func (c *progressConn) deadline() time.Time {
	now := time.Now()
	if now.UnixNano() < c.stall.until.Load() {
		return now.Add(min(c.idle, stalledRead))
	}
	return now.Add(c.idle)
}

func (c *progressConn) noteStall(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.stall.until.Store(time.Now().Add(c.idle).UnixNano())
	}
}

func (c *progressConn) Read(b []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(c.deadline()); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(b)
	if err != nil {
		c.noteStall(err)
	}
	return n, err
}

func (c *progressConn) Write(b []byte) (int, error) {
	// Writing a request re-arms the read deadline too: the read that waits
	// for the answer may have been pending since the connection went idle.
	if err := c.Conn.SetDeadline(c.deadline()); err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(b)
	if err != nil {
		c.noteStall(err)
	}
	return n, err
}

// AbortStale aborts multipart uploads started before the given time that
// never completed: an upload cut off while the store was unreachable could
// not be aborted then. It returns how many it aborted.
func (s *Store) AbortStale(ctx context.Context, before time.Time) (int, error) {
	n := 0
	for u := range s.c.ListIncompleteUploads(ctx, s.bucket, "", true) {
		if u.Err != nil {
			return n, u.Err
		}
		if u.Initiated.After(before) {
			continue
		}
		if err := s.c.RemoveIncompleteUpload(ctx, s.bucket, u.Key); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// storeError marks the store's "full" answers as exchange.ErrStorageFull.
func storeError(err error) error {
	switch minio.ToErrorResponse(err).Code {
	case "XMinioStorageFull", "XMinioAdminBucketQuotaExceeded", "QuotaExceeded", "InsufficientStorage":
		return fmt.Errorf("%w: %v", exchange.ErrStorageFull, err)
	}
	return err
}

// endSpan records err on span and ends it.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "object store")
	}
	span.End()
}

// ErrNoObject is returned when the object is not in the store.
var ErrNoObject = errors.New("object not found")

// Get reads length bytes of the object from offset (length < 0: to the end).
func (s *Store) Get(ctx context.Context, key, version string, offset, length int64) (_ io.ReadCloser, err error) {
	ctx, span := tracing.Start(ctx, "objects.get", attribute.String("objects.bucket", s.bucket), attribute.Int64("objects.offset", offset))
	defer func() { endSpan(span, err) }()
	opts := minio.GetObjectOptions{VersionID: version}
	switch {
	case length == 0:
		return io.NopCloser(http.NoBody), nil
	case length > 0:
		if err := opts.SetRange(offset, offset+length-1); err != nil {
			return nil, err
		}
	case offset > 0:
		if err := opts.SetRange(offset, 0); err != nil {
			return nil, err
		}
	}
	obj, err := s.c.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		return nil, err
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, fmt.Errorf("%w: %s", ErrNoObject, key)
		}
		metrics.StoreErrors.WithLabelValues("objects", "get").Inc()
		return nil, err
	}
	if length < 0 {
		length = st.Size - offset
	}
	// A large object is read ahead of the writes to the client: the store
	// is read while what came before is encrypted and sent.
	if length > readahead.Size {
		return readahead.New(obj), nil
	}
	return obj, nil
}

// Remove deletes one version of an object (the latest if version is empty).
// Under governance-mode Object Lock it bypasses the retention: the gateway
// removes only objects whose retention has passed or that never delivered.
func (s *Store) Remove(ctx context.Context, key, version string) error {
	return s.c.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{VersionID: version, GovernanceBypass: s.lockMode == minio.Governance})
}

// Exists reports whether any version of key exists; for tests and checks.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	_, err := s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	}
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return false, nil
	}
	return false, err
}

// Keys lists the keys under prefix (every version); for tests and checks.
func (s *Store) Keys(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			return nil, obj.Err
		}
		out = append(out, obj.Key)
	}
	return out, nil
}

// Client returns the underlying client; for tests that inspect raw objects.
func (s *Store) Client() *minio.Client { return s.c }
