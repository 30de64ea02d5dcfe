package objectstore

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"slices"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/gatehouse-gw/gatehouse/audit"
)

// The audit archive is a bucket of its own, with versioning and Object Lock,
// holding the sealed segments of the audit chain.
var _ audit.Archive = (*Store)(nil)

// PutSegment stores a sealed audit segment, locked until retainUntil if the
// bucket has Object Lock.
func (s *Store) PutSegment(ctx context.Context, key string, body []byte, retainUntil time.Time) (string, error) {
	opts := minio.PutObjectOptions{ContentType: "application/x-ndjson"}
	if s.lockMode != "" {
		opts.Mode = s.lockMode
		opts.RetainUntilDate = retainUntil.UTC()
	}
	info, err := s.c.PutObject(ctx, s.bucket, key, bytes.NewReader(body), int64(len(body)), opts)
	if err != nil {
		if ctx.Err() == nil {
			s.writes.Record(storeError(err))
		}
		return "", err
	}
	s.writes.Record(nil)
	return info.VersionID, nil
}

// SegmentKeyVersions lists every stored version of one segment, oldest first.
func (s *Store) SegmentKeyVersions(ctx context.Context, key string) ([]audit.ArchivedSegment, error) {
	return s.listSegments(ctx, key, func(k string) bool { return k == key })
}

// SegmentVersions lists every stored version of every audit segment, by key
// and then oldest first. Delete markers are skipped: the versions they hide
// are still listed and checked.
func (s *Store) SegmentVersions(ctx context.Context) ([]audit.ArchivedSegment, error) {
	return s.listSegments(ctx, audit.SegmentPrefix, func(string) bool { return true })
}

func (s *Store) listSegments(ctx context.Context, prefix string, keep func(string) bool) ([]audit.ArchivedSegment, error) {
	var out []audit.ArchivedSegment
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			return nil, obj.Err
		}
		if obj.IsDeleteMarker || !keep(obj.Key) {
			continue
		}
		out = append(out, audit.ArchivedSegment{Key: obj.Key, Version: obj.VersionID, ArchivedAt: obj.LastModified})
	}
	slices.SortStableFunc(out, func(a, b audit.ArchivedSegment) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), a.ArchivedAt.Compare(b.ArchivedAt))
	})
	return out, nil
}

// OpenSegment reads one version of a segment.
func (s *Store) OpenSegment(ctx context.Context, key, version string) (io.ReadCloser, error) {
	return s.Get(ctx, key, version, 0, -1)
}
