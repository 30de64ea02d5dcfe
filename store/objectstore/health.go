package objectstore

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // Content-MD5 is the integrity header S3 asks for with Object Lock, not a security measure
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"

	"github.com/gatehouse-gw/gatehouse/internal/health"
)

// ProbePrefix is where readiness probes write. A probe never completes an
// object, so nothing is ever stored under it.
const ProbePrefix = "gatehouse-probe/"

// Writes is the outcome of the last write to the bucket: every upload and
// archived segment records it, and readiness probes do when nothing else
// has written for a while.
func (s *Store) Writes() *health.Writes { return s.writes }

// CheckWrites reports whether the bucket takes writes: the outcome of the
// last write if it is less than window old, else that of ProbeWrite.
func (s *Store) CheckWrites(ctx context.Context, window time.Duration) error {
	return s.writes.Check(ctx, window, s.ProbeWrite)
}

// ProbeWrite makes a real write that leaves nothing behind: it starts a
// multipart upload under ProbePrefix, uploads one small part (the store
// must authorise it, find room for it and write it to its drives) and
// aborts the upload. An upload that is never completed never becomes an
// object, so Object Lock — a bucket's default retention, compliance mode
// included — never applies to it: the probe is safe on the audit archive.
// If the abort itself fails, the sweeper's AbortStale removes the upload
// later; it holds no lock either way.
func (s *Store) ProbeWrite(ctx context.Context) error {
	core := minio.Core{Client: s.c}
	key := ProbePrefix + uuid.NewString()
	id, err := core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return probeError(s, "start an upload", err)
	}
	part := []byte("gatehouse readiness probe\n")
	sum := md5.Sum(part) //nolint:gosec // see the import
	_, putErr := core.PutObjectPart(ctx, s.bucket, key, id, 1, bytes.NewReader(part), int64(len(part)),
		minio.PutObjectPartOptions{Md5Base64: base64.StdEncoding.EncodeToString(sum[:])})
	abortErr := core.AbortMultipartUpload(context.WithoutCancel(ctx), s.bucket, key, id)
	if putErr != nil {
		return probeError(s, "write", putErr)
	}
	if abortErr != nil {
		return probeError(s, "abort an upload", abortErr)
	}
	return nil
}

func probeError(s *Store, what string, err error) error {
	return fmt.Errorf("bucket %s: cannot %s: %w", s.bucket, what, Unreachable(s, storeError(err)))
}

// ErrUnreachable marks a failure to reach the object store at all.
var ErrUnreachable = errors.New("the object store is unreachable")

// Unreachable marks err with ErrUnreachable (naming the endpoint) when it
// is a failure to reach the store rather than an answer from it.
func Unreachable(s *Store, err error) error {
	if err == nil || minio.ToErrorResponse(err).Code != "" {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, s.c.EndpointURL().Host, err)
	}
	return err
}
