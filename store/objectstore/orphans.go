package objectstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/gatehouse-gw/gatehouse/exchange"
)

var _ exchange.Inventory = (*Store)(nil)

// PayloadVersions lists stored versions under exchange.PayloadPrefix after
// the key after: at least limit of them, and every version of the last key
// listed, so that the next call can start after that key.
func (s *Store) PayloadVersions(ctx context.Context, after string, limit int) ([]exchange.StoredObject, string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing when we stop reading it
	var out []exchange.StoredObject
	last := ""
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{
		Prefix: exchange.PayloadPrefix, Recursive: true, WithVersions: true, StartAfter: after,
	}) {
		if obj.Err != nil {
			return nil, "", obj.Err
		}
		if len(out) >= limit && obj.Key != last {
			return out, last, nil
		}
		last = obj.Key
		if obj.IsDeleteMarker {
			continue
		}
		out = append(out, exchange.StoredObject{Key: obj.Key, Version: obj.VersionID, Size: obj.Size, Modified: obj.LastModified.UTC()})
	}
	return out, "", nil
}

// Retention returns a version's Object Lock retention, if it has one.
//
// It reads the x-amz-object-lock-* headers of a HEAD request rather than
// GetObjectRetention: every S3 store returns those the same way, while the
// retention document's XML differs (the Versity gateway names its root
// element ObjectLockRetention, not Retention, which minio-go refuses).
func (s *Store) Retention(ctx context.Context, key, version string) (string, time.Time, error) {
	if s.lockMode == "" {
		return "", time.Time{}, nil // no Object Lock on the bucket
	}
	info, err := s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{VersionID: version})
	if err != nil {
		return "", time.Time{}, err
	}
	mode := strings.ToUpper(info.Metadata.Get("X-Amz-Object-Lock-Mode"))
	until := info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date")
	if mode == "" || until == "" {
		return "", time.Time{}, nil
	}
	u, err := time.Parse(time.RFC3339, until)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("object lock retain-until date %q: %w", until, err)
	}
	return mode, u.UTC(), nil
}

// RemoveVersion deletes one version of an object without bypassing any
// Object Lock: the store refuses while one holds it.
func (s *Store) RemoveVersion(ctx context.Context, key, version string) error {
	return s.c.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{VersionID: version})
}
